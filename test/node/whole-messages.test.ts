// Whole messages take a shorter way from the parser to the application than
// other frames (docs/performance.md, "Hot paths"). These tests mix both kinds
// in one read, over real sockets, and check that what a connection does is
// what it does frame by frame: order, answers, failures, limits.
import { strict as assert } from "node:assert";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import {
  type Data,
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/index.ts";
import { type WebSocket, WebSocketServer } from "../../src/ws/index.ts";
import {
  closeFrame,
  frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type ParsedFrame,
  parseClose,
  rawConnect,
} from "../helpers/net.ts";

const servers: Server[] = [];
const wsServers: WebSocketServer[] = [];

after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await Promise.all(
    wsServers.map(
      (wss) =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close(() => resolve());
        }),
    ),
  );
});

/** Serves a handler that records every message until the loop ends; resolves with them then. */
async function recording(
  options: Partial<ServeOptions> = {},
): Promise<{ port: number; received: Promise<{ messages: Data[]; closeCode: number | null }> }> {
  let done!: (value: { messages: Data[]; closeCode: number | null }) => void;
  const received = new Promise<{ messages: Data[]; closeCode: number | null }>((resolve) => {
    done = resolve;
  });
  const server = await serve(
    async (ws) => {
      const messages: Data[] = [];
      try {
        for await (const message of ws) messages.push(message);
      } catch {
        // Closed with an error: the close code tells which.
      }
      await ws.closed;
      done({ messages, closeCode: ws.closeCode });
    },
    { host: "127.0.0.1", port: 0, ...options },
  );
  servers.push(server);
  return { port: server.port, received };
}

/** Every frame the server sends until it closes the connection. */
async function framesUntilClosed(reader: {
  next(): Promise<ParsedFrame | null>;
}): Promise<ParsedFrame[]> {
  const frames: ParsedFrame[] = [];
  for (let i = 0; i < 1000; i++) {
    const next = await reader.next();
    if (next === null) return frames;
    frames.push(next);
  }
  throw new Error("too many frames");
}

