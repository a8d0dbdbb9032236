/**
 * The JavaScript heap by object type, from a heap snapshot: what a process
 * keeps, object type by object type. `bench/echo-heap.ts` divides the
 * difference between two snapshots by the connections held; the flood
 * victim (test/helpers/flood-victim.ts) reports it so that `bench/floods.ts
 * --by-type` can say what a reset connection left behind, if anything.
 *
 * @module
 */

import { readFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";

/** Self size in bytes and object count, by `node type: constructor or function name`. */
export type HeapByType = Map<string, [bytes: number, count: number]>;

/** Writes a heap snapshot of this process and returns its breakdown by type (the file is deleted). */
export function snapshotByType(name = "snapshot"): HeapByType {
  const file = writeHeapSnapshot(join(tmpdir(), `heap-${process.pid}-${name}.heapsnapshot`));
  const snap = JSON.parse(readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  unlinkSync(file);
  const fields = snap.snapshot.meta.node_fields.length;
  const types = snap.snapshot.meta.node_types[0];
  const out: HeapByType = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields) {
    const type = types[snap.nodes[i]];
    // Strings are named by their content, closures by their function.
    const name = type.includes("string") ? "" : snap.strings[snap.nodes[i + 1]].slice(0, 60);
    const key = `${type}: ${name}`;
    const entry = out.get(key) ?? [0, 0];
    entry[0] += snap.nodes[i + 3];
    entry[1] += 1;
    out.set(key, entry);
  }
  return out;
}

/** One type's change between two snapshots. */
export interface TypeGrowth {
  type: string;
  bytes: number;
  count: number;
}

/** What grew or shrank from `before` to `after` by at least `minBytes`, largest growth first. */
export function growthByType(
  before: HeapByType,
  after: HeapByType,
  minBytes: number,
): TypeGrowth[] {
  const rows: TypeGrowth[] = [];
  for (const type of new Set([...before.keys(), ...after.keys()])) {
    const [bytes0, count0] = before.get(type) ?? [0, 0];
    const [bytes1, count1] = after.get(type) ?? [0, 0];
    const bytes = bytes1 - bytes0;
    if (Math.abs(bytes) >= minBytes) rows.push({ type, bytes, count: count1 - count0 });
  }
  return rows.sort((a, b) => b.bytes - a.bytes);
}
