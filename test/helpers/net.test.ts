// The raw-peer helpers are checked against `ws`, an independent
// implementation, so tests built on them do not rest on our own frame code.
import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { after, before, test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import {
  acceptKey,
  closeFrame,
  exchange,
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
  parseClose,
  parseFrames,
  rawConnect,
  readFrames,
  slowloris,
  tcpConnect,
  withTimeout,
} from "./net.ts";
import { checkLeaksAfterAll } from "./no-leaks.ts";

let wss: WebSocketServer;
let port: number;

before(async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  wss.on("connection", (ws) => {
    // ws reports protocol errors (an unmasked frame) here before closing with 1002.
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("ping", (data) => ws.send(`ping:${data.toString()}`));
  });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  port = (wss.address() as { port: number }).port;
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

// Registered after the file's own `after` hook, which must close the server first.
checkLeaksAfterAll();

test("computes the RFC 6455 §1.3 example accept key", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

test("builds frames byte-exactly: header bits, length forms and masking", () => {
  const key = Buffer.from([1, 2, 3, 4]);
  assert.deepEqual(frame(OP_TEXT, "Hi", { mask: false }), Buffer.from([0x81, 0x02, 0x48, 0x69]));
  assert.deepEqual(
    frame(OP_TEXT, "Hi", { maskKey: key }),
    Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x48 ^ 1, 0x69 ^ 2]),
  );
  assert.deepEqual(
    frame(OP_BINARY, Buffer.alloc(0), {
      fin: false,
      rsv1: true,
      rsv2: true,
      rsv3: true,
      mask: false,
    }),
    Buffer.from([0x72, 0x00]),
  );
  assert.deepEqual(
    frameHeader(OP_BINARY, 126, { mask: false }).header,
    Buffer.from([0x82, 126, 0, 126]),
  );
  assert.deepEqual(
    frameHeader(OP_BINARY, 65536, { mask: false }).header,
    Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
  );
});

test("parses frames back, including split input and close payloads", () => {
  const bytes = Buffer.concat([
    frame(OP_TEXT, "a", { fin: false }),
    frame(OP_CONT, Buffer.alloc(300, 7), { mask: false }),
    closeFrame(1001, "bye"),
  ]);
  const partial = parseFrames(bytes.subarray(0, bytes.length - 1));
  assert.equal(partial.frames.length, 2);
  const { frames, consumed } = parseFrames(bytes);
  assert.equal(consumed, bytes.length);
  assert.deepEqual(
    frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.length]),
    [
      [OP_TEXT, false, true, 1],
      [OP_CONT, true, false, 300],
      [OP_CLOSE, true, true, 5],
    ],
  );
  assert.deepEqual(frames[1].payload, Buffer.alloc(300, 7));
  assert.deepEqual(parseClose(frames[2].payload), { code: 1001, reason: "bye" });
  assert.deepEqual(parseClose(Buffer.alloc(0)), { code: 1005, reason: "" });
});

test("talks to ws: text, 64 KiB binary, ping, fragmented message and close", async () => {
  const peer = await rawConnect(port);
  assert.equal(peer.response.status, 101);
  peer.send(frame(OP_TEXT, "héllo"));
  const text = await peer.reader.next();
  assert.equal(text?.opcode, OP_TEXT);
  assert.equal(text?.masked, false);
  assert.equal(text?.payload.toString(), "héllo");

  const big = Buffer.alloc(65536, 9);
  peer.send(frame(OP_BINARY, big));
  const echoed = await peer.reader.next();
  assert.equal(echoed?.opcode, OP_BINARY);
  assert.deepEqual(echoed?.payload, big);

  peer.send(frame(OP_PING, "p"));
  const pong = await peer.reader.next();
  assert.deepEqual([pong?.opcode, pong?.payload.toString()], [OP_PONG, "p"]);
  assert.equal((await peer.reader.next())?.payload.toString(), "ping:p");

  peer.send(Buffer.concat([frame(OP_TEXT, "ab", { fin: false }), frame(OP_CONT, "cd")]));
  assert.equal((await peer.reader.next())?.payload.toString(), "abcd");

  const close = await peer.close(1000, "done");
  assert.equal(close?.opcode, OP_CLOSE);
  assert.deepEqual(parseClose(close!.payload), { code: 1000, reason: "done" });
  await peer.reader.waitClosed();
  assert.equal(peer.reader.eof, true);
});

test("ws fails an unmasked client frame, which the reader reports as a 1002 close", async () => {
  const peer = await rawConnect(port);
  peer.send(frame(OP_TEXT, "x", { mask: false }));
  const close = await peer.reader.next();
  assert.equal(close?.opcode, OP_CLOSE);
  assert.equal(parseClose(close!.payload).code, 1002);
  peer.socket.destroy();
  await peer.reader.waitClosed();
});

test("rawConnect rejects a response other than 101 with its head", async () => {
  await assert.rejects(
    rawConnect(port, { headers: { "Sec-WebSocket-Version": "8" } }),
    /upgrade failed/,
  );
});

test("exchange collects a server's answer to garbage", async () => {
  const { received, closedByServer } = await exchange(port, "NOT HTTP\r\n\r\n");
  assert.equal(closedByServer, true);
  assert.match(received.toString(), /^HTTP\/1\.1 400/);
});

test("slowloris keeps dribbling until the server drops it", async () => {
  const server = await fakeServer(() => {});
  const sockets = new Set<Socket>();
  server.server.on("connection", (s) => sockets.add(s));
  const loris = await slowloris(server.port, { intervalMs: 5, maxBytes: 100 });
  // Let a few bytes through, then drop it from the server side.
  await withTimeout(
    (async () => {
      for (let i = 0; i < 200 && loris.bytesSent() < 10; i++)
        await new Promise((r) => setTimeout(r, 5));
    })(),
    5000,
    "slowloris sent nothing",
  );
  for (const s of sockets) s.destroy();
  await withTimeout(loris.closed, 5000, "slowloris did not see the close");
  assert.ok(loris.bytesSent() >= 10);
  await server.close();
});

test("a fake server's 101 satisfies a ws client, and its frames reach it", async () => {
  const server = await fakeServer((socket, request) => {
    socket.write(
      Buffer.concat([handshakeResponse(request.key), frame(OP_TEXT, "hi", { mask: false })]),
    );
    const reader = readFrames(socket, request.rest);
    reader.next().then((f) => {
      if (f?.opcode === OP_CLOSE) {
        socket.end(frame(OP_CLOSE, f.payload, { mask: false }));
      }
    });
  });
  const client = new WebSocket(server.url);
  const message = await new Promise<string>((resolve, reject) => {
    client.once("message", (data) => resolve(data.toString()));
    client.once("error", reject);
  });
  assert.equal(message, "hi");
  client.close(1000);
  const code = await new Promise<number>((resolve) => client.once("close", resolve));
  assert.equal(code, 1000);
  await server.close();
});

test("flood reports a stall when the receiver stops reading", async () => {
  const server = await fakeServer(() => {
    // Never reads: the request handler leaves the socket paused.
  });
  const socket = await tcpConnect(server.port);
  socket.write("GET / HTTP/1.1\r\n\r\n");
  const result = await flood(socket, Buffer.alloc(64 * 1024), { maxBytes: 256 * 1024 * 1024 });
  assert.equal(result.stalled, true);
  assert.ok(result.written < 256 * 1024 * 1024);
  socket.destroy();
  await server.close();
});
