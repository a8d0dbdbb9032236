import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, it } from "node:test";
import { inflateRawSync, constants as zlibConstants } from "node:zlib";
import { ConnectionClosedError } from "../../src/errors.ts";
import type { Backplane, BackplaneHost } from "../../src/node/backplane.ts";
import { type ClientConnection, connect } from "../../src/node/client.ts";
import type { SlowSubscriberMessage } from "../../src/node/diagnostics.ts";
import {
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/node/server.ts";
import { checkTopic } from "../../src/node/topics.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { frame, OP_BINARY, OP_TEXT, rawConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { recordSharedFrames } from "../helpers/shared-frames.ts";

checkLeaksAfterAll();

type Handler = (ws: ServerConnection, server: Server) => Promise<void> | void;

/**
 * A server whose handler reads the first message as the topic to subscribe
 * to, answers "subscribed", then runs `then` (default: waits for close).
 */
async function setup(options: ServeOptions = {}, then?: Handler) {
  let server!: Server;
  server = await serve(
    async (ws) => {
      const topic = (await ws.recv()) as string;
      await ws.subscribe(topic);
      await ws.send("subscribed");
      if (then !== undefined) await then(ws, server);
      else await ws.closed;
    },
    { host: "127.0.0.1", port: 0, logger: false, compression: null, ...options },
  );
  const { port } = server.address as { port: number };
  const clients: ClientConnection[] = [];
  const join = async (topic: string, compression?: null): Promise<ClientConnection> => {
    const ws = await connect(`ws://127.0.0.1:${port}`, { logger: false, compression });
    clients.push(ws);
    await ws.send(topic);
    assert.equal(await ws.recv(), "subscribed");
    return ws;
  };
  const teardown = async () => {
    await Promise.all(clients.map((ws) => ws.close()));
    await server.close();
  };
  return { server, join, teardown };
}

/** The server side of a client connection. */
function serverSide(server: Server, index: number): ServerConnection {
  return [...server.connections][index];
}

describe("topics", () => {
  it("delivers a published message to the subscribers of the topic only", async () => {
    const { server, join, teardown } = await setup();
    const red = [await join("red"), await join("red")];
    const blue = await join("blue");
    assert.equal(server.subscribers("red"), 2);
    assert.equal(server.subscribers("blue"), 1);
    assert.equal(server.subscribers("green"), 0);
    server.publish("red", "to red");
    server.publish("blue", new Uint8Array([1, 2]));
    server.publish("green", "to nobody");
    for (const ws of red) assert.equal(await ws.recv(), "to red");
    assert.deepEqual(await blue.recv(), Buffer.from([1, 2]));
    // Nothing else arrived: a ping's pong comes after whatever was queued.
    server.publish("blue", "last");
    assert.equal(await blue.recv(), "last");
    await teardown();
  });

  it("skips the connection given as except", async () => {
    const { server, join, teardown } = await setup();
    const a = await join("room");
    const b = await join("room");
    server.publish("room", "not to a", { except: serverSide(server, 0) });
    server.publish("room", "to both");
    assert.equal(await b.recv(), "not to a");
    assert.equal(await b.recv(), "to both");
    assert.equal(await a.recv(), "to both");
    await teardown();
  });

  it("frames the message once for connections without extensions", async () => {
    const { server, join, teardown } = await setup();
    const clients = [await join("t"), await join("t"), await join("t")];
    const framed = recordSharedFrames(server.connections);
    server.publish("t", "once");
    assert.equal(framed.length, 3);
    assert.ok(framed.every((bytes) => bytes === framed[0]));
    for (const ws of clients) assert.equal(await ws.recv(), "once");
    await teardown();
  });

  it("compresses per connection with permessage-deflate, next to uncompressed ones", async () => {
    const { server, join, teardown } = await setup({ compression: "deflate" });
    const deflated = await join("t");
    const plain = await join("t", null);
    assert.match(deflated.response?.headers.get("Sec-WebSocket-Extensions") ?? "", /deflate/);
    const message = "compressible ".repeat(200);
    for (let i = 0; i < 3; i++) server.publish("t", message);
    for (const ws of [deflated, plain]) {
      for (let i = 0; i < 3; i++) assert.equal(await ws.recv(), message);
    }
    await teardown();
  });

  it("compresses once for subscribers without context takeover, per connection for the others", async () => {
    const { server, join, teardown } = await setup({ compression: "deflate" });
    const { port } = server.address as { port: number };
    // Raw peers see the bytes on the wire: two alike, one with a smaller
    // window, one that didn't negotiate compression.
    const rawJoin = async (extensions: string | null) => {
      const headers: Record<string, string> =
        extensions === null ? {} : { "Sec-WebSocket-Extensions": extensions };
      const peer = await rawConnect(port, { headers });
      peer.send(frame(OP_TEXT, "t"));
      assert.ok((await peer.recvData()) !== null); // "subscribed"
      return peer;
    };
    const noTakeover = "permessage-deflate; server_no_context_takeover";
    const alike = [await rawJoin(noTakeover), await rawJoin(noTakeover)];
    const smallWindow = await rawJoin(`${noTakeover}; server_max_window_bits=9`);
    const plain = await rawJoin(null);
    const takeover = await join("t"); // our client: context takeover
    for (const peer of [...alike, smallWindow]) {
      assert.match(
        peer.response.headers["sec-websocket-extensions"] ?? "",
        /server_no_context_takeover/,
      );
    }
    const shared = new Map<ServerConnection, (readonly Buffer[])[]>();
    for (const connection of server.connections) {
      const writer = connection.writer;
      const original = writer.writeShared.bind(writer);
      shared.set(connection, []);
      writer.writeShared = (bytes) => {
        shared.get(connection)!.push(bytes);
        original(bytes);
      };
    }
    const messages = ["compressible ".repeat(100), "a second message, alike ".repeat(20), "x"];
    for (const message of messages) server.publish("t", message);
    server.publish("t", Buffer.from("binary ".repeat(30)));
    const [a, b, small, none, own] = [...shared.values()];
    // One array of bytes per message for both alike, another for the other window.
    assert.equal(a.length, 4);
    assert.ok(a.every((bytes, i) => bytes === b[i]));
    assert.ok(small.every((bytes, i) => bytes !== a[i]));
    assert.equal(none.length, 4);
    assert.equal(own.length, 0); // its compressor's state is its own: framed for it
    const inflate = (payload: Buffer) =>
      inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
      });
    const expected = [...messages.map((m) => Buffer.from(m)), Buffer.from("binary ".repeat(30))];
    const received = await Promise.all(
      [...alike, smallWindow, plain].map(async (peer) => {
        const frames = [];
        for (let i = 0; i < expected.length; i++) frames.push((await peer.recvData())!);
        return frames;
      }),
    );
    for (const [i, frames] of received.entries()) {
      const compressed = i < 3;
      for (const [j, f] of frames.entries()) {
        assert.equal(f.opcode, j < 3 ? OP_TEXT : OP_BINARY);
        assert.equal(f.rsv1, compressed);
        assert.deepEqual(compressed ? inflate(f.payload) : f.payload, expected[j]);
      }
    }
    // The same bytes on the wire for both alike subscribers.
    for (const [j, f] of received[0].entries()) {
      assert.deepEqual(f.payload, received[1][j].payload);
      assert.ok(f.payload.length < expected[j].length || j === 2);
    }
    for (const message of messages) assert.equal(await takeover.recv(), message);
    assert.deepEqual(await takeover.recv(), expected[3]);
    for (const peer of [...alike, smallWindow, plain]) peer.socket.destroy();
    await teardown();
  });

  it("keeps publish order for every subscriber", async () => {
    const { server, join, teardown } = await setup();
    const clients = await Promise.all(Array.from({ length: 20 }, () => join("seq")));
    const count = 2_000;
    for (let i = 0; i < count; i++) server.publish("seq", `${i}`);
    await Promise.all(
      clients.map(async (ws) => {
        for (let i = 0; i < count; i++) assert.equal(await ws.recv(), `${i}`);
      }),
    );
    await teardown();
  });

  it("gives every subscriber the same order of several publishers' messages", async () => {
    // Each client publishes what it sends: two publishers, one process.
    const { join, teardown } = await setup({}, async (ws, server) => {
      for await (const message of ws) server.publish("room", message, { except: ws });
    });
    const listeners = [await join("room"), await join("room")];
    const publishers = [await join("room"), await join("room")];
    const count = 200;
    await Promise.all(
      publishers.map(async (ws, p) => {
        for (let i = 0; i < count; i++) await ws.send(`${p}:${i}`);
      }),
    );
    const orders = await Promise.all(
      listeners.map(async (ws) => {
        const got: string[] = [];
        for (let i = 0; i < 2 * count; i++) got.push((await ws.recv()) as string);
        return got;
      }),
    );
    assert.deepEqual(orders[0], orders[1]);
    // Each publisher's messages in its order.
    for (const p of [0, 1]) {
      const mine = orders[0].filter((m) => m.startsWith(`${p}:`));
      assert.deepEqual(
        mine,
        Array.from({ length: count }, (_, i) => `${p}:${i}`),
      );
    }
    await teardown();
  });

  it("interleaves published messages with the connection's sends in call order", async () => {
    const { join, teardown } = await setup({}, async (ws, server) => {
      await ws.recv();
      const sent = ws.send("1");
      server.publish("mine", "2");
      const more = ws.send("3");
      server.publish("mine", "4");
      await Promise.all([sent, more]);
      // During a fragmented send, a publish waits for its end, like a send.
      const fragmented = ws.send(
        (async function* () {
          yield "5a";
          await new Promise((resolve) => setTimeout(resolve, 20));
          yield "5b";
        })(),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      server.publish("mine", "6");
      const last = ws.send("7");
      await Promise.all([fragmented, last]);
      await ws.closed;
    });
    const ws = await join("mine");
    await ws.send("go");
    const received: unknown[] = [];
    for (let i = 0; i < 6; i++) received.push(await ws.recv());
    assert.deepEqual(received, ["1", "2", "3", "4", "5a5b", "6"]);
    assert.equal(await ws.recv(), "7");
    await teardown();
  });

  it("delivers once to a connection that subscribes twice; unsubscribe of an unknown topic is a no-op", async () => {
    const { server, join, teardown } = await setup({}, async (ws) => {
      await ws.subscribe("t");
      await ws.subscribe("t");
      ws.unsubscribe("never");
      assert.deepEqual([...ws.topics], ["t"]);
      await ws.send("ready");
      await ws.closed;
    });
    const ws = await join("t");
    assert.equal(await ws.recv(), "ready");
    assert.equal(server.subscribers("t"), 1);
    server.publish("t", "a");
    server.publish("t", "b");
    assert.equal(await ws.recv(), "a");
    assert.equal(await ws.recv(), "b");
    await teardown();
  });

  it("stops delivering after unsubscribe", async () => {
    const { server, join, teardown } = await setup({}, async (ws) => {
      for await (const message of ws) {
        ws.unsubscribe(message as string);
        await ws.send(`left ${message}`);
      }
    });
    const ws = await join("t");
    await ws.send("t");
    assert.equal(await ws.recv(), "left t");
    assert.equal(server.subscribers("t"), 0);
    server.publish("t", "lost");
    await ws.send("other");
    assert.equal(await ws.recv(), "left other");
    await teardown();
  });

  it("a closed connection leaves every topic and can't subscribe again", async () => {
    let held: ServerConnection | null = null;
    let heldTopics: ReadonlySet<string> | null = null;
    const { server, join, teardown } = await setup({}, async (ws) => {
      await ws.subscribe("second");
      held = ws;
      heldTopics = ws.topics;
      await ws.closed;
    });
    const ws = await join("first");
    assert.equal(server.subscribers("first"), 1);
    assert.equal(server.subscribers("second"), 1);
    await ws.close();
    await held!.closed;
    assert.equal(held!.topics.size, 0);
    assert.equal(heldTopics!.size, 0);
    assert.equal(server.subscribers("first"), 0);
    assert.equal(server.subscribers("second"), 0);
    await held!.subscribe("third");
    assert.equal(held!.topics.size, 0);
    assert.equal(server.subscribers("third"), 0);
    await teardown();
  });

  it("rejects bad topics, messages and except values synchronously", async () => {
    const { server, teardown } = await setup();
    assert.throws(() => server.publish(42 as unknown as string, "x"), {
      name: "TypeError",
      message: "publish() expects a topic string; got number",
    });
    assert.throws(() => server.publish("", "x"), {
      name: "RangeError",
      message: "publish() expects a non-empty topic",
    });
    assert.throws(() => server.publish("é".repeat(513), "x"), {
      name: "RangeError",
      message: "publish(): topic of 1026 bytes exceeds the limit of 1024 bytes (UTF-8)",
    });
    assert.throws(() => server.publish("t", 42 as unknown as string), {
      name: "TypeError",
      message: "publish() expects a string or bytes; got number",
    });
    assert.throws(() => server.publish("t", "x", { except: {} as ServerConnection }), {
      name: "TypeError",
      message: "publish() expects except to be a connection; got Object",
    });
    assert.throws(() => checkTopic(null, "subscribe()"), {
      name: "TypeError",
      message: "subscribe() expects a topic string; got null",
    });
    // Exactly 1 KiB, and characters that look like patterns, are fine.
    checkTopic("é".repeat(512), "subscribe()");
    server.publish("room:*?[]", "nobody listens");
    await teardown();
  });

  it("subscribe() throws synchronously for a bad topic", async () => {
    const errors: unknown[] = [];
    const { join, teardown } = await setup({}, async (ws) => {
      for (const bad of [undefined, "", "x".repeat(1025)]) {
        try {
          ws.subscribe(bad as string);
        } catch (error) {
          errors.push(error);
        }
        try {
          ws.unsubscribe(bad as string);
        } catch (error) {
          errors.push(error);
        }
      }
      await ws.send("done");
      await ws.closed;
    });
    const ws = await join("t");
    assert.equal(await ws.recv(), "done");
    assert.deepEqual(
      errors.map((e) => (e as Error).name),
      ["TypeError", "TypeError", "RangeError", "RangeError", "RangeError", "RangeError"],
    );
    await teardown();
  });

  it("rejects bad topic options when the server is created", async () => {
    await assert.rejects(
      serve(() => {}, { port: 0, slowSubscriberLimit: -1 }),
      {
        name: "TypeError",
        message: "slowSubscriberLimit must be an integer >= 0; got -1",
      },
    );
    await assert.rejects(
      serve(() => {}, { port: 0, slowSubscriber: "drop" as unknown as "skip" }),
      { name: "TypeError", message: 'slowSubscriber must be "close" or "skip"; got drop' },
    );
    await assert.rejects(
      serve(() => {}, { port: 0, backplane: {} as Backplane }),
      {
        name: "TypeError",
        message:
          "backplane must implement start, subscribe, unsubscribe, publish and close; got Object",
      },
    );
  });
});

