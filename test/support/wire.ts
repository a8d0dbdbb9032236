// Byte-level helpers for tests of the sans-I/O core: frames are built here by
// hand, independently of src/frames.ts, so tests don't check the serializer
// against itself.

import { strict as assert } from "node:assert";
import { ProtocolError } from "../../src/errors.ts";

/** A fixed mask key, so that client frames are byte-exact in tests. */
export const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

export interface RawFrameOptions {
  fin?: boolean;
  /** RSV bits as in the first header byte (0x40 = RSV1). */
  rsv?: number;
  /** Mask key, or null for an unmasked frame. */
  mask?: Buffer | null;
  /** Force the length encoding: 7, 16 or 64 bits. */
  lengthBits?: 7 | 16 | 64;
  /** Override the length written in the header. */
  length?: number;
}

/** Builds one frame's bytes. */
export function raw(
  opcode: number,
  payload: Buffer | string = "",
  options: RawFrameOptions = {},
): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const fin = options.fin ?? true;
  const mask = options.mask ?? null;
  const length = options.length ?? data.length;
  const bits = options.lengthBits ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const head: number[] = [(fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode];
  const m = mask === null ? 0 : 0x80;
  if (bits === 7) head.push(m | length);
  else if (bits === 16) head.push(m | 126, length >> 8, length & 0xff);
  else {
    const high = Math.floor(length / 2 ** 32);
    const low = length % 2 ** 32;
    head.push(m | 127, high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff);
    head.push(low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff);
  }
  if (mask !== null) head.push(...mask);
  const body = Buffer.from(data);
  if (mask !== null) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([Buffer.from(head), body]);
}

/** A frame as sent by a client (masked with KEY). */
export function fromClient(
  opcode: number,
  payload: Buffer | string = "",
  options: RawFrameOptions = {},
): Buffer {
  return raw(opcode, payload, { mask: KEY, ...options });
}

/** A frame as sent by a server (unmasked). */
export function fromServer(
  opcode: number,
  payload: Buffer | string = "",
  options: RawFrameOptions = {},
): Buffer {
  return raw(opcode, payload, { mask: null, ...options });
}

/** A frame as sent by the peer of `side`. */
export function fromPeer(
  side: "client" | "server",
  opcode: number,
  payload: Buffer | string = "",
  options: RawFrameOptions = {},
): Buffer {
  return side === "server"
    ? fromClient(opcode, payload, options)
    : fromServer(opcode, payload, options);
}

/** A close frame payload: code then reason. */
export function closePayload(code: number, reason = ""): Buffer {
  const reasonBytes = Buffer.from(reason, "utf8");
  const data = Buffer.alloc(2 + reasonBytes.length);
  data.writeUInt16BE(code, 0);
  reasonBytes.copy(data, 2);
  return data;
}

export interface DecodedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  data: Buffer;
}

/**
 * Decodes a byte stream of complete frames written by the code under test,
 * unmasking masked ones, and checks the header is minimal (RFC 6455 §5.2).
 */
export function decodeAll(bytes: Buffer): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const b0 = bytes[pos];
    const b1 = bytes[pos + 1];
    let length = b1 & 0x7f;
    pos += 2;
    if (length === 126) {
      length = bytes.readUInt16BE(pos);
      if (length < 126) throw new Error(`non-minimal 16-bit length ${length}`);
      pos += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(pos));
      if (length < 65536) throw new Error(`non-minimal 64-bit length ${length}`);
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | null = null;
    if (masked) {
      key = bytes.subarray(pos, pos + 4);
      pos += 4;
    }
    if (pos + length > bytes.length) throw new Error("truncated frame");
    const data = Buffer.from(bytes.subarray(pos, pos + length));
    if (key !== null) for (let i = 0; i < data.length; i++) data[i] ^= key[i & 3];
    pos += length;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, data });
  }
  return frames;
}

/**
 * Splits the output of `dataToSend()` into frame bytes and whether EOF was
 * requested (an empty buffer), checking nothing follows EOF.
 */
export function splitOutput(output: Buffer[]): { bytes: Buffer; eof: boolean } {
  const eofAt = output.findIndex((b) => b.length === 0);
  if (eofAt !== -1 && eofAt !== output.length - 1) throw new Error("data after EOF");
  return {
    bytes: Buffer.concat(eofAt === -1 ? output : output.slice(0, eofAt)),
    eof: eofAt !== -1,
  };
}

/** Splits `data` into chunks at the given sorted cut points. */
export function cut(data: Buffer, points: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    if (p > start && p < data.length) {
      chunks.push(data.subarray(start, p));
      start = p;
    }
  }
  chunks.push(data.subarray(start));
  return chunks;
}

/** Splits `data` into 1-byte chunks. */
export function bytewise(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i++) chunks.push(data.subarray(i, i + 1));
  return chunks;
}

/** A small deterministic PRNG (mulberry32), for reproducible random chunking. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `data` into random chunks of 1 to `max` bytes. */
export function randomChunks(data: Buffer, seed: number, max = 64): Buffer[] {
  const next = prng(seed);
  const chunks: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    const size = 1 + Math.floor(next() * max);
    chunks.push(data.subarray(pos, pos + size));
    pos += size;
  }
  return chunks;
}

/** Asserts that `error` is a `ProtocolError` failing with `closeCode` and a message matching `pattern`. */
export function assertProtocolError(error: unknown, closeCode: number, pattern: RegExp): void {
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
  assert.equal(error.closeCode, closeCode);
  assert.match(error.message, pattern);
}

/** `length` bytes of a fixed, non-repeating-looking pattern. */
export function payload(length: number): Buffer {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (i * 31 + 7) & 0xff;
  return data;
}
