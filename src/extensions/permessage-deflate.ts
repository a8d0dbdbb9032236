/**
 * The permessage-deflate extension (RFC 7692): negotiation of its four
 * parameters by the client and the server, and compression of messages with
 * zlib's raw DEFLATE.
 *
 * The protocol core is synchronous, so compression is too. Node has no public
 * synchronous streaming zlib API: `zlib.deflateRawSync()` compresses one
 * buffer with a fresh stream, which can't keep the LZ77 window from one
 * message to the next nor decompress a message frame by frame. So a
 * {@link SyncZlib} drives one `zlib.DeflateRaw` or `zlib.InflateRaw` object
 * synchronously through the same native call `deflateRawSync()` uses
 * internally, without closing it. {@link isPermessageDeflateSupported} checks
 * at first use that the runtime still works that way; `docs/compression.md`
 * explains the choice and its risk.
 *
 * Memory: zlib state is created on first use, freed after each message
 * without context takeover, and freed on {@link PerMessageDeflate.release}
 * with context takeover, keeping only a copy of the LZ77 window, from which the
 * stream is rebuilt (as a preset dictionary) when the next message comes.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
  type ZlibOptions,
  constants as zlibConstants,
} from "node:zlib";
import {
  DuplicateParameter,
  InvalidParameterName,
  InvalidParameterValue,
  NegotiationError,
  PayloadTooBig,
  ProtocolError,
} from "../errors.ts";
import { CLOSE_INVALID_DATA, Frame, OP_BINARY, OP_CONT, OP_TEXT, OPCODE_NAMES } from "../frames.ts";
import type {
  ClientExtensionFactory,
  Extension,
  ExtensionParameter,
  ServerExtensionFactory,
} from "./base.ts";

/** The extension's registered name (RFC 7692 §7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

// RFC 7692 §7.2.1: a sync flush ends with an empty stored block, 00 00 ff ff,
// which the sender removes from each message and the receiver puts back.
const EMPTY_STORED_BLOCK = Buffer.from([0x00, 0x00, 0xff, 0xff]);

const { Z_NO_FLUSH, Z_SYNC_FLUSH } = zlibConstants;

/**
 * zlib settings for compression. Each is checked when the factory is built.
 *
 * Window bits aren't here: they come from the negotiation.
 */
export interface CompressSettings {
  /** Compression level, -1 (zlib's default, 6) to 9. Default: -1. */
  level?: number;
  /**
   * zlib's `memLevel`, 1 to 9: memory for the compressor's state. On Node's
   * bundled zlib it changes little (measured: 92 KiB per compressor at 1,
   * 103 KiB at 8, with a 12-bit window); the window size matters more.
   * Default: 8; the `enable*PermessageDeflate` helpers use 5.
   */
  memLevel?: number;
  /** zlib strategy (`zlib.constants.Z_DEFAULT_STRATEGY` ... `Z_FIXED`). Default: `Z_DEFAULT_STRATEGY`. */
  strategy?: number;
}

// --- Synchronous zlib streams ------------------------------------------------

// The native handle behind a zlib object, as `lib/zlib.js` drives it in
// `processChunkSync()` (Node 10 to 24; Bun and workerd implement it too).
interface NativeZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  close(): void;
}

interface ZlibInternals {
  _handle?: NativeZlibHandle | null;
  _writeState?: Uint32Array;
}

type ZlibEngine = DeflateRaw | InflateRaw;

// zlib writes into this buffer and the output is copied out at its exact
// size, so a 100-byte message doesn't pin a large buffer. Calls are
// synchronous, so one buffer serves every stream.
const SCRATCH_SIZE = 64 * 1024;
let scratch: Buffer | null = null;

function ignoreError(): void {
  // A failed stream is reported by SyncZlib.write; see there.
}

/** Collects the output of a stream, copying it out of the scratch buffer, up to a limit. */
class Output {
  readonly chunks: Buffer[] = [];
  size = 0;

  /** @param limit - Maximum number of bytes, or `null` for no limit. */
  constructor(readonly limit: number | null) {}

  /** Room to offer zlib: one byte beyond the limit, to detect that it's exceeded. */
  room(): number {
    if (this.limit === null) return SCRATCH_SIZE;
    return Math.min(SCRATCH_SIZE, this.limit - this.size + 1);
  }

  push(source: Buffer, length: number): void {
    if (length === 0) return;
    const chunk = Buffer.allocUnsafe(length);
    source.copy(chunk, 0, 0, length);
    this.chunks.push(chunk);
    this.size += length;
    if (this.limit !== null && this.size > this.limit) {
      // The size is unknown: decompression stopped one byte past the limit.
      throw new PayloadTooBig(null, this.limit, "message");
    }
  }

  take(): Buffer {
    const chunks = this.chunks;
    if (chunks.length === 1) return chunks[0];
    if (chunks.length === 0) return Buffer.alloc(0);
    return Buffer.concat(chunks, this.size);
  }
}

/**
 * A raw deflate or inflate stream driven synchronously.
 *
 * `write` calls the native handle's `writeSync`, as `zlib.deflateRawSync()`
 * does, but keeps the stream open afterwards, where `deflateRawSync()` (and
 * `_processChunk()`) close it.
 */
