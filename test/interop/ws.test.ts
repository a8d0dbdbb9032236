// Interop with `ws`, the WebSocket library Node users know: our client
// against a ws server, and a ws client against our server, over real
// sockets on 127.0.0.1, with and without permessage-deflate.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import {
  type ClientConnection,
  ConnectionClosedError,
  ConnectionClosedOK,
  connect,
  type ServeOptions,
  type Server,
  serve,
} from "../../src/index.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

const MIB = 1024 * 1024;
// 16 MiB messages must fit on both sides.
const MAX_SIZE = 20 * MIB;
const SIZES = [0, 125, 126, 65535, 65536, MIB, 16 * MIB];

/** A text of exactly `size` bytes with multi-byte characters (é is 2 bytes). */
function textOfSize(size: number): string {
  const unit = "websocket é ";
  const unitBytes = Buffer.byteLength(unit);
  const whole = unit.repeat(Math.floor(size / unitBytes));
  return whole + "x".repeat(size - Buffer.byteLength(whole));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A ws echo server; pings and closes are driven by the tests through `clients`. */
async function wsServer(
  options: { perMessageDeflate: boolean },
  handleProtocols?: (protocols: Set<string>) => string | false,
): Promise<{ wss: WebSocketServer; url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: options.perMessageDeflate,
    maxPayload: MAX_SIZE,
    handleProtocols,
  });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? null : rawToBuffer(data).toString();
      if (text === "please close") ws.close(4001, "server bye");
      else ws.send(data, { binary: isBinary });
    });
  });
  await once(wss, "listening");
  const { port } = wss.address() as { port: number };
  return {
    wss,
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Opens a ws client and waits for it to be open. */
async function wsClient(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
  protocols?: string[],
): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, { maxPayload: MAX_SIZE, ...options });
  await once(ws, "open");
  return ws;
}

/** The next message a ws client receives, as it arrived. */
async function wsNext(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = (await once(ws, "message")) as [RawData, boolean];
  return { data: rawToBuffer(data), isBinary };
}

async function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) throw new Error("already closed");
  const [code, reason] = (await once(ws, "close")) as [number, Buffer];
  return { code, reason: reason.toString() };
}

