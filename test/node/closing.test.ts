import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConnectionClosedError, ConnectionClosedOK } from "../../src/errors.ts";
import { Closing, closedFields } from "../../src/node/closing.ts";
import type { Connection } from "../../src/node/connection.ts";
import { TimerWheel } from "../../src/node/timer-wheel.ts";
import { Protocol } from "../../src/protocol.ts";

/** A server-side protocol that went through a closing handshake with these codes. */
function closedWith(sent: number, received: number): Protocol {
  const protocol = new Protocol("server");
  protocol.sendClose(sent, "sent");
  // The client's close frame, masked as a client's must be.
  const payload = Buffer.concat([
    Buffer.from([received >> 8, received & 0xff]),
    Buffer.from("rcvd"),
  ]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  protocol.receiveData(Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, masked]));
  protocol.receiveEof();
  return protocol;
}

describe("Closing", () => {
  it("resolves closed once finished, and at once when already done", async () => {
    const closing = new Closing();
    let resolved = false;
    const closed = closing.closed(false).then(() => {
      resolved = true;
    });
    assert.equal(closing.closed(false), closing.closed(false));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false);
    closing.finish();
    await closed;
    assert.equal(resolved, true);
    await new Closing().closed(true);
  });

  it("builds the close error once, with the transport's error as its cause", () => {
    const protocol = closedWith(1000, 1000);
    const closing = new Closing();
    closing.transportError = new Error("ECONNRESET");
    const error = closing.error(protocol);
    assert.ok(error instanceof ConnectionClosedOK);
    assert.equal((error.cause as Error).message, "ECONNRESET");
    assert.equal(closing.error(protocol), error);
    assert.ok(new Closing().error(closedWith(1000, 1011)) instanceof ConnectionClosedError);
  });

  it("cancels its close timer", async () => {
    const closing = new Closing();
    const wheel = new TimerWheel(() => assert.fail("fired"));
    const connection = {} as Connection;
    closing.timer = wheel.add(connection, 10);
    closing.stopTimer(connection);
    closing.stopTimer(connection);
    assert.equal(closing.timer, null);
    assert.equal(wheel.size, 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
});

describe("closedFields", () => {
  it("tells both close frames, the duration and the counts", () => {
    const fields = closedFields(closedWith(1001, 1000), 1000, "rcvd", {
      openedAt: performance.now() - 1500,
      messagesIn: 3,
      messagesOut: 4,
      bytesIn: 30,
      bytesOut: 40,
    });
    assert.ok(fields.durationMs >= 1500 && fields.durationMs < 60_000);
    assert.deepEqual(
      { ...fields, durationMs: 0 },
      {
        code: 1000,
        reason: "rcvd",
        rcvdCode: 1000,
        rcvdReason: "rcvd",
        sentCode: 1001,
        sentReason: "sent",
        durationMs: 0,
        messagesIn: 3,
        messagesOut: 4,
        bytesIn: 30,
        bytesOut: 40,
      },
    );
  });
});
