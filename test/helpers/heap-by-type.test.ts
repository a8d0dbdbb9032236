import { strict as assert } from "node:assert";
import { test } from "node:test";
import { growthByType, type HeapByType, snapshotByType } from "./heap-by-type.ts";

class HeapByTypeProbe {
  constructor(readonly index: number) {}
}

test("snapshotByType counts the objects of a class by its name", () => {
  const kept = Array.from({ length: 1000 }, (_, i) => new HeapByTypeProbe(i));
  const types = snapshotByType("probe");
  const [bytes, count] = types.get("object: HeapByTypeProbe") ?? [0, 0];
  assert.equal(count, kept.length);
  assert.ok(bytes >= 1000 * 16, `${bytes} bytes for 1000 objects`);
});

test("growthByType lists what moved by at least the threshold, largest growth first", () => {
  const before: HeapByType = new Map([
    ["object: Kept", [1000, 10]],
    ["object: Freed", [5000, 50]],
    ["code: (code for f)", [100, 1]],
  ]);
  const after: HeapByType = new Map([
    ["object: Kept", [1010, 10]],
    ["code: (code for f)", [4100, 3]],
    ["object: New", [2048, 8]],
  ]);
  assert.deepEqual(growthByType(before, after, 1024), [
    { type: "code: (code for f)", bytes: 4000, count: 2 },
    { type: "object: New", bytes: 2048, count: 8 },
    { type: "object: Freed", bytes: -5000, count: -50 },
  ]);
});
