import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeEnvelope,
  ENVELOPE_HEADER,
  encodeEnvelope,
  GapDetector,
  newNodeId,
  Sequences,
} from "../../src/node/backplane.ts";

describe("envelope", () => {
  it("round-trips text and binary payloads with the node id and sequence number", () => {
    const node = newNodeId();
    for (const [payload, binary] of [
      [Buffer.from("héllo"), false],
      [Buffer.from([0, 0xff, 0x80, 0]), true],
      [Buffer.alloc(0), false],
      [Buffer.alloc(0), true],
    ] as const) {
      for (const seq of [1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
        const envelope = encodeEnvelope(node, seq, payload, binary);
        assert.equal(envelope.length, ENVELOPE_HEADER + payload.length);
        const decoded = decodeEnvelope(envelope);
        assert.ok(typeof decoded !== "string", String(decoded));
        assert.equal(decoded.node, node.toString("hex"));
        assert.equal(decoded.seq, seq);
        assert.equal(decoded.binary, binary);
        assert.deepEqual(decoded.payload, payload);
      }
    }
  });

  it("says what is wrong with a malformed envelope", () => {
    const good = encodeEnvelope(newNodeId(), 7, Buffer.from("x"), false);
    const withByte = (index: number, value: number) => {
      const copy = Buffer.from(good);
      copy[index] = value;
      return copy;
    };
    assert.equal(
      decodeEnvelope(good.subarray(0, 17)),
      "17 bytes is shorter than the 18-byte header",
    );
    assert.equal(decodeEnvelope(withByte(0, 2)), "unknown envelope version 2");
    assert.equal(decodeEnvelope(withByte(1, 6)), "unknown flags 0x6");
    assert.equal(decodeEnvelope(withByte(10, 0x01)), "sequence number over 2^53");
    const zero = Buffer.from(good);
    zero.fill(0, 10, 18);
    assert.equal(decodeEnvelope(zero), "sequence number 0");
    const badText = Buffer.concat([good.subarray(0, ENVELOPE_HEADER), Buffer.from([0xc3, 0x28])]);
    assert.equal(decodeEnvelope(badText), "text payload isn't valid UTF-8");
    // The same bytes as binary are fine.
    assert.ok(typeof decodeEnvelope(withByte(1, 1)) !== "string");
  });
});

describe("Sequences", () => {
  it("counts from 1 per topic", () => {
    const sequences = new Sequences();
    assert.deepEqual(
      ["a", "a", "b", "a", "b"].map((topic) => sequences.next(topic)),
      [1, 2, 1, 3, 2],
    );
  });
});

describe("GapDetector", () => {
  it("accepts the first message of a node and the next ones", () => {
    const gaps = new GapDetector();
    assert.deepEqual(gaps.check("t", "n1", 41), { kind: "next" });
    assert.deepEqual(gaps.check("t", "n1", 42), { kind: "next" });
    assert.deepEqual(gaps.check("t", "n2", 1), { kind: "next" });
    assert.deepEqual(gaps.check("u", "n1", 5), { kind: "next" });
  });

  it("reports how many messages were lost, and drops what it saw already", () => {
    const gaps = new GapDetector();
    gaps.check("t", "n1", 1);
    assert.deepEqual(gaps.check("t", "n1", 5), { kind: "gap", missing: 3 });
    assert.deepEqual(gaps.check("t", "n1", 5), { kind: "duplicate" });
    assert.deepEqual(gaps.check("t", "n1", 4), { kind: "duplicate" });
    assert.deepEqual(gaps.check("t", "n1", 6), { kind: "next" });
  });

  it("takes a sequence starting again at 1 as a publisher that forgot the topic", () => {
    const gaps = new GapDetector();
    gaps.check("t", "n1", 9);
    assert.deepEqual(gaps.check("t", "n1", 1), { kind: "next" });
    assert.deepEqual(gaps.check("t", "n1", 2), { kind: "next" });
  });

  it("forgets an unsubscribed topic: the next message is a first one", () => {
    const gaps = new GapDetector();
    gaps.check("t", "n1", 1);
    gaps.forget("t");
    assert.deepEqual(gaps.check("t", "n1", 10), { kind: "next" });
  });
});