for (const deflate of [false, true]) {
  const mode = deflate ? "with permessage-deflate" : "without compression";

  describe(`our client against a ws server, ${mode}`, () => {
    let peer: Awaited<ReturnType<typeof wsServer>>;
    let ws: ClientConnection;

    before(async () => {
      peer = await wsServer({ perMessageDeflate: deflate });
      ws = await connect(peer.url, { maxSize: MAX_SIZE, compression: deflate ? "deflate" : null });
    });

    after(async () => {
      await ws.close();
      await peer.close();
    });

    test(`negotiates ${deflate ? "permessage-deflate" : "no extension"}`, () => {
      const header = ws.response?.headers.get("sec-websocket-extensions") ?? null;
      if (deflate) assert.match(header ?? "", /^permessage-deflate/);
      else assert.equal(header, null);
    });

    for (const size of SIZES) {
      test(`echoes a ${size}-byte text message`, async () => {
        const text = textOfSize(size);
        await ws.send(text);
        const reply = await ws.recv();
        assert.equal(typeof reply, "string");
        assert.ok(reply === text, `text of ${size} bytes came back different`);
      });

      test(`echoes a ${size}-byte binary message`, async () => {
        const bytes = randomBytes(size);
        await ws.send(bytes);
        const reply = await ws.recv();
        assert.ok(Buffer.isBuffer(reply));
        assert.ok(bytes.equals(reply), `bytes of ${size} came back different`);
      });
    }

    test("sends a fragmented message that ws reassembles", async () => {
      await ws.send(["frag", "men", "ted é"]);
      assert.equal(await ws.recv(), "fragmented é");
      await ws.send([Buffer.from([1, 2]), Buffer.from([3])]);
      assert.deepEqual(await ws.recv(), Buffer.from([1, 2, 3]));
    });

    test("receives a fragmented message ws sends", async () => {
      const [server] = peer.wss.clients;
      server.send("one ", { fin: false });
      server.send("two ", { fin: false });
      server.send("three", { fin: true });
      assert.equal(await ws.recv(), "one two three");
    });

    test("ping resolves with the latency once ws answers", async () => {
      const latency = await ws.ping();
      assert.equal(typeof latency, "number");
      assert.ok(latency >= 0);
    });

    test("answers a ping from ws with a pong carrying its payload", async () => {
      const [server] = peer.wss.clients;
      const pong = once(server, "pong");
      server.ping(Buffer.from("are you there"));
      const [payload] = (await pong) as [Buffer];
      assert.equal(payload.toString(), "are you there");
    });
  });

  describe(`a ws client against our server, ${mode}`, () => {
    let server: Server;
    let url: string;
    let ws: WebSocket;

    before(async () => {
      server = await serve(
        async (conn) => {
          for await (const message of conn) {
            if (message === "please close") await conn.close(4001, "server bye");
            else await conn.send(message);
          }
        },
        { host: "127.0.0.1", port: 0, maxSize: MAX_SIZE, compression: deflate ? "deflate" : null },
      );
      const address = server.address as { port: number };
      url = `ws://127.0.0.1:${address.port}/`;
      ws = await wsClient(url, { perMessageDeflate: deflate });
    });

    after(async () => {
      ws.terminate();
      await server.close();
    });

    test(`negotiates ${deflate ? "permessage-deflate" : "no extension"}`, () => {
      if (deflate) assert.match(ws.extensions, /^permessage-deflate/);
      else assert.equal(ws.extensions, "");
    });

    for (const size of SIZES) {
      test(`echoes a ${size}-byte text message`, async () => {
        const text = textOfSize(size);
        ws.send(text);
        const { data, isBinary } = await wsNext(ws);
        assert.equal(isBinary, false);
        assert.ok(data.toString() === text, `text of ${size} bytes came back different`);
      });

      test(`echoes a ${size}-byte binary message`, async () => {
        const bytes = randomBytes(size);
        ws.send(bytes);
        const { data, isBinary } = await wsNext(ws);
        assert.equal(isBinary, true);
        assert.ok(bytes.equals(data), `bytes of ${size} came back different`);
      });
    }

    test("reassembles a fragmented message ws sends", async () => {
      ws.send("frag", { fin: false });
      ws.send("men", { fin: false });
      ws.send("ted é", { fin: true });
      const { data, isBinary } = await wsNext(ws);
      assert.equal(isBinary, false);
      assert.equal(data.toString(), "fragmented é");
    });

    test("answers a ping from ws with a pong carrying its payload", async () => {
      const pong = once(ws, "pong");
      ws.ping(Buffer.from("ping from ws"));
      const [payload] = (await pong) as [Buffer];
      assert.equal(payload.toString(), "ping from ws");
    });

    test("pings ws, which answers, so ping resolves with a latency", async () => {
      const [conn] = server.connections;
      const ping = once(ws, "ping");
      const latency = await conn.ping(Buffer.from("ping from us"));
      const [payload] = (await ping) as [Buffer];
      assert.equal(payload.toString(), "ping from us");
      assert.ok(latency >= 0);
    });
  });
}

/** Runs `body` with a fresh ws server, closing it whatever happens. */
async function withWsServer(
  options: {
    perMessageDeflate: boolean;
    handleProtocols?: (protocols: Set<string>) => string | false;
  },
  body: (peer: Awaited<ReturnType<typeof wsServer>>) => Promise<void>,
): Promise<void> {
  const peer = await wsServer(options, options.handleProtocols);
  try {
    await body(peer);
  } finally {
    await peer.close();
  }
}

/** Runs `body` with a fresh server of ours, closing it whatever happens. */
async function withOurServer(
  handler: Parameters<typeof serve>[0],
  options: Omit<ServeOptions, "host" | "port">,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const server = await serve(handler, { host: "127.0.0.1", port: 0, logger: null, ...options });
  try {
    const { port } = server.address as { port: number };
    await body(`ws://127.0.0.1:${port}/`);
  } finally {
    await server.close();
  }
}

describe("subprotocols", () => {
  test("our client gets the subprotocol a ws server selects", async () => {
    const handleProtocols = (protocols: Set<string>) => (protocols.has("chat") ? "chat" : false);
    await withWsServer({ perMessageDeflate: false, handleProtocols }, async (peer) => {
      const ws = await connect(peer.url, { subprotocols: ["superchat", "chat"] });
      assert.equal(ws.subprotocol, "chat");
      await ws.close();
    });
  });

  test("a ws client gets the subprotocol our server selects", async () => {
    await withOurServer(
      async (conn) => {
        await conn.send(conn.subprotocol ?? "none");
      },
      { subprotocols: ["chat", "superchat"] },
      async (url) => {
        const ws = await wsClient(url, {}, ["superchat"]);
        assert.equal(ws.protocol, "superchat");
        assert.equal((await wsNext(ws)).data.toString(), "superchat");
        ws.terminate();
      },
    );
  });
});

