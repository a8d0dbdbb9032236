import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { applyMask, copyMasked } from "../src/masking.ts";
import { simdMasker } from "../src/masking-simd.ts";
import { KEY } from "./support/wire.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The RFC 6455 §5.3 definition, one byte at a time. */
function xorBytes(src: Uint8Array, phase: number): Buffer {
  const out = Buffer.from(src);
  for (let i = 0; i < out.length; i++) out[i] ^= KEY[(phase + i) & 3];
  return out;
}

function pattern(length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (i * 31 + seed) & 0xff;
  return buf;
}

// Around the SIMD threshold (1 KiB), the module's 64-byte steps and its
// 64 KiB blocks, and a payload of several blocks with a partial last one.
const LENGTHS = [1023, 1024, 1025, 1087, 4099, 65535, 65536, 65537, 200_003];

describe("simdMasker", () => {
  it("compiles on Node 20 and later, which have WebAssembly SIMD", () => {
    assert.notEqual(simdMasker(), null);
  });

  it("returns the same masker on every call", () => {
    assert.equal(simdMasker(), simdMasker());
  });
});

describe("SimdMasker.copyMasked through copyMasked", () => {
  it("matches a byte-by-byte XOR for every length, offset pair and phase", () => {
    for (const length of LENGTHS) {
      const from = pattern(length + 3, length);
      for (const [srcOffset, dstOffset] of [
        [0, 0],
        [2, 0],
        [3, 1],
      ]) {
        for (let phase = 0; phase < 4; phase++) {
          const to = Buffer.alloc(length + 8, 0xee);
          copyMasked(from, srcOffset, to, dstOffset, length, KEY, 0, phase);
          const expected = Buffer.alloc(length + 8, 0xee);
          xorBytes(from.subarray(srcOffset, srcOffset + length), phase).copy(expected, dstOffset);
          assert.ok(
            to.equals(expected),
            `length ${length} src ${srcOffset} dst ${dstOffset} phase ${phase}`,
          );
        }
      }
    }
  });

  it("reads the key at its offset in a larger buffer, as from the mask key pool", () => {
    const pool = Buffer.concat([Buffer.from([9, 9, 9]), KEY, Buffer.from([9])]);
    const from = pattern(5000, 1);
    const to = Buffer.allocUnsafe(5000);
    copyMasked(from, 0, to, 0, 5000, pool, 3, 2);
    assert.ok(to.equals(xorBytes(from, 2)));
  });
});

describe("SimdMasker.copyMasked through applyMask (in place)", () => {
  it("matches a byte-by-byte XOR and leaves the bytes around the range alone", () => {
    for (const length of LENGTHS) {
      for (const offset of [0, 1, 6]) {
        const phase = length & 3;
        const buf = pattern(length + 10, offset);
        const expected = Buffer.from(buf);
        xorBytes(buf.subarray(offset, offset + length), phase).copy(expected, offset);
        applyMask(buf, offset, length, KEY, 0, phase);
        assert.ok(buf.equals(expected), `length ${length} offset ${offset}`);
      }
    }
  });

  it("masking twice gives the payload back", () => {
    const payload = pattern(70_000, 5);
    const buf = Buffer.from(payload);
    applyMask(buf, 0, buf.length, KEY, 0, 0);
    assert.ok(!buf.equals(payload));
    applyMask(buf, 0, buf.length, KEY, 0, 0);
    assert.ok(buf.equals(payload));
  });
});

describe("masking without WebAssembly", () => {
  it("falls back to the JavaScript loops under --jitless, with the same bytes", () => {
    // --jitless turns WebAssembly off: simdMasker() is null and copyMasked
    // and applyMask take their word loops for a payload past the threshold.
    const script = `
      import { applyMask, copyMasked } from "./src/masking.ts";
      import { simdMasker } from "./src/masking-simd.ts";
      const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
      const from = Buffer.allocUnsafe(5001);
      for (let i = 0; i < from.length; i++) from[i] = (i * 31) & 0xff;
      const to = Buffer.allocUnsafe(5001);
      copyMasked(from, 0, to, 0, 5001, key, 0, 1);
      const again = Buffer.from(to);
      applyMask(again, 0, 5001, key, 0, 1);
      let xorOk = true;
      for (let i = 0; i < 5001; i++) if (to[i] !== (from[i] ^ key[(1 + i) & 3])) xorOk = false;
      process.stdout.write(JSON.stringify({ simd: simdMasker(), xorOk, back: again.equals(from) }));
    `;
    const out = execFileSync(
      process.execPath,
      ["--jitless", "--import", "tsx", "--input-type=module", "-e", script],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    assert.deepEqual(JSON.parse(out), { simd: null, xorOk: true, back: true });
  });
});
