/**
 * Masking of large payloads with WebAssembly SIMD: 16 bytes per XOR where
 * JavaScript does 4, on Node's own WebAssembly (no native addon).
 *
 * WebAssembly can only touch its own memory, so each block of the payload
 * is copied in, XORed there and copied out: two `memcpy`s, which run many
 * times faster than a JavaScript word loop, and a block of 64 KiB stays in
 * the CPU's cache between the three passes. Where WebAssembly or its SIMD
 * isn't available (`--jitless`, an old engine), {@link simdMasker} is null
 * and masking.ts keeps its JavaScript loops.
 *
 * @module
 */

/** Bytes of the payload handled per round trip through the module's memory. */
const BLOCK = 65536;
/**
 * Where a block starts in the module's memory. Not at 0: the memory is
 * page-aligned, like the large `Buffer`s Node allocates with `mmap`, and a
 * `memcpy` between addresses equal modulo 4 KiB stalls on false store-to-load
 * dependencies (4K aliasing): 1 MiB copied out of offset 0 ran at a tenth
 * of the speed of the same copy out of offset 1024.
 */
const BLOCK_OFFSET = 1024;
/** Memory pages of 64 KiB: the block, its offset and the rounding of its end. */
const PAGES = 2;

// The module, byte by byte (WebAssembly core spec 1.0 binary format, and the
// fixed-width SIMD proposal for the 0xfd opcodes). One function:
//
//   (func (export "mask") (param $p i32) (param $end i32) (param $key i32)
//     (local $k v128)
//     (local.set $k (i32x4.splat (local.get $key)))
//     (block (loop
//       (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))
//       ;; four times, at offsets 0, 16, 32, 48:
//       (v128.store offset=N (local.get $p)
//         (v128.xor (v128.load offset=N (local.get $p)) (local.get $k)))
//       (local.set $p (i32.add (local.get $p) (i32.const 64)))
//       (br 0))))
//
// XORs [p, end) in steps of 64 bytes: callers round `end` up, the bytes past
// the payload are scratch. Unrolled by four: one loop test per 64 bytes.

const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const I32X4_SPLAT = 0x11;
const V128_XOR = 0x51;
/** memarg alignment: 2^4 = 16 bytes (a hint; unaligned addresses still work). */
const ALIGN_16 = 0x04;

const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_GE_U = 0x4f;
const BLOCK_OP = 0x02;
const LOOP = 0x03;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;
const V128 = 0x7b;

// One instruction per line; locals 0-2 are the parameters, 3 is $k.
function xorStep(offset: number): number[][] {
  return [
    [LOCAL_GET, 0], // the store's address
    [LOCAL_GET, 0],
    [SIMD, V128_LOAD, ALIGN_16, offset],
    [LOCAL_GET, 3],
    [SIMD, V128_XOR],
    [SIMD, V128_STORE, ALIGN_16, offset],
  ];
}

const BODY = [
  [1, 1, V128], // one group of locals: one v128
  [LOCAL_GET, 2],
  [SIMD, I32X4_SPLAT],
  [LOCAL_SET, 3],
  [BLOCK_OP, VOID],
  [LOOP, VOID],
  [LOCAL_GET, 0],
  [LOCAL_GET, 1],
  [I32_GE_U],
  [BR_IF, 1],
  ...xorStep(0),
  ...xorStep(16),
  ...xorStep(32),
  ...xorStep(48),
  [LOCAL_GET, 0],
  [I32_CONST, 0xc0, 0x00], // 64, as a signed LEB128
  [I32_ADD],
  [LOCAL_SET, 0],
  [BR, 0],
  [END], // loop
  [END], // block
  [END], // function
].flat();

/** A section: its id, its size (every section here is under 128 bytes: one LEB byte), its content. */
function section(id: number, content: number[]): number[] {
  return [id, content.length, ...content];
}

function name(text: string): number[] {
  return [text.length, ...Array.from(text, (c) => c.charCodeAt(0))];
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"
const VERSION = [1, 0, 0, 0];

const MODULE = new Uint8Array([
  ...MAGIC,
  ...VERSION,
  ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]), // type: (i32, i32, i32) -> ()
  ...section(3, [1, 0]), // function 0 has type 0
  ...section(5, [1, 0x00, PAGES]), // one memory, PAGES pages, no maximum
  ...section(7, [2, ...name("memory"), 0x02, 0, ...name("mask"), 0x00, 0]),
  ...section(10, [1, BODY.length, ...BODY]),
]);

/** Masks through the module's memory. */
export class SimdMasker {
  readonly #memory: Uint8Array;
  readonly #mask: (p: number, end: number, key: number) => void;

  constructor(memory: Uint8Array, mask: (p: number, end: number, key: number) => void) {
    this.#memory = memory;
    this.#mask = mask;
  }

  /**
   * Copies `length` bytes of `src` from `srcStart` to `dst` at `dstStart`,
   * XORed with `key`: the 4-byte key as a little-endian word, already
   * rotated to the phase of the first byte. `src` and `dst` may be the
   * same range (masking in place).
   */
  copyMasked(
    src: Uint8Array,
    srcStart: number,
    dst: Uint8Array,
    dstStart: number,
    length: number,
    key: number,
  ): void {
    const memory = this.#memory;
    const mask = this.#mask;
    // Blocks are multiples of 4 bytes: every block starts at the same phase.
    for (let done = 0; done < length; done += BLOCK) {
      const n = Math.min(BLOCK, length - done);
      // Plain Uint8Array views: a Buffer's subarray() goes through its species.
      memory.set(new Uint8Array(src.buffer, src.byteOffset + srcStart + done, n), BLOCK_OFFSET);
      mask(BLOCK_OFFSET, BLOCK_OFFSET + ((n + 63) & ~63), key);
      dst.set(new Uint8Array(memory.buffer, memory.byteOffset + BLOCK_OFFSET, n), dstStart + done);
    }
  }
}

/** The part of the `WebAssembly` global used here (not in this project's `lib`). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

function instantiate(): SimdMasker | null {
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    const { exports } = new api.Instance(new api.Module(MODULE));
    // The memory never grows, so this view stays attached.
    const memory = new Uint8Array((exports.memory as { buffer: ArrayBuffer }).buffer);
    return new SimdMasker(memory, exports.mask as (p: number, end: number, key: number) => void);
  } catch {
    // No SIMD in this engine: the JavaScript loops remain.
    return null;
  }
}

/**
 * The SIMD masker of this thread, or null where WebAssembly SIMD is
 * unavailable. Compiled on first use: a process that never masks a large
 * payload never compiles it.
 */
export function simdMasker(): SimdMasker | null {
  if (state === undefined) state = instantiate();
  return state;
}

let state: SimdMasker | null | undefined;
