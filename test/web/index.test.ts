/**
 * The `websockets-ts/web` entry point (src/web/index.ts): the WHATWG
 * classes, each of the kind the standard gives it, with the standard's
 * readyState numbers. Their behaviour is in the other test/web files.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as web from "../../src/web/index.ts";

describe("websockets-ts/web", () => {
  it("exports WebSocket, an EventTarget with the WHATWG readyState constants", () => {
    assert.equal(Object.getPrototypeOf(web.WebSocket.prototype), EventTarget.prototype);
    const expected = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
    for (const [name, value] of Object.entries(expected) as [keyof typeof expected, number][]) {
      assert.equal(web.WebSocket[name], value, name);
      assert.equal(web.WebSocket.prototype[name], value, `prototype.${name}`);
    }
  });

  it("exports WebSocketError as a DOMException, and the events as Events", () => {
    assert.equal(Object.getPrototypeOf(web.WebSocketError.prototype), DOMException.prototype);
    assert.ok(new web.CloseEvent("close") instanceof Event);
    assert.ok(new web.MessageEvent("message") instanceof Event);
  });

  it("exports WebSocketStream and the default maxSize", () => {
    assert.equal(typeof web.WebSocketStream, "function");
    assert.equal(typeof web.WEB_DEFAULT_MAX_SIZE, "number");
  });
});
