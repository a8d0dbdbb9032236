import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConcurrencyError } from "../../src/errors.ts";
import { ClientPerMessageDeflateFactory } from "../../src/extensions/permessage-deflate.ts";
import { broadcast } from "../../src/node/broadcast.ts";
import { type ClientConnection, connect } from "../../src/node/client.ts";
import type { Connection } from "../../src/node/connection.ts";
import { type ServeOptions, type ServerConnection, serve } from "../../src/node/server.ts";
import { CLOSED } from "../../src/protocol.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { recordSharedFrames } from "../helpers/shared-frames.ts";

checkLeaksAfterAll();

/** A server whose handlers wait until the client closes, and `count` clients. */
async function setup(count: number, options: ServeOptions = {}, clientCompression?: null) {
  const server = await serve(
    async (ws) => {
      await ws.closed;
    },
    { host: "127.0.0.1", port: 0, logger: false, ...options },
  );
  const { port } = server.address as { port: number };
  const clients = await Promise.all(
    Array.from({ length: count }, () =>
      connect(`ws://127.0.0.1:${port}`, { logger: false, compression: clientCompression }),
    ),
  );
  // The server opens its side before the client sees the 101.
  assert.equal(server.connections.size, count);
  const teardown = async () => {
    await Promise.all(clients.map((ws) => ws.close()));
    await server.close();
  };
  return { server, clients, teardown };
}

describe("broadcast", () => {
  it("sends a text message to 100 clients", async () => {
    const { server, clients, teardown } = await setup(100, { compression: null });
    broadcast(server.connections, "to everyone");
    const received = await Promise.all(clients.map((ws) => ws.recv()));
    assert.ok(received.every((message) => message === "to everyone"));
    await teardown();
  });

  it("frames the message once for connections without extensions", async () => {
    const { server, clients, teardown } = await setup(3, { compression: null });
    const framed = recordSharedFrames(server.connections);
    broadcast(server.connections, new Uint8Array([1, 2, 3]));
    assert.equal(framed.length, 3);
    assert.ok(framed.every((bytes) => bytes === framed[0]));
    for (const ws of clients) assert.deepEqual(await ws.recv(), Buffer.from([1, 2, 3]));
    await teardown();
  });

  it("frames the message per connection with permessage-deflate", async () => {
    const { server, clients, teardown } = await setup(3);
    assert.match(
      clients[0].response?.headers.get("Sec-WebSocket-Extensions") ?? "",
      /permessage-deflate/,
    );
    const message = "compressible ".repeat(100);
    broadcast(server.connections, message);
    broadcast(server.connections, message);
    for (const ws of clients) {
      assert.equal(await ws.recv(), message);
      assert.equal(await ws.recv(), message);
    }
    await teardown();
  });

  it("compresses the message once for clients that asked for server_no_context_takeover", async () => {
    const server = await serve(
      async (ws) => {
        await ws.closed;
      },
      { host: "127.0.0.1", port: 0, logger: false },
    );
    const { port } = server.address as { port: number };
    const clients = await Promise.all(
      Array.from({ length: 3 }, () =>
        connect(`ws://127.0.0.1:${port}`, {
          logger: false,
          compression: null,
          extensions: [new ClientPerMessageDeflateFactory({ serverNoContextTakeover: true })],
        }),
      ),
    );
    const framed = recordSharedFrames(server.connections);
    const message = "compressible ".repeat(100);
    broadcast(server.connections, message);
    assert.equal(framed.length, 3);
    assert.ok(framed.every((bytes) => bytes === framed[0]));
    // RSV1, and far fewer bytes than the message.
    assert.equal(framed[0][0][0] & 0x40, 0x40);
    assert.ok(Buffer.concat(framed[0]).length < message.length / 4);
    for (const ws of clients) assert.equal(await ws.recv(), message);
    await Promise.all(clients.map((ws) => ws.close()));
    await server.close();
  });

  it("works from client connections, which mask each frame", async () => {
    const received: string[] = [];
    const server = await serve(
      async (ws) => {
        received.push((await ws.recv()) as string);
      },
      { host: "127.0.0.1", port: 0, logger: false },
    );
    const { port } = server.address as { port: number };
    const clients: ClientConnection[] = await Promise.all(
      Array.from({ length: 3 }, () => connect(`ws://127.0.0.1:${port}`, { logger: false })),
    );
    broadcast(clients, "from clients");
    await Promise.all(clients.map((ws) => ws.closed));
    assert.deepEqual(received, ["from clients", "from clients", "from clients"]);
    await server.close();
  });

  it("skips connections that aren't open", async () => {
    const { server, clients, teardown } = await setup(2, { compression: null });
    const [first, second] = [...server.connections];
    await clients[0].close();
    await first.closed;
    assert.equal(first.state, CLOSED);
    broadcast([first, second], "only open ones", { raiseExceptions: true });
    assert.equal(await clients[1].recv(), "only open ones");
    await teardown();
  });

  it("skips a connection sending a fragmented message, with a WARN", async () => {
    const capture = createCaptureLogger();
    const { server, clients, teardown } = await setup(2, {
      compression: null,
      logger: capture.logger,
    });
    const [busy] = server.connections;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* fragments() {
      yield "part 1, ";
      await gate;
      yield "part 2";
    }
    const sending = busy.send(fragments());
    await new Promise((resolve) => setImmediate(resolve));
    broadcast(server.connections, "news");
    const warning = capture.records.find((r) => r.level === "warn");
    assert.equal(warning?.msg, "skipped broadcast: sending a fragmented message");
    assert.equal(warning?.fields.connectionId, busy.id);
    assert.throws(
      () => broadcast(server.connections, "news", { raiseExceptions: true }),
      (error: unknown) => {
        assert.ok(error instanceof AggregateError);
        assert.equal(error.errors.length, 1);
        assert.ok(error.errors[0] instanceof ConcurrencyError);
        return true;
      },
    );
    release();
    await sending;
    const messages = await Promise.all(clients.map((ws) => ws.recv()));
    assert.ok(messages.includes("part 1, part 2"));
    assert.ok(messages.includes("news"));
    await teardown();
  });

  it("logs a WARN for a connection that can't take the message, or raises", async () => {
    const capture = createCaptureLogger();
    const { server, clients, teardown } = await setup(2, {
      compression: null,
      logger: capture.logger,
    });
    const [broken, healthy] = [...server.connections] as ServerConnection[];
    // Tear the transport down: the connection is still OPEN until 'close'.
    (
      broken as unknown as { writer: { transport: { destroy(): void } } }
    ).writer.transport.destroy();
    broadcast([broken, healthy], "first");
    const warning = capture.records.find((r) => r.level === "warn");
    assert.match(
      warning?.msg ?? "",
      /^skipped broadcast: failed to write message: Error: transport is closed/,
    );
    assert.throws(
      () => broadcast([broken, healthy], "second", { raiseExceptions: true }),
      (error: unknown) => {
        assert.ok(error instanceof AggregateError);
        assert.equal(error.message, "skipped broadcast");
        assert.match(String((error.errors[0] as Error).cause), /transport is closed/);
        return true;
      },
    );
    assert.equal(await clients[1].recv(), "first");
    assert.equal(await clients[1].recv(), "second");
    await teardown();
  });

  it("rejects a message that isn't a string or bytes", async () => {
    const connections: Connection[] = [];
    assert.throws(() => broadcast(connections, 42 as never), {
      name: "TypeError",
      message: /got number/,
    });
  });
});