describe("whole messages and other frames in one read (async API)", () => {
  test("data, ping, data, fragments, data, close: in order, ping and close answered", async () => {
    const { port, received } = await recording();
    const peer = await rawConnect(port);
    peer.send(
      Buffer.concat([
        frame(OP_TEXT, "one"),
        frame(OP_BINARY, "two"),
        frame(OP_PING, "p"),
        frame(OP_TEXT, "three"),
        frame(OP_TEXT, "fo", { fin: false }),
        frame(OP_CONT, "ur"),
        frame(OP_BINARY, "five"),
        closeFrame(1000, "bye"),
      ]),
    );
    const frames = await framesUntilClosed(peer.reader);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.payload.toString()]),
      [
        [OP_PONG, "p"],
        [OP_CLOSE, frames[1]?.payload.toString()],
      ],
    );
    assert.deepEqual(parseClose(frames[1].payload), { code: 1000, reason: "bye" });
    const { messages, closeCode } = await received;
    assert.deepEqual(messages, ["one", Buffer.from("two"), "three", "four", Buffer.from("five")]);
    assert.equal(closeCode, 1000);
  });

  test("invalid UTF-8 in the middle of a read: the messages before it, then 1007", async () => {
    const { port, received } = await recording();
    const peer = await rawConnect(port);
    peer.send(
      Buffer.concat([
        frame(OP_TEXT, "ok 1"),
        frame(OP_TEXT, "ok 2"),
        frame(OP_TEXT, Buffer.from([0x61, 0xff, 0xfe])),
        frame(OP_TEXT, "ok 4"),
        frame(OP_PING, "never answered"),
      ]),
    );
    const frames = await framesUntilClosed(peer.reader);
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [OP_CLOSE],
    );
    assert.equal(parseClose(frames[0].payload).code, 1007);
    const { messages, closeCode } = await received;
    assert.deepEqual(messages, ["ok 1", "ok 2"]);
    assert.equal(closeCode, 1006);
  });

  test("maxSize exceeded by the third frame of a read: two messages, then 1009", async () => {
    const { port, received } = await recording({ maxSize: 10 });
    const peer = await rawConnect(port);
    peer.send(
      Buffer.concat([
        frame(OP_BINARY, Buffer.alloc(5, 1)),
        frame(OP_BINARY, Buffer.alloc(10, 2)),
        frame(OP_BINARY, Buffer.alloc(11, 3)),
        frame(OP_BINARY, Buffer.alloc(1, 4)),
      ]),
    );
    const frames = await framesUntilClosed(peer.reader);
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [OP_CLOSE],
    );
    assert.equal(parseClose(frames[0].payload).code, 1009);
    const { messages } = await received;
    assert.deepEqual(messages, [Buffer.alloc(5, 1), Buffer.alloc(10, 2)]);
  });

  test("frames split across reads at every offset: none lost, in order", async () => {
    const { port, received } = await recording();
    const peer = await rawConnect(port);
    const expected: Data[] = [];
    const frames: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      // Text and binary, 7- and 16-bit lengths, a ping now and then.
      const size = i % 7 === 0 ? 200 + i : i % 40;
      const text = i % 3 === 0;
      const payload = Buffer.alloc(size, 0x61 + (i % 26));
      expected.push(text ? payload.toString() : payload);
      frames.push(frame(text ? OP_TEXT : OP_BINARY, payload));
      if (i % 11 === 0) frames.push(frame(OP_PING, String(i)));
    }
    const bytes = Buffer.concat(frames);
    // Pieces of 1 to 97 bytes, each its own write and, with a pause, its own read.
    let pongs = 0;
    for (let at = 0, n = 1; at < bytes.length; n = (n * 7 + 3) % 97 || 1) {
      peer.send(bytes.subarray(at, at + n));
      at += n;
      if (n % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (;;) {
      const next = await peer.reader.next();
      assert.equal(next?.opcode, OP_PONG);
      pongs += 1;
      if (pongs === 11) break;
    }
    peer.send(closeFrame(1000));
    const { messages, closeCode } = await received;
    assert.equal(messages.length, expected.length);
    assert.deepEqual(messages, expected);
    assert.equal(closeCode, 1000);
  });
});

