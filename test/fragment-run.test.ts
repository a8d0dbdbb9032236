import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  canMerge,
  FragmentMerger,
  FragmentRun,
  KEEP_FRAGMENTS,
  MERGE_AT_MOST,
  RUN_CAPACITY,
} from "../src/fragment-run.ts";
import { Frame, OP_BINARY, OP_CONT, OP_PING, OP_TEXT } from "../src/frames.ts";
import { Headers } from "../src/headers.ts";
import type { Request } from "../src/http11.ts";

const bytes = (size: number, fill = 0x61): Buffer => Buffer.alloc(size, fill);

describe("canMerge", () => {
  it("merges a small continuation into a small unfinished data frame", () => {
    for (const opcode of [OP_TEXT, OP_BINARY, OP_CONT] as const) {
      assert.equal(
        canMerge(new Frame(opcode, bytes(1), false), new Frame(OP_CONT, bytes(1))),
        true,
      );
    }
    const empty = new Frame(OP_BINARY, Buffer.alloc(0), false);
    assert.equal(canMerge(empty, new Frame(OP_CONT, Buffer.alloc(0), false)), true);
  });

  it("doesn't merge a new message, a finished frame, a control frame or a large payload", () => {
    const small = new Frame(OP_BINARY, bytes(1), false);
    assert.equal(canMerge(small, new Frame(OP_BINARY, bytes(1))), false);
    assert.equal(
      canMerge(new Frame(OP_BINARY, bytes(1), true), new Frame(OP_CONT, bytes(1))),
      false,
    );
    assert.equal(canMerge(new Frame(OP_PING, bytes(1), true), new Frame(OP_CONT, bytes(1))), false);
    assert.equal(canMerge(small, new Frame(OP_CONT, bytes(MERGE_AT_MOST + 1))), false);
    const large = new Frame(OP_BINARY, bytes(MERGE_AT_MOST + 1), false);
    assert.equal(canMerge(large, new Frame(OP_CONT, bytes(1))), false);
    assert.equal(canMerge(small, new Frame(OP_CONT, bytes(MERGE_AT_MOST))), true);
  });
});

describe("FragmentRun", () => {
  it("gives the first frame every payload in order and the last fin", () => {
    const first = new Frame(OP_TEXT, Buffer.from("ab"), false);
    const run = new FragmentRun(first, new Frame(OP_CONT, Buffer.from("c"), false));
    assert.equal(run.add(new Frame(OP_CONT, Buffer.alloc(0), false)), true);
    assert.equal(run.add(new Frame(OP_CONT, Buffer.from("def"), true)), true);
    // Nothing is merged after the last fragment of the message.
    assert.equal(run.add(new Frame(OP_CONT, Buffer.from("g"))), false);
    run.finish();
    assert.equal(run.frame, first);
    assert.equal(first.opcode, OP_TEXT);
    assert.equal(first.data.toString(), "abcdef");
    assert.equal(first.fin, true);
  });

  it("copies payloads: the frames merged may be views of a reused buffer", () => {
    const chunk = Buffer.from("xy");
    const first = new Frame(OP_BINARY, chunk.subarray(0, 1), false);
    const run = new FragmentRun(first, new Frame(OP_CONT, chunk.subarray(1, 2), false));
    chunk.fill(0);
    run.finish();
    assert.equal(first.data.toString(), "xy");
    assert.equal(first.fin, false);
  });

  it("merges empty fragments without allocating", () => {
    const first = new Frame(OP_BINARY, Buffer.alloc(0), false);
    const run = new FragmentRun(first, new Frame(OP_CONT, Buffer.alloc(0), false));
    for (let i = 0; i < 1000; i++) run.add(new Frame(OP_CONT, Buffer.alloc(0), false));
    run.finish();
    assert.equal(first.data.length, 0);
    assert.equal(first.data.buffer.byteLength, 0);
  });

  it("refuses a large payload, and stops at its capacity", () => {
    const first = new Frame(OP_BINARY, bytes(MERGE_AT_MOST), false);
    const run = new FragmentRun(first, new Frame(OP_CONT, bytes(MERGE_AT_MOST, 0x62), false));
    assert.equal(run.add(new Frame(OP_CONT, bytes(MERGE_AT_MOST + 1), false)), false);
    let merged = 2;
    while (run.add(new Frame(OP_CONT, bytes(MERGE_AT_MOST, 0x63), false))) merged++;
    assert.equal(merged, RUN_CAPACITY / MERGE_AT_MOST);
    // Full to the byte: not even one more byte fits.
    assert.equal(run.add(new Frame(OP_CONT, bytes(1), false)), false);
    run.finish();
    assert.equal(first.data.length, RUN_CAPACITY);
    assert.equal(first.data[MERGE_AT_MOST], 0x62);
    assert.equal(first.data[RUN_CAPACITY - 1], 0x63);
  });
});

describe("FragmentMerger", () => {
  /** Pushes `count` 1-byte continuations through the merger, as Protocol does. */
  function push(merger: FragmentMerger, events: Frame[], count: number, fin = false): void {
    for (let i = 0; i < count; i++) {
      const frame = new Frame(OP_CONT, Buffer.from("b"), fin && i === count - 1);
      if (merger.merge(events, frame)) continue;
      merger.endRun();
      events.push(frame);
    }
  }

  it("keeps the first small fragments of a batch, then merges into the last event", () => {
    const merger = new FragmentMerger();
    const events = [new Frame(OP_BINARY, Buffer.from("a"), false)];
    push(merger, events, KEEP_FRAGMENTS + 10, true);
    merger.endBatch();
    assert.equal(events.length, 1 + KEEP_FRAGMENTS);
    assert.equal(events[KEEP_FRAGMENTS].data.toString(), "b".repeat(11));
    assert.equal(events[KEEP_FRAGMENTS].fin, true);
    assert.equal(
      events.slice(0, KEEP_FRAGMENTS).every((f) => !f.fin),
      true,
    );
  });

  it("starts over after endBatch, and never merges into something other than a frame", () => {
    const merger = new FragmentMerger();
    let events = [new Frame(OP_BINARY, Buffer.from("a"), false)];
    push(merger, events, KEEP_FRAGMENTS + 1);
    merger.endBatch();
    events = [new Frame(OP_CONT, Buffer.from("c"), false)];
    push(merger, events, 2);
    assert.equal(events.length, 3);
    // A handshake event is never merged into.
    const request: Request = { path: "/", headers: new Headers() };
    assert.equal(merger.merge([request], new Frame(OP_CONT, Buffer.from("d"))), false);
  });
});
