import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { applyMask, copyMasked, frameLent, lendFrameBuffer, releaseFrame } from "../src/masking.ts";
import { KEY } from "./support/wire.ts";

describe("applyMask", () => {
  it("matches a byte-by-byte XOR for every alignment, length and phase", () => {
    const backing = Buffer.alloc(300);
    for (let offset = 0; offset < 4; offset++) {
      // Past the word threshold (48), lengths whose words are a multiple of
      // the loop's unrolling (8) and every remainder after it.
      for (const length of [
        0, 1, 3, 4, 5, 47, 48, 49, 63, 64, 65, 80, 96, 97, 99, 100, 104, 128, 131, 200, 255,
      ]) {
        for (let phase = 0; phase < 4; phase++) {
          const region = backing.subarray(offset, offset + length);
          for (let i = 0; i < length; i++) region[i] = (i * 7 + offset) & 0xff;
          const expected = Buffer.from(region);
          for (let i = 0; i < length; i++) expected[i] ^= KEY[(phase + i) & 3];
          applyMask(region, 0, length, KEY, 0, phase);
          assert.deepEqual(region, expected, `offset ${offset} length ${length} phase ${phase}`);
        }
      }
    }
  });
});

describe("copyMasked", () => {
  it("matches a byte-by-byte XOR for every pair of alignments, length and phase", () => {
    const from = Buffer.alloc(300);
    const to = Buffer.alloc(300);
    for (let i = 0; i < from.length; i++) from[i] = (i * 13 + 5) & 0xff;
    // Same alignment on both sides takes the one-pass word loop, different
    // alignments the copy then mask in place; both past the threshold (48).
    for (let srcOffset = 0; srcOffset < 4; srcOffset++) {
      for (let dstOffset = 0; dstOffset < 4; dstOffset++) {
        for (const length of [0, 1, 2, 3, 5, 6, 7, 32, 47, 48, 49, 64, 67, 97, 131, 200, 255]) {
          for (let phase = 0; phase < 4; phase++) {
            to.fill(0xee);
            copyMasked(from, srcOffset, to, dstOffset, length, KEY, 0, phase);
            const expected = Buffer.alloc(300, 0xee);
            for (let i = 0; i < length; i++) {
              expected[dstOffset + i] = from[srcOffset + i] ^ KEY[(phase + i) & 3];
            }
            assert.deepEqual(
              to,
              expected,
              `src ${srcOffset} dst ${dstOffset} length ${length} phase ${phase}`,
            );
          }
        }
      }
    }
  });
});

describe("lendFrameBuffer and releaseFrame", () => {
  it("lends one buffer at a time and lends it again once released", () => {
    const a = lendFrameBuffer(70_000);
    assert.equal(a.length, 70_000);
    assert.equal(frameLent(), true);
    const b = lendFrameBuffer(70_000);
    assert.notEqual(b.buffer, a.buffer, "a lent buffer isn't lent again");
    releaseFrame(a);
    assert.equal(frameLent(), true, "only the last buffer lent comes back");
    releaseFrame(Buffer.alloc(70_000));
    releaseFrame(b);
    assert.equal(frameLent(), false);
    const c = lendFrameBuffer(5_000);
    assert.equal(c.buffer, b.buffer);
    assert.equal(c.length, 5_000);
    releaseFrame(c);
    const d = lendFrameBuffer(80_000);
    assert.notEqual(d.buffer, b.buffer, "a larger frame gets a larger buffer");
    releaseFrame(d);
  });

  it("allocates frames over 1 MiB each time", () => {
    const big = lendFrameBuffer(2 * 1024 * 1024);
    assert.equal(frameLent(), false);
    releaseFrame(big);
    assert.notEqual(lendFrameBuffer(2 * 1024 * 1024).buffer, big.buffer);
  });
});
