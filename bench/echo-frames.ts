/**
 * Byte-level WebSocket helpers for the load generator: just enough of
 * RFC 6455 to build masked client frames once and to count echoed messages
 * without copying payloads. Deliberately independent of src/ so the bench
 * measures the server, not our own frame code on both ends.
 *
 * @module
 */

import { randomBytes } from "node:crypto";

export const OP_CONT = 0x0;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Builds one masked, final frame (RFC 6455 §5.2; clients must mask, §5.3). */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = 2 + lenBytes + 4;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = 0x80 | opcode;
  if (lenBytes === 0) out[1] = 0x80 | len;
  else if (lenBytes === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  const key = randomBytes(4);
  key.copy(out, head - 4);
  for (let i = 0; i < len; i++) out[head + i] = payload[i] ^ key[i & 3];
  return out;
}

/** A masked close frame with `code` and no reason. */
export function maskedClose(code = 1000): Buffer {
  const payload = Buffer.allocUnsafe(2);
  payload.writeUInt16BE(code, 0);
  return maskedFrame(OP_CLOSE, payload);
}

/** The HTTP upgrade request of a client that offers no extension. */
export function upgradeRequest(host: string, port: number, path = "/"): Buffer {
  const key = randomBytes(16).toString("base64");
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    "latin1",
  );
}

/**
 * Counts complete data messages in a stream of frames, masked or not (the
 * raw echo server sends our masked frames back). Payloads of data frames are
 * skipped, never copied; control frame payloads (at most 125 bytes, §5.5)
 * are collected and handed to `onControl`.
 */
export class FrameCounter {
  /** Complete data messages seen (final text/binary/continuation frames). */
  messages = 0;
  /** Payload bytes of data frames seen. */
  payloadBytes = 0;
  onControl: ((opcode: number, payload: Buffer) => void) | null = null;

  #remaining = 0;
  #opcode = 0;
  #fin = false;
  #maskKey: Buffer | null = null;
  #control: Buffer[] | null = null;
  // A header split across reads is rebuilt here (at most 14 bytes).
  #pending: Buffer | null = null;

  /** Feeds one chunk; returns the number of messages it completed. */
  feed(chunk: Buffer): number {
    let done = 0;
    let i = 0;
    if (this.#pending !== null) {
      chunk = Buffer.concat([this.#pending, chunk]);
      this.#pending = null;
    }
    const n = chunk.length;
    while (i < n) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, n - i);
        if (this.#control !== null) this.#control.push(chunk.subarray(i, i + take));
        this.#remaining -= take;
        i += take;
        if (this.#remaining === 0) done += this.#finish();
        continue;
      }
      const avail = n - i;
      if (avail < 2) {
        this.#pending = Buffer.from(chunk.subarray(i));
        break;
      }
      const b0 = chunk[i];
      const b1 = chunk[i + 1];
      const masked = (b1 & 0x80) !== 0;
      const len7 = b1 & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
      if (avail < need) {
        this.#pending = Buffer.from(chunk.subarray(i));
        break;
      }
      let len = len7;
      let p = i + 2;
      if (len7 === 126) {
        len = chunk.readUInt16BE(p);
        p += 2;
      } else if (len7 === 127) {
        len = Number(chunk.readBigUInt64BE(p));
        p += 8;
      }
      this.#opcode = b0 & 0x0f;
      this.#fin = (b0 & 0x80) !== 0;
      // Only control payloads are unmasked, so only they need the key.
      this.#maskKey = masked && this.#opcode >= 0x8 ? Buffer.from(chunk.subarray(p, p + 4)) : null;
      if (masked) p += 4;
      i = p;
      this.#remaining = len;
      this.#control = this.#opcode >= 0x8 ? [] : null;
      if (this.#opcode < 0x8) this.payloadBytes += len;
      if (len === 0) done += this.#finish();
    }
    return done;
  }

  #finish(): number {
    if (this.#control === null) {
      if (!this.#fin) return 0;
      this.messages++;
      return 1;
    }
    const payload = Buffer.concat(this.#control);
    this.#control = null;
    const key = this.#maskKey;
    if (key !== null) for (let j = 0; j < payload.length; j++) payload[j] ^= key[j & 3];
    this.onControl?.(this.#opcode, payload);
    return 0;
  }
}
