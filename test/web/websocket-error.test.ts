// src/web/websocket-error.ts: WebSocketError and the close checks it shares
// with WebSocketStream.close().

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { validateClose, WebSocketError } from "../../src/web/websocket-error.ts";

test("a DOMException named WebSocketError, with closeCode and reason", () => {
  const error = new WebSocketError("it broke", { closeCode: 4000, reason: "r" });
  assert.ok(error instanceof DOMException);
  assert.ok(error instanceof Error);
  assert.deepEqual(
    [error.name, error.message, error.code, error.closeCode, error.reason],
    ["WebSocketError", "it broke", 0, 4000, "r"],
  );
  const empty = new WebSocketError();
  assert.deepEqual([empty.message, empty.closeCode, empty.reason], ["", null, ""]);
});

test("a reason without a code gets 1000", () => {
  assert.equal(new WebSocketError("", { reason: "why" }).closeCode, 1000);
  assert.deepEqual(validateClose(undefined, "why", "here"), { code: 1000, reason: "why" });
  assert.deepEqual(validateClose(undefined, undefined, "here"), { code: null, reason: "" });
});

test("codes other than 1000 and 3000-4999 are InvalidAccessErrors naming the code", () => {
  for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535]) {
    assert.throws(
      () => new WebSocketError("", { closeCode: code }),
      (error: unknown) =>
        error instanceof DOMException &&
        error.name === "InvalidAccessError" &&
        error.message.includes(String(code)),
    );
  }
  for (const code of [1000, 3000, 4999])
    assert.equal(new WebSocketError("", { closeCode: code }).closeCode, code);
});

test("the code is a [Clamp] unsigned short, then checked", () => {
  // -1 clamps to 0, 70000 to 65535: neither is allowed.
  for (const code of [-1, 70000, Number.NaN]) {
    assert.throws(
      () => validateClose(code, undefined, "here"),
      { name: "InvalidAccessError" },
      String(code),
    );
  }
  assert.equal(validateClose(3000.4, undefined, "here").code, 3000);
  assert.equal(validateClose("4000", undefined, "here").code, 4000);
  assert.throws(() => validateClose(Symbol(), undefined, "here"), TypeError);
});

test("a reason over 123 bytes of UTF-8 is a SyntaxError", () => {
  assert.throws(() => new WebSocketError("", { closeCode: 1000, reason: "é".repeat(62) }), {
    name: "SyntaxError",
  });
  assert.equal(
    new WebSocketError("", { closeCode: 1000, reason: `${"é".repeat(61)}x` }).reason.length,
    62,
  );
});

test("closedWith() carries codes the constructor refuses, for connections that closed uncleanly", () => {
  const error = WebSocketError.closedWith("gone", 1006, "");
  assert.deepEqual(
    [error.name, error.message, error.closeCode, error.reason],
    ["WebSocketError", "gone", 1006, ""],
  );
});
