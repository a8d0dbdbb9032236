/**
 * The `websockets-ts/ws` entry point (src/ws/index.ts) against the `ws`
 * package it stands in for: the names of ws's API exist here with the same
 * kind, and the default export carries the rest as `require("ws")` does,
 * so code only has to change the module name. Behaviour is compared in
 * differential.test.ts.
 */

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import * as reference from "ws";
import * as ours from "../../src/ws/index.ts";

const wsCommonJs = createRequire(import.meta.url)("ws") as Record<string, unknown>;
const oursByName = new Map<string, unknown>(Object.entries(ours));
const referenceByName = new Map<string, unknown>(Object.entries(reference));

describe("websockets-ts/ws", () => {
  it("exports ws's API under ws's names, with the same kind", () => {
    for (const name of ["WebSocket", "WebSocketServer", "createWebSocketStream", "default"]) {
      assert.equal(typeof referenceByName.get(name), "function", `ws: ${name}`);
      assert.equal(typeof oursByName.get(name), "function", name);
    }
    assert.equal(ours.Server, ours.WebSocketServer, "ws 7's name for the server");
  });

  it("default-exports WebSocket, carrying the rest as require('ws') does", () => {
    assert.equal(ours.default, ours.WebSocket);
    const carried = ours.default as unknown as Record<string, unknown>;
    for (const [name, value] of [
      ["WebSocket", ours.WebSocket],
      ["WebSocketServer", ours.WebSocketServer],
      ["Server", ours.WebSocketServer],
      ["createWebSocketStream", ours.createWebSocketStream],
    ] as const) {
      assert.equal(typeof wsCommonJs[name], "function", `require("ws").${name}`);
      assert.equal(carried[name], value, name);
    }
  });

  it("has ws's readyState constants on the class and its instances' prototype", () => {
    for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"] as const) {
      assert.equal(ours.WebSocket[name], reference.WebSocket[name], name);
      assert.equal(ours.WebSocket.prototype[name], reference.WebSocket.prototype[name], name);
    }
  });

  it("exports the event classes, each an Event", () => {
    for (const cls of [ours.CloseEvent, ours.ErrorEvent, ours.MessageEvent]) {
      assert.equal(Object.getPrototypeOf(cls.prototype), ours.Event.prototype, cls.name);
    }
    assert.equal(typeof ours.WS_ERR_CODES, "object");
  });
});
