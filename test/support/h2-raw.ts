/**
 * An HTTP/2 client written frame by frame (RFC 9113 §4, §6) over cleartext
 * TCP with prior knowledge, for requests node:http2's client refuses to
 * send (an extended CONNECT without `:path`...). Header blocks are HPACK
 * literals without indexing (RFC 7541 §6.2.2): no table to keep.
 */

import { type Socket, connect as tcpConnect } from "node:net";
import { withTimeout } from "../helpers/net.ts";

export const FRAME_DATA = 0x0;
export const FRAME_HEADERS = 0x1;
export const FRAME_RST_STREAM = 0x3;
export const FRAME_SETTINGS = 0x4;
export const FRAME_GOAWAY = 0x7;
const FRAME_CONTINUATION = 0x9;
// RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE's initial value.
const MAX_FRAME_SIZE = 16_384;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const TIMEOUT_MS = 5_000;

/** A frame as received. */
export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** The bytes of one frame. */
export function rawFrame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

// RFC 7541 §5.1: an integer with an N-bit prefix.
function hpackInteger(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A header block of literals without indexing, in the order given. */
export function hpackBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    bytes.push(0x00);
    for (const part of [name, value]) {
      const data = Buffer.from(part, "latin1");
      bytes.push(...hpackInteger(data.length, 7, 0x00), ...data);
    }
  }
  return Buffer.from(bytes);
}

/** A raw HTTP/2 connection: what it sent, and the frames it received. */
export class RawH2 {
  readonly socket: Socket;
  readonly frames: RawFrame[] = [];
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.#push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** Connects, exchanges the preface and SETTINGS (ours empty), and ACKs the server's. */
  static async open(port: number): Promise<RawH2> {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      TIMEOUT_MS,
      "no TCP connection",
    );
    const peer = new RawH2(socket);
    socket.write(
      Buffer.concat([
        Buffer.from(PREFACE, "latin1"),
        rawFrame(FRAME_SETTINGS, 0, 0, Buffer.alloc(0)),
      ]),
    );
    await peer.until((f) => f.type === FRAME_SETTINGS && (f.flags & FLAG_ACK) === 0);
    socket.write(rawFrame(FRAME_SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
    return peer;
  }

  /** The server's SETTINGS as id → value (RFC 9113 §6.5.1). */
  settings(): Map<number, number> {
    const settings = new Map<number, number>();
    const frame = this.frames.find((f) => f.type === FRAME_SETTINGS && (f.flags & FLAG_ACK) === 0);
    if (frame === undefined) return settings;
    for (let i = 0; i + 6 <= frame.payload.length; i += 6) {
      settings.set(frame.payload.readUInt16BE(i), frame.payload.readUInt32BE(i + 2));
    }
    return settings;
  }

  /**
   * Sends a request's HEADERS on `streamId`, with CONTINUATION frames when
   * the block exceeds one frame (RFC 9113 §6.10).
   */
  request(
    streamId: number,
    fields: readonly (readonly [string, string])[],
    endStream = false,
  ): void {
    const block = hpackBlock(fields);
    const frames: Buffer[] = [];
    for (let offset = 0; offset === 0 || offset < block.length; offset += MAX_FRAME_SIZE) {
      const last = offset + MAX_FRAME_SIZE >= block.length;
      const type = offset === 0 ? FRAME_HEADERS : FRAME_CONTINUATION;
      const flags =
        (last ? FLAG_END_HEADERS : 0) | (offset === 0 && endStream ? FLAG_END_STREAM : 0);
      frames.push(rawFrame(type, flags, streamId, block.subarray(offset, offset + MAX_FRAME_SIZE)));
    }
    this.socket.write(Buffer.concat(frames));
  }

  /** Sends DATA on `streamId`. */
  data(streamId: number, payload: Buffer, endStream = false): void {
    this.socket.write(rawFrame(FRAME_DATA, endStream ? FLAG_END_STREAM : 0, streamId, payload));
  }

  /** Waits for a frame matching `match` (received already or later). */
  async until(match: (frame: RawFrame) => boolean): Promise<RawFrame> {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.#closed) throw new Error("connection closed before the frame expected");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      await withTimeout(
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        left,
        "timed out waiting for a frame",
      );
    }
  }

  /**
   * The outcome of a stream: `{ rst }` with the RST_STREAM code, or
   * `{ headers: true, body }` once its DATA ended the stream (our answers
   * end their streams).
   */
  async outcome(streamId: number): Promise<{ rst: number } | { body: string }> {
    const end = await this.until(
      (f) =>
        f.streamId === streamId &&
        (f.type === FRAME_RST_STREAM ||
          ((f.type === FRAME_DATA || f.type === FRAME_HEADERS) &&
            (f.flags & FLAG_END_STREAM) !== 0)),
    );
    if (end.type === FRAME_RST_STREAM) return { rst: end.payload.readUInt32BE(0) };
    const body = this.frames
      .filter((f) => f.streamId === streamId && f.type === FRAME_DATA)
      .map((f) => f.payload.toString("utf8"))
      .join("");
    return { body };
  }

  close(): void {
    this.socket.destroy();
  }

  #push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      this.frames.push({
        type: this.#buffer[3],
        flags: this.#buffer[4],
        streamId: this.#buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffer.subarray(9, 9 + length),
      });
      this.#buffer = this.#buffer.subarray(9 + length);
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
