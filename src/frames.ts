/**
 * Frames (RFC 6455 §5): opcodes, close codes, the `Frame` and `Close` value
 * types and the serializer. The parser is in `frame-parser.ts`, masking in
 * `masking.ts`.
 *
 * @module
 */

import { Buffer, isUtf8 } from "node:buffer";
import { FastBuffer } from "./buffers.ts";
import { ProtocolError } from "./errors.ts";
import { applyMask, copyMasked, lendFrameBuffer, maskPool, nextMaskOffset } from "./masking.ts";

export { applyMask } from "./masking.ts";

/** Continuation frame (RFC 6455 §5.4). */
export const OP_CONT = 0x0;
/** Text frame. */
export const OP_TEXT = 0x1;
/** Binary frame. */
export const OP_BINARY = 0x2;
/** Close frame (RFC 6455 §5.5.1). */
export const OP_CLOSE = 0x8;
/** Ping frame (RFC 6455 §5.5.2). */
export const OP_PING = 0x9;
/** Pong frame (RFC 6455 §5.5.3). */
export const OP_PONG = 0xa;

/** One of the six opcodes RFC 6455 defines. */
export type Opcode =
  | typeof OP_CONT
  | typeof OP_TEXT
  | typeof OP_BINARY
  | typeof OP_CLOSE
  | typeof OP_PING
  | typeof OP_PONG;

/** The opcode of a message's first frame: text or binary. */
export type DataOpcode = typeof OP_TEXT | typeof OP_BINARY;

/** Names of opcodes, for logs. */
export const OPCODE_NAMES: Readonly<Record<Opcode, string>> = {
  [OP_CONT]: "CONT",
  [OP_TEXT]: "TEXT",
  [OP_BINARY]: "BINARY",
  [OP_CLOSE]: "CLOSE",
  [OP_PING]: "PING",
  [OP_PONG]: "PONG",
};

// Close codes (RFC 6455 §7.4.1 and the IANA registry).
/** 1000: normal closure, the purpose of the connection is fulfilled. */
export const CLOSE_NORMAL = 1000;
/** 1001: an endpoint is going away (server shutting down, page navigated away). */
export const CLOSE_GOING_AWAY = 1001;
/** 1002: the peer broke the protocol. */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** 1003: a type of data the endpoint can't accept (text or binary). */
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** 1005: never sent; stands for a close frame that carried no code. */
export const CLOSE_NO_STATUS_RCVD = 1005;
/** 1006: never sent; stands for a connection lost without a close frame. */
export const CLOSE_ABNORMAL_CLOSURE = 1006;
/** 1007: data inconsistent with its type, e.g. invalid UTF-8 in a text message. */
export const CLOSE_INVALID_DATA = 1007;
/** 1008: a message violates the endpoint's policy (a generic refusal). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** 1009: a message too big to process (see `maxSize`). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;
/** 1010: the client needed an extension the server didn't negotiate. */
export const CLOSE_MANDATORY_EXTENSION = 1010;
/** 1011: the server hit an unexpected condition (e.g. a handler threw). */
export const CLOSE_INTERNAL_ERROR = 1011;
/** 1012: the service is restarting. */
export const CLOSE_SERVICE_RESTART = 1012;
/** 1013: temporary overload; try again later. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** 1014: a gateway or proxy got an invalid response upstream. */
export const CLOSE_BAD_GATEWAY = 1014;
/** 1015: never sent; stands for a failed TLS handshake. */
export const CLOSE_TLS_HANDSHAKE = 1015;

/** Human-readable names of close codes, as in logs: `1000 (OK)`. */
export const CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  1000: "OK",
  1001: "going away",
  1002: "protocol error",
  1003: "unsupported data",
  1005: "no status received [internal]",
  1006: "abnormal closure [internal]",
  1007: "invalid frame payload data",
  1008: "policy violation",
  1009: "message too big",
  1010: "mandatory extension",
  1011: "internal error",
  1012: "service restart",
  1013: "try again later",
  1014: "bad gateway",
  1015: "TLS handshake failure [internal]",
};

