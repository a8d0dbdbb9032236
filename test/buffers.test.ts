/**
 * FastBuffer (src/buffers.ts): Node's own Buffer class, which the frame
 * parser and serializer construct views with. What it must be for them: a
 * real Buffer over the given bytes, no copy.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FastBuffer } from "../src/buffers.ts";

describe("FastBuffer", () => {
  it("is Node's internal class behind Buffer: Buffer's prototype, Uint8Array's constructor", () => {
    assert.equal(typeof FastBuffer, "function");
    assert.notEqual(FastBuffer, Buffer);
    assert.equal(FastBuffer.name, "FastBuffer");
    // Instances are Buffers in every respect (same prototype), built without
    // Buffer's own constructor logic.
    assert.equal(FastBuffer.prototype, Buffer.prototype);
    assert.equal(Object.getPrototypeOf(FastBuffer), Uint8Array);
  });

  it("constructs a Buffer viewing the given range of the memory, without copying", () => {
    const backing = Buffer.from("..hello..", "latin1");
    const view = new FastBuffer(backing.buffer, backing.byteOffset + 2, 5);
    assert.ok(Buffer.isBuffer(view));
    assert.ok(view instanceof Buffer);
    assert.equal(view.length, 5);
    assert.equal(view.byteOffset, backing.byteOffset + 2);
    assert.equal(view.buffer, backing.buffer);
    assert.equal(view.toString("latin1"), "hello");
    assert.ok(view.equals(backing.subarray(2, 7)));
    // Shared memory, both ways.
    view[0] = 0x48;
    assert.equal(backing.toString("latin1"), "..Hello..");
    backing[6] = 0x21;
    assert.equal(view.toString("latin1"), "Hell!");
  });

  it("has Buffer's methods, and its views are Buffers too", () => {
    const view = new FastBuffer(new ArrayBuffer(8), 0, 8);
    view.writeUInt16BE(0x1234, 0);
    assert.equal(view.readUInt16BE(0), 0x1234);
    assert.equal(view.toString("hex"), "1234000000000000");
    assert.ok(Buffer.isBuffer(view.subarray(2, 4)));
    assert.equal(
      Buffer.concat([view.subarray(0, 2), Buffer.from([0xff])]).toString("hex"),
      "1234ff",
    );
  });

  it("throws RangeError for a range outside the memory", () => {
    assert.throws(() => new FastBuffer(new ArrayBuffer(4), 2, 3), RangeError);
  });
});