class SyncZlib {
  readonly #engine: ZlibEngine;
  readonly #handle: NativeZlibHandle;
  readonly #state: Uint32Array;
  /** The inflater reached the end of the DEFLATE stream (a block with BFINAL set). */
  ended = false;

  constructor(engine: ZlibEngine) {
    const internals = engine as unknown as ZlibInternals;
    if (
      typeof internals._handle?.writeSync !== "function" ||
      typeof internals._handle.close !== "function" ||
      !(internals._writeState instanceof Uint32Array)
    ) {
      engine.close();
      throw new Error("this runtime's zlib can't be driven synchronously");
    }
    this.#engine = engine;
    this.#handle = internals._handle;
    this.#state = internals._writeState;
  }

  static deflate(windowBits: number, settings: CompressSettings, dictionary?: Buffer): SyncZlib {
    // chunkSize: the engine allocates an output buffer of that size that
    // SyncZlib never uses; 64 is the minimum.
    const options: ZlibOptions = {
      windowBits,
      level: settings.level ?? zlibConstants.Z_DEFAULT_COMPRESSION,
      memLevel: settings.memLevel ?? zlibConstants.Z_DEFAULT_MEMLEVEL,
      strategy: settings.strategy ?? zlibConstants.Z_DEFAULT_STRATEGY,
      chunkSize: 64,
    };
    if (dictionary !== undefined) options.dictionary = dictionary;
    return new SyncZlib(createDeflateRaw(options));
  }

  static inflate(windowBits: number, dictionary?: Buffer): SyncZlib {
    const options: ZlibOptions = { windowBits, chunkSize: 64 };
    if (dictionary !== undefined) options.dictionary = dictionary;
    return new SyncZlib(createInflateRaw(options));
  }

  /**
   * Feeds `input` from `offset` and appends the output to `output`, with a
   * sync flush by default. Returns the number of bytes consumed: all of them,
   * unless the inflater reached the end of the DEFLATE stream (then `ended`
   * is set).
   *
   * Throws `ProtocolError` (1007) if the data is corrupt, `PayloadTooBig`
   * as soon as the output exceeds its limit.
   */
  write(input: Buffer, offset: number, output: Output, flush = Z_SYNC_FLUSH): number {
    scratch ??= Buffer.allocUnsafeSlow(SCRATCH_SIZE);
    let inOffset = offset;
    let inLength = input.length - offset;
    // Each round fills the output room or consumes all the input it can, so
    // the loop ends; the bound is a safeguard against a zlib misbehaving.
    for (let rounds = 0; rounds < 1e9; rounds++) {
      const room = output.room();
      this.#handle.writeSync(flush, input, inOffset, inLength, scratch, 0, room);
      if (this.#engine.destroyed) {
        // On a zlib error, the engine destroyed itself and emits "error" on
        // the next tick: without a listener, that would crash the process.
        // Added only now, since a listener costs more than a small message.
        this.#engine.on("error", ignoreError);
        throw this.#failure();
      }
      const availOut = this.#state[0];
      const availIn = this.#state[1];
      output.push(scratch, room - availOut);
      inOffset += inLength - availIn;
      inLength = availIn;
      if (availOut !== 0) {
        // zlib had room left but didn't take all the input: end of stream.
        if (inLength !== 0) this.ended = true;
        return inOffset - offset;
      }
    }
    throw new Error("zlib made no progress");
  }

  /** Frees zlib's memory now. */
  close(): void {
    // As zlib.deflateRawSync() does: close the native handle, skipping the
    // stream's destroy() machinery, which costs more than a small message.
    const internals = this.#engine as unknown as ZlibInternals;
    if (internals._handle && !this.#engine.destroyed) {
      internals._handle.close();
      internals._handle = null;
    }
  }

  #failure(): ProtocolError {
    const cause = this.#engine.errored;
    const reason = cause instanceof Error ? cause.message : "unknown error";
    // RFC 7692 §8: data that doesn't decompress fails the connection; like
    // ws, with 1007, the payload being inconsistent with the message's type.
    return new ProtocolError(`invalid compressed data: ${reason}`, CLOSE_INVALID_DATA, { cause });
  }
}

let supported: boolean | null = null;

/**
 * Whether this runtime can run permessage-deflate: it needs to drive zlib
 * streams synchronously (see `docs/compression.md`). Checked once, by
 * compressing and decompressing two messages that share a window.
 */
export function isPermessageDeflateSupported(): boolean {
  if (supported !== null) return supported;
  try {
    const deflater = SyncZlib.deflate(9, {});
    const inflater = SyncZlib.inflate(9);
    let ok = true;
    for (const text of ["Hello", "Hello"]) {
      const compressed = new Output(null);
      deflater.write(Buffer.from(text), 0, compressed);
      const plain = new Output(null);
      inflater.write(compressed.take(), 0, plain);
      ok &&= plain.take().toString() === text;
    }
    deflater.close();
    inflater.close();
    supported = ok;
  } catch {
    supported = false;
  }
  return supported;
}

// --- The LZ77 window, kept to rebuild a stream -------------------------------

