// Whole messages take a shorter way from the parser to the application than
// other frames (docs/performance.md, "Hot paths"). These tests mix both kinds
// in one read, over real sockets, and check that what a connection does is
// what it does frame by frame: order, answers, failures, limits.
import { strict as assert } from "node:assert";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import { type Data, type ServeOptions, type Server, serve } from "../../src/index.ts";
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