describe("slow subscribers", () => {
  // With a limit of 0, the first message of a turn is written (the buffer
  // was empty, however large the message) and the next ones of the same
  // turn find it over the limit: the frames are flushed at the end of the turn.

  it("skips a subscriber over the limit, with one WARN and an event per message", async () => {
    const logger = createCaptureLogger("warn");
    const events: SlowSubscriberMessage[] = [];
    const listener = (message: unknown) => events.push(message as SlowSubscriberMessage);
    subscribe("websockets:slow_subscriber", listener);
    try {
      const { server, join, teardown } = await setup({
        slowSubscriberLimit: 0,
        slowSubscriber: "skip",
        logger: logger.logger,
      });
      const ws = await join("t");
      const big = "x".repeat(100_000);
      server.publish("t", big);
      server.publish("t", "skipped 1");
      server.publish("t", "skipped 2");
      assert.equal(await ws.recv(), big);
      // Written and drained: below the limit again.
      await new Promise((resolve) => setTimeout(resolve, 20));
      server.publish("t", "delivered");
      assert.equal(await ws.recv(), "delivered");
      assert.deepEqual(
        events.map((e) => [e.topic, e.action, e.bufferedAmount > 100_000]),
        [
          ["t", "skipped", true],
          ["t", "skipped", true],
        ],
      );
      assert.equal(events[0].connection, serverSide(server, 0));
      assert.deepEqual(logger.messages("warn"), [
        'slow subscriber skipped: write buffer over 0 bytes on publish to "t"',
      ]);
      await teardown();
    } finally {
      unsubscribe("websockets:slow_subscriber", listener);
    }
  });

  it("closes a subscriber over the limit with 1008 by default", async () => {
    const logger = createCaptureLogger("warn");
    const { server, join, teardown } = await setup({
      slowSubscriberLimit: 0,
      logger: logger.logger,
    });
    const ws = await join("t");
    const side = serverSide(server, 0);
    server.publish("t", "first");
    server.publish("t", "too much");
    assert.equal(await ws.recv(), "first");
    await assert.rejects(ws.recv(), ConnectionClosedError);
    assert.equal(ws.closeCode, 1008);
    assert.equal(ws.closeReason, "subscriber too slow");
    await side.closed;
    assert.equal(server.subscribers("t"), 0);
    assert.ok(
      logger
        .messages("warn")
        .includes('slow subscriber closed: write buffer over 0 bytes on publish to "t"'),
    );
    await teardown();
  });
});