describe("broadcast slowConnectionLimit", () => {
  it("skips connections with more bytes waiting than the limit", async () => {
    const { server, clients, teardown } = await setup(2, { compression: null });
    const [slow, fast] = [...server.connections];
    const portOf = (ws: Connection) => (ws.remoteAddress as { port: number }).port;
    const clientOf = (connection: Connection) =>
      clients.find((ws) => (ws.localAddress as { port: number }).port === portOf(connection))!;
    // Queued until the end of this turn: `slow` has 10_004 bytes waiting.
    const sent = slow.send(Buffer.alloc(10_000));
    assert.ok(slow.bufferedAmount > 1000);
    assert.equal(fast.bufferedAmount, 0);
    broadcast(server.connections, "ticker", { slowConnectionLimit: 1000 });
    await sent;
    assert.equal(await clientOf(fast).recv(), "ticker");
    assert.deepEqual(await clientOf(slow).recv(), Buffer.alloc(10_000));
    // Once drained, the slow connection gets the next broadcast: not the skipped one.
    broadcast(server.connections, "next", { slowConnectionLimit: 1000 });
    assert.equal(await clientOf(slow).recv(), "next");
    assert.equal(await clientOf(fast).recv(), "next");
    await teardown();
  });

  it("rejects a negative limit", () => {
    assert.throws(() => broadcast([], "x", { slowConnectionLimit: -1 }), {
      name: "RangeError",
      message: /-1/,
    });
  });
});
