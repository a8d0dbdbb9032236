/**
 * The incremental frame parser (RFC 6455 §5.2): bytes in, `Frame`s out,
 * with the framing rules enforced as the header arrives.
 *
 * @module
 */

import { Buffer, kMaxLength } from "node:buffer";
import { FastBuffer } from "./buffers.ts";
import { PayloadTooBig, ProtocolError } from "./errors.ts";
import {
  type DataOpcode,
  EMPTY,
  Frame,
  MAX_CONTROL_PAYLOAD,
  OP_CONT,
  OP_TEXT,
  OPCODE_NAMES,
  type Opcode,
} from "./frames.ts";
import { copyMasked } from "./masking.ts";

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
   * Called instead of `onFrame`, with no `Frame` made, for a whole message:
   * a TEXT or BINARY frame with FIN set and no RSV bit, that lies whole in
   * one chunk, outside a fragmented message, and within `maxSize` (the
   * common case: docs/performance.md, "Hot paths"). Default: none, every
   * frame goes to `onFrame`.
   */
  onMessage?: ((opcode: DataOpcode, data: Buffer) => void) | null;
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
/** Whether pause() was called during the current parse(). */
const PAUSED = 1 << 14;
/** Whether the current parse()'s chunk is lent: no payload may be a view of it. */
const LENT = 1 << 15;
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
 * of that chunk (no copy), so don't modify chunks after passing them,
 * unless passed as lent (see {@link FrameParser.parse}). A
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
  readonly #onMessage: ((opcode: DataOpcode, data: Buffer) => void) | null;
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
    this.#onMessage = options.onMessage ?? null;
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

  /**
   * Makes the current {@link FrameParser.parse} return after the frame being
   * delivered, with the number of bytes it consumed: the caller keeps the
   * rest and parses it later. Meant for `onFrame`; it applies to this call
   * of `parse()` only.
   */
  pause(): void {
    this.#bits |= PAUSED;
  }

  /** Whether {@link FrameParser.stop} was called. */
  get stopped(): boolean {
    return (this.#bits & STOPPED) !== 0;
  }

  /**
   * Parses the next chunk of the byte stream. Calls `onFrame` for each frame
   * completed by this chunk; errors thrown by `onFrame` propagate.
   *
   * @param lent - Whether `chunk` is only lent for this call (a read
   *   buffer the caller reuses): then every payload is a copy, none a view
   *   of `chunk`. Bytes not consumed are the caller's to keep.
   * @returns The number of bytes consumed: `chunk.length`, or less when a
   *   callback called {@link FrameParser.pause} or {@link FrameParser.stop}.
   * @throws ProtocolError or PayloadTooBig when the stream breaks a rule.
   */
  parse(chunk: Buffer, lent = false): number {
    const end = chunk.length;
    let pos = 0;
    if (lent) this.#bits |= LENT;
    while (pos < end) {
      // Read at each turn: a callback may have called stop() or pause().
      const bits = this.#bits;
      if ((bits & (STOPPED | PAUSED)) !== 0) {
        this.#bits = bits & ~(PAUSED | LENT);
        return pos;
      }
      if ((bits & IN_PAYLOAD) !== 0) {
        pos = this.#continuePayload(chunk, pos);
        continue;
      }

      if ((bits & (HEADER_LENGTH | FRAGMENTED)) === 0 && this.#onMessage !== null) {
        const next = this.#wholeMessage(chunk, pos, bits);
        if (next !== pos) {
          pos = next;
          continue;
        }
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
          data = unmaskedPayload(chunk, pos, length, this.#bits);
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
    this.#bits &= ~(PAUSED | LENT);
    return end;
  }

  /**
   * A whole message at `pos` (see {@link FrameParserOptions.onMessage}):
   * delivered, and the position after it returned; else `pos`, for the
   * general path. Its header needs none of #readHeader's checks: FIN, no
   * RSV bit, a data opcode, a 7- or 16-bit length, masked as required.
   */
  // Key and payload are written out here as in parse(), not shared: a
  // shared function cost instructions (docs/performance.md, "Hot paths").
  #wholeMessage(chunk: Buffer, pos: number, bits: number): number {
    const end = chunk.length;
    if (end - pos < 2) return pos;
    const b0 = chunk[pos];
    if (b0 !== 0x81 && b0 !== 0x82) return pos;
    const b1 = chunk[pos + 1];
    const masked = (b1 & 0x80) !== 0;
    if (masked !== ((bits & MASK_REQUIRED) !== 0)) return pos;
    let length = b1 & 0x7f;
    let at = pos + 2;
    if (length === 126) {
      if (end - at < 2) return pos;
      length = (chunk[at] << 8) | chunk[at + 1];
      at += 2;
    } else if (length === 127) {
      return pos;
    }
    const start = masked ? at + 4 : at;
    const maxSize = this.maxSize;
    if (end - start < length || (maxSize !== null && length > maxSize)) return pos;
    let data: Buffer;
    if (length === 0) {
      data = EMPTY;
    } else if (masked) {
      maskKey[0] = chunk[at];
      maskKey[1] = chunk[at + 1];
      maskKey[2] = chunk[at + 2];
      maskKey[3] = chunk[at + 3];
      data = Buffer.allocUnsafe(length);
      copyMasked(chunk, start, data, 0, length, maskKey, 0, 0);
    } else {
      data = unmaskedPayload(chunk, start, length, bits);
    }
    this.#onMessage!.call(this.#thisArg, (b0 & 0x0f) as DataOpcode, data);
    return start + length;
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

/**
 * An unmasked payload whole in `chunk`: a view of it, or a copy when the
 * chunk is lent (`LENT` in `bits`).
 */
function unmaskedPayload(chunk: Buffer, at: number, length: number, bits: number): Buffer {
  if ((bits & LENT) === 0) return new FastBuffer(chunk.buffer, chunk.byteOffset + at, length);
  const data = Buffer.allocUnsafe(length);
  chunk.copy(data, 0, at, at + length);
  return data;
}

/** Size of a header from its second byte: 2, plus extended length, plus mask key. */
function headerSize(b1: number): number {
  const length = b1 & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