/** Two servers in one process joined by an in-memory backplane: the interface from the outside. */
class MemoryBus {
  readonly members = new Set<MemoryBackplane>();
}

class MemoryBackplane implements Backplane {
  readonly name = "memory";
  readonly calls: string[] = [];
  readonly #bus: MemoryBus;
  readonly #topics = new Set<string>();
  #host: BackplaneHost | null = null;
  failStart: Error | null = null;

  constructor(bus: MemoryBus) {
    this.#bus = bus;
  }

  async start(host: BackplaneHost): Promise<void> {
    this.calls.push("start");
    if (this.failStart !== null) throw this.failStart;
    this.#host = host;
    this.#bus.members.add(this);
  }

  async subscribe(topic: string): Promise<void> {
    this.calls.push(`subscribe ${topic}`);
    this.#topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.calls.push(`unsubscribe ${topic}`);
    this.#topics.delete(topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    this.calls.push(`publish ${topic} ${binary ? "binary" : "text"}`);
    for (const member of this.#bus.members) {
      if (member !== this && member.#topics.has(topic)) {
        member.#host?.deliver(topic, Buffer.from(payload), binary);
      }
    }
  }

  async close(): Promise<void> {
    this.calls.push("close");
    this.#bus.members.delete(this);
  }
}

describe("backplane interface", () => {
  it("subscribes on the first local subscriber, unsubscribes after the last, relays publishes", async () => {
    const bus = new MemoryBus();
    const planes = [new MemoryBackplane(bus), new MemoryBackplane(bus)];
    const a = await setup({ backplane: planes[0] });
    const b = await setup({ backplane: planes[1] });
    const a1 = await a.join("room");
    const a2 = await a.join("room");
    const b1 = await b.join("room");
    a.server.publish("room", "from a");
    b.server.publish("room", Buffer.from("from b"));
    for (const ws of [a1, a2, b1]) {
      assert.equal(await ws.recv(), "from a");
      assert.deepEqual(await ws.recv(), Buffer.from("from b"));
    }
    await a1.close();
    await a2.close();
    await a.teardown();
    await b.teardown();
    assert.deepEqual(planes[0].calls, [
      "start",
      "subscribe room",
      "publish room text",
      "unsubscribe room",
      "close",
    ]);
    assert.deepEqual(planes[1].calls, [
      "start",
      "subscribe room",
      "publish room binary",
      "unsubscribe room",
      "close",
    ]);
  });

  it("subscribe() resolves once live and never rejects; publish() never throws for the backplane", async () => {
    const logger = createCaptureLogger("warn");
    const events: string[] = [];
    let failing = false;
    const plane: Backplane = {
      name: "flaky",
      start: async () => {},
      // Live only after a while; a failure once the test says so.
      subscribe: async (topic) => {
        if (failing) throw new Error(`no route to ${topic}`);
        await new Promise((resolve) => setTimeout(resolve, 30));
        events.push(`live ${topic}`);
      },
      unsubscribe: () => {
        throw new Error("unsubscribe bug");
      },
      publish: () => {
        throw new Error("publish bug");
      },
      close: async () => {},
    };
    const { server, join, teardown } = await setup({ backplane: plane, logger: logger.logger });
    const ws = await join("a"); // "subscribed" is sent after subscribe() resolved
    events.push("client told");
    assert.deepEqual(events, ["live a", "client told"]);
    failing = true;
    const other = await join("b"); // resolves though the backplane failed
    server.publish("a", "local still");
    server.publish("b", "here too");
    assert.equal(await ws.recv(), "local still");
    assert.equal(await other.recv(), "here too");
    const otherSide = serverSide(server, 1);
    await other.close();
    await otherSide.closed;
    assert.equal(server.subscribers("b"), 0);
    assert.deepEqual(logger.messages("warn"), [
      "flaky backplane: subscribe failed: Error: no route to b",
      "flaky backplane: publish failed: Error: publish bug",
      "flaky backplane: publish failed: Error: publish bug",
      "flaky backplane: unsubscribe failed: Error: unsubscribe bug",
    ]);
    await teardown();
  });

  it("serve() rejects with the backplane's error when it can't start", async () => {
    const plane = new MemoryBackplane(new MemoryBus());
    plane.failStart = new Error("cannot reach the broker at 127.0.0.1:1");
    await assert.rejects(
      serve(() => {}, { host: "127.0.0.1", port: 0, backplane: plane }),
      {
        message: "cannot reach the broker at 127.0.0.1:1",
      },
    );
  });

  it("closes the backplane when listening fails", async () => {
    const taken = await serve(() => {}, { host: "127.0.0.1", port: 0, logger: false });
    const plane = new MemoryBackplane(new MemoryBus());
    const { port } = taken.address as { port: number };
    await assert.rejects(
      serve(() => {}, { host: "127.0.0.1", port, backplane: plane, logger: false }),
      { code: "EADDRINUSE" },
    );
    assert.deepEqual(plane.calls, ["start", "close"]);
    await taken.close();
  });
});
