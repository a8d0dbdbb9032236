/**
 * The `floor` echo server of the echo bench (`--impl floor`): the least
 * JavaScript a conforming WebSocket echo server can run per message on
 * Node, on a plain `net.Server`. A measuring tool, not a product: it is the
 * ruler for "what can't go further on Node" (bench/results-round6.md).
 *
 * What it does, and nothing more:
 * - the opening handshake: a GET with `Upgrade: websocket`,
 *   `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` gets a 101 with
 *   the SHA-1 `Sec-WebSocket-Accept` (RFC 6455 §4.2.2), anything else a 400;
 *   no subprotocol, no extension, no origin check;
 * - per read: every complete frame parsed (7-, 16- and 64-bit lengths),
 *   checked (mask bit set, reserved bits clear, control frames final and at
 *   most 125 bytes), unmasked straight into its reply frame (the payload
 *   written once, by the unmasking), text validated as UTF-8 in place
 *   (`isUtf8` from node:buffer, Node's native validator), and all replies
 *   of the read sent by one `socket.write()`; a frame split across reads is
 *   kept until complete;
 * - pings answered with pongs, pongs ignored, a close echoed with its code
 *   and the TCP connection ended.
 *
 * Its limits (each answered by closing the connection, as RFC 6455 allows
 * an endpoint that can't handle a message): fragmented messages (a data
 * frame without FIN, or a continuation) get 1003; messages over 64 MiB get
 * 1009; a close frame's reason is not validated (its code is). The bench's
 * generator sends none of these. No keepalive, no timeouts, no back-pressure
 * (the generator bounds what is in flight), no compression, no logging.
 *
 * The head is read as the `raw` server reads it (bench/raw-upgrade.ts), the
 * accept value and the close codes are the core's (`acceptKey`,
 * `isValidCloseCode`). Unmasking uses src/masking.ts's `copyMasked` (word loops, WebAssembly SIMD
 * from 1 KiB): the fastest unmasking we know on Node, the one our server
 * uses, so the floor and ours differ in everything but that.
 *
 * The handshake and the parsing ({@link serveFrames}, {@link FrameReader})
 * are shared with `floor-async` and `floor-events` (bench/echo-floor-api.ts),
 * which hand each message to an application through the least of our two
 * APIs; only what is done with a frame ({@link FrameSink}) differs.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import type { Socket } from "node:net";
import { isValidCloseCode } from "../src/frames.ts";
import { acceptKey } from "../src/headers.ts";
import { copyMasked } from "../src/masking.ts";
import { BAD_REQUEST, readHead } from "./raw-upgrade.ts";

const MAX_PAYLOAD = 64 * 1024 * 1024;

/** The value of header `name` (lower case) in a request head, or null. */
function header(head: string, name: string): string | null {
  const match = new RegExp(`\r\n${name}:[ \t]*([^\r\n]*?)[ \t]*\r\n`, "i").exec(head);
  return match === null ? null : match[1];
}

/**
 * What a {@link FrameReader} hands each frame to: the floor's echo (below),
 * or the two APIs of bench/echo-floor-api.ts. Offsets point into `data`,
 * which is valid during the call only: `payload` at the masked payload,
 * `mask` at its 4-byte key.
 */
export interface FrameSink {
  /** A read's frames are about to be parsed: `size` bytes of them at most. */
  begin(size: number): void;
  /** A complete, unfragmented data message; false if its text is not UTF-8. */
  message(data: Buffer, payload: number, mask: number, length: number, binary: boolean): boolean;
  /** A ping, to be answered with a pong of the same payload. */
  ping(data: Buffer, payload: number, mask: number, length: number): void;
  /** The read's frames are parsed: send what they produced. */
  end(): void;
  /** Send what was produced, then a close frame with `code`, and end the connection. */
  close(code: number): void;
}

/**
 * Serves one accepted socket: the handshake, then the frames of every read
 * through the reader of `sink(socket)`. `sockets` holds the open ones, for
 * the server to destroy when it stops.
 */
export function serveFrames(
  socket: Socket,
  sockets: Set<Socket>,
  sink: (socket: Socket) => FrameSink,
): void {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => socket.destroy());
  readHead(socket, (head, rest) => {
    const key = header(head, "sec-websocket-key");
    if (
      !head.startsWith("GET ") ||
      key === null ||
      !/websocket/i.test(header(head, "upgrade") ?? "") ||
      header(head, "sec-websocket-version") !== "13"
    ) {
      socket.end(BAD_REQUEST);
      return;
    }
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    );
    const reader = new FrameReader(sink(socket));
    socket.on("data", (data: Buffer) => reader.read(data));
    if (rest.length > 0) reader.read(rest);
  });
}

/** The floor: {@link serveFrames} with the echo that hands messages to no one. */
export function floorEcho(socket: Socket, sockets: Set<Socket>): void {
  serveFrames(socket, sockets, (s) => new FloorEcho(s));
}

