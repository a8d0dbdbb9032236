/**
 * Connection over real TCP sockets on 127.0.0.1, with the sans-I/O protocol
 * already OPEN (the handshake is tested in server.test.ts and
 * client.test.ts). Scenarios run with the connection under test on the
 * server side and on the client side; the other end is either another
 * Connection or a raw socket speaking RFC 6455 byte by byte.
 */

import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ConcurrencyError,
  ConnectionClosed,
  ConnectionClosedError,
  ConnectionClosedOK,
  InvalidState,
  ProtocolError,
} from "../../src/errors.ts";
import type { LoggerLike } from "../../src/logging.ts";
import { Connection, DEFAULT_MAX_QUEUE } from "../../src/node/connection.ts";
import { kEventSink } from "../../src/node/event-sink.ts";
import { IDLE_RELEASE_DELAY, setIdleReleaseDelay } from "../../src/node/idle-release.ts";
import { protocolLogger } from "../../src/node/logger-proxy.ts";
import type { ConnectionInit } from "../../src/node/options.ts";
import { CLOSED, CLOSING, OPEN, Protocol, type Side } from "../../src/protocol.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import {
  closeFrame,
  type FrameReader,
  flood,
  frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  parseClose,
  readFrames,
  withTimeout,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

/** Exposes what ServerConnection and ClientConnection do after the handshake. */
class TestConnection extends Connection {
  open(): void {
    this.opened();
  }

  get sansIo(): Protocol {
    return this.protocol;
  }
}

let listener: Server;
let port: number;
const accepted: Socket[] = [];
const acceptWaiters: ((socket: Socket) => void)[] = [];

