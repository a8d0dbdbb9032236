// src/web/close-outcome.ts: how the close frames sent and received become
// the close event's code, reason and wasClean, and whether error fires.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ConnectionClosedError, ConnectionClosedOK } from "../../src/errors.ts";
import { Close } from "../../src/frames.ts";
import { closeOutcome, FAILED } from "../../src/web/close-outcome.ts";

const bye = new Close(4000, "bye");
const ok = new Close(1000, "");

test("a closing handshake we started: the server's code and reason, clean", () => {
  const closed = new ConnectionClosedError(bye, bye, false);
  assert.deepEqual(closeOutcome(closed, true), {
    failed: false,
    wasClean: true,
    code: 4000,
    reason: "bye",
  });
});

test("a closing handshake the server started: its code and reason, clean", () => {
  const closed = new ConnectionClosedOK(ok, ok, true);
  assert.deepEqual(closeOutcome(closed, false), {
    failed: false,
    wasClean: true,
    code: 1000,
    reason: "",
  });
});

test("a close frame we sent first without close() being called: the connection failed", () => {
  const protocolError = new Close(1002, "bad frame");
  assert.deepEqual(
    closeOutcome(new ConnectionClosedError(protocolError, protocolError, false), false),
    FAILED,
  );
  assert.deepEqual(
    closeOutcome(new ConnectionClosedError(null, protocolError, null), false),
    FAILED,
  );
});

test("no close frame at all: 1006, not clean, but not a failure (no error event)", () => {
  assert.deepEqual(closeOutcome(new ConnectionClosedError(null, null, null), false), {
    failed: false,
    wasClean: false,
    code: 1006,
    reason: "",
  });
});

test("close() called but no answer: 1006, not clean", () => {
  assert.deepEqual(closeOutcome(new ConnectionClosedError(null, bye, null), true), {
    failed: false,
    wasClean: false,
    code: 1006,
    reason: "",
  });
});

test("anything else than ConnectionClosed means failure", () => {
  assert.deepEqual(closeOutcome(new Error("boom"), false), FAILED);
});
