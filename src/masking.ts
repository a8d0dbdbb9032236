/**
 * Masking (RFC 6455 §5.3): XOR with the 4-byte key, fast on large
 * payloads, the pool of random mask keys, and the buffer large masked
 * frames are built in.
 *
 * @module
 */

import { randomFillSync } from "node:crypto";
import { FastBuffer } from "./buffers.ts";
import { simdMasker } from "./masking-simd.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes a plain byte loop beats creating a typed-array view. */
const WORD_MASK_THRESHOLD = 48;
/**
 * From this many bytes, WebAssembly SIMD (masking-simd.ts) beats the word
 * loops, its two copies included.
 */
const SIMD_THRESHOLD = 1024;

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
  if (length >= SIMD_THRESHOLD) {
    const simd = simdMasker();
    if (simd !== null) {
      simd.copyMasked(buf, start, buf, start, length, littleEndianKey(key, keyOffset, phase & 3));
      return;
    }
  }
  let i = 0;
  if (length >= WORD_MASK_THRESHOLD) {
    const address = buf.byteOffset + start;
    // Bytes before the first 4-byte boundary.
    const head = (4 - (address & 3)) & 3;
    for (; i < head; i++) buf[start + i] ^= key[keyOffset + ((phase + i) & 3)];
    const words = (length - i) >>> 2;
    const word = keyWord(key, keyOffset, (phase + i) & 3);
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
 *
 * One pass on 32-bit words when source and destination share their
 * alignment (the usual case: payloads start at word boundaries of both);
 * otherwise a copy, then the words masked in place.
 */
export function copyMasked(
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
    // The key's bytes in locals, four bytes a turn: the small messages of
    // a chat or a game come through here, one per frame.
    const k0 = key[keyOffset + (phase & 3)];
    const k1 = key[keyOffset + ((phase + 1) & 3)];
    const k2 = key[keyOffset + ((phase + 2) & 3)];
    const k3 = key[keyOffset + ((phase + 3) & 3)];
    const quads = length & ~3;
    let i = 0;
    for (; i < quads; i += 4) {
      dst[dstStart + i] = src[srcStart + i] ^ k0;
      dst[dstStart + i + 1] = src[srcStart + i + 1] ^ k1;
      dst[dstStart + i + 2] = src[srcStart + i + 2] ^ k2;
      dst[dstStart + i + 3] = src[srcStart + i + 3] ^ k3;
    }
    if (i < length) dst[dstStart + i] = src[srcStart + i] ^ k0;
    if (i + 1 < length) dst[dstStart + i + 1] = src[srcStart + i + 1] ^ k1;
    if (i + 2 < length) dst[dstStart + i + 2] = src[srcStart + i + 2] ^ k2;
    return;
  }
  if (length >= SIMD_THRESHOLD) {
    const simd = simdMasker();
    if (simd !== null) {
      simd.copyMasked(
        src,
        srcStart,
        dst,
        dstStart,
        length,
        littleEndianKey(key, keyOffset, phase & 3),
      );
      return;
    }
  }
  const srcAddress = src.byteOffset + srcStart;
  const dstAddress = dst.byteOffset + dstStart;
  if (((srcAddress ^ dstAddress) & 3) !== 0) {
    // memcpy, then words in place: faster than a byte loop over two buffers.
    src.copy(dst, dstStart, srcStart, srcStart + length);
    applyMask(dst, dstStart, length, key, keyOffset, phase);
    return;
  }
  // Reading each word, masking it and writing it once costs about what
  // masking in place does, and saves the copy before it (bench/frames.ts,
  // parse 64 KiB masked; docs/decisions.md).
  let i = (4 - (dstAddress & 3)) & 3;
  for (let b = 0; b < i; b++) {
    dst[dstStart + b] = src[srcStart + b] ^ key[keyOffset + ((phase + b) & 3)];
  }
  const words = (length - i) >>> 2;
  const word = keyWord(key, keyOffset, (phase + i) & 3);
  const from = new Int32Array(src.buffer, srcAddress + i, words);
  const to = new Int32Array(dst.buffer, dstAddress + i, words);
  const unrolled = words & ~7;
  let w = 0;
  for (; w < unrolled; w += 8) {
    to[w] = from[w] ^ word;
    to[w + 1] = from[w + 1] ^ word;
    to[w + 2] = from[w + 2] ^ word;
    to[w + 3] = from[w + 3] ^ word;
    to[w + 4] = from[w + 4] ^ word;
    to[w + 5] = from[w + 5] ^ word;
    to[w + 6] = from[w + 6] ^ word;
    to[w + 7] = from[w + 7] ^ word;
  }
  for (; w < words; w++) to[w] = from[w] ^ word;
  i += words << 2;
  for (; i < length; i++) {
    dst[dstStart + i] = src[srcStart + i] ^ key[keyOffset + ((phase + i) & 3)];
  }
}

/** The key as one 32-bit word in memory order, starting at key byte `k`. */
function keyWord(key: Uint8Array, keyOffset: number, k: number): number {
  const word = littleEndianKey(key, keyOffset, k);
  return LITTLE_ENDIAN ? word : byteSwap(word);
}

/** The key as one 32-bit word in little-endian order (WebAssembly's), from key byte `k`. */
function littleEndianKey(key: Uint8Array, keyOffset: number, k: number): number {
  return (
    key[keyOffset + k] |
    (key[keyOffset + ((k + 1) & 3)] << 8) |
    (key[keyOffset + ((k + 2) & 3)] << 16) |
    (key[keyOffset + ((k + 3) & 3)] << 24)
  );
}

function byteSwap(word: number): number {
  return ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24);
}

// Mask keys come from a pool refilled with 4 KiB of CSPRNG output at a time
// (RFC 6455 §5.3: keys must be unpredictable), not one syscall per frame.
const MASK_POOL_SIZE = 4096;
export const maskPool = Buffer.allocUnsafe(MASK_POOL_SIZE);
let maskPoolOffset = MASK_POOL_SIZE;

export function nextMaskOffset(): number {
  if (maskPoolOffset === MASK_POOL_SIZE) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  const offset = maskPoolOffset;
  maskPoolOffset += 4;
  return offset;
}

// Large masked frames (a client's) are built in one buffer, reused while
// each frame's write completes at once: a fresh one per frame costs more in
// page faults and collections than the masking (docs/performance.md, "Hot
// paths"). Kept up to the default maxSize's frame.
const SPARE_MAX = 1024 * 1024 + 14;
let spare: ArrayBuffer | null = null;
let lent: ArrayBuffer | null = null;

/** A buffer of `size` bytes for a large masked frame, lent until {@link releaseFrame}. */
export function lendFrameBuffer(size: number): Buffer {
  if (size > SPARE_MAX) return Buffer.allocUnsafe(size);
  let memory = spare;
  // allocUnsafeSlow: an ArrayBuffer of its own, not zero-filled.
  if (memory === null || memory.byteLength < size) memory = Buffer.allocUnsafeSlow(size).buffer;
  spare = null;
  lent = memory;
  return new FastBuffer(memory, 0, size);
}

/** Whether a frame's buffer is lent (see {@link releaseFrame}). */
export function frameLent(): boolean {
  return lent !== null;
}

/**
 * Takes back the buffer lent to `buf`'s frame, once nothing refers to the
 * frame any more (it is in the kernel): the next large masked frame is
 * built in it. Any other buffer is ignored.
 */
export function releaseFrame(buf: Buffer): void {
  if (buf.buffer === lent) {
    spare = lent;
    lent = null;
  }
}