describe("close codes and reasons", () => {
  test("our client closes with 4000 and a reason that a ws server receives", async () => {
    await withWsServer({ perMessageDeflate: false }, async (peer) => {
      const received = new Promise<{ code: number; reason: string }>((resolve) => {
        peer.wss.once("connection", (server) =>
          server.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
        );
      });
      const ws = await connect(peer.url);
      await ws.close(4000, "client bye é");
      assert.deepEqual(await received, { code: 4000, reason: "client bye é" });
      assert.equal(ws.closeCode, 4000);
      assert.equal(ws.closeReason, "client bye é");
    });
  });

  test("a ws server closes with 4001 and a reason that our client reports", async () => {
    await withWsServer({ perMessageDeflate: false }, async (peer) => {
      const ws = await connect(peer.url);
      await ws.send("please close");
      await assert.rejects(ws.recv(), (err: unknown) => {
        assert.ok(err instanceof ConnectionClosedError);
        assert.equal(err.rcvd?.code, 4001);
        assert.equal(err.rcvd?.reason, "server bye");
        return true;
      });
      await ws.closed;
      assert.equal(ws.closeCode, 4001);
      assert.equal(ws.closeReason, "server bye");
    });
  });

  test("a normal close from a ws server ends recv with ConnectionClosedOK on our client", async () => {
    await withWsServer({ perMessageDeflate: false }, async (peer) => {
      peer.wss.once("connection", (server) => {
        server.once("message", () => server.close(1000, "bye"));
      });
      const ws = await connect(peer.url);
      await ws.send("close now");
      // The echo comes first, then the close.
      assert.equal(await ws.recv(), "close now");
      await assert.rejects(ws.recv(), ConnectionClosedOK);
      assert.equal(ws.closeCode, 1000);
      assert.equal(ws.closeReason, "bye");
    });
  });

  test("our client sees the close of a ws server that closes as soon as it accepts", async () => {
    // ws writes the close frame right behind the 101, often in one TCP segment.
    await withWsServer({ perMessageDeflate: false }, async (peer) => {
      peer.wss.once("connection", (server) => server.close(1008, "not allowed"));
      const ws = await connect(peer.url);
      await assert.rejects(ws.recv(), ConnectionClosedError);
      assert.equal(ws.closeCode, 1008);
      assert.equal(ws.closeReason, "not allowed");
    });
  });

  test("a ws client closes with 1000 and our handler's iteration ends normally", async () => {
    let outcome: unknown = null;
    const done = deferred();
    await withOurServer(
      async (conn) => {
        try {
          for await (const _ of conn) {
            // Nothing is sent; the iteration ends when the client closes.
          }
          outcome = { code: conn.closeCode, reason: conn.closeReason };
        } catch (err) {
          outcome = err;
        } finally {
          done.resolve();
        }
      },
      {},
      async (url) => {
        const ws = await wsClient(url);
        ws.close(1000, "client done");
        assert.deepEqual(await wsClosed(ws), { code: 1000, reason: "client done" });
        await done.promise;
        assert.deepEqual(outcome, { code: 1000, reason: "client done" });
      },
    );
  });

  test("our server closes with 4001 and a reason that a ws client receives", async () => {
    await withOurServer(
      async (conn) => {
        for await (const message of conn) {
          if (message === "please close") await conn.close(4001, "server bye");
        }
      },
      {},
      async (url) => {
        const ws = await wsClient(url);
        const closed = wsClosed(ws);
        ws.send("please close");
        assert.deepEqual(await closed, { code: 4001, reason: "server bye" });
      },
    );
  });

  test("a ws client that terminates makes our iteration throw ConnectionClosedError (1006)", async () => {
    let outcome: unknown = null;
    const done = deferred();
    await withOurServer(
      async (conn) => {
        try {
          for await (const _ of conn) {
            // The client vanishes before sending anything.
          }
        } catch (err) {
          outcome = err;
        } finally {
          done.resolve();
        }
      },
      {},
      async (url) => {
        const ws = await wsClient(url);
        ws.terminate();
        await done.promise;
        assert.ok(outcome instanceof ConnectionClosedError, `got ${String(outcome)}`);
        assert.equal(outcome.rcvd, null);
      },
    );
  });
});

// After every describe's own hooks have closed their servers.
checkLeaksAfterAll();
