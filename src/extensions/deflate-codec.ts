/**
 * The compression side of permessage-deflate (RFC 7692 §7.2): zlib's raw
 * DEFLATE, one {@link Compressor} and one {@link Decompressor} per
 * connection.
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
import { PayloadTooBig, ProtocolError } from "../errors.ts";
import { CLOSE_INVALID_DATA } from "../frames.ts";

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
  /** Back to the state of a new stream (inflateReset/deflateReset), keeping its memory. */
  reset?(): void;
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

  /**
   * Makes the stream start afresh, with an empty window, as a new one
   * would, without freeing and reallocating zlib's memory; returns false if
   * the runtime's handle can't (the caller then closes it).
   */
  reset(): boolean {
    const handle = this.#handle;
    if (typeof handle.reset !== "function" || this.#engine.destroyed) return false;
    handle.reset();
    this.ended = false;
    return true;
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
export class Compressor extends ZlibDirection {
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
      // starts with an empty window; the next one gets a new stream (a
      // compressor is 100 KiB, and resetting one instead saved no CPU that
      // a paired measurement could tell from noise: docs/compression.md).
      if (this.noContextTakeover) this.closeStream();
    }
    return compressed;
  }
}

/** Decompresses the messages received in one direction. */
export class Decompressor extends ZlibDirection {
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
    if (fin && this.noContextTakeover) this.#endWithoutTakeover();
    return output.take();
  }

  /**
   * A message ended without context takeover: the next one starts with an
   * empty window. The stream is reset rather than freed: creating one costs
   * more than inflating a small message (12% of the server's CPU on 1 KiB
   * messages), and it is small (about 15 KiB with a 15-bit window). The
   * idle sweep frees it (`release()`), as it frees streams with context
   * takeover.
   */
  #endWithoutTakeover(): void {
    if (this.stream !== null && !this.stream.reset()) this.closeStream();
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
