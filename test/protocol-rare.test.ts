// ProtocolRecord and RareState (src/protocol-rare.ts): what a protocol
// records of its connection, and the close code, reason and error derived
// from it, on a bare record rather than through a whole protocol.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConnectionClosedError,
  ConnectionClosedOK,
  PayloadTooBig,
  ProtocolError,
} from "../src/errors.ts";
import { Close } from "../src/frames.ts";
import { ProtocolRecord, parserFailure, RareState } from "../src/protocol-rare.ts";
import { CLOSED, OPEN, type State } from "../src/protocol-types.ts";

class Record extends ProtocolRecord {
  current: State = OPEN;

  override get state(): State {
    return this.current;
  }
}

/** The record's RareState, or null while nothing needed one. */
function rareOf(record: ProtocolRecord): RareState | null {
  return (record as unknown as { rare: RareState | null }).rare;
}

describe("ProtocolRecord", () => {
  it("keeps no RareState until something is recorded; null values make none", () => {
    const record = new Record();
    record.closeRcvd = null;
    record.parserExc = null;
    assert.equal(rareOf(record), null);
    record.closeSent = new Close(1000, "");
    assert.ok(rareOf(record) instanceof RareState);
  });

  it("gives no close code or reason before CLOSED", () => {
    const record = new Record();
    record.closeRcvd = new Close(1000, "bye");
    assert.equal(record.closeCode, null);
    assert.equal(record.closeReason, null);
  });

  it("says 1006 and an empty reason when no close frame came, and fails with ConnectionClosedError", () => {
    const record = new Record();
    const cause = new Error("unexpected end of stream");
    record.parserExc = cause;
    record.current = CLOSED;
    assert.equal(record.closeCode, 1006);
    assert.equal(record.closeReason, "");
    assert.equal(record.closedNormally, false);
    const error = record.closeExc;
    assert.ok(error instanceof ConnectionClosedError);
    assert.equal(error.cause, cause);
  });

  for (const [sent, rcvd, normally] of [
    [1000, 1000, true],
    [1001, 1005, true],
    [1000, 1011, false],
    [1002, 1000, false],
  ] as const) {
    it(`sent ${sent}, received ${rcvd}: ${normally ? "closed normally" : "an error"}`, () => {
      const record = new Record();
      record.closeSent = new Close(sent, "");
      record.closeRcvd = new Close(rcvd, "why");
      record.closeRcvdThenSent = false;
      record.current = CLOSED;
      assert.equal(record.closeCode, rcvd);
      assert.equal(record.closeReason, "why");
      assert.equal(record.closedNormally, normally);
      const error = record.closeExc;
      assert.ok(
        normally ? error instanceof ConnectionClosedOK : error instanceof ConnectionClosedError,
      );
      assert.equal(error.rcvd?.code, rcvd);
      assert.equal(error.sent?.code, sent);
      assert.equal(error.rcvdThenSent, false);
    });
  }

  it("makes one id per connection, a UUID", () => {
    const record = new Record();
    assert.match(record.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(record.id, record.id);
    assert.notEqual(new Record().id, record.id);
  });
});

describe("RareState", () => {
  it("holds bytes in the order received", () => {
    const rare = new RareState();
    assert.equal(rare.held, null);
    rare.hold(Buffer.from("a"));
    rare.hold(Buffer.from("b"));
    assert.deepEqual(rare.held, [Buffer.from("a"), Buffer.from("b")]);
  });
});

describe("parserFailure", () => {
  it("fails with a protocol error's own close code and message", () => {
    const error = new ProtocolError("invalid opcode 0x3", 1002);
    assert.deepEqual(parserFailure(error, 1024, null), {
      exc: error,
      code: 1002,
      reason: "invalid opcode 0x3",
      unexpected: false,
    });
    assert.equal(parserFailure(new ProtocolError("bad text", 1007), null, null).code, 1007);
  });

  it("fails with 1009; a frame measured against a fragmented message's budget is restated for the message", () => {
    const whole = new PayloadTooBig(2000, 1024, "message");
    assert.deepEqual(parserFailure(whole, 1024, null), {
      exc: whole,
      code: 1009,
      reason: whole.message,
      unexpected: false,
    });
    // 600 bytes received, then a 500-byte frame seen against the 424 left.
    const frame = new PayloadTooBig(500, 424);
    const failure = parserFailure(frame, 1024, 600);
    assert.ok(failure.exc instanceof PayloadTooBig);
    assert.equal(failure.exc.message, "message with 1100 bytes exceeds limit of 1024 bytes");
    assert.equal(failure.exc.cause, frame);
    assert.equal(failure.reason, failure.exc.message);
  });

  it("fails anything else with 1011 and no reason, as unexpected", () => {
    const failure = parserFailure(new TypeError("a bug"), 1024, null);
    assert.equal(failure.code, 1011);
    assert.equal(failure.reason, "");
    assert.equal(failure.unexpected, true);
    assert.equal(parserFailure("thrown string", null, null).exc.message, "thrown string");
  });
});