/**
 * The last `size` bytes of a byte stream: what the LZ77 window of a stream
 * holds, so a released stream can be rebuilt with it as preset dictionary.
 *
 * Bytes are appended to a buffer of up to `2 * size` bytes and slid back
 * when it's full, so each byte is copied at most twice.
 */
class Window {
  readonly #size: number;
  #buffer: Buffer | null = null;
  #length = 0;

  constructor(size: number) {
    this.#size = size;
  }

  append(data: Buffer): void {
    const size = this.#size;
    const n = data.length;
    if (n === 0) return;
    if (n >= size) {
      if (this.#buffer === null || this.#buffer.length < size) {
        this.#buffer = Buffer.allocUnsafeSlow(2 * size);
      }
      data.copy(this.#buffer, 0, n - size);
      this.#length = size;
      return;
    }
    let buffer = this.#buffer;
    let length = this.#length;
    if (buffer !== null && length + n > 2 * size) {
      // Keep the last size - n bytes: with data, the window is full.
      const keep = size - n;
      buffer.copy(buffer, 0, length - keep, length);
      length = keep;
    }
    if (buffer === null || length + n > buffer.length) {
      const grown = Buffer.allocUnsafeSlow(
        Math.min(2 * size, Math.max(length + n, 2 * length, 256)),
      );
      if (buffer !== null) buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    data.copy(buffer, length);
    this.#buffer = buffer;
    this.#length = length + n;
  }

  /** The window's content, or `undefined` when empty; a view, valid until the next `append`. */
  content(): Buffer | undefined {
    if (this.#buffer === null || this.#length === 0) return undefined;
    return this.#buffer.subarray(Math.max(0, this.#length - this.#size), this.#length);
  }

  /** Shrinks the buffer to the window's content, for an idle connection. */
  compact(): void {
    const content = this.content();
    if (content === undefined || content.length === this.#buffer!.length) return;
    const compacted = Buffer.allocUnsafeSlow(content.length);
    content.copy(compacted);
    this.#buffer = compacted;
    this.#length = compacted.length;
  }

  /** The number of bytes held, for tests and measurements. */
  get allocated(): number {
    return this.#buffer === null ? 0 : this.#buffer.length;
  }
}

// zlib refuses a raw window of 8 bits (zlib 1.2.9+) and Node's DeflateRaw
// turns 8 into 9. Compressing with 9 is safe for a peer that inflates with a
// 256-byte window: zlib limits match distances to the window size minus
// MIN_LOOKAHEAD (262), so with 512 bytes no match reaches back more than 250
// bytes. Inflating handles 8 itself.
function compressorWindowBits(bits: number): number {
  return bits === 8 ? 9 : bits;
}

/**
 * What compressing and decompressing in one direction share: a zlib stream
 * created on first use, and with context takeover the window it holds, kept
 * so that release() can free the stream of an idle connection and the next
 * message rebuild it from the window as a preset dictionary.
 */
abstract class ZlibDirection {
  protected readonly windowBits: number;
  protected readonly noContextTakeover: boolean;
  protected stream: SyncZlib | null = null;
  protected readonly window: Window | null;
  protected inMessage = false;

  constructor(windowBits: number, noContextTakeover: boolean) {
    this.windowBits = windowBits;
    this.noContextTakeover = noContextTakeover;
    this.window = noContextTakeover ? null : new Window(1 << windowBits);
  }

  /** Frees the zlib stream between messages, keeping only the window's content. */
  release(): void {
    if (this.inMessage) return;
    this.closeStream();
    this.window?.compact();
  }

  protected closeStream(): void {
    this.stream?.close();
    this.stream = null;
  }

  get active(): boolean {
    return this.stream !== null;
  }

  get windowBytes(): number {
    return this.window?.allocated ?? 0;
  }
}

/** Compresses the messages sent in one direction. */
class Compressor extends ZlibDirection {
  readonly #settings: CompressSettings;

  constructor(windowBits: number, noContextTakeover: boolean, settings: CompressSettings) {
    super(compressorWindowBits(windowBits), noContextTakeover);
    this.#settings = settings;
  }

  /** Compresses one frame's data; `fin` ends the message. */
  compress(data: Buffer, fin: boolean): Buffer {
    this.stream ??= SyncZlib.deflate(this.windowBits, this.#settings, this.window?.content());
    this.inMessage = !fin;
    const output = new Output(null);
    try {
      // zlib ignores a flush without input right after another flush, and
      // an empty payload isn't a valid compressed message (RFC 7692
      // §7.2.3.6 sends 0x00): a call without flush makes the next one count.
      if (data.length === 0) this.stream.write(data, 0, output, Z_NO_FLUSH);
      this.stream.write(data, 0, output);
    } catch (error) {
      this.closeStream();
      throw error;
    }
    this.window?.append(data);
    let compressed = output.take();
    if (fin) {
      // RFC 7692 §7.2.1: remove the empty stored block from the end of the message.
      if (compressed.length >= 4 && compressed.subarray(-4).equals(EMPTY_STORED_BLOCK)) {
        compressed = compressed.subarray(0, -4);
      }
      // RFC 7692 §7.1.1.1, §7.1.1.2: without context takeover, each message
      // starts with an empty window; the next one gets a new stream.
      if (this.noContextTakeover) this.closeStream();
    }
    return compressed;
  }
}

/** Decompresses the messages received in one direction. */
class Decompressor extends ZlibDirection {
  /**
   * Decompresses one frame's data; `fin` ends the message. `limit` is the
   * number of bytes the output may reach, or `null`.
   */
  decompress(data: Buffer, fin: boolean, limit: number | null): Buffer {
    this.inMessage = !fin;
    const output = new Output(limit);
    try {
      this.#feed(data, output, false);
      // RFC 7692 §7.2.2: put back the empty stored block the sender removed.
      if (fin) this.#feed(EMPTY_STORED_BLOCK, output, true);
    } catch (error) {
      this.closeStream();
      throw error;
    }
    if (fin && this.noContextTakeover) this.closeStream();
    return output.take();
  }

  /** `trailer`: `input` is the empty stored block appended to a message. */
  #feed(input: Buffer, output: Output, trailer: boolean): void {
    let offset = 0;
    while (offset < input.length) {
      const fresh = this.stream === null;
      this.stream ??= SyncZlib.inflate(this.windowBits, this.window?.content());
      const first = output.chunks.length;
      const consumed = this.stream.write(input, offset, output);
      if (this.window !== null) {
        for (let i = first; i < output.chunks.length; i++) this.window.append(output.chunks[i]);
      }
      offset += consumed;
      if (this.stream.ended) {
        // RFC 7692 §7.2.3.4: the peer may end a DEFLATE stream with a block
        // with BFINAL set; what follows in the message is a new stream, with
        // the same window. zlib tells the end only when input is left over:
        // a stream that ended exactly at the end of the previous input
        // consumes nothing now.
        this.closeStream();
        if (consumed === 0) {
          // A new stream always consumes input or fails: this one made no
          // progress, which zlib never does; stop rather than loop.
          if (fresh) throw new ProtocolError("invalid compressed data", CLOSE_INVALID_DATA);
          // The message ended with the stream (deflateRawSync's output, for
          // one): the 4 bytes appended are no block of their own (their
          // block header is in the byte the sender kept), so drop them.
          if (trailer && offset === 0) return;
        }
      }
    }
  }
}

// --- The extension -----------------------------------------------------------

/** Configuration of a negotiated {@link PerMessageDeflate}, from the local endpoint's view. */
export interface PerMessageDeflateConfig {
  /** The peer starts each message with an empty window. */
  remoteNoContextTakeover: boolean;
  /** This endpoint starts each message with an empty window. */
  localNoContextTakeover: boolean;
  /** The peer's window: 8 to 15 bits. */
  remoteMaxWindowBits: number;
  /** This endpoint's window: 8 to 15 bits. */
  localMaxWindowBits: number;
  /** zlib settings for compression. Default: zlib's defaults. */
  compressSettings?: CompressSettings;
}

/**
 * The permessage-deflate extension, active on one connection.
 *
 * Compresses every data message it sends (RSV1 set on its first frame) and
 * decompresses every message received with RSV1 set; messages received
 * without RSV1 pass through (RFC 7692 §6). Control frames are never
 * compressed.
 */
export class PerMessageDeflate implements Extension {
  /** `permessage-deflate`. */
  readonly name = PERMESSAGE_DEFLATE;
  /** Whether the peer resets its compression context after each message. */
  readonly remoteNoContextTakeover: boolean;
  /** Whether we reset our compression context after each message. */
  readonly localNoContextTakeover: boolean;
  /** The peer's LZ77 window, as a power of two (8 to 15): what we decompress with. */
  readonly remoteMaxWindowBits: number;
  /** Our LZ77 window, as a power of two (8 to 15): what we compress with. */
  readonly localMaxWindowBits: number;
  readonly #compressor: Compressor;
  readonly #decompressor: Decompressor;
  // A compressed message is being received: its continuation frames are compressed.
  #decodingMessage = false;
  // A message is being sent: its next frame is a continuation.
  #encodingMessage = false;

  constructor(config: PerMessageDeflateConfig) {
    checkWindowBits("remoteMaxWindowBits", config.remoteMaxWindowBits);
    checkWindowBits("localMaxWindowBits", config.localMaxWindowBits);
    const settings = checkCompressSettings(config.compressSettings);
    this.remoteNoContextTakeover = config.remoteNoContextTakeover;
    this.localNoContextTakeover = config.localNoContextTakeover;
    this.remoteMaxWindowBits = config.remoteMaxWindowBits;
    this.localMaxWindowBits = config.localMaxWindowBits;
    this.#compressor = new Compressor(
      config.localMaxWindowBits,
      config.localNoContextTakeover,
      settings,
    );
    this.#decompressor = new Decompressor(
      config.remoteMaxWindowBits,
      config.remoteNoContextTakeover,
    );
  }

  /**
   * Decompresses a frame received. Throws `ProtocolError` (1002) for RSV1 on
   * a control frame or a continuation frame, `ProtocolError` (1007) for data
   * that doesn't decompress, and `PayloadTooBig` as soon as the output would
   * exceed `maxSize` bytes, without producing more than `maxSize + 1`.
   */
  decode(frame: Frame, maxSize: number | null): Frame {
    const opcode = frame.opcode;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      // RFC 7692 §6: a message without RSV1 isn't compressed.
      if (!frame.rsv1) return frame;
      if (this.#decodingMessage) {
        throw new ProtocolError(`expected a continuation frame, got ${OPCODE_NAMES[opcode]}`);
      }
      this.#decodingMessage = !frame.fin;
    } else {
      // RFC 7692 §6.1: RSV1 only on the first frame of a data message.
      if (frame.rsv1) {
        throw new ProtocolError(`RSV1 set on a ${OPCODE_NAMES[opcode]} frame`);
      }
      if (opcode !== OP_CONT || !this.#decodingMessage) return frame;
      if (frame.fin) this.#decodingMessage = false;
    }
    const data = this.#decompressor.decompress(frame.data, frame.fin, maxSize);
    return new Frame(opcode, data, frame.fin, false, frame.rsv2, frame.rsv3);
  }

  /**
   * Compresses a data frame to send: RSV1 on the first frame of a message,
   * the same DEFLATE stream for its continuation frames. Control frames
   * pass through.
   */
  encode(frame: Frame): Frame {
    const opcode = frame.opcode;
    let rsv1: boolean;
    if (opcode === OP_TEXT || opcode === OP_BINARY) {
      rsv1 = true;
    } else if (opcode === OP_CONT && this.#encodingMessage) {
      rsv1 = false;
    } else {
      return frame;
    }
    this.#encodingMessage = !frame.fin;
    const data = this.#compressor.compress(frame.data, frame.fin);
    return new Frame(opcode, data, frame.fin, rsv1, frame.rsv2, frame.rsv3);
  }

  /**
   * Frees the zlib streams between messages. With context takeover, keeps a
   * copy of each window (up to 2^bits bytes per direction) and rebuilds the
   * stream from it when the next message comes, so compression is unchanged.
   * Does nothing for a direction in the middle of a fragmented message.
   *
   * The I/O layer calls it on connections that are idle; calling it after
   * each message is correct too, only slower.
   */
  release(): void {
    this.#compressor.release();
    this.#decompressor.release();
  }

  /**
   * Memory held, for tests and measurements: whether each zlib stream exists
   * and the bytes allocated for the saved windows.
   */
  get memory(): {
    /** Whether the compressor's zlib stream exists. */
    compressor: boolean;
    /** Whether the decompressor's zlib stream exists. */
    decompressor: boolean;
    /** Bytes allocated for the windows kept between messages. */
    windowBytes: number;
  } {
    return {
      compressor: this.#compressor.active,
      decompressor: this.#decompressor.active,
      windowBytes: this.#compressor.windowBytes + this.#decompressor.windowBytes,
    };
  }

  /** `permessage-deflate(remote: ...; local: ...)`, for logs. */
  toString(): string {
    const side = (noContextTakeover: boolean, bits: number) =>
      `${bits} bits${noContextTakeover ? ", no context takeover" : ""}`;
    return (
      `${PERMESSAGE_DEFLATE}(remote: ${side(this.remoteNoContextTakeover, this.remoteMaxWindowBits)}; ` +
      `local: ${side(this.localNoContextTakeover, this.localMaxWindowBits)})`
    );
  }
}

// --- Negotiation -------------------------------------------------------------

function checkWindowBits(name: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 8 || bits > 15) {
    throw new RangeError(`${name} must be an integer between 8 and 15, got ${bits}`);
  }
}

function checkRange(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer between ${min} and ${max}, got ${value}`);
  }
}

function checkCompressSettings(settings: CompressSettings | undefined): CompressSettings {
  if (settings === undefined) return {};
  checkRange("compressSettings.level", settings.level, -1, 9);
  checkRange("compressSettings.memLevel", settings.memLevel, 1, 9);
  checkRange("compressSettings.strategy", settings.strategy, 0, zlibConstants.Z_FIXED);
  const { level, memLevel, strategy } = settings;
  const checked: CompressSettings = {};
  if (level !== undefined) checked.level = level;
  if (memLevel !== undefined) checked.memLevel = memLevel;
  if (strategy !== undefined) checked.strategy = strategy;
  return checked;
}

/** The four parameters of RFC 7692 §7.1; `true` is `client_max_window_bits` without a value. */
interface Parameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  clientMaxWindowBits: number | true | null;
}

function buildParameters(params: Parameters): ExtensionParameter[] {
  const result: ExtensionParameter[] = [];
  if (params.serverNoContextTakeover) result.push(["server_no_context_takeover", null]);
  if (params.clientNoContextTakeover) result.push(["client_no_context_takeover", null]);
  if (params.serverMaxWindowBits !== null) {
    result.push(["server_max_window_bits", String(params.serverMaxWindowBits)]);
  }
  if (params.clientMaxWindowBits === true) {
    result.push(["client_max_window_bits", null]);
  } else if (params.clientMaxWindowBits !== null) {
    result.push(["client_max_window_bits", String(params.clientMaxWindowBits)]);
  }
  return result;
}

// RFC 7692 §7.1.2: a decimal integer from 8 to 15, without leading zeros; null otherwise.
function parseWindowBits(value: string | null): number | null {
  return value !== null && /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : null;
}

// What's wrong with a parameter: the error is built only when thrown, so
// a server declining a flood of bad offers captures no stack traces.
type ParameterFault = () => NegotiationError;

/**
 * Reads the parameters of an offer (`offer` true: `client_max_window_bits`
 * may come without a value) or of a response; a fault when they're invalid.
 */
function readParameters(
  params: readonly ExtensionParameter[],
  offer: boolean,
): Parameters | ParameterFault {
  const result: Parameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    // RFC 7692 §7: a parameter appears at most once.
    if (seen.has(name)) return () => new DuplicateParameter(name);
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return () => new InvalidParameterValue(name, value);
        if (name === "server_no_context_takeover") result.serverNoContextTakeover = true;
        else result.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
      case "client_max_window_bits": {
        // RFC 7692 §7.1.2.2: client_max_window_bits without a value is
        // allowed in an offer only.
        const bits =
          offer && value === null && name === "client_max_window_bits"
            ? true
            : parseWindowBits(value);
        if (bits === null) return () => new InvalidParameterValue(name, value);
        if (name === "server_max_window_bits") result.serverMaxWindowBits = bits as number;
        else result.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 §7: an unknown parameter declines the offer / fails the response.
        return () => new InvalidParameterName(name);
    }
  }
  return result;
}

/** {@link readParameters}, throwing the fault. */
function extractParameters(params: readonly ExtensionParameter[], offer: boolean): Parameters {
  const result = readParameters(params, offer);
  if (typeof result === "function") throw result();
  return result;
}

/** Options of {@link ClientPerMessageDeflateFactory}, as in RFC 7692 §7.1. */
export interface ClientPerMessageDeflateOptions {
  /** Ask the server to start each message with an empty window. Default: `false`. */
  serverNoContextTakeover?: boolean;
  /** Start each message sent with an empty window, and say so. Default: `false`. */
  clientNoContextTakeover?: boolean;
  /** Ask the server to use at most this window, 8 to 15 bits; `null`: don't ask. Default: `null`. */
  serverMaxWindowBits?: number | null;
  /**
   * Use at most this window, 8 to 15 bits, and say so; `true`: offer the
   * parameter without a value, letting the server choose the client's window;
   * `null` or `false`: don't offer it (the server can't limit the window).
   * Default: `true`.
   */
  clientMaxWindowBits?: number | boolean | null;
  /** zlib settings for compression. Default: zlib's defaults. */
  compressSettings?: CompressSettings;
}

/**
 * Client side of permessage-deflate: offers it in the handshake request and
 * checks the server's answer.
 *
 * @example
 * ```ts
 * new ClientPerMessageDeflateFactory({ clientMaxWindowBits: 12, compressSettings: { memLevel: 5 } });
 * ```
 */
export class ClientPerMessageDeflateFactory implements ClientExtensionFactory {
  /** `permessage-deflate`. */
  readonly name = PERMESSAGE_DEFLATE;
  /** `server_no_context_takeover`: ask or require the server to reset its context per message. */
  readonly serverNoContextTakeover: boolean;
  /** `client_no_context_takeover`: the client resets its context per message. */
  readonly clientNoContextTakeover: boolean;
  /** `server_max_window_bits`: the server's window (8 to 15), or `null` for the default. */
  readonly serverMaxWindowBits: number | null;
  /**
   * `client_max_window_bits`: the client's window (8 to 15), `true` to
   * offer the parameter without a value, or `null` not to offer it.
   */
  readonly clientMaxWindowBits: number | true | null;
  /** zlib settings of the compressor. */
  readonly compressSettings: CompressSettings;

  /** @throws RangeError for a value out of range; Error if {@link isPermessageDeflateSupported} is false. */
  constructor(options: ClientPerMessageDeflateOptions = {}) {
    const serverMaxWindowBits = options.serverMaxWindowBits ?? null;
    // undefined is the default, true; null turns the parameter off.
    const clientMaxWindowBits =
      options.clientMaxWindowBits === undefined ? true : options.clientMaxWindowBits;
    if (serverMaxWindowBits !== null) checkWindowBits("serverMaxWindowBits", serverMaxWindowBits);
    if (typeof clientMaxWindowBits === "number") {
      checkWindowBits("clientMaxWindowBits", clientMaxWindowBits);
    }
    this.compressSettings = checkCompressSettings(options.compressSettings);
    if (!isPermessageDeflateSupported()) {
      throw new Error("permessage-deflate isn't supported by this runtime's zlib");
    }
    this.serverNoContextTakeover = options.serverNoContextTakeover ?? false;
    this.clientNoContextTakeover = options.clientNoContextTakeover ?? false;
    this.serverMaxWindowBits = serverMaxWindowBits;
    this.clientMaxWindowBits = clientMaxWindowBits === false ? null : clientMaxWindowBits;
  }

  getRequestParams(): ExtensionParameter[] {
    return buildParameters(this);
  }

  /**
   * Checks the server's answer against the offer (RFC 7692 §7.1) and builds
   * the extension. Throws `NegotiationError` (or a subclass) when the server
   * answers a parameter it may not or a value out of what was offered.
   */
  processResponseParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): PerMessageDeflate {
    if (accepted.some((extension) => extension.name === PERMESSAGE_DEFLATE)) {
      throw new NegotiationError(`received duplicate ${PERMESSAGE_DEFLATE}`);
    }
    const response = extractParameters(params, false);

    // RFC 7692 §7.1.1.1: the server may add server_no_context_takeover, and
    // must keep it when asked.
    if (this.serverNoContextTakeover && !response.serverNoContextTakeover) {
      throw new NegotiationError("expected server_no_context_takeover");
    }

    // RFC 7692 §7.1.1.2: the server may add client_no_context_takeover;
    // when the client offered it, the client applies it anyway.
    const clientNoContextTakeover =
      response.clientNoContextTakeover || this.clientNoContextTakeover;

    // RFC 7692 §7.1.2.1: the server may add server_max_window_bits; when
    // asked, it must answer a value no larger.
    if (this.serverMaxWindowBits !== null) {
      if (response.serverMaxWindowBits === null) {
        throw new NegotiationError("expected server_max_window_bits");
      }
      if (response.serverMaxWindowBits > this.serverMaxWindowBits) {
        throw new NegotiationError(
          `unsupported server_max_window_bits: ${response.serverMaxWindowBits}, ` +
            `offered ${this.serverMaxWindowBits}`,
        );
      }
    }

    // RFC 7692 §7.1.2.2: the server may answer client_max_window_bits only
    // if the client offered it, with a value no larger than offered.
    let clientMaxWindowBits = response.clientMaxWindowBits as number | null;
    if (this.clientMaxWindowBits === null) {
      if (clientMaxWindowBits !== null) {
        throw new NegotiationError(
          `unexpected client_max_window_bits: ${clientMaxWindowBits}, not offered`,
        );
      }
    } else if (this.clientMaxWindowBits !== true) {
      if (clientMaxWindowBits === null) {
        clientMaxWindowBits = this.clientMaxWindowBits;
      } else if (clientMaxWindowBits > this.clientMaxWindowBits) {
        throw new NegotiationError(
          `unsupported client_max_window_bits: ${clientMaxWindowBits}, ` +
            `offered ${this.clientMaxWindowBits}`,
        );
      }
    }

    return new PerMessageDeflate({
      remoteNoContextTakeover: response.serverNoContextTakeover,
      localNoContextTakeover: clientNoContextTakeover,
      remoteMaxWindowBits: response.serverMaxWindowBits ?? 15,
      localMaxWindowBits: clientMaxWindowBits ?? 15,
      compressSettings: this.compressSettings,
    });
  }
}

/** Options of {@link ServerPerMessageDeflateFactory}, as in RFC 7692 §7.1. */
export interface ServerPerMessageDeflateOptions {
  /** Start each message sent with an empty window, and say so. Default: `false`. */
  serverNoContextTakeover?: boolean;
  /** Require the client to start each message with an empty window. Default: `false`. */
  clientNoContextTakeover?: boolean;
  /**
   * Use at most this window, 8 to 15 bits, and say so; `null`: 15, or
   * what the client asks for. Default: `null`; the helper uses 12.
   */
  serverMaxWindowBits?: number | null;
  /**
   * Limit the client's window to this, 8 to 15 bits, if the client offers
   * `client_max_window_bits`; `null`: don't limit it. Default: `null`; the
   * helper uses 12.
   */
  clientMaxWindowBits?: number | null;
  /**
   * Decline offers without `client_max_window_bits` (the client can't limit
   * its window). Needs `clientMaxWindowBits`. Default: `false`.
   */
  requireClientMaxWindowBits?: boolean;
  /** zlib settings for compression. Default: zlib's defaults. */
  compressSettings?: CompressSettings;
}

/**
 * Server side of permessage-deflate: answers a client's offer, or declines it
 * (returns `null`), in which case the server tries the client's next offer.
 *
 * @example
 * ```ts
 * new ServerPerMessageDeflateFactory({ serverMaxWindowBits: 12, clientMaxWindowBits: 12 });
 * ```
 */
export class ServerPerMessageDeflateFactory implements ServerExtensionFactory {
  /** `permessage-deflate`. */
  readonly name = PERMESSAGE_DEFLATE;
  /** `server_no_context_takeover`: ask or require the server to reset its context per message. */
  readonly serverNoContextTakeover: boolean;
  /** `client_no_context_takeover`: the client resets its context per message. */
  readonly clientNoContextTakeover: boolean;
  /** `server_max_window_bits`: the server's window (8 to 15), or `null` for the default. */
  readonly serverMaxWindowBits: number | null;
  /** `client_max_window_bits`: the client's window (8 to 15), or `null` for the client's choice. */
  readonly clientMaxWindowBits: number | null;
  /** Refuse clients that don't offer `client_max_window_bits`. */
  readonly requireClientMaxWindowBits: boolean;
  /** zlib settings of the compressor. */
  readonly compressSettings: CompressSettings;

  /** @throws RangeError for a value out of range or `requireClientMaxWindowBits` without `clientMaxWindowBits`. */
  constructor(options: ServerPerMessageDeflateOptions = {}) {
    const serverMaxWindowBits = options.serverMaxWindowBits ?? null;
    const clientMaxWindowBits = options.clientMaxWindowBits ?? null;
    if (serverMaxWindowBits !== null) checkWindowBits("serverMaxWindowBits", serverMaxWindowBits);
    if (clientMaxWindowBits !== null) checkWindowBits("clientMaxWindowBits", clientMaxWindowBits);
    const requireClientMaxWindowBits = options.requireClientMaxWindowBits ?? false;
    if (requireClientMaxWindowBits && clientMaxWindowBits === null) {
      throw new RangeError("requireClientMaxWindowBits needs clientMaxWindowBits");
    }
    this.compressSettings = checkCompressSettings(options.compressSettings);
    this.serverNoContextTakeover = options.serverNoContextTakeover ?? false;
    this.clientNoContextTakeover = options.clientNoContextTakeover ?? false;
    this.serverMaxWindowBits = serverMaxWindowBits;
    this.clientMaxWindowBits = clientMaxWindowBits;
    this.requireClientMaxWindowBits = requireClientMaxWindowBits;
  }

  /**
   * Answers one offer (RFC 7692 §7.1): the response parameters and the
   * extension, or `null` to decline it (a duplicate, invalid parameters,
   * no `client_max_window_bits` when required, no zlib support). Declining
   * throws nothing: a request may carry thousands of offers.
   */
  processRequestParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): [ExtensionParameter[], PerMessageDeflate] | null {
    if (accepted.some((extension) => extension.name === PERMESSAGE_DEFLATE)) return null;
    if (!isPermessageDeflateSupported()) return null;
    const offer = readParameters(params, true);
    if (typeof offer === "function") return null;

    // RFC 7692 §7.1.1.1, §7.1.1.2: the server may add either
    // no_context_takeover parameter, and accepts them when offered.
    const serverNoContextTakeover = offer.serverNoContextTakeover || this.serverNoContextTakeover;
    const clientNoContextTakeover = offer.clientNoContextTakeover || this.clientNoContextTakeover;

    // RFC 7692 §7.1.2.1: answer the offered value or a smaller one; the
    // server may also limit its window without being asked.
    let serverMaxWindowBits = offer.serverMaxWindowBits;
    if (this.serverMaxWindowBits !== null) {
      if (serverMaxWindowBits === null || serverMaxWindowBits > this.serverMaxWindowBits) {
        serverMaxWindowBits = this.serverMaxWindowBits;
      }
    }

    // RFC 7692 §7.1.2.2: client_max_window_bits may be answered only if
    // offered; without a value in the offer, the server picks one or none.
    let clientMaxWindowBits: number | null;
    if (offer.clientMaxWindowBits === null) {
      if (this.requireClientMaxWindowBits) return null;
      clientMaxWindowBits = null;
    } else if (offer.clientMaxWindowBits === true) {
      clientMaxWindowBits = this.clientMaxWindowBits;
    } else if (this.clientMaxWindowBits !== null) {
      clientMaxWindowBits = Math.min(offer.clientMaxWindowBits, this.clientMaxWindowBits);
    } else {
      // The client limits its window by itself; saying it again is harmless.
      clientMaxWindowBits = offer.clientMaxWindowBits;
    }

    const response = buildParameters({
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits,
      clientMaxWindowBits,
    });
    const extension = new PerMessageDeflate({
      remoteNoContextTakeover: clientNoContextTakeover,
      localNoContextTakeover: serverNoContextTakeover,
      remoteMaxWindowBits: clientMaxWindowBits ?? 15,
      localMaxWindowBits: serverMaxWindowBits ?? 15,
      compressSettings: this.compressSettings,
    });
    return [response, extension];
  }
}

/**
 * Adds permessage-deflate with the default settings to the client's
 * extension factories, unless one is already there (perhaps configured
 * otherwise): offer `client_max_window_bits` without a value and compress
 * with `memLevel` 5. Used for `compression: "deflate"`.
 *
 * When {@link isPermessageDeflateSupported} is false, returns the factories
 * unchanged: the connection works without compression.
 */
export function enableClientPermessageDeflate(
  extensions?: readonly ClientExtensionFactory[] | null,
): ClientExtensionFactory[] {
  const factories = [...(extensions ?? [])];
  if (factories.some((factory) => factory.name === PERMESSAGE_DEFLATE)) return factories;
  if (!isPermessageDeflateSupported()) return factories;
  factories.push(new ClientPerMessageDeflateFactory({ compressSettings: { memLevel: 5 } }));
  return factories;
}

/**
 * Adds permessage-deflate with the default settings to the server's
 * extension factories, unless one is already there: a 12-bit window for the
 * server and, when the client offers `client_max_window_bits`, for the
 * client, and `memLevel` 5. Used for `compression: "deflate"`.
 *
 * When {@link isPermessageDeflateSupported} is false, returns the factories
 * unchanged: the connection works without compression.
 */
export function enableServerPermessageDeflate(
  extensions?: readonly ServerExtensionFactory[] | null,
): ServerExtensionFactory[] {
  const factories = [...(extensions ?? [])];
  if (factories.some((factory) => factory.name === PERMESSAGE_DEFLATE)) return factories;
  if (!isPermessageDeflateSupported()) return factories;
  factories.push(
    new ServerPerMessageDeflateFactory({
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 12,
      compressSettings: { memLevel: 5 },
    }),
  );
  return factories;
}
