import { strict as assert } from "node:assert";
import { isUtf8 } from "node:buffer";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isValidUtf8, Utf8Validator } from "../src/utf8.ts";

// Oracle: `bytes` is the beginning of some valid UTF-8 text iff appending at
// most 3 well-chosen continuation bytes makes it valid. 0x80, 0x90 and 0xA0
// cover every second-byte range of RFC 3629 §4.
const COMPLETIONS: number[][] = [[]];
for (let k = 1; k <= 3; k++) {
  for (const prev of COMPLETIONS.filter((c) => c.length === k - 1)) {
    for (const b of [0x80, 0x90, 0xa0]) COMPLETIONS.push([...prev, b]);
  }
}
function isValidPrefix(bytes: Uint8Array): boolean {
  return COMPLETIONS.some((c) => isUtf8(Buffer.concat([bytes, Buffer.from(c)])));
}

function feedAll(pieces: Buffer[]): { ok: boolean; complete: boolean } {
  const v = new Utf8Validator();
  for (const piece of pieces) if (!v.push(piece)) return { ok: false, complete: false };
  return { ok: true, complete: v.complete };
}

const hex = (s: string) => Buffer.from(s.replace(/ /g, ""), "hex");

describe("Utf8Validator", () => {
  it("accepts a multi-byte character split at every position", () => {
    const text = Buffer.from("κόσμε 𝄞 €", "utf8");
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const r = feedAll([text.subarray(0, i), text.subarray(i, j), text.subarray(j)]);
        assert.deepEqual(r, { ok: true, complete: true }, `cut at ${i}, ${j}`);
      }
    }
  });

  it("reports an incomplete trailing sequence as not complete", () => {
    for (const prefix of ["c2", "e0 a0", "f0 90 80", "f4 8f bf"]) {
      assert.deepEqual(feedAll([hex(prefix)]), { ok: true, complete: false }, prefix);
    }
  });

  it("fails at once on bytes that can never start or continue a character", () => {
    // Unexpected continuation, C0/C1 leads, F5..FF.
    for (const bad of ["80", "bf", "c0", "c1", "f5", "f8", "fc", "fe", "ff"]) {
      const v = new Utf8Validator();
      assert.equal(v.push(hex(`41 ${bad}`)), false, bad);
    }
  });

  it("fails at once on a carried prefix that no continuation can fix", () => {
    // Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF: the second
    // byte alone makes them invalid, even when it arrives in its own piece.
    for (const [lead, second] of [
      ["e0", "9f"],
      ["ed", "a0"],
      ["f0", "8f"],
      ["f4", "90"],
    ]) {
      const v = new Utf8Validator();
      assert.equal(v.push(hex(lead)), true, lead);
      assert.equal(v.push(hex(second)), false, `${lead} ${second}`);
    }
    // And when both arrive in one piece, at its end.
    assert.equal(new Utf8Validator().push(hex("41 ed a0")), false);
  });

  it("fails on an ASCII byte where a continuation was expected", () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex("e2 82")), true);
    assert.equal(v.push(hex("41")), false);
  });

  it("validates again from scratch after reset()", () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex("e2 82")), true);
    v.reset();
    assert.equal(v.complete, true);
    assert.equal(v.push(hex("41")), true);
  });

  it("accepts an empty piece in any state", () => {
    const v = new Utf8Validator();
    assert.equal(v.push(Buffer.alloc(0)), true);
    assert.equal(v.push(hex("f0 9f")), true);
    assert.equal(v.push(Buffer.alloc(0)), true);
    assert.equal(v.push(hex("98 80")), true);
    assert.equal(v.complete, true);
  });

  // Bytes that exercise every class: ASCII, continuations, every lead range.
  const interesting = fc.constantFrom(
    0x00,
    0x41,
    0x7f,
    0x80,
    0x8f,
    0x90,
    0x9f,
    0xa0,
    0xbf,
    0xc0,
    0xc1,
    0xc2,
    0xdf,
    0xe0,
    0xe1,
    0xec,
    0xed,
    0xee,
    0xef,
    0xf0,
    0xf1,
    0xf3,
    0xf4,
    0xf5,
    0xf7,
    0xf8,
    0xfb,
    0xfc,
    0xfe,
    0xff,
  );
  const bytes = fc.oneof(
    fc.array(interesting, { maxLength: 24 }),
    fc.string({ unit: "binary", maxLength: 12 }).map((s) => [...Buffer.from(s, "utf8")]),
    fc
      .tuple(
        fc.string({ unit: "binary", maxLength: 8 }),
        fc.array(interesting, { maxLength: 3 }),
        fc.string({ unit: "binary", maxLength: 8 }),
      )
      .map(([a, mid, b]) => [...Buffer.from(a), ...mid, ...Buffer.from(b)]),
  );

  it("agrees with buffer.isUtf8 on random splits (property)", () => {
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(30), { maxLength: 4 }), (arr, cuts) => {
        const data = Buffer.from(arr);
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let start = 0;
        for (const p of points) {
          if (p > start && p < data.length) {
            pieces.push(data.subarray(start, p));
            start = p;
          }
        }
        pieces.push(data.subarray(start));
        const r = feedAll(pieces);
        assert.equal(r.ok && r.complete, isUtf8(data));
      }),
      { numRuns: 3000 },
    );
  });

  it("fails at exactly the first byte after which no valid text is possible (property)", () => {
    fc.assert(
      fc.property(bytes, (arr) => {
        const v = new Utf8Validator();
        for (let i = 0; i < arr.length; i++) {
          const ok = v.push(Buffer.from([arr[i]]));
          assert.equal(ok, isValidPrefix(Buffer.from(arr.slice(0, i + 1))), `byte ${i} of ${arr}`);
          if (!ok) return;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("isValidUtf8", () => {
  it("validates whole payloads", () => {
    assert.equal(isValidUtf8(Buffer.from("héllo")), true);
    assert.equal(isValidUtf8(hex("ed a0 80")), false);
  });
});