/** The close codes a close frame may carry on the wire (RFC 6455 §7.4.1, §7.4.2). */
export function isValidCloseCode(code: number): boolean {
  // 1004 is reserved; 1005, 1006 and 1015 are for reporting only, never sent.
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/** Whether `opcode` is a control frame's (RFC 6455 §5.5). */
export function isControlOpcode(opcode: number): boolean {
  return opcode >= 0x8;
}

/** Longest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Longest close reason: a control payload minus the 2-byte code (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;

/** A zero-length buffer, shared: it can't be written to. */
export const EMPTY = Buffer.alloc(0);

/** A WebSocket frame. `data` is the unmasked payload. */
export class Frame {
  /**
   * @param opcode - `OP_TEXT`, `OP_BINARY`, `OP_CONT`, `OP_CLOSE`, `OP_PING` or `OP_PONG`.
   * @param data - The payload, unmasked.
   * @param fin - Whether this is the last frame of its message.
   * @param rsv1 - The RSV1 bit (set on compressed messages by permessage-deflate).
   * @param rsv2 - The RSV2 bit (no standard extension uses it).
   * @param rsv3 - The RSV3 bit (no standard extension uses it).
   */
  constructor(
    public opcode: Opcode,
    public data: Buffer,
    public fin = true,
    public rsv1 = false,
    public rsv2 = false,
    public rsv3 = false,
  ) {}
}

/** The payload of a close frame: a code and a reason. */
export class Close {
  /**
   * @param code - The close code (`CLOSE_NORMAL`…, or 3000-4999 for applications).
   * @param reason - The reason, at most {@link MAX_CLOSE_REASON} bytes of UTF-8.
   */
  constructor(
    public readonly code: number,
    public readonly reason: string,
  ) {}

  /**
   * Parses the payload of a close frame received from the peer.
   *
   * An empty payload means no code was sent: it parses as code 1005
   * (`CLOSE_NO_STATUS_RCVD`) with an empty reason (RFC 6455 §7.1.5).
   *
   * @throws ProtocolError with close code 1002 for a 1-byte payload or a
   *   code that isn't valid on the wire, 1007 for a reason that isn't UTF-8.
   */
  static parse(data: Buffer): Close {
    if (data.length === 0) return new Close(CLOSE_NO_STATUS_RCVD, "");
    // RFC 6455 §5.5.1: the body, if any, starts with a 2-byte code.
    if (data.length === 1) {
      throw new ProtocolError(`close frame too short: 1 byte, expected 0 or at least 2`);
    }
    const code = data.readUInt16BE(0);
    if (!isValidCloseCode(code)) throw new ProtocolError(`invalid close code: ${code}`);
    const reason = data.subarray(2);
    // RFC 6455 §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails with 1007.
    if (!isUtf8(reason)) {
      throw new ProtocolError(
        `invalid UTF-8 in close reason: ${reason.toString("hex")}`,
        CLOSE_INVALID_DATA,
      );
    }
    return new Close(code, reason.toString("utf8"));
  }

  /**
   * Builds the payload of a close frame carrying this code and reason.
   *
   * @throws ProtocolError if the code isn't valid on the wire or the reason
   *   is longer than 123 bytes once encoded.
   */
  serialize(): Buffer {
    this.check();
    const length = Buffer.byteLength(this.reason);
    if (length > MAX_CLOSE_REASON) {
      throw new ProtocolError(
        `close reason is ${length} bytes long; the limit is ${MAX_CLOSE_REASON} bytes`,
      );
    }
    const data = Buffer.allocUnsafe(2 + length);
    data.writeUInt16BE(this.code, 0);
    data.write(this.reason, 2, "utf8");
    return data;
  }

  /** @throws ProtocolError if the code isn't valid on the wire. */
  check(): void {
    if (!isValidCloseCode(this.code)) throw new ProtocolError(`invalid close code: ${this.code}`);
  }

  /** `1000 (OK) bye`, as in logs and error messages. */
  toString(): string {
    let name = CLOSE_CODE_NAMES[this.code];
    if (name === undefined) {
      if (this.code >= 3000 && this.code < 4000) name = "registered";
      else if (this.code >= 4000 && this.code < 5000) name = "private use";
      else name = "unknown";
    }
    return this.reason === "" ? `${this.code} (${name})` : `${this.code} (${name}) ${this.reason}`;
  }
}

/**
 * Truncates `reason` to at most {@link MAX_CLOSE_REASON} bytes of UTF-8
 * without cutting a character, for close frames built from error messages.
 */
export function truncateCloseReason(reason: string): string {
  if (reason.length <= MAX_CLOSE_REASON / 3 || Buffer.byteLength(reason) <= MAX_CLOSE_REASON) {
    return reason;
  }
  const bytes = Buffer.from(reason, "utf8");
  let end = MAX_CLOSE_REASON;
  // Back up to the start of the character that straddles the limit.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.toString("utf8", 0, end);
}

// --- Serialization -----------------------------------------------------------

/**
 * Unmasked `Buffer` payloads at least this long are returned as a separate
 * buffer after the header instead of being copied next to it: copying costs
 * more than handing one more buffer to `writev`.
 */
export const ZERO_COPY_THRESHOLD = 512;

// Frames up to this size are carved out of a shared slab instead of each
// allocating from Node's 8 KiB pool; the slab is retained only while one of
// its frames is, and frames live until written.
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_FRAME = 4096;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

// The slab as one Buffer, to encode strings into.
let slabBytes: Buffer = new FastBuffer(slab, 0, SLAB_SIZE);

function allocFrame(size: number, mask: boolean): Buffer {
  if (size > SLAB_MAX_FRAME) return mask ? lendFrameBuffer(size) : Buffer.allocUnsafe(size);
  const start = slabStart(size, mask);
  slabOffset = start + size;
  return new FastBuffer(slab, start, size);
}

/**
 * Where the next frame, needing `room` bytes, starts in the slab (a new
 * slab when it doesn't fit). Unmasked frames (a server's) follow each other
 * with no gap: the frames a connection sends in one turn then lie end to
 * end, and its writer sends them as one view of the slab instead of
 * concatenating them (`join` in node/writer.ts). Masked frames start 8-byte
 * aligned, which helps word masking.
 */
function slabStart(room: number, mask: boolean): number {
  const start = mask ? (slabOffset + 7) & ~7 : slabOffset;
  if (start + room <= SLAB_SIZE) return start;
  newSlab();
  return 0;
}

function newSlab(): void {
  slab = new ArrayBuffer(SLAB_SIZE);
  slabBytes = new FastBuffer(slab, 0, SLAB_SIZE);
  slabOffset = 0;
}

// Data frames with a string of at most this many UTF-16 units are encoded
// in one pass, into room for the longest encoding (3 bytes a unit) in the
// slab, after room for the header: Buffer.byteLength() would read the
// string once more first. The header then has 2 bytes or 4 (3 × 1,360 <
// 65,536).
const ENCODE_FIRST_MAX = (SLAB_MAX_FRAME - 8) / 3;
// Up to this many units the encoding has at most 123 bytes (a 2-byte
// header); from 126 units it has at least 126 (a 4-byte header). Between,
// the header's size is known only once the string is encoded, and room for
// 4 bytes is left.
const SHORT_HEADER_MAX_UNITS = 41;

/** {@link frameBytes} for a data frame of a short string. */
function shortStringFrame(
  opcode: Opcode,
  payload: string,
  fin: boolean,
  mask: boolean,
  rsv: number,
): Buffer {
  const units = payload.length;
  const keySize = mask ? 4 : 0;
  // Masked: the payload 8-byte aligned, after room for the longest header
  // and the key. Unmasked: right after the previous frame (see slabStart)
  // when the header's size is known before encoding, as it usually is.
  const headerRoom = mask ? 8 : units <= SHORT_HEADER_MAX_UNITS ? 2 : 4;
  const payloadAt = slabStart(headerRoom + units * 3, mask) + headerRoom;
  const length = slabBytes.write(payload, payloadAt);
  const lengthSize = length < 126 ? 0 : 2;
  const headerSize = 2 + lengthSize + keySize;
  const buf = new FastBuffer(slab, payloadAt - headerSize, headerSize + length);
  const offset = writeHeader(buf, opcode, fin, rsv, mask, length, lengthSize);
  if (mask) applyMask(buf, headerSize, length, maskPool, offset, 0);
  slabOffset = payloadAt + length;
  return buf;
}

/**
 * Writes a frame's header at the start of `buf` (`lengthSize`: 0, 2 or 8
 * bytes of extended length), then a fresh masking key when `mask`; returns
 * the key's offset in the mask pool (unused without `mask`).
 */
function writeHeader(
  buf: Buffer,
  opcode: Opcode,
  fin: boolean,
  rsv: number,
  mask: boolean,
  length: number,
  lengthSize: number,
): number {
  buf[0] = (fin ? 0x80 : 0) | rsv | opcode;
  const maskBit = mask ? 0x80 : 0;
  if (lengthSize === 0) {
    buf[1] = maskBit | length;
  } else if (lengthSize === 2) {
    buf[1] = maskBit | 126;
    buf[2] = length >>> 8;
    buf[3] = length & 0xff;
  } else {
    buf[1] = maskBit | 127;
    buf.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    buf.writeUInt32BE(length >>> 0, 6);
  }
  if (!mask) return 0;
  const offset = nextMaskOffset();
  const keyAt = 2 + lengthSize;
  buf[keyAt] = maskPool[offset];
  buf[keyAt + 1] = maskPool[offset + 1];
  buf[keyAt + 2] = maskPool[offset + 2];
  buf[keyAt + 3] = maskPool[offset + 3];
  return offset;
}

/**
 * Serializes one frame and appends its bytes to `out`.
 *
 * - `mask`: `true` on the client side (RFC 6455 §5.3), with a fresh key.
 * - A string `payload` is encoded as UTF-8 straight into the frame buffer.
 * - Usually appends one buffer, header and payload together. An unmasked
 *   `Buffer` payload of {@link ZERO_COPY_THRESHOLD} bytes or more is appended
 *   as is after a separate header buffer, to avoid copying it: don't modify it
 *   until it's written.
 *
 * `rsv` holds the RSV bits as in the first byte of the header (0x40 = RSV1).
 *
 * @throws ProtocolError for a control frame with more than 125 bytes or
 *   without FIN (RFC 6455 §5.5).
 */
export function writeFrame(
  out: Buffer[],
  opcode: Opcode,
  payload: Buffer | string,
  fin: boolean,
  mask: boolean,
  rsv = 0,
): void {
  const bytes = frameBytes(opcode, payload, fin, mask, rsv);
  if (bytes !== null) {
    out.push(bytes);
    return;
  }
  // Only unmasked Buffer payloads get here (see frameBytes).
  const length = payload.length;
  const lengthSize = length < 65536 ? 2 : 8;
  const header = allocFrame(2 + lengthSize, false);
  writeHeader(header, opcode, fin, rsv, false, length, lengthSize);
  out.push(header, payload as Buffer);
}

/**
 * {@link writeFrame}'s frame as one buffer, header and payload; `null` when
 * the payload isn't copied into its frame (an unmasked `Buffer` of
 * {@link ZERO_COPY_THRESHOLD} bytes or more), which only `writeFrame` sends.
 *
 * @throws ProtocolError for an invalid control frame (see {@link writeFrame}).
 */
export function frameBytes(
  opcode: Opcode,
  payload: Buffer | string,
  fin: boolean,
  mask: boolean,
  rsv = 0,
): Buffer | null {
  const isString = typeof payload === "string";
  if (isString && opcode < 0x8 && payload.length <= ENCODE_FIRST_MAX) {
    return shortStringFrame(opcode, payload, fin, mask, rsv);
  }
  const length = isString ? Buffer.byteLength(payload) : payload.length;
  if (opcode >= 0x8) {
    if (length > MAX_CONTROL_PAYLOAD) {
      throw new ProtocolError(`control frame too long: ${length} bytes, limit is 125 bytes`);
    }
    if (!fin) throw new ProtocolError(`fragmented control frame: ${OPCODE_NAMES[opcode]}`);
  }
  if (!mask && !isString && length >= ZERO_COPY_THRESHOLD) return null;
  const lengthSize = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const headerSize = 2 + lengthSize + (mask ? 4 : 0);
  const buf = allocFrame(headerSize + length, mask);

  const offset = writeHeader(buf, opcode, fin, rsv, mask, length, lengthSize);

  if (!mask) {
    if (isString) buf.write(payload, headerSize, "utf8");
    // set(), not copy(): Buffer.prototype.copy's argument checks in
    // JavaScript cost twice the copy of a short payload.
    else buf.set(payload, headerSize);
  } else {
    if (isString) {
      buf.write(payload, headerSize, "utf8");
      applyMask(buf, headerSize, length, maskPool, offset, 0);
    } else {
      copyMasked(payload, 0, buf, headerSize, length, maskPool, offset, 0);
    }
  }
  return buf;
}

/** The RSV bits of `frame` as in the first byte of its header. */
export function reservedBits(frame: Frame): number {
  return (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) | (frame.rsv3 ? 0x10 : 0);
}

/**
 * Serializes `frame` into one buffer, header and payload. Masks it with a
 * fresh key when `mask` is true (the client side).
 *
 * @throws ProtocolError for an invalid control frame (see {@link writeFrame}).
 */
export function serializeFrame(frame: Frame, mask: boolean): Buffer {
  const out: Buffer[] = [];
  writeFrame(out, frame.opcode, frame.data, frame.fin, mask, reservedBits(frame));
  return out.length === 1 ? out[0] : Buffer.concat(out);
}

// --- Parsing -------------------------------------------------------------------
