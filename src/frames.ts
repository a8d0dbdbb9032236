/**
 * Frames (RFC 6455 §5): opcodes, close codes, the `Frame` and `Close` value
 * types, an incremental parser and the serializer.
 *
 * @module
 */

import { isUtf8, kMaxLength } from "node:buffer";
import { randomFillSync } from "node:crypto";
import { PayloadTooBig, ProtocolError } from "./errors.ts";

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

/**
 * Node's own Buffer class (`Buffer[Symbol.species]`): constructing a view
 * with it skips the species lookup of `subarray`, on the hot path.
 */
const FastBuffer = (
  Buffer as unknown as {
    [Symbol.species]: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
  }
)[Symbol.species];

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

// --- Masking ---------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes a plain byte loop beats creating a typed-array view. */
const WORD_MASK_THRESHOLD = 48;

/**
 * XORs `length` bytes of `buf` from `start` with the 4-byte mask key at
 * `key[keyOffset..]`, in place. `phase` is the index in the payload of the
 * first byte (the key repeats every 4 bytes, RFC 6455 §5.3).
 *
 * Works on 32-bit words over the aligned part of the range.
 */
export function applyMask(
  buf: Uint8Array,
  start: number,
  length: number,
  key: Uint8Array,
  keyOffset: number,
  phase = 0,
): void {
  let i = 0;
  if (length >= WORD_MASK_THRESHOLD) {
    const address = buf.byteOffset + start;
    // Bytes before the first 4-byte boundary.
    const head = (4 - (address & 3)) & 3;
    for (; i < head; i++) buf[start + i] ^= key[keyOffset + ((phase + i) & 3)];
    const words = (length - i) >>> 2;
    const k = (phase + i) & 3;
    const b0 = key[keyOffset + k];
    const b1 = key[keyOffset + ((k + 1) & 3)];
    const b2 = key[keyOffset + ((k + 2) & 3)];
    const b3 = key[keyOffset + ((k + 3) & 3)];
    const word = LITTLE_ENDIAN
      ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
      : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    const view = new Int32Array(buf.buffer, address + i, words);
    // Unrolled by eight: about twice the speed of one word per iteration
    // on large payloads (V8 doesn't unroll this loop by itself).
    const unrolled = words & ~7;
    let w = 0;
    for (; w < unrolled; w += 8) {
      view[w] ^= word;
      view[w + 1] ^= word;
      view[w + 2] ^= word;
      view[w + 3] ^= word;
      view[w + 4] ^= word;
      view[w + 5] ^= word;
      view[w + 6] ^= word;
      view[w + 7] ^= word;
    }
    for (; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < length; i++) buf[start + i] ^= key[keyOffset + ((phase + i) & 3)];
}

/**
 * Copies `length` bytes from `src[srcStart..]` to `dst[dstStart..]`, masking
 * them with the key on the way (`phase` as in {@link applyMask}).
 */
function copyMasked(
  src: Buffer,
  srcStart: number,
  dst: Buffer,
  dstStart: number,
  length: number,
  key: Uint8Array,
  keyOffset: number,
  phase: number,
): void {
  if (length < WORD_MASK_THRESHOLD) {
    for (let i = 0; i < length; i++) {
      dst[dstStart + i] = src[srcStart + i] ^ key[keyOffset + ((phase + i) & 3)];
    }
  } else {
    // memcpy, then words in place: faster than a byte loop over two buffers.
    src.copy(dst, dstStart, srcStart, srcStart + length);
    applyMask(dst, dstStart, length, key, keyOffset, phase);
  }
}

// Mask keys come from a pool refilled with 4 KiB of CSPRNG output at a time
// (RFC 6455 §5.3: keys must be unpredictable), not one syscall per frame.
const MASK_POOL_SIZE = 4096;
const maskPool = Buffer.allocUnsafe(MASK_POOL_SIZE);
let maskPoolOffset = MASK_POOL_SIZE;

function nextMaskOffset(): number {
  if (maskPoolOffset === MASK_POOL_SIZE) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  const offset = maskPoolOffset;
  maskPoolOffset += 4;
  return offset;
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

function allocFrame(size: number): Buffer {
  if (size > SLAB_MAX_FRAME) return Buffer.allocUnsafe(size);
  if (slabOffset + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const buf = new FastBuffer(slab, slabOffset, size);
  // Keep frames 8-byte aligned, which helps word masking.
  slabOffset = (slabOffset + size + 7) & ~7;
  return buf;
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
  const isString = typeof payload === "string";
  const length = isString ? Buffer.byteLength(payload) : payload.length;
  if (opcode >= 0x8) {
    if (length > MAX_CONTROL_PAYLOAD) {
      throw new ProtocolError(`control frame too long: ${length} bytes, limit is 125 bytes`);
    }
    if (!fin) throw new ProtocolError(`fragmented control frame: ${OPCODE_NAMES[opcode]}`);
  }
  const lengthSize = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const headerSize = 2 + lengthSize + (mask ? 4 : 0);
  const zeroCopy = !mask && !isString && length >= ZERO_COPY_THRESHOLD;
  const buf = allocFrame(zeroCopy ? headerSize : headerSize + length);

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

  if (zeroCopy) {
    out.push(buf, payload as Buffer);
    return;
  }
  if (!mask) {
    if (isString) buf.write(payload, headerSize, "utf8");
    else payload.copy(buf, headerSize);
  } else {
    const offset = nextMaskOffset();
    const keyAt = headerSize - 4;
    buf[keyAt] = maskPool[offset];
    buf[keyAt + 1] = maskPool[offset + 1];
    buf[keyAt + 2] = maskPool[offset + 2];
    buf[keyAt + 3] = maskPool[offset + 3];
    if (isString) {
      buf.write(payload, headerSize, "utf8");
      applyMask(buf, headerSize, length, maskPool, offset, 0);
    } else {
      copyMasked(payload, 0, buf, headerSize, length, maskPool, offset, 0);
    }
  }
  out.push(buf);
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

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /**
   * Whether frames must be masked: `true` on the server side, which receives
   * from clients; `false` on the client side (RFC 6455 §5.1).
   */
  mask: boolean;
  /** Largest data frame payload accepted, in bytes; `null` for no limit. Default: `null`. */
  maxSize?: number | null;
  /**
   * RSV bits frames may carry, as in the first header byte (0x40 = RSV1,
   * 0x20 = RSV2, 0x10 = RSV3), because a negotiated extension defines them.
   * Default: 0, any RSV bit fails (RFC 6455 §5.2).
   */
  reservedBits?: number;
  /** Called with every complete frame, in order. */
  onFrame: (frame: Frame) => void;
  /**
   * Called with each piece of a text message's payload (unmasked: a TEXT
   * frame, or a continuation of a text message) as it arrives, only for
   * frames whose payload spans several chunks; `onFrame` still gets the
   * whole frame at the end. Lets a caller validate text before the frame is
   * complete. Default: none.
   */
  onPartial?: ((opcode: Opcode, piece: Buffer) => void) | null;
  /**
   * The `this` of `onFrame` and `onPartial`: lets many parsers share the
   * same functions instead of a closure each. Default: `undefined`; the
   * constructor's `thisArg` takes precedence.
   */
  thisArg?: unknown;
}

/** Largest header: 2 bytes, 8 bytes of extended length, 4 bytes of mask key. */
const MAX_HEADER_SIZE = 14;
// The mask key of the frame being unmasked, shared by every FrameParser
// rather than a Buffer each: parsing is synchronous and the key is written
// here right before it's used, with no callback in between. A parser keeps
// its key as a number while a payload spans chunks.
const maskKey = Buffer.allocUnsafe(4);

// Valid opcodes as a bit set: 0, 1, 2, 8, 9, 10 (RFC 6455 §5.2, §11.8).
const VALID_OPCODES = 0b0000_0111_0000_0111;

// A FrameParser's state in one small integer (a server keeps a parser per
// idle connection: one field rather than ten). The low byte is the first
// header byte of the current frame: FIN (0x80), RSV (0x70), opcode (0x0f).
const B0_BITS = 0xff;
const FIN_BIT = 0x80;
/** Whether the current frame is masked. */
const MASKED = 1 << 8;
/** Whether a payload spanning chunks is being received (else: a header). */
const IN_PAYLOAD = 1 << 9;
/** Whether stop() was called. */
const STOPPED = 1 << 10;
/** Whether a fragmented data message is open: the next data frame must be a continuation. */
const FRAGMENTED = 1 << 11;
/** Whether the data frame being received carries text: TEXT, or CONT of a TEXT message. */
const TEXT = 1 << 12;
/** Whether frames must be masked (options.mask, read once). */
const MASK_REQUIRED = 1 << 13;
/** Header bytes gathered while a header spans chunks (0 to 14), at bits 16-19. */
const HEADER_LENGTH_SHIFT = 16;
const HEADER_LENGTH = 0xf << HEADER_LENGTH_SHIFT;
/** The RSV bits allowed (reservedBits, 0x70), at bits 20-22. */
const RESERVED_SHIFT = 16;
const RESERVED = 0x70 << RESERVED_SHIFT;

/**
 * What a parser needs only once a header or a payload spans chunks: created
 * then, and kept (an idle connection never needs it).
 */
class Spill {
  /** A header split across chunks is gathered here. */
  header: Buffer | null = null;
  /** The payload being assembled, or EMPTY. */
  payload: Buffer = EMPTY;
  received = 0;
  /** The mask key of the payload, as a 32-bit integer. */
  key = 0;
}

/**
 * An incremental frame parser (RFC 6455 §5.2).
 *
 * Feed it chunks of any size with {@link FrameParser.parse}; it calls
 * `onFrame` for every complete frame. It enforces the framing rules with the
 * close code to fail with — `ProtocolError` (1002) for masking, RSV bits,
 * opcodes, control frames, lengths and fragmentation order (a continuation
 * without a start, a new message inside a fragmented one), `PayloadTooBig`
 * (1009) for a data frame over `maxSize`, thrown from the header before any
 * of the payload is buffered. After it throws, don't feed it again.
 *
 * Payloads: an unmasked frame that lies whole in one chunk gets a `subarray`
 * of that chunk (no copy), so don't modify chunks after passing them. A
 * masked frame is unmasked into a buffer of its own; input chunks are never
 * modified. A frame spanning chunks is assembled into a buffer of its own.
 *
 * Many parsers can share one options object: pass what differs between
 * them, the `this` of the callbacks, as `thisArg`.
 */
export class FrameParser {
  /** Largest data frame payload accepted, in bytes; `null` for no limit. Changeable between frames. */
  maxSize: number | null;

  readonly #onFrame: (frame: Frame) => void;
  readonly #onPartial: ((opcode: Opcode, piece: Buffer) => void) | null;
  readonly #thisArg: unknown;
  #bits: number;
  #spill: Spill | null = null;

  /**
   * @param thisArg - The `this` of `onFrame` and `onPartial`. Default:
   *   `options.thisArg`.
   */
  constructor(options: FrameParserOptions, thisArg: unknown = options.thisArg) {
    this.#onFrame = options.onFrame;
    this.#onPartial = options.onPartial ?? null;
    this.#thisArg = thisArg;
    this.maxSize = options.maxSize ?? null;
    this.#bits =
      (((options.reservedBits ?? 0) << RESERVED_SHIFT) & RESERVED) |
      (options.mask ? MASK_REQUIRED : 0);
  }

  /** RSV bits frames may carry (see {@link FrameParserOptions.reservedBits}). */
  get reservedBits(): number {
    return (this.#bits & RESERVED) >>> RESERVED_SHIFT;
  }

  /** Changes which RSV bits frames may carry, e.g. once an extension is negotiated. */
  set reservedBits(bits: number) {
    this.#bits = (this.#bits & ~RESERVED) | ((bits << RESERVED_SHIFT) & RESERVED);
  }

  /** Bytes held for an incomplete frame: header bytes plus payload received so far. */
  get bufferedBytes(): number {
    const bits = this.#bits;
    if ((bits & IN_PAYLOAD) !== 0) return this.#spill!.received;
    return (bits & HEADER_LENGTH) >>> HEADER_LENGTH_SHIFT;
  }

  /** Stops parsing: the rest of the current chunk and later chunks are ignored. */
  stop(): void {
    this.#bits |= STOPPED;
  }

  /** Whether {@link FrameParser.stop} was called. */
  get stopped(): boolean {
    return (this.#bits & STOPPED) !== 0;
  }

  /**
   * Parses the next chunk of the byte stream. Calls `onFrame` for each frame
   * completed by this chunk; errors thrown by `onFrame` propagate.
   *
   * @throws ProtocolError or PayloadTooBig when the stream breaks a rule.
   */
  parse(chunk: Buffer): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      // Read at each turn: a callback may have called stop().
      const bits = this.#bits;
      if ((bits & STOPPED) !== 0) return;
      if ((bits & IN_PAYLOAD) !== 0) {
        pos = this.#continuePayload(chunk, pos);
        continue;
      }

      // Header: read straight from the chunk when it's all there.
      let src = chunk;
      let at = pos;
      if ((bits & HEADER_LENGTH) === 0 && end - pos >= 2) {
        const size = headerSize(chunk[pos + 1]);
        if (end - pos < size) {
          pos = this.#gatherHeader(chunk, pos);
          continue;
        }
        pos += size;
      } else {
        pos = this.#gatherHeader(chunk, pos);
        const header = this.#spill!.header!;
        const headerLength = (this.#bits & HEADER_LENGTH) >>> HEADER_LENGTH_SHIFT;
        if (headerLength === 0 || headerLength < headerSize(header[1])) continue;
        src = header;
        at = 0;
        this.#bits &= ~HEADER_LENGTH;
      }
      const length = this.#readHeader(src, at);

      if (end - pos >= length) {
        // Fast path: the whole payload is in this chunk.
        let data: Buffer;
        if (length === 0) {
          data = EMPTY;
        } else if ((this.#bits & MASKED) !== 0) {
          data = Buffer.allocUnsafe(length);
          copyMasked(chunk, pos, data, 0, length, maskKey, 0, 0);
        } else {
          data = new FastBuffer(chunk.buffer, chunk.byteOffset + pos, length);
        }
        pos += length;
        this.#emit(data);
      } else {
        // The payload spans chunks: assemble it in a buffer of its own.
        // Its size is bounded by maxSize, checked in #readHeader.
        const spill = this.#spillState();
        spill.payload = Buffer.allocUnsafe(length);
        spill.received = 0;
        // maskKey still holds this frame's key: nothing ran since #readHeader.
        spill.key = maskKey.readInt32BE(0);
        this.#bits |= IN_PAYLOAD;
      }
    }
  }

  #spillState(): Spill {
    this.#spill ??= new Spill();
    return this.#spill;
  }

  /** Copies header bytes into the spill's header; returns the new position in `chunk`. */
  #gatherHeader(chunk: Buffer, pos: number): number {
    const spill = this.#spillState();
    spill.header ??= Buffer.allocUnsafe(MAX_HEADER_SIZE);
    const header = spill.header;
    let length = (this.#bits & HEADER_LENGTH) >>> HEADER_LENGTH_SHIFT;
    const end = chunk.length;
    while (pos < end) {
      const needed = length < 2 ? 2 : headerSize(header[1]);
      if (length === needed) break;
      header[length++] = chunk[pos++];
    }
    this.#bits = (this.#bits & ~HEADER_LENGTH) | (length << HEADER_LENGTH_SHIFT);
    return pos;
  }

  /** Decodes and checks a complete header at `src[at..]`; returns the payload length. */
  #readHeader(src: Buffer, at: number): number {
    const b0 = src[at];
    const b1 = src[at + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & 0x70;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let bits = this.#bits;

    // RFC 6455 §5.2: RSV bits must be 0 unless an extension defines them.
    if ((rsv & ~((bits & RESERVED) >>> RESERVED_SHIFT)) !== 0) {
      throw new ProtocolError(`reserved bits must be 0: got 0x${rsv.toString(16)}`);
    }
    // RFC 6455 §5.2: opcodes 3-7 and 11-15 are reserved.
    if (((VALID_OPCODES >>> opcode) & 1) === 0) {
      throw new ProtocolError(`invalid opcode: ${opcode}`);
    }
    // RFC 6455 §5.1: clients mask every frame, servers none.
    const mask = (bits & MASK_REQUIRED) !== 0;
    if (masked !== mask) {
      throw new ProtocolError(
        mask ? "frame from client isn't masked" : "frame from server is masked",
      );
    }

    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      length = (src[offset] << 8) | src[offset + 1];
      offset += 2;
    } else if (length === 127) {
      const high = src.readUInt32BE(offset);
      // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
      if (high > 0x7fffffff) {
        throw new ProtocolError("invalid payload length: most significant bit is set");
      }
      length = high * 0x100000000 + src.readUInt32BE(offset + 4);
      offset += 8;
    }

    if (opcode >= 0x8) {
      // RFC 6455 §5.5: control frames are short and never fragmented.
      if (length > MAX_CONTROL_PAYLOAD) {
        throw new ProtocolError(
          `control frame too long: ${OPCODE_NAMES[opcode as Opcode]} with ${length} bytes, limit is 125 bytes`,
        );
      }
      if (!fin)
        throw new ProtocolError(`fragmented control frame: ${OPCODE_NAMES[opcode as Opcode]}`);
    } else {
      // RFC 6455 §5.4: a message is a start frame then continuations.
      if (opcode === OP_CONT) {
        if ((bits & FRAGMENTED) === 0) throw new ProtocolError("unexpected continuation frame");
      } else if ((bits & FRAGMENTED) !== 0) {
        throw new ProtocolError(
          `expected a continuation frame, got ${OPCODE_NAMES[opcode as Opcode]}`,
        );
      } else {
        bits = opcode === OP_TEXT ? bits | TEXT : bits & ~TEXT;
      }
      bits = fin ? bits & ~FRAGMENTED : bits | FRAGMENTED;
      const maxSize = this.maxSize;
      if (maxSize !== null && length > maxSize) throw new PayloadTooBig(length, maxSize);
      if (length > kMaxLength) throw new PayloadTooBig(length, kMaxLength);
    }

    if (masked) {
      // In maskKey for the payload in this chunk, or to keep for later chunks.
      maskKey[0] = src[offset];
      maskKey[1] = src[offset + 1];
      maskKey[2] = src[offset + 2];
      maskKey[3] = src[offset + 3];
    }
    this.#bits = (bits & ~(B0_BITS | MASKED)) | b0 | (masked ? MASKED : 0);
    return length;
  }

  /** Copies payload bytes of a frame spanning chunks; returns the new position. */
  #continuePayload(chunk: Buffer, pos: number): number {
    const spill = this.#spill!;
    const payload = spill.payload;
    const start = spill.received;
    const take = Math.min(payload.length - start, chunk.length - pos);
    const bits = this.#bits;
    if ((bits & MASKED) !== 0) {
      maskKey.writeInt32BE(spill.key, 0);
      copyMasked(chunk, pos, payload, start, take, maskKey, 0, start);
    } else {
      chunk.copy(payload, start, pos, pos + take);
    }
    spill.received = start + take;
    const onPartial = this.#onPartial;
    const opcode = bits & 0x0f;
    if (onPartial !== null && (bits & TEXT) !== 0 && opcode < 0x8) {
      onPartial.call(this.#thisArg, opcode as Opcode, payload.subarray(start, start + take));
    }
    if (spill.received === payload.length) {
      this.#bits &= ~IN_PAYLOAD;
      spill.payload = EMPTY;
      spill.received = 0;
      this.#emit(payload);
    }
    return pos + take;
  }

  #emit(data: Buffer): void {
    const bits = this.#bits;
    this.#onFrame.call(
      this.#thisArg,
      new Frame(
        (bits & 0x0f) as Opcode,
        data,
        (bits & FIN_BIT) !== 0,
        (bits & 0x40) !== 0,
        (bits & 0x20) !== 0,
        (bits & 0x10) !== 0,
      ),
    );
  }
}

/** Size of a header from its second byte: 2, plus extended length, plus mask key. */
function headerSize(b1: number): number {
  const length = b1 & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