describe("whole messages queued while nobody reads (async API)", () => {
  /** Serves a handler that waits for `gate`, then runs `read`; resolves with what it returned. */
  async function gated<T>(
    read: (ws: ServerConnection) => Promise<T>,
    options: Partial<ServeOptions> = {},
  ): Promise<{ port: number; open: () => void; result: Promise<T> }> {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let done!: (value: T) => void;
    const result = new Promise<T>((resolve) => {
      done = resolve;
    });
    const server = await serve(
      async (ws) => {
        await gate;
        done(await read(ws));
      },
      { host: "127.0.0.1", port: 0, pingInterval: null, ...options },
    );
    servers.push(server);
    return { port: server.port, open, result };
  }

  test("whole and fragmented messages, then close: read after in order, as asked", async () => {
    const { port, open, result } = await gated(async (ws) => {
      const got: unknown[] = [
        await ws.recv(),
        await ws.recv({ decode: true }),
        await ws.recv(),
        await ws.recv({ decode: false }),
        await ws.recv({ decode: false }),
      ];
      const fragments: Data[] = [];
      for await (const fragment of ws.recvStreaming()) fragments.push(fragment);
      got.push(fragments);
      got.push(await ws.recv({ decode: true }).catch((error: Error) => error.name));
      got.push(await ws.recv().catch((error: Error) => error.name));
      return got;
    });
    const peer = await rawConnect(port);
    peer.send(
      Buffer.concat([
        frame(OP_TEXT, "one"),
        frame(OP_BINARY, "two"),
        frame(OP_TEXT, "th", { fin: false }),
        frame(OP_PING, "p"),
        frame(OP_CONT, "ree"),
        frame(OP_BINARY, Buffer.from([0, 255, 4])),
        frame(OP_TEXT, "fïve ✓"),
        frame(OP_TEXT, "six"),
        frame(OP_BINARY, Buffer.from([0xc3, 0x28])),
        closeFrame(1000, "bye"),
      ]),
    );
    // Both answered while the messages wait: they were all read.
    const frames = await framesUntilClosed(peer.reader);
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [OP_PONG, OP_CLOSE],
    );
    open();
    assert.deepEqual(await result, [
      "one",
      "two",
      "three",
      Buffer.from([0, 255, 4]),
      Buffer.from("fïve ✓"),
      ["six"],
      // A binary message read as text that isn't UTF-8, after the close:
      // the connection is closed already, the read fails.
      "ConnectionClosedOK",
      "ConnectionClosedOK",
    ]);
  });

  test("maxQueue counts whole messages: reading stops above it, resumes once read down", async () => {
    const { port, open, result } = await gated(
      async (ws) => {
        const got: Data[] = [];
        for await (const message of ws) got.push(message);
        return got;
      },
      { maxQueue: 4 },
    );
    const peer = await rawConnect(port);
    peer.send(Buffer.concat(["a", "b", "c", "d", "e"].map((m) => frame(OP_BINARY, m))));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Five queued, over 4: the server stopped reading, so this ping waits.
    peer.send(frame(OP_PING, "later"));
    await assert.rejects(peer.reader.next(150), /no frame within/);
    open();
    const pong = await peer.reader.next();
    assert.equal(pong?.opcode, OP_PONG);
    assert.equal(pong?.payload.toString(), "later");
    peer.send(closeFrame(1000));
    assert.deepEqual(
      await result,
      ["a", "b", "c", "d", "e"].map((m) => Buffer.from(m)),
    );
  });

  test("a binary message read as text that isn't UTF-8: the messages before it, then 1007", async () => {
    const { port, open, result } = await gated(async (ws) => {
      const got: unknown[] = [await ws.recv({ decode: true })];
      got.push(await ws.recv({ decode: true }).catch((error: Error) => error.name));
      await ws.closed;
      got.push(ws.closeCode);
      return got;
    });
    const peer = await rawConnect(port);
    peer.send(Buffer.concat([frame(OP_BINARY, "ok"), frame(OP_BINARY, Buffer.from([0xff]))]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    open();
    const close = await peer.reader.nextData();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.equal(parseClose(close!.payload).code, 1007);
    peer.send(closeFrame(1007));
    // A server closes the transport without waiting for the answer (RFC 6455 §7.1.7).
    assert.deepEqual(await result, ["ok", "ConnectionClosedError", 1006]);
  });
});

describe("whole messages sent (async API)", () => {
  test("every kind of send in one turn, a fragmented one among them: in order, byte for byte", async () => {
    const long = "é".repeat(1500);
    const big = Buffer.alloc(70_000, 7);
    let sent!: () => void;
    const allSent = new Promise<void>((resolve) => {
      sent = resolve;
    });
    const server = await serve(
      async (ws) => {
        await ws.recv();
        // Not awaited one by one: all in the turn, as an echo under load sends.
        const sends = [
          ws.send("short"),
          ws.send(Buffer.from([1, 2, 3])),
          ws.send(new Uint16Array([0x0102])),
          ws.send(Buffer.from("bytes as text"), { text: true }),
          ws.send("text as bytes", { text: false }),
          ws.send(long),
          ws.send(big),
          ws.send(""),
          ws.send("last"),
          // Last: a fragmented send starts after its iterator's first step.
          ws.send(["frag", "ments"]),
        ];
        await Promise.all(sends);
        sent();
        await ws.closed;
      },
      { host: "127.0.0.1", port: 0, pingInterval: null, compression: null },
    );
    servers.push(server);
    const peer = await rawConnect(server.port);
    peer.send(frame(OP_TEXT, "go"));
    // Payloads as hex, long ones by length and whether they are exact.
    const frames: [number, boolean, string][] = [];
    const show = (payload: Buffer, expected?: Buffer) =>
      expected === undefined
        ? payload.toString("hex")
        : `${payload.length} bytes, ${payload.equals(expected) ? "exact" : "different"}`;
    const longBytes = Buffer.from(long);
    for (let i = 0; i < 12; i++) {
      const next = await peer.reader.nextData();
      assert.ok(next !== null);
      const expected = next.payload.length > 1000 ? (i === 5 ? longBytes : big) : undefined;
      frames.push([next.opcode, next.fin, show(next.payload, expected)]);
    }
    await allSent;
    const hex = (data: string | Buffer) => Buffer.from(data).toString("hex");
    assert.deepEqual(frames, [
      [OP_TEXT, true, hex("short")],
      [OP_BINARY, true, "010203"],
      [OP_BINARY, true, hex(Buffer.from(new Uint16Array([0x0102]).buffer))],
      [OP_TEXT, true, hex("bytes as text")],
      [OP_BINARY, true, hex("text as bytes")],
      [OP_TEXT, true, `${longBytes.length} bytes, exact`],
      [OP_BINARY, true, `${big.length} bytes, exact`],
      [OP_TEXT, true, ""],
      [OP_TEXT, true, hex("last")],
      [OP_TEXT, false, hex("frag")],
      [OP_CONT, false, hex("ments")],
      [OP_CONT, true, ""],
    ]);
    peer.send(closeFrame(1000));
    await peer.reader.waitClosed();
  });
});

describe("whole messages and other frames in one read (websockets-ts/ws)", () => {
  async function listen(): Promise<{ port: number; connection: Promise<WebSocket> }> {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    wsServers.push(wss);
    await once(wss, "listening");
    const connection = once(wss, "connection").then(([ws]) => ws as WebSocket);
    return { port: (wss.address() as { port: number }).port, connection };
  }

  test("events in the order of the frames: message, ping, message, pong, message, close", async () => {
    const { port, connection } = await listen();
    const peer = await rawConnect(port);
    const ws = await connection;
    const events: string[] = [];
    ws.on("message", (data, isBinary) => {
      events.push(`message ${isBinary ? "binary" : "text"} ${String(data)}`);
    });
    ws.on("ping", (data) => events.push(`ping ${String(data)}`));
    ws.on("pong", (data) => events.push(`pong ${String(data)}`));
    const closed = once(ws, "close");
    peer.send(
      Buffer.concat([
        frame(OP_TEXT, "a"),
        frame(OP_PING, "p"),
        frame(OP_BINARY, "b"),
        frame(OP_PONG, "q"),
        frame(OP_TEXT, "c"),
        closeFrame(1000, "done"),
      ]),
    );
    const [code] = await closed;
    assert.equal(code, 1000);
    assert.deepEqual(events, [
      "message text a",
      "ping p",
      "message binary b",
      "pong q",
      "message text c",
    ]);
  });

  test("invalid UTF-8 after a valid text message: the message, then error and 1007", async () => {
    const { port, connection } = await listen();
    const peer = await rawConnect(port);
    const ws = await connection;
    const events: string[] = [];
    ws.on("message", (data) => events.push(`message ${String(data)}`));
    ws.on("error", (error) => events.push(`error ${(error as { code?: string }).code}`));
    // Not once(): it rejects on the "error" event that comes first.
    const closed = new Promise((resolve) => ws.on("close", resolve));
    peer.send(
      Buffer.concat([
        frame(OP_TEXT, "fine"),
        frame(OP_TEXT, Buffer.from([0xc3, 0x28])),
        frame(OP_TEXT, "lost"),
      ]),
    );
    const frames = await framesUntilClosed(peer.reader);
    await closed;
    assert.equal(parseClose(frames.at(-1)!.payload).code, 1007);
    assert.deepEqual(events, ["message fine", "error WS_ERR_INVALID_UTF8"]);
  });
});