before(async () => {
  listener = createServer({ noDelay: true }, (socket) => {
    const waiter = acceptWaiters.shift();
    if (waiter !== undefined) waiter(socket);
    else accepted.push(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = (listener.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

checkLeaksAfterAll();

/** A connected pair of TCP sockets: [server end, client end]. */
async function socketPair(): Promise<[Socket, Socket]> {
  const serverEnd = new Promise<Socket>((resolve) => {
    const socket = accepted.shift();
    if (socket !== undefined) resolve(socket);
    else acceptWaiters.push(resolve);
  });
  const clientEnd = tcpConnect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    clientEnd.once("connect", resolve);
    clientEnd.once("error", reject);
  });
  return [await serverEnd, clientEnd];
}

const silent = createCaptureLogger("silent").logger;

function makeConnection(
  side: Side,
  socket: Socket,
  init: ConnectionInit & { maxSize?: number | null } = {},
  logger: LoggerLike = silent,
): TestConnection {
  const protocol = new Protocol(side, { maxSize: init.maxSize, logger: protocolLogger(logger) });
  const connection = new TestConnection(protocol, socket, logger, {
    pingInterval: null,
    ...init,
  });
  return connection;
}

const other = (side: Side): Side => (side === "server" ? "client" : "server");

/** The connection under test on `side`, and a Connection at the other end. */
async function pair(
  side: Side,
  init: ConnectionInit & { maxSize?: number | null } = {},
  logger: LoggerLike = silent,
): Promise<{ ws: TestConnection; peer: TestConnection; socket: Socket; peerSocket: Socket }> {
  const [serverEnd, clientEnd] = await socketPair();
  const socket = side === "server" ? serverEnd : clientEnd;
  const peerSocket = side === "server" ? clientEnd : serverEnd;
  const ws = makeConnection(side, socket, init, logger);
  const peer = makeConnection(other(side), peerSocket);
  return { ws, peer, socket, peerSocket };
}

/** A raw peer: frames are masked when it plays the client. */
interface Raw {
  socket: Socket;
  reader: FrameReader;
  send(opcode: number, payload?: Buffer | string, fin?: boolean): void;
  sendClose(code: number, reason?: string): void;
}

/** The connection under test on `side`, and a raw socket at the other end. */
async function rawPair(
  side: Side,
  init: ConnectionInit & { maxSize?: number | null } = {},
  logger: LoggerLike = silent,
): Promise<{ ws: TestConnection; raw: Raw; socket: Socket }> {
  const [serverEnd, clientEnd] = await socketPair();
  const socket = side === "server" ? serverEnd : clientEnd;
  const rawSocket = side === "server" ? clientEnd : serverEnd;
  const ws = makeConnection(side, socket, init, logger);
  // A raw client masks its frames (RFC 6455 §5.3); a raw server doesn't.
  const mask = side === "server";
  const raw: Raw = {
    socket: rawSocket,
    reader: readFrames(rawSocket),
    send: (opcode, payload = Buffer.alloc(0), fin = true) => {
      rawSocket.write(frame(opcode, payload, { fin, mask }));
    },
    sendClose: (code, reason = "") => {
      rawSocket.write(closeFrame(code, reason, { mask }));
    },
  };
  return { ws, raw, socket };
}

/** Completes a closing handshake the raw peer didn't start, as a well-behaved peer. */
async function answerClose(raw: Raw): Promise<{ code: number; reason: string }> {
  const close = await raw.reader.nextData();
  assert.equal(close?.opcode, OP_CLOSE);
  const parsed = parseClose(close!.payload);
  raw.sendClose(parsed.code, parsed.reason);
  raw.socket.end();
  return parsed;
}

async function closeBoth(ws: Connection, peer?: Connection): Promise<void> {
  await Promise.all([ws.close(), peer?.closed]);
}

for (const side of ["server", "client"] as const) {
  describe(`Connection (${side} side)`, () => {
    describe("send and recv", () => {
      it("sends a string as text and receives text as a string", async () => {
        const { ws, peer } = await pair(side);
        await ws.send("héllo");
        assert.equal(await peer.recv(), "héllo");
        await peer.send("wörld");
        assert.equal(await ws.recv(), "wörld");
        await closeBoth(ws, peer);
      });

      it("sends every kind of bytes as binary, without copying views wrongly", async () => {
        const { ws, raw } = await rawPair(side);
        const backing = new Uint8Array([9, 1, 2, 3, 9]);
        await ws.send(Buffer.from([1, 2, 3]));
        await ws.send(new Uint8Array([1, 2, 3]));
        await ws.send(backing.subarray(1, 4));
        await ws.send(new Uint8Array([1, 2, 3]).buffer);
        await ws.send(new DataView(backing.buffer, 1, 3));
        await ws.send(new Uint16Array([0x0201]));
        for (let i = 0; i < 5; i++) {
          const received = await raw.reader.next();
          assert.equal(received?.opcode, OP_BINARY);
          assert.deepEqual(received?.payload, Buffer.from([1, 2, 3]));
        }
        const u16 = await raw.reader.next();
        assert.deepEqual(u16?.payload, Buffer.from(new Uint16Array([0x0201]).buffer));
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });

      it("overrides the frame type with { text }", async () => {
        const { ws, raw } = await rawPair(side);
        await ws.send(Buffer.from("as text"), { text: true });
        await ws.send("as binary", { text: false });
        const first = await raw.reader.next();
        assert.equal(first?.opcode, OP_TEXT);
        assert.equal(first?.payload.toString(), "as text");
        const second = await raw.reader.next();
        assert.equal(second?.opcode, OP_BINARY);
        assert.equal(second?.payload.toString(), "as binary");
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });

      it("rejects unsupported types with a TypeError naming them", async () => {
        const { ws, peer } = await pair(side);
        await assert.rejects(ws.send(42 as never), { name: "TypeError", message: /got number/ });
        await assert.rejects(ws.send(null as never), { name: "TypeError", message: /got null/ });
        await assert.rejects(ws.send({ a: 1 } as never), { name: "TypeError", message: /Object/ });
        assert.equal(ws.state, OPEN);
        await closeBoth(ws, peer);
      });

      it("rejects pings and pongs of unsupported types with a TypeError naming method and type", async () => {
        const { ws, peer } = await pair(side);
        await assert.rejects(ws.ping(42 as never), {
          name: "TypeError",
          message: "ping() expects a string or bytes; got number",
        });
        await assert.rejects(ws.pong(null as never), {
          name: "TypeError",
          message: "pong() expects a string or bytes; got null",
        });
        assert.equal(ws.state, OPEN);
        await closeBoth(ws, peer);
      });

      it("returns text as bytes and bytes as text on request", async () => {
        const { ws, peer } = await pair(side);
        await peer.send("text");
        await peer.send(Buffer.from("bytes"));
        await peer.send("plain");
        assert.deepEqual(await ws.recv({ decode: false }), Buffer.from("text"));
        assert.equal(await ws.recv({ decode: true }), "bytes");
        assert.equal(await ws.recv({}), "plain");
        await closeBoth(ws, peer);
      });

      it("writes all frames of one event-loop turn in one write", async () => {
        const { ws, peer, socket } = await pair(side);
        let writes = 0;
        const write = socket.write;
        socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
          writes++;
          return write.apply(this, args);
        } as Socket["write"];
        for (let i = 0; i < 10; i++) ws.send(`message ${i}`);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(writes, 1);
        for (let i = 0; i < 10; i++) assert.equal(await peer.recv(), `message ${i}`);
        socket.write = write;
        await closeBoth(ws, peer);
      });

      it("rejects a second concurrent recv with ConcurrencyError", async () => {
        const { ws, peer } = await pair(side);
        const first = ws.recv();
        await assert.rejects(ws.recv(), ConcurrencyError);
        await assert.rejects(ws.recvStreaming().next(), ConcurrencyError);
        await peer.send("one");
        assert.equal(await first, "one");
        await closeBoth(ws, peer);
      });

      it("cancels recv with a signal without losing the next message", async () => {
        const { ws, peer } = await pair(side);
        const controller = new AbortController();
        const pending = ws.recv({ signal: controller.signal });
        controller.abort();
        await assert.rejects(pending, { name: "AbortError" });
        await peer.send("after abort");
        assert.equal(await ws.recv(), "after abort");
        await assert.rejects(ws.recv({ signal: AbortSignal.timeout(10) }), {
          name: "TimeoutError",
        });
        await closeBoth(ws, peer);
      });

      it("streams the fragments of a message as they arrive", async () => {
        const { ws, raw } = await rawPair(side);
        const fragments = ws.recvStreaming();
        raw.send(OP_TEXT, "first ", false);
        assert.deepEqual(await fragments.next(), { done: false, value: "first " });
        raw.send(OP_CONT, "second", true);
        assert.deepEqual(await fragments.next(), { done: false, value: "second" });
        assert.deepEqual(await fragments.next(), { done: true, value: undefined });
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });
    });

    describe("fragmented send", () => {
      it("sends an iterable of strings as one fragmented text message", async () => {
        const { ws, raw } = await rawPair(side);
        await ws.send(["frag", "ment", "ed"]);
        const frames = [];
        for (let i = 0; i < 4; i++) frames.push(await raw.reader.next());
        assert.deepEqual(
          frames.map((f) => [f?.opcode, f?.fin, f?.payload.toString()]),
          [
            [OP_TEXT, false, "frag"],
            [OP_CONT, false, "ment"],
            [OP_CONT, false, "ed"],
            [OP_CONT, true, ""],
          ],
        );
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });

      it("sends an async iterable of bytes, reassembled by the peer", async () => {
        const { ws, peer } = await pair(side);
        async function* chunks() {
          yield Buffer.from([1, 2]);
          await new Promise((resolve) => setImmediate(resolve));
          yield new Uint8Array([3]);
        }
        await ws.send(chunks());
        assert.deepEqual(await peer.recv(), Buffer.from([1, 2, 3]));
        await closeBoth(ws, peer);
      });

      it("sends nothing for an empty iterable", async () => {
        const { ws, peer } = await pair(side);
        await ws.send([]);
        await ws.send("after");
        assert.equal(await peer.recv(), "after");
        await closeBoth(ws, peer);
      });

      it("rejects a first fragment of the wrong type without closing", async () => {
        const { ws, peer } = await pair(side);
        await assert.rejects(ws.send([42] as never), {
          name: "TypeError",
          message: /fragments to be strings or bytes; got number/,
        });
        assert.equal(ws.state, OPEN);
        await closeBoth(ws, peer);
      });

      it("closes with 1011 when fragments mix strings and bytes", async () => {
        const { ws, peer } = await pair(side);
        await assert.rejects(ws.send(["text", Buffer.from("bytes")] as never), {
          name: "TypeError",
          message: /all fragments to be strings.*got Buffer/,
        });
        await assert.rejects(peer.recv(), ConnectionClosedError);
        await ws.closed;
        assert.equal(peer.closeCode, 1011);
        assert.equal(peer.closeReason, "error in fragmented message");
      });

      it("closes with 1011 when the iterable throws, and rethrows its error", async () => {
        const { ws, peer } = await pair(side);
        async function* failing() {
          yield "start";
          throw new Error("source failed");
        }
        await assert.rejects(ws.send(failing()), /source failed/);
        await peer.closed;
        await ws.closed;
        assert.equal(peer.closeCode, 1011);
      });

      it("makes other sends wait until the fragmented message is complete", async () => {
        const { ws, raw } = await rawPair(side);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        async function* slow() {
          yield "a";
          await gate;
          yield "b";
        }
        const fragmented = ws.send(slow());
        await new Promise((resolve) => setImmediate(resolve));
        const other = ws.send("other");
        release();
        await Promise.all([fragmented, other]);
        const opcodes = [];
        for (let i = 0; i < 4; i++) opcodes.push((await raw.reader.next())?.opcode);
        assert.deepEqual(opcodes, [OP_TEXT, OP_CONT, OP_CONT, OP_TEXT]);
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });

      it("fails the connection with 1011 when closed during a fragmented send", async () => {
        const { ws, peer } = await pair(side);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        async function* slow() {
          yield "a";
          await gate;
          yield "b";
        }
        const fragmented = ws.send(slow());
        await new Promise((resolve) => setImmediate(resolve));
        const closing = ws.close();
        release();
        await assert.rejects(fragmented, ConnectionClosedError);
        await closing;
        await peer.closed;
        assert.equal(peer.closeCode, 1011);
        assert.equal(peer.closeReason, "close during fragmented message");
      });
    });

    describe("iteration", () => {
      it("ends when the peer closes normally", async () => {
        const { ws, peer } = await pair(side);
        await peer.send("one");
        await peer.send("two");
        const closing = peer.close(1001);
        const received = [];
        for await (const message of ws) received.push(message);
        assert.deepEqual(received, ["one", "two"]);
        await closing;
      });

      it("ends when the peer closes without a code, like recv's ConnectionClosedOK", async () => {
        const { ws, raw } = await rawPair(side);
        raw.send(OP_CLOSE);
        const received: unknown[] = [];
        const iterating = (async () => {
          for await (const message of ws) received.push(message);
        })();
        const reply = await raw.reader.next();
        assert.equal(reply?.opcode, OP_CLOSE);
        raw.socket.end();
        await iterating;
        assert.deepEqual(received, []);
        await assert.rejects(ws.recv(), ConnectionClosedOK);
      });

      it("throws ConnectionClosedError when the peer closes with an error code", async () => {
        const { ws, peer } = await pair(side);
        await peer.send("one");
        const closing = peer.close(4000, "app error");
        const received: unknown[] = [];
        await assert.rejects(
          (async () => {
            for await (const message of ws) received.push(message);
          })(),
          (error: unknown) => {
            assert.ok(error instanceof ConnectionClosedError);
            assert.equal(error.rcvd?.code, 4000);
            assert.equal(error.rcvd?.reason, "app error");
            return true;
          },
        );
        assert.deepEqual(received, ["one"]);
        await closing;
      });
    });

    describe("close", () => {
      it("performs the closing handshake and reports both close frames", async () => {
        const { ws, peer } = await pair(side);
        await ws.close(1000, "bye");
        await peer.closed;
        assert.equal(ws.state, CLOSED);
        assert.equal(ws.closeCode, 1000);
        assert.equal(ws.closeReason, "bye");
        assert.equal(peer.closeCode, 1000);
        await assert.rejects(ws.send("late"), (error: unknown) => {
          assert.ok(error instanceof ConnectionClosedOK);
          assert.equal(error.sent?.reason, "bye");
          assert.equal(error.rcvd?.code, 1000);
          return true;
        });
        await assert.rejects(ws.recv(), ConnectionClosedOK);
        await assert.rejects(ws.ping(), ConnectionClosedOK);
        await assert.rejects(ws.pong(), ConnectionClosedOK);
        // Idempotent.
        await ws.close();
        await ws.close(4000);
      });

      it("close(null) sends a close frame without a code: the peer sees 1005", async () => {
        const { ws, peer } = await pair(side);
        await ws.close(null);
        await peer.closed;
        assert.equal(peer.closeCode, 1005);
        assert.equal(ws.closeCode, 1005);
      });

      it("an event sink gets the frames queued before it, then the close, even when late", async () => {
        const { ws, peer } = await pair(side);
        await peer.send("queued");
        await peer.close(4000, "bye");
        await ws.closed;
        const heard: string[] = [];
        const frames = ws[kEventSink]({
          data: (frame) => heard.push(`data ${frame.data}`),
          ping: () => heard.push("ping"),
          pong: () => heard.push("pong"),
          closed: () => heard.push(`closed ${ws.closeCode}`),
        });
        assert.deepEqual(
          frames.map((frame) => String(frame.data)),
          ["queued"],
        );
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(heard, ["closed 4000"]);
      });

      it("close(null) writes an empty close frame", async () => {
        const { ws, raw } = await rawPair(side);
        const closing = ws.close(null);
        const sent = await raw.reader.nextData();
        assert.equal(sent?.opcode, OP_CLOSE);
        assert.equal(sent?.payload.length, 0);
        raw.socket.end(closeFrame(1000, "", { mask: side === "server" }));
        await closing;
        assert.equal(ws.closeCode, 1000);
      });

      it("keeps messages received before the close readable", async () => {
        const { ws, peer } = await pair(side);
        await peer.send("before close");
        await peer.close();
        await ws.closed;
        assert.equal(await ws.recv(), "before close");
        await assert.rejects(ws.recv(), ConnectionClosedOK);
      });

      it("rejects send while closing with the close error once closed", async () => {
        const { ws, raw } = await rawPair(side, { closeTimeout: 50 });
        const closing = ws.close();
        assert.equal(ws.state, CLOSING);
        await assert.rejects(ws.send("too late"), ConnectionClosedError);
        await closing;
        assert.equal(ws.closeCode, 1006);
        await raw.reader.closed;
      });

      it("throws ProtocolError for a code that can't be sent, and stays open", async () => {
        const { ws, peer } = await pair(side);
        await assert.rejects(ws.close(1005), ProtocolError);
        assert.equal(ws.state, OPEN);
        await closeBoth(ws, peer);
      });

      it("destroys the socket after closeTimeout when the peer never answers", async () => {
        const { ws, raw } = await rawPair(side, { closeTimeout: 20 });
        await withTimeout(ws.close(), 2000, "close() didn't time out");
        assert.equal(ws.state, CLOSED);
        assert.equal(ws.closeCode, 1006);
        const close = await raw.reader.next();
        assert.equal(close?.opcode, OP_CLOSE);
        await raw.reader.closed;
      });

      it("waits the whole closeTimeout before destroying the socket", async () => {
        // The close timer waits on a shared wheel, which rounds deadlines up, never down.
        const { ws, raw } = await rawPair(side, { closeTimeout: 150 });
        const started = performance.now();
        await withTimeout(ws.close(), 2000, "close() didn't time out");
        // Node's timers may fire up to a millisecond early by performance.now().
        assert.ok(performance.now() - started >= 149, "the close timer fired early");
        assert.equal(ws.closeCode, 1006);
        await raw.reader.closed;
      });

      it("reports 1006 and ConnectionClosedError when the peer vanishes", async () => {
        const { ws, raw } = await rawPair(side);
        const pending = ws.recv();
        raw.socket.destroy();
        await assert.rejects(pending, (error: unknown) => {
          assert.ok(error instanceof ConnectionClosedError);
          assert.equal(error.rcvd, null);
          return true;
        });
        await ws.closed;
        assert.equal(ws.closeCode, 1006);
      });

      it("closes on scope exit with await using", async () => {
        const [serverEnd, clientEnd] = await socketPair();
        const peer = makeConnection(other(side), side === "server" ? clientEnd : serverEnd);
        {
          await using ws = makeConnection(side, side === "server" ? serverEnd : clientEnd);
          await ws.send("inside");
        }
        assert.equal(await peer.recv(), "inside");
        await peer.closed;
        assert.equal(peer.closeCode, 1000);
      });
    });

    describe("ping and pong", () => {
      it("resolves ping to the latency and records it", async () => {
        const { ws, peer } = await pair(side);
        assert.equal(ws.latency, 0);
        const latency = await ws.ping();
        assert.ok(latency > 0);
        assert.equal(ws.latency, latency);
        await closeBoth(ws, peer);
      });

      it("rejects a ping with the payload of one in flight", async () => {
        const { ws, raw } = await rawPair(side);
        const first = ws.ping("same");
        await assert.rejects(ws.ping(Buffer.from("same")), ConcurrencyError);
        const ping = await raw.reader.next();
        assert.equal(ping?.opcode, OP_PING);
        assert.equal(ping?.payload.toString(), "same");
        raw.send(OP_PONG, "same");
        assert.ok((await first) >= 0);
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });

      it("acknowledges earlier pings with the pong of a later one", async () => {
        const { ws, raw } = await rawPair(side);
        const first = ws.ping("1");
        const second = ws.ping("2");
        await raw.reader.next();
        await raw.reader.next();
        raw.send(OP_PONG, "unsolicited");
        raw.send(OP_PONG, "2");
        const [a, b] = await Promise.all([first, second]);
        assert.ok(a >= b);
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });

      it("rejects pending pings when the connection closes", async () => {
        const { ws, raw } = await rawPair(side);
        const pending = ws.ping();
        raw.socket.destroy();
        await assert.rejects(pending, ConnectionClosedError);
      });

      it("rejects a ping payload over 125 bytes", async () => {
        const { ws, peer } = await pair(side);
        await assert.rejects(ws.ping(Buffer.alloc(126)), ProtocolError);
        await assert.rejects(ws.ping(42 as never), TypeError);
        await closeBoth(ws, peer);
      });

      it("sends an unsolicited pong", async () => {
        const { ws, raw } = await rawPair(side);
        await ws.pong("heartbeat");
        const pong = await raw.reader.next();
        assert.equal(pong?.opcode, OP_PONG);
        assert.equal(pong?.payload.toString(), "heartbeat");
        await assert.rejects(ws.pong({} as never), TypeError);
        ws.close();
        await answerClose(raw);
        await ws.closed;
      });
    });

    describe("keepalive", () => {
      it("sends a ping every pingInterval and records the latency of pongs", async () => {
        const capture = createCaptureLogger();
        const { ws, raw } = await rawPair(
          side,
          { pingInterval: 10, pingTimeout: 1000 },
          capture.logger,
        );
        ws.open();
        for (let i = 0; i < 2; i++) {
          const ping = await raw.reader.next();
          assert.equal(ping?.opcode, OP_PING);
          assert.equal(ping?.payload.length, 4);
          raw.send(OP_PONG, ping!.payload);
        }
        ws.close();
        await answerClose(raw);
        await ws.closed;
        assert.ok(ws.latency > 0);
        const debug = capture.messages("debug");
        assert.ok(debug.includes("% sent keepalive ping"));
        assert.ok(debug.includes("% received keepalive pong"));
      });

      it("closes with 1011 when no pong arrives within pingTimeout", async () => {
        const capture = createCaptureLogger();
        const { ws, raw } = await rawPair(
          side,
          { pingInterval: 10, pingTimeout: 10, closeTimeout: 1000 },
          capture.logger,
        );
        ws.open();
        const ping = await raw.reader.next();
        assert.equal(ping?.opcode, OP_PING);
        const close = await answerClose(raw);
        assert.deepEqual(close, { code: 1011, reason: "keepalive ping timeout" });
        await ws.closed;
        assert.ok(capture.messages("debug").includes("- timed out waiting for keepalive pong"));
        const closed = capture.records.find((r) => r.msg === "connection closed");
        assert.equal(closed?.level, "info");
        assert.equal(closed?.fields.sentCode, 1011);
        assert.equal(closed?.fields.sentReason, "keepalive ping timeout");
      });

      it("lets extensions release memory when idle, without keepalive", async () => {
        setIdleReleaseDelay(10);
        try {
          const { ws, raw } = await rawPair(side, { pingInterval: null });
          let released = 0;
          ws.sansIo.extensions = [
            {
              name: "x-test",
              decode: (frame) => frame,
              encode: (frame) => frame,
              release: () => {
                released++;
              },
            },
          ];
          ws.open();
          // Bounded wait for two sweeps: the first records the activity.
          for (let i = 0; i < 200 && released === 0; i++) await sleep(10);
          assert.ok(released >= 1);
          ws.close();
          await answerClose(raw);
          await ws.closed;
        } finally {
          setIdleReleaseDelay(IDLE_RELEASE_DELAY);
        }
      });

      it("still pings a connection when another one due at the same time closes", async () => {
        // Keepalive timers are shared by connections due in the same grain
        // (8 ms for 200 ms): cancelling one must not cancel the other.
        const first = await rawPair(side, { pingInterval: 200, pingTimeout: 1000 });
        const second = await rawPair(side, { pingInterval: 200, pingTimeout: 1000 });
        first.ws.open();
        second.ws.open();
        first.ws.close();
        await answerClose(first.raw);
        await first.ws.closed;
        const ping = await second.raw.reader.next();
        assert.equal(ping?.opcode, OP_PING);
        second.raw.send(OP_PONG, ping!.payload);
        second.ws.close();
        await answerClose(second.raw);
        await second.ws.closed;
      });

      it("sends no ping when pingInterval is null", async () => {
        const { ws, raw } = await rawPair(side, { pingInterval: null });
        ws.open();
        await ws.send("marker");
        const first = await raw.reader.next();
        assert.equal(first?.opcode, OP_TEXT);
        ws.close();
        const next = await raw.reader.next();
        assert.equal(next?.opcode, OP_CLOSE);
        raw.sendClose(1000);
        raw.socket.end();
        await ws.closed;
      });
    });

    describe("flow control", () => {
      it("pauses reading while maxQueue messages wait and resumes once read", async () => {
        const { ws, raw, socket } = await rawPair(side, { maxQueue: 4, closeTimeout: 50 });
        const message = frame(OP_BINARY, Buffer.alloc(1024), { mask: side === "server" });
        const result = await flood(raw.socket, message, {
          maxBytes: 64 * 1024 * 1024,
          stallMs: 200,
        });
        // The receiver stopped reading: the flood stalled well before its end.
        assert.equal(result.stalled, true);
        assert.equal(socket.isPaused(), true);
        // Bounded: far less than what the sender would have pushed.
        assert.ok(result.written < 32 * 1024 * 1024, `${result.written} bytes accepted`);
        // Reading catches up and resumes the socket.
        let read = 0;
        while (socket.isPaused() && read < 100_000) {
          await ws.recv();
          read++;
        }
        assert.equal(socket.isPaused(), false);
        assert.ok(read >= 4, `resumed after reading ${read} messages`);
        // The peer floods on instead of answering the close: closeTimeout ends it.
        await ws.close();
        raw.socket.destroy();
      });

      it("makes send wait while the write buffer is above writeLimit", async () => {
        const { ws, raw } = await rawPair(side, { writeLimit: 1024 });
        raw.socket.pause();
        const big = Buffer.alloc(256 * 1024);
        let waited = false;
        for (let i = 0; i < 64 && !waited; i++) {
          const sent = ws.send(big);
          const state = await Promise.race([
            sent.then(() => "done"),
            new Promise((resolve) => setImmediate(() => resolve("pending"))),
          ]);
          if (state === "pending") {
            waited = true;
            raw.socket.resume();
            await sent;
          }
        }
        assert.equal(waited, true);
        raw.socket.destroy();
        await ws.closed;
      });

      it("fails with 1009 on a message over maxSize", async () => {
        const { ws, raw } = await rawPair(side, { maxSize: 16 });
        raw.send(OP_BINARY, Buffer.alloc(17));
        const close = await raw.reader.next();
        assert.equal(close?.opcode, OP_CLOSE);
        assert.equal(parseClose(close!.payload).code, 1009);
        raw.sendClose(1009);
        raw.socket.end();
        await assert.rejects(ws.recv(), ConnectionClosedError);
      });

      it("defaults maxQueue to 16", () => {
        assert.equal(DEFAULT_MAX_QUEUE, 16);
      });
    });

    describe("errors", () => {
      it("fails with 1007 when a binary message read as text isn't UTF-8", async () => {
        const { ws, raw } = await rawPair(side);
        raw.send(OP_BINARY, Buffer.from([0xff, 0xfe]));
        const pending = ws.recv({ decode: true });
        const close = await raw.reader.next();
        assert.equal(parseClose(close!.payload).code, 1007);
        raw.sendClose(1007);
        raw.socket.end();
        await assert.rejects(pending, ConnectionClosedError);
      });

      it("fails with 1002 when the peer breaks the protocol", async () => {
        const { ws, raw } = await rawPair(side);
        // A reserved opcode.
        raw.send(0x3, "??");
        const close = await raw.reader.next();
        assert.equal(parseClose(close!.payload).code, 1002);
        raw.socket.end();
        await assert.rejects(ws.recv(), (error: unknown) => {
          assert.ok(error instanceof ConnectionClosedError);
          assert.equal(error.sent?.code, 1002);
          return true;
        });
      });

      it("closes with 1006 and the socket error as cause on a reset", async () => {
        const capture = createCaptureLogger();
        const { ws, raw } = await rawPair(side, {}, capture.logger);
        raw.socket.resetAndDestroy();
        await ws.closed;
        assert.equal(ws.closeCode, 1006);
        await assert.rejects(ws.send("x"), (error: unknown) => {
          assert.ok(error instanceof ConnectionClosedError);
          assert.equal((error.cause as NodeJS.ErrnoException | undefined)?.code, "ECONNRESET");
          return true;
        });
        assert.ok(
          capture.records.some((r) => r.level === "debug" && r.msg.startsWith("! error while")),
        );
      });

      it("rejects send before the handshake completes with InvalidState", async () => {
        const [serverEnd, clientEnd] = await socketPair();
        const protocol = new Protocol(side, { state: 0 });
        const ws = new TestConnection(protocol, side === "server" ? serverEnd : clientEnd, silent);
        await assert.rejects(ws.send("early"), InvalidState);
        await ws.close();
        (side === "server" ? clientEnd : serverEnd).destroy();
        assert.equal(ws.state, CLOSED);
      });
    });

    describe("properties and logging", () => {
      it("exposes id, state, addresses and a null handshake", async () => {
        const { ws, peer, socket } = await pair(side);
        const { remotePort, localPort } = socket;
        assert.match(ws.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        assert.equal(ws.state, OPEN);
        assert.deepEqual(ws.remoteAddress, { host: "127.0.0.1", port: remotePort });
        assert.deepEqual(ws.localAddress, { host: "127.0.0.1", port: localPort });
        assert.equal(ws.request, null);
        assert.equal(ws.response, null);
        assert.equal(ws.subprotocol, null);
        assert.equal(ws.closeCode, null);
        assert.equal(ws.closeReason, null);
        await closeBoth(ws, peer);
        // Still known once the socket is gone.
        assert.deepEqual(ws.remoteAddress, { host: "127.0.0.1", port: remotePort });
        assert.deepEqual(ws.localAddress, { host: "127.0.0.1", port: localPort });
      });

      it("knows its addresses after the closing handshake though they were never read while open", async () => {
        const { ws, peer, peerSocket } = await pair(side);
        // Ports read from the other end: reading them from ws's socket would cache them there.
        const remotePort = peerSocket.localPort;
        const localPort = peerSocket.remotePort;
        await closeBoth(ws, peer);
        assert.deepEqual(ws.remoteAddress, { host: "127.0.0.1", port: remotePort });
        assert.deepEqual(ws.localAddress, { host: "127.0.0.1", port: localPort });
        // The peer closed in answer to ws: the other path to a closed socket.
        assert.deepEqual(peer.localAddress, { host: "127.0.0.1", port: remotePort });
        assert.deepEqual(peer.remoteAddress, { host: "127.0.0.1", port: localPort });
      });

      it("knows its addresses after the close timeout destroyed the socket", async () => {
        const { ws, raw } = await rawPair(side, { closeTimeout: 20 });
        const remotePort = raw.socket.localPort;
        const localPort = raw.socket.remotePort;
        ws.open();
        // The raw peer never answers the close frame.
        await ws.close();
        assert.equal(ws.state, CLOSED);
        assert.deepEqual(ws.remoteAddress, { host: "127.0.0.1", port: remotePort });
        assert.deepEqual(ws.localAddress, { host: "127.0.0.1", port: localPort });
        raw.socket.destroy();
      });

      it("logs through a child bound with connectionId, remoteAddress and logContext fields", async () => {
        const capture = createCaptureLogger();
        const { ws, peer, socket } = await pair(
          side,
          { logContext: () => ({ tenant: "acme" }) },
          capture.logger,
        );
        await ws.send("before open");
        ws.open();
        await ws.send("after open");
        await closeBoth(ws, peer);
        const sent = capture.records.filter((r) => r.msg.startsWith("> TEXT"));
        assert.equal(sent.length, 2);
        const remote = `127.0.0.1:${socket.remotePort}`;
        assert.deepEqual(sent[0].fields, { connectionId: ws.id, remoteAddress: remote });
        assert.deepEqual(sent[1].fields, {
          connectionId: ws.id,
          remoteAddress: remote,
          tenant: "acme",
        });
        const open = capture.records.find((r) => r.msg === "connection open");
        assert.equal(open?.level, "info");
        assert.equal(open?.fields.tenant, "acme");
        const closed = capture.records.find((r) => r.msg === "connection closed");
        assert.equal(closed?.level, "info");
        assert.equal(closed?.fields.code, 1000);
        assert.equal(closed?.fields.messagesOut, 2);
        assert.equal(closed?.fields.bytesOut, "before open".length + "after open".length);
        assert.equal(typeof closed?.fields.durationMs, "number");
      });

      it("logs connection closed at debug level when the connection never opened", async () => {
        const capture = createCaptureLogger();
        const { ws, peer } = await pair(side, {}, capture.logger);
        await closeBoth(ws, peer);
        const closed = capture.records.find((r) => r.msg === "connection closed");
        assert.equal(closed?.level, "debug");
      });

      it("logs a logContext failure and keeps working", async () => {
        const capture = createCaptureLogger();
        const { ws, peer } = await pair(
          side,
          {
            logContext: () => {
              throw new Error("no context");
            },
          },
          capture.logger,
        );
        ws.open();
        const record = capture.records.find((r) => r.level === "error");
        assert.equal(record?.msg, "unexpected internal error");
        await ws.send("still works");
        assert.equal(await peer.recv(), "still works");
        await closeBoth(ws, peer);
      });

      it("exposes the close error classes as ConnectionClosed", async () => {
        const { ws, peer } = await pair(side);
        await closeBoth(ws, peer);
        await assert.rejects(ws.recv(), ConnectionClosed);
      });
    });
  });
}

describe("Connection options", () => {
  it("rejects invalid durations and sizes with TypeError", async () => {
    const [serverEnd, clientEnd] = await socketPair();
    const protocol = () => new Protocol("server");
    assert.throws(
      () => new Connection(protocol(), serverEnd, silent, { pingInterval: -1 }),
      /pingInterval must be a number of milliseconds >= 0 or null; got -1/,
    );
    assert.throws(
      () => new Connection(protocol(), serverEnd, silent, { writeLimit: 1.5 }),
      /writeLimit must be an integer >= 0; got 1.5/,
    );
    assert.throws(
      () => new Connection(protocol(), serverEnd, silent, { maxQueue: -2 }),
      /maxQueue must be an integer >= 0; got -2/,
    );
    serverEnd.destroy();
    clientEnd.destroy();
  });
});

describe("Connection: what ws users reach for", () => {
  it("bufferedAmount counts bytes queued and not yet written", async () => {
    const { ws, peer } = await pair("server");
    assert.equal(ws.bufferedAmount, 0);
    const sent = ws.send(Buffer.alloc(1000));
    // Framed (2 + 2 header bytes) and queued for the end of this turn.
    assert.equal(ws.bufferedAmount, 1004);
    await sent;
    assert.deepEqual(await peer.recv(), Buffer.alloc(1000));
    assert.equal(ws.bufferedAmount, 0);
    await closeBoth(ws, peer);
  });

  it("terminate() destroys the transport without a closing handshake: 1006", async () => {
    const { ws, raw } = await rawPair("server");
    let peerClosed = false;
    raw.socket.on("close", () => {
      peerClosed = true;
    });
    await ws.terminate();
    assert.equal(ws.state, CLOSED);
    assert.equal(ws.closeCode, 1006);
    // No close frame was written before the reset.
    assert.equal(await raw.reader.nextData(), null);
    await assert.rejects(ws.send("late"), { name: "ConnectionClosedError" });
    await assert.rejects(ws.recv(), { name: "ConnectionClosedError" });
    // Idempotent.
    await ws.terminate();
    await new Promise((resolve) => raw.socket.once("close", resolve).resume());
    assert.ok(peerClosed || raw.socket.destroyed);
  });

  it("messages({ decode: true }) iterates over strings, binary decoded", async () => {
    const { ws, peer } = await pair("server");
    await peer.send("one");
    await peer.send(Buffer.from("two"));
    await peer.close();
    const received: string[] = [];
    for await (const message of ws.messages({ decode: true })) received.push(message);
    assert.deepEqual(received, ["one", "two"]);
    await ws.closed;
  });

  it('recv({ binaryType: "arraybuffer" }) returns exactly the message\'s bytes', async () => {
    const { ws, peer } = await pair("server");
    // Two messages read in one chunk: each Buffer is a view of the chunk.
    await Promise.all([peer.send(Buffer.from([1, 2, 3])), peer.send(Buffer.from([4, 5]))]);
    const first = await ws.recv({ binaryType: "arraybuffer" });
    assert.ok(first instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(first)], [1, 2, 3]);
    const second = await ws.recv({ decode: false, binaryType: "arraybuffer" });
    assert.deepEqual([...new Uint8Array(second)], [4, 5]);
    await peer.send("text stays a string");
    assert.equal(await ws.recv({ binaryType: "arraybuffer" }), "text stays a string");
    await closeBoth(ws, peer);
  });
});

describe("recvStreaming({ maxSize })", () => {
  it("streams a message larger than maxSize, then maxSize applies again", async () => {
    const { ws, peer } = await pair("server", { maxSize: 1000 });
    const fragments = ws.recvStreaming({ maxSize: 10_000 });
    const first = fragments.next();
    const chunks = Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000, i));
    await peer.send(chunks);
    const received: Buffer[] = [(await first).value as Buffer];
    for await (const fragment of fragments) received.push(fragment as Buffer);
    assert.deepEqual(Buffer.concat(received), Buffer.concat(chunks));
    // Back to 1000 bytes for messages held whole.
    await peer.send(Buffer.alloc(2000)).catch(() => {});
    await assert.rejects(ws.recv(), { name: "ConnectionClosedError" });
    assert.equal(ws.protocol.closeSent?.code, 1009);
    await peer.closed;
  });

  it("without its own limit, maxSize applies to streaming too", async () => {
    const { ws, peer } = await pair("server", { maxSize: 1000 });
    const fragments = ws.recvStreaming();
    const first = fragments.next();
    await peer.send(Array.from({ length: 5 }, () => Buffer.alloc(1000))).catch(() => {});
    assert.equal(((await first).value as Buffer).length, 1000);
    await assert.rejects(async () => {
      for await (const _ of fragments);
    });
    assert.equal(ws.protocol.closeSent?.code, 1009);
    await peer.closed;
  });

  it("rejects an invalid maxSize, naming it", async () => {
    const { ws, peer } = await pair("server");
    assert.throws(() => ws.recvStreaming({ maxSize: -5 }), { name: "RangeError", message: /-5/ });
    await closeBoth(ws, peer);
  });
});
