// Peers that misbehave, built byte by byte on raw sockets (test/helpers/net.ts):
// against our server (raw clients) and against our client (raw servers).
import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { after, describe, test } from "node:test";
import {
  type ClientConnection,
  ConnectionClosedError,
  connect,
  InvalidHandshake,
  InvalidStatus,
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/index.ts";
import {
  closeFrame,
  exchange,
  type FakeRequest,
  fakeServer,
  flood,
  frame,
  frameHeader,
  handshakeResponse,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type ParsedFrame,
  parseClose,
  rawConnect,
  readFrames,
  slowloris,
  vanishMidMessage,
  withTimeout,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

/** Collects WARN and ERROR records; drops the rest. */
function quietLogger(): {
  records: string[];
  logger: NonNullable<ServeOptions["logger"]>;
} {
  const records: string[] = [];
  const keep = (obj: unknown, msg?: string) => {
    records.push(typeof obj === "string" ? obj : (msg ?? ""));
  };
  return {
    records,
    logger: {
      debug: () => {},
      info: () => {},
      warn: keep,
      error: keep,
      isLevelEnabled: (level: string) => level === "warn" || level === "error",
    },
  };
}

interface Harness {
  server: Server;
  port: number;
  /** Settles with the handler's outcome for each connection, in order. */
  outcomes: Promise<HandlerOutcome>[];
  records: string[];
}

interface HandlerOutcome {
  error: unknown;
  closeCode: number | null;
  closeReason: string | null;
}

const servers: Server[] = [];

after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

/**
 * Serves `body` on 127.0.0.1 with quiet logs; records how each handler ended
 * (the error it caught, the close code and reason).
 */
async function harness(
  body: (ws: ServerConnection) => Promise<void>,
  options: Partial<ServeOptions> = {},
): Promise<Harness> {
  const { records, logger } = quietLogger();
  const outcomes: Promise<HandlerOutcome>[] = [];
  const server = await serve(
    async (ws) => {
      let settle!: (error: unknown) => void;
      const caught = new Promise<unknown>((resolve) => {
        settle = resolve;
      });
      // The outcome is known once the connection is closed, which happens
      // after the handler returns (the server then closes it with 1000).
      outcomes.push(
        caught.then(async (error) => {
          await ws.closed;
          return { error, closeCode: ws.closeCode, closeReason: ws.closeReason };
        }),
      );
      try {
        await body(ws);
        settle(null);
      } catch (err) {
        settle(err);
      }
    },
    { host: "127.0.0.1", port: 0, logger, ...options },
  );
  servers.push(server);
  const { port } = server.address as { port: number };
  return { server, port, outcomes, records };
}

async function drain(ws: ServerConnection): Promise<void> {
  for await (const _ of ws) {
    // Read until the connection closes.
  }
}

/** Waits (bounded) until `outcomes` has `count` entries, then returns the last one. */
async function nthOutcome(h: Harness, count: number): Promise<HandlerOutcome> {
  for (let i = 0; i < 250 && h.outcomes.length < count; i++) await sleep(20);
  assert.equal(h.outcomes.length, count, "the handler did not run");
  return withTimeout(h.outcomes[count - 1], 5000, "the handler did not finish");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function assertClose(f: ParsedFrame | null, code: number, reason?: string | RegExp): void {
  assert.ok(f !== null, "expected a close frame, got the end of the stream");
  assert.equal(f.opcode, OP_CLOSE, `expected a close frame, got opcode ${f.opcode}`);
  const close = parseClose(f.payload);
  assert.equal(close.code, code, `close code ${close.code} (${close.reason})`);
  if (typeof reason === "string") assert.equal(close.reason, reason);
  else if (reason !== undefined) assert.match(close.reason, reason);
}

describe("against our server", () => {
  test("drops a client that never finishes its opening handshake after openTimeout", async () => {
    let calls = 0;
    const h = await harness(
      async () => {
        calls++;
      },
      { openTimeout: 200 },
    );
    const loris = await slowloris(h.port, { intervalMs: 10, maxBytes: 4000 });
    await withTimeout(loris.closed, 5000, "the server kept a slowloris connection open");
    assert.ok(loris.bytesSent() < 4000, "the server waited for the whole dribble");
    assert.equal(calls, 0);
    assert.equal(h.server.connections.size, 0);
  });

  test("closes with 1011 keepalive ping timeout when the peer never answers pings", async () => {
    const h = await harness(drain, { pingInterval: 50, pingTimeout: 100, closeTimeout: 500 });
    const peer = await rawConnect(h.port);
    const ping = await peer.reader.next();
    assert.equal(ping?.opcode, OP_PING);
    // Never answer: the next frame is the close.
    assertClose(await peer.reader.next(), 1011, "keepalive ping timeout");
    peer.send(closeFrame(1011));
    await peer.reader.waitClosed();
    const outcome = await nthOutcome(h, 1);
    assert.ok(outcome.error instanceof ConnectionClosedError);
    assert.equal(outcome.error.sent?.code, 1011);
  });

  test("keeps a connection that answers pings alive past pingTimeout", async () => {
    const h = await harness(
      async (ws) => {
        // Long enough for several keepalive rounds.
        const message = await ws.recv();
        await ws.send(message);
      },
      { pingInterval: 30, pingTimeout: 60 },
    );
    const peer = await rawConnect(h.port);
    for (let i = 0; i < 4; i++) {
      const ping = await peer.reader.next();
      assert.equal(ping?.opcode, OP_PING);
      peer.send(frame(OP_PONG, ping!.payload));
    }
    peer.send(frame(OP_TEXT, "still here"));
    const reply = await peer.recvData();
    assert.equal(reply?.payload.toString(), "still here");
    assertClose(await peer.recvData(), 1000);
    peer.send(closeFrame(1000));
    await peer.reader.waitClosed();
    assert.equal((await nthOutcome(h, 1)).closeCode, 1000);
  });

  test("destroys the connection after closeTimeout when the peer never answers the close", async () => {
    const h = await harness(
      async (ws) => {
        await ws.close(1000, "bye");
      },
      { closeTimeout: 200, pingInterval: null },
    );
    const peer = await rawConnect(h.port);
    assertClose(await peer.reader.next(), 1000, "bye");
    // Never answer; the server must give up and close TCP.
    await peer.reader.waitClosed();
    const outcome = await nthOutcome(h, 1);
    assert.equal(outcome.error, null);
    assert.equal(outcome.closeCode, 1006);
  });

  test("closes TCP itself when the peer answers the close but keeps TCP open", async () => {
    const h = await harness(
      async (ws) => {
        await ws.close(1000, "bye");
      },
      { closeTimeout: 2000, pingInterval: null },
    );
    const peer = await rawConnect(h.port);
    assertClose(await peer.reader.next(), 1000, "bye");
    peer.send(closeFrame(1000, "bye"));
    // RFC 6455 §7.1.1: the server closes the TCP connection first.
    await peer.reader.waitClosed();
    assert.equal(peer.reader.eof, true);
    assert.equal((await nthOutcome(h, 1)).closeCode, 1000);
  });

  test("answers garbage before the upgrade with 400 and closes", async () => {
    const h = await harness(drain);
    const { received, closedByServer } = await exchange(
      h.port,
      "\x16\x03\x01 not http at all\r\n\r\n",
    );
    assert.match(received.toString("latin1"), /^HTTP\/1\.1 400 /);
    assert.equal(closedByServer, true);
    assert.equal(h.outcomes.length, 0);
  });

  test("refuses a plain HTTP GET without Upgrade with a 4xx and closes", async () => {
    const h = await harness(drain);
    const { received, closedByServer } = await exchange(
      h.port,
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert.match(received.toString("latin1"), /^HTTP\/1\.1 4\d\d /);
    assert.equal(closedByServer, true);
  });

  const protocolViolations: Array<[string, Buffer, number]> = [
    ["an unmasked frame", frame(OP_TEXT, "x", { mask: false }), 1002],
    ["a reserved opcode", frame(0x3, "x"), 1002],
    ["RSV1 without a negotiated extension", frame(OP_TEXT, "x", { rsv1: true }), 1002],
    ["a fragmented ping", frame(OP_PING, "x", { fin: false }), 1002],
    ["a 126-byte ping", frame(OP_PING, Buffer.alloc(126)), 1002],
    ["a continuation without a message", frame(OP_CONT, "x"), 1002],
    ["a close frame with a 1-byte payload", frame(OP_CLOSE, Buffer.from([3])), 1002],
    ["a close frame with code 1005", closeFrame(1005), 1002],
    ["a text frame that is not UTF-8", frame(OP_TEXT, Buffer.from([0xc3, 0x28])), 1007],
  ];
  for (const [what, bytes, code] of protocolViolations) {
    test(`fails with ${code} on ${what} after the upgrade`, async () => {
      const h = await harness(drain, { closeTimeout: 1000 });
      const peer = await rawConnect(h.port);
      peer.send(bytes);
      assertClose(await peer.reader.nextData(), code);
      await peer.reader.waitClosed();
      const outcome = await nthOutcome(h, 1);
      assert.ok(outcome.error instanceof ConnectionClosedError);
      assert.equal(outcome.error.sent?.code, code);
    });
  }

  test("closes with 1006 and throws ConnectionClosedError in the handler when the peer vanishes mid-message", async () => {
    const h = await harness(drain);
    const peer = await rawConnect(h.port);
    vanishMidMessage(peer, { length: 10_000 });
    await peer.reader.waitClosed();
    const outcome = await nthOutcome(h, 1);
    assert.ok(outcome.error instanceof ConnectionClosedError, `got ${String(outcome.error)}`);
    assert.equal(outcome.error.rcvd, null);
    assert.equal(outcome.closeCode, 1006);
  });

  test("closes with 1006 when the peer resets the connection mid-message", async () => {
    const h = await harness(drain);
    const peer = await rawConnect(h.port);
    vanishMidMessage(peer, { length: 10_000, reset: true });
    const outcome = await nthOutcome(h, 1);
    assert.ok(outcome.error instanceof ConnectionClosedError);
    assert.equal(outcome.closeCode, 1006);
  });

  test("fails with 1009 on a frame header declaring more than maxSize, before its payload", async () => {
    const h = await harness(drain, { maxSize: 1024 });
    const peer = await rawConnect(h.port);
    // Only the header: the server must not wait for 1025 bytes to refuse them.
    peer.send(frameHeader(OP_BINARY, 1025).header);
    assertClose(await peer.reader.nextData(), 1009);
    const outcome = await nthOutcome(h, 1);
    assert.ok(outcome.error instanceof ConnectionClosedError);
    assert.equal(outcome.error.sent?.code, 1009);
  });

  test("fails with 1009 on a frame declaring 2^63-1 bytes", async () => {
    const h = await harness(drain);
    const peer = await rawConnect(h.port);
    const header = frameHeader(OP_BINARY, 65536).header;
    // Patch the 64-bit length to the largest value RFC 6455 §5.2 allows.
    header.writeBigUInt64BE(2n ** 63n - 1n, 2);
    peer.send(header);
    assertClose(await peer.reader.nextData(), 1009);
  });

  test("fails with 1009 on a fragmented message whose fragments add up to more than maxSize", async () => {
    const h = await harness(drain, { maxSize: 1024 });
    const peer = await rawConnect(h.port);
    peer.send(frame(OP_BINARY, Buffer.alloc(600), { fin: false }));
    peer.send(frame(OP_CONT, Buffer.alloc(600), { fin: false }));
    assertClose(await peer.reader.nextData(), 1009);
  });

  test("stops reading from a fast sender while the handler doesn't read, then catches up", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const h = await harness(
      async (ws) => {
        await gate;
        let count = 0;
        for await (const message of ws) {
          if (message === "end") break;
          count++;
        }
        await ws.send(String(count));
      },
      { maxQueue: 4, pingInterval: null },
    );
    const peer = await rawConnect(h.port);
    const message = frame(OP_BINARY, Buffer.alloc(1024, 1));
    const limit = 256 * 1024 * 1024;
    const { written, stalled } = await flood(peer.socket, message, { maxBytes: limit });
    // Without flow control the server would read all 256 MiB into memory.
    // With it, only kernel buffers (a few MiB on loopback) fill up.
    assert.equal(stalled, true, `the server read ${written} bytes without stalling`);
    assert.ok(written < 64 * 1024 * 1024, `the server accepted ${written} bytes while not reading`);
    release();
    // Every frame handed to the socket is eventually delivered.
    const sent = Math.ceil((written + peer.socket.writableLength) / message.length);
    peer.send(frame(OP_TEXT, "end"));
    const reply = await peer.reader.nextData(30_000);
    assert.equal(reply?.payload.toString(), String(sent));
    assertClose(await peer.reader.nextData(), 1000);
    peer.send(closeFrame(1000));
    await peer.reader.waitClosed();
  });
});

describe("against our client", () => {
  const fakes: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    await Promise.all(fakes.map((f) => f.close()));
  });

  async function fake(onRequest: (socket: Socket, request: FakeRequest) => void) {
    const server = await fakeServer(onRequest);
    fakes.push(server);
    return server;
  }

  /** A fake server that completes the handshake, then runs `then` on the socket. */
  async function upgraded(then: (socket: Socket, request: FakeRequest) => void) {
    return fake((socket, request) => {
      socket.write(handshakeResponse(request.key));
      then(socket, request);
    });
  }

  const quiet = quietLogger().logger;

  test("rejects a 101 with a wrong Sec-WebSocket-Accept", async () => {
    const server = await fake((socket) => {
      socket.write(handshakeResponse("not the key the client sent"));
    });
    await assert.rejects(connect(server.url, { logger: quiet }), (err: unknown) => {
      assert.ok(err instanceof InvalidHandshake, `got ${String(err)}`);
      assert.match(String(err), /Sec-WebSocket-Accept/i);
      return true;
    });
  });

  test("rejects a non-101 answer with InvalidStatus carrying the status and body", async () => {
    const server = await fake((socket) => {
      socket.end(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\ngo away\n",
      );
    });
    await assert.rejects(connect(server.url, { logger: quiet }), (err: unknown) => {
      assert.ok(err instanceof InvalidStatus, `got ${String(err)}`);
      assert.equal(err.response.status, 403);
      assert.equal(Buffer.from(err.response.body ?? []).toString(), "go away\n");
      return true;
    });
  });

  test("rejects when the server closes the connection during the handshake", async () => {
    const server = await fake((socket) => {
      socket.end("HTTP/1.1 101 Switching");
    });
    await assert.rejects(connect(server.url, { logger: quiet }), InvalidHandshake);
  });

  test("gives up on a server that never answers the handshake after openTimeout", async () => {
    const server = await fake(() => {
      // Never answer.
    });
    await assert.rejects(connect(server.url, { openTimeout: 200, logger: quiet }), /time/i);
  });

  test("destroys the connection after closeTimeout when the server never answers the close", async () => {
    let serverClosed: Promise<void> | null = null;
    const server = await upgraded((socket) => {
      serverClosed = new Promise((resolve) => socket.once("close", () => resolve()));
      // Reads everything, answers nothing.
      socket.resume();
    });
    const ws: ClientConnection = await connect(server.url, {
      closeTimeout: 200,
      pingInterval: null,
      logger: quiet,
    });
    await ws.close(1000);
    assert.equal(ws.closeCode, 1006);
    assert.ok(serverClosed !== null);
    await withTimeout(serverClosed, 5000, "the client kept the TCP connection");
  });

  test("closes with 1011 keepalive ping timeout when the server never answers pings", async () => {
    let closeFrameSeen: Promise<ParsedFrame | null> | null = null;
    const server = await upgraded((socket, request) => {
      const reader = readFrames(socket, request.rest);
      closeFrameSeen = reader.nextData();
    });
    const ws = await connect(server.url, {
      pingInterval: 50,
      pingTimeout: 100,
      closeTimeout: 200,
      logger: quiet,
    });
    await assert.rejects(ws.recv(), ConnectionClosedError);
    assertClose(await closeFrameSeen!, 1011, "keepalive ping timeout");
    assert.equal(ws.closeCode, 1006);
  });

  test("fails with 1002 when the server sends a masked frame", async () => {
    let closeFrameSeen: Promise<ParsedFrame | null> | null = null;
    const server = await upgraded((socket, request) => {
      const reader = readFrames(socket, request.rest);
      // Misbehave once the client is open: when its first message arrives.
      closeFrameSeen = reader.nextData().then(() => {
        socket.write(frame(OP_TEXT, "masked", { mask: true }));
        return reader.nextData();
      });
    });
    const ws = await connect(server.url, { closeTimeout: 200, logger: quiet });
    await ws.send("go");
    await assert.rejects(ws.recv(), ConnectionClosedError);
    assertClose(await closeFrameSeen!, 1002);
  });

  test("throws ConnectionClosedError from recv when the server vanishes mid-message", async () => {
    const server = await upgraded((socket) => {
      const whole = frame(OP_BINARY, Buffer.alloc(5000), { mask: false });
      socket.write(whole.subarray(0, 2500), () => socket.destroy());
    });
    const ws = await connect(server.url, { logger: quiet });
    await assert.rejects(ws.recv(), (err: unknown) => {
      assert.ok(err instanceof ConnectionClosedError);
      assert.equal(err.rcvd, null);
      return true;
    });
    assert.equal(ws.closeCode, 1006);
  });

  test("fails with 1009 when the server sends more than maxSize", async () => {
    let closeFrameSeen: Promise<ParsedFrame | null> | null = null;
    const server = await upgraded((socket, request) => {
      const reader = readFrames(socket, request.rest);
      closeFrameSeen = reader.nextData().then(() => {
        socket.write(frame(OP_BINARY, Buffer.alloc(2048), { mask: false }));
        return reader.nextData();
      });
    });
    const ws = await connect(server.url, { maxSize: 1024, closeTimeout: 200, logger: quiet });
    await ws.send("go");
    await assert.rejects(ws.recv(), ConnectionClosedError);
    assertClose(await closeFrameSeen!, 1009);
  });
});

checkLeaksAfterAll();