/** Parses and checks the frames of one connection, read by read. */
export class FrameReader {
  readonly #sink: FrameSink;
  // Bytes of an incomplete frame, and how many the frame needs in all
  // (a lower bound while its header is incomplete).
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #needed = 0;
  #closed = false;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  read(chunk: Buffer): undefined {
    if (this.#closed) return;
    let data = chunk;
    if (this.#pendingLength > 0) {
      this.#pending.push(chunk);
      this.#pendingLength += chunk.length;
      if (this.#pendingLength < this.#needed) return;
      data = Buffer.concat(this.#pending, this.#pendingLength);
      this.#pending = [];
      this.#pendingLength = 0;
    }
    this.#needed = 0;
    const sink = this.#sink;
    const size = data.length;
    sink.begin(size);
    let i = 0;
    while (size - i >= 2) {
      const b0 = data[i];
      const b1 = data[i + 1];
      let length = b1 & 0x7f;
      let h = 2;
      if (length === 126) {
        if (size - i < 4) break;
        length = (data[i + 2] << 8) | data[i + 3];
        h = 4;
      } else if (length === 127) {
        if (size - i < 10) break;
        const high = data.readUInt32BE(i + 2);
        length = data.readUInt32BE(i + 6);
        if (high !== 0 || length > MAX_PAYLOAD) return this.#fail(1009);
        h = 10;
      }
      if ((b1 & 0x80) === 0 || (b0 & 0x70) !== 0) return this.#fail(1002);
      if (length > MAX_PAYLOAD) return this.#fail(1009);
      const frameEnd = i + h + 4 + length;
      if (frameEnd > size) {
        this.#needed = frameEnd - i;
        break;
      }
      const opcode = b0 & 0x0f;
      const payload = i + h + 4;
      if (opcode === 0x1 || opcode === 0x2) {
        if ((b0 & 0x80) === 0) return this.#fail(1003);
        if (!sink.message(data, payload, i + h, length, opcode === 0x2)) return this.#fail(1007);
      } else if (opcode >= 0x8) {
        if ((b0 & 0x80) === 0 || length > 125) return this.#fail(1002);
        if (opcode === 0x9) {
          sink.ping(data, payload, i + h, length);
        } else if (opcode === 0x8) {
          if (length === 1) return this.#fail(1002);
          let code = 1000;
          if (length >= 2) {
            code = ((data[payload] ^ data[i + h]) << 8) | (data[payload + 1] ^ data[i + h + 1]);
            if (!isValidCloseCode(code)) return this.#fail(1002);
          }
          return this.#fail(code);
        } else if (opcode !== 0xa) {
          return this.#fail(1002);
        }
      } else {
        // A continuation frame, or a reserved opcode (3-7).
        return this.#fail(opcode === 0 ? 1003 : 1002);
      }
      i = frameEnd;
    }
    sink.end();
    if (i < size) {
      this.#pending.push(data.subarray(i));
      this.#pendingLength = size - i;
      // A header cut short: wait for one more byte at least.
      if (this.#needed <= this.#pendingLength) this.#needed = this.#pendingLength + 1;
    }
  }

  #fail(code: number): undefined {
    this.#closed = true;
    this.#sink.close(code);
  }
}

/**
 * The floor's echo: each reply written into one buffer per read, the
 * payload unmasked straight into it, and the buffer sent by one write.
 */
class FloorEcho implements FrameSink {
  readonly #socket: Socket;
  #out: Buffer = Buffer.alloc(0);
  #o = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  begin(size: number): void {
    // A server frame is 4 bytes shorter than the client frame it answers
    // (no mask key), and a pong or close no longer than its ping or close:
    // the replies of a read fit in as many bytes as the read.
    this.#out = Buffer.allocUnsafe(size);
    this.#o = 0;
  }

  message(data: Buffer, payload: number, mask: number, length: number, binary: boolean): boolean {
    const out = this.#out;
    const o = this.#o;
    out[o] = binary ? 0x82 : 0x81;
    let start = o + 2;
    if (length < 126) {
      out[o + 1] = length;
    } else if (length < 0x10000) {
      out[o + 1] = 126;
      out[o + 2] = length >>> 8;
      out[o + 3] = length & 0xff;
      start = o + 4;
    } else {
      out[o + 1] = 127;
      out.writeUInt32BE(0, o + 2);
      out.writeUInt32BE(length, o + 6);
      start = o + 10;
    }
    copyMasked(data, payload, out, start, length, data, mask, 0);
    if (!binary && !isUtf8(out.subarray(start, start + length))) return false;
    this.#o = start + length;
    return true;
  }

  ping(data: Buffer, payload: number, mask: number, length: number): void {
    const out = this.#out;
    const o = this.#o;
    out[o] = 0x8a;
    out[o + 1] = length;
    copyMasked(data, payload, out, o + 2, length, data, mask, 0);
    this.#o = o + 2 + length;
  }

  end(): void {
    const o = this.#o;
    if (o > 0) this.#socket.write(o === this.#out.length ? this.#out : this.#out.subarray(0, o));
  }

  close(code: number): void {
    const frame = Buffer.from([0x88, 2, code >>> 8, code & 0xff]);
    const o = this.#o;
    this.#socket.end(o > 0 ? Buffer.concat([this.#out.subarray(0, o), frame]) : frame);
  }
}
