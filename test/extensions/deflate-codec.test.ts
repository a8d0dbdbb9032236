import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { PayloadTooBig, ProtocolError } from "../../src/errors.ts";
import {
  Compressor,
  Decompressor,
  isPermessageDeflateSupported,
} from "../../src/extensions/deflate-codec.ts";

describe("runtime support", () => {
  test("drives zlib synchronously on this Node version", () => {
    // Guard: permessage-deflate relies on zlib internals (docs/compression.md).
    // If a Node upgrade changes them, this fails before users see no compression.
    assert.equal(isPermessageDeflateSupported(), true);
  });
});

describe("Compressor and Decompressor", () => {
  test("compress RFC 7692's sample without the trailing empty stored block", () => {
    // RFC 7692 §7.2.3.1: "Hello" in one compressed frame.
    const compressed = new Compressor(15, false, {}).compress(Buffer.from("Hello"), true);
    assert.deepEqual(compressed, Buffer.from([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
  });

  test("round-trip messages sharing a window, across releases of both streams", () => {
    const compressor = new Compressor(10, false, {});
    const decompressor = new Decompressor(10, false);
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const message = Buffer.from(`the same words again and again, message ${i}`);
      const compressed = compressor.compress(message, true);
      sizes.push(compressed.length);
      assert.deepEqual(decompressor.decompress(compressed, true, null), message);
      // An idle connection frees its zlib streams and keeps the window.
      compressor.release();
      decompressor.release();
      assert.equal(compressor.active, false);
      assert.equal(decompressor.active, false);
      assert.ok(compressor.windowBytes > 0);
    }
    // The window carried over: later messages refer back to the first one.
    assert.ok(sizes[1] < sizes[0], `sizes ${sizes.join(", ")}`);
  });

  test("round-trip a message compressed frame by frame", () => {
    const compressor = new Compressor(15, true, {});
    const decompressor = new Decompressor(15, true);
    const parts = ["first part, ", "second part, ", "last part"].map((text) => Buffer.from(text));
    const received = parts.map((part, i) =>
      decompressor.decompress(compressor.compress(part, i === 2), i === 2, null),
    );
    assert.equal(Buffer.concat(received).toString(), "first part, second part, last part");
    // Without context takeover, the compressor's stream ends with its
    // message; the decompressor's is reset and kept until release().
    assert.equal(compressor.active, false);
    assert.equal(decompressor.active, true);
    decompressor.release();
    assert.equal(decompressor.active, false);
  });

  test("without context takeover, the kept decompressor starts each message with an empty window", () => {
    // A compressor with context takeover makes the second message refer
    // back to the first: a decompressor that kept its window would accept it.
    const compressor = new Compressor(15, false, {});
    const decompressor = new Decompressor(15, true);
    const text = Buffer.from("the same sentence, twice over, the same sentence");
    assert.deepEqual(decompressor.decompress(compressor.compress(text, true), true, null), text);
    assert.equal(decompressor.active, true);
    const second = compressor.compress(text, true);
    assert.throws(
      () => decompressor.decompress(second, true, null),
      (error: unknown) => error instanceof ProtocolError && error.closeCode === 1007,
    );
    // A message that stands alone still decodes after the failure.
    const alone = new Compressor(15, true, {}).compress(text, true);
    assert.deepEqual(decompressor.decompress(alone, true, null), text);
  });

  test("stop decompressing at the limit", () => {
    const compressed = new Compressor(15, true, {}).compress(Buffer.alloc(100_000), true);
    const decompressor = new Decompressor(15, true);
    assert.throws(() => decompressor.decompress(compressed, true, 1000), PayloadTooBig);
    assert.equal(decompressor.active, false);
  });

  test("fail with 1007 on data that isn't DEFLATE", () => {
    const decompressor = new Decompressor(15, false);
    assert.throws(
      () => decompressor.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff]), true, null),
      (error: unknown) => error instanceof ProtocolError && error.closeCode === 1007,
    );
  });
});
