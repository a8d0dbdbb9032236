/**
 * Deterministic randomness for the fuzzer: input number `i` of a run with
 * seed `s` is always the same bytes, so a finding is reproduced by its seed
 * and index alone (`npm run fuzz -- <target> --seed s --from i --inputs 1`).
 *
 * @module
 */

/** A small, fast PRNG (splitmix32), seeded per input. */
export class Random {
  #state: number;

  constructor(seed: number, index = 0) {
    // Mixes the run's seed and the input's index into one 32-bit state.
    this.#state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index, 0xc2b2ae35)) >>> 0;
    this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A length skewed towards small values, up to `max`: most bugs need few bytes. */
  length(max: number): number {
    const bound = [4, 16, 64, 256, 4096, max][this.int(6)];
    return this.int(Math.min(bound, max) + 1);
  }

  /** `n` random bytes; beyond 256, a random 256-byte pattern repeated (cheaper, as good for parsers). */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    const unique = Math.min(n, 256);
    let i = 0;
    for (; i + 4 <= unique; i += 4) out.writeUInt32LE(this.next(), i);
    for (; i < unique; i++) out[i] = this.next() & 0xff;
    if (n > unique) out.fill(out.subarray(0, unique), unique);
    return out;
  }
}

// Bytes that sit on the boundaries of the formats fuzzed: lengths (125,
// 126, 127), flags, CR, LF, SP, HTAB, separators, UTF-8 lead bytes.
const INTERESTING = [
  0x00, 0x01, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0x8a, 0xff, 0x0d, 0x0a, 0x20, 0x09, 0x3a,
  0x3b, 0x2c, 0x3d, 0x22, 0x5c, 0xc0, 0xe0, 0xed, 0xf0, 0xf4, 0xf8, 0x40, 0x70,
];

/**
 * Applies 1 to 4 random edits to `input`: bit flips, interesting bytes,
 * insertions, deletions, duplications, truncation, splices from `donor`.
 * The result is at most `max` bytes.
 */
export function mutate(random: Random, input: Buffer, max: number, donor?: Buffer): Buffer {
  let out = Buffer.from(input);
  const edits = random.range(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = random.int(out.length + 1);
    switch (random.int(8)) {
      case 0:
        if (out.length > 0) out[random.int(out.length)] ^= 1 << random.int(8);
        break;
      case 1:
        if (out.length > 0) out[random.int(out.length)] = random.pick(INTERESTING);
        break;
      case 2:
        out = Buffer.concat([
          out.subarray(0, at),
          random.bytes(random.length(64)),
          out.subarray(at),
        ]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + random.length(64))]);
        break;
      case 4: {
        const start = random.int(out.length + 1);
        const piece = out.subarray(start, start + random.length(256));
        const copies = random.range(1, 8);
        const parts = [out.subarray(0, at)];
        for (let i = 0; i < copies; i++) parts.push(piece);
        parts.push(out.subarray(at));
        out = Buffer.concat(parts);
        break;
      }
      case 5:
        out = out.subarray(0, at);
        break;
      case 6:
        if (donor !== undefined && donor.length > 0) {
          const start = random.int(donor.length);
          const piece = donor.subarray(start, start + random.length(256));
          out = Buffer.concat([out.subarray(0, at), piece, out.subarray(at)]);
        }
        break;
      default:
        if (out.length > 0) {
          const start = random.int(out.length);
          random.bytes(Math.min(random.length(16), out.length - start)).copy(out, start);
        }
    }
    if (out.length > max) out = out.subarray(0, max);
  }
  return out;
}

/**
 * Cuts `data` into chunks, as a network would deliver it: whole, byte by
 * byte, or at random points.
 */
export function chunks(random: Random, data: Buffer): Buffer[] {
  const mode = random.int(4);
  if (mode === 0 || data.length < 2) return [data];
  if (mode === 1 && data.length <= 512) {
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; i++) out.push(data.subarray(i, i + 1));
    return out;
  }
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const size = random.range(1, Math.max(1, random.length(data.length)));
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}
