import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { Frame, OP_BINARY, OP_TEXT } from "../../src/frames.ts";
import { Fragments } from "../../src/node/fragments.ts";

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe("Fragments", () => {
  it("reads back every fragment's bytes in order, whatever their sizes", () => {
    // Empty, small, straddling a 16 KiB block, large, small again.
    const sizes = [0, 1, 7, 0, 16_000, 900, 20_000, 0, 3, 70_000, 1, 16_384, 5];
    const parts = sizes.map((size, i) => bytes(size, i));
    const fragments = new Fragments(new Frame(OP_BINARY, parts[0], false));
    for (const part of parts.slice(1)) fragments.push(part);
    const expected = Buffer.concat(parts);
    assert.equal(fragments.size, expected.length);
    assert.ok(fragments.take().equals(expected));
    assert.equal(fragments.text, false);
  });

  it("tells a text message by its first frame", () => {
    const fragments = new Fragments(new Frame(OP_TEXT, Buffer.from("caf"), false));
    fragments.push(Buffer.from("é"));
    assert.equal(fragments.text, true);
    assert.equal(fragments.take().toString(), "café");
  });

  it("reads back an empty Buffer for a message of empty fragments", () => {
    const fragments = new Fragments(new Frame(OP_BINARY, Buffer.alloc(0), false));
    for (let i = 0; i < 1000; i++) fragments.push(Buffer.alloc(0));
    assert.equal(fragments.size, 0);
    assert.equal(fragments.take().length, 0);
  });

  it("copies small fragments, so it doesn't pin the buffers they are views of", () => {
    const chunk = bytes(64 * 1024, 1);
    const fragments = new Fragments(new Frame(OP_BINARY, chunk.subarray(0, 1), false));
    fragments.push(chunk.subarray(100, 102));
    chunk.fill(0);
    const message = fragments.take();
    assert.deepEqual([...message], [bytes(1, 1)[0], bytes(102, 1)[100], bytes(102, 1)[101]]);
    assert.notEqual(message.buffer, chunk.buffer);
  });

  it("keeps a large fragment as it is, without copying it", () => {
    const large = bytes(100_000, 2);
    const fragments = new Fragments(new Frame(OP_BINARY, large, false));
    fragments.push(Buffer.alloc(0));
    assert.equal(fragments.take(), large);
  });
});
