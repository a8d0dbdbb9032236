// src/web/events.ts: CloseEvent, MessageEvent, and the on* attributes.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  CloseEvent,
  EventHandlers,
  MessageEvent,
  WebSocketCloseEvent,
} from "../../src/web/events.ts";

test("CloseEvent is the platform's where Node has one, else ours", () => {
  const platform = (globalThis as { CloseEvent?: unknown }).CloseEvent;
  assert.equal(CloseEvent, platform ?? WebSocketCloseEvent);
});

test("CloseEvent: defaults, init, type required; toStringTag", () => {
  const event = new CloseEvent("close", {
    wasClean: true,
    code: 1000,
    reason: "done",
    cancelable: true,
  });
  assert.deepEqual(
    [event.type, event.wasClean, event.code, event.reason, event.cancelable],
    ["close", true, 1000, "done", true],
  );
  const empty = new CloseEvent("x");
  assert.deepEqual([empty.wasClean, empty.code, empty.reason], [false, 0, ""]);
  assert.ok(empty instanceof Event);
  assert.equal(Object.prototype.toString.call(empty), "[object CloseEvent]");
  assert.throws(() => new (CloseEvent as unknown as new () => Event)(), TypeError);
});

test("our CloseEvent (Node < 23): the code is a WebIDL unsigned short (modulo 2^16)", () => {
  // Node 24's own (undici's) departs from WebIDL here; ours is used only where Node has none.
  assert.equal(new WebSocketCloseEvent("close", { code: 65536 + 1000 }).code, 1000);
  assert.equal(new WebSocketCloseEvent("close", { code: -1 }).code, 65535);
});

test("MessageEvent is Node's own", () => {
  assert.equal(MessageEvent, globalThis.MessageEvent);
});

test("EventHandlers: one listener per type, kept in place while the value changes", () => {
  const target = new EventTarget();
  const handlers = new EventHandlers(target);
  const calls: string[] = [];
  handlers.set("ping", () => calls.push("a"));
  target.addEventListener("ping", () => calls.push("listener"));
  const b = () => calls.push("b");
  handlers.set("ping", b);
  assert.equal(handlers.get("ping"), b);
  target.dispatchEvent(new Event("ping"));
  assert.deepEqual(calls, ["b", "listener"]);
});

test("EventHandlers: null (or a non-object) removes the listener; a later value goes last", () => {
  const target = new EventTarget();
  const handlers = new EventHandlers(target);
  const calls: string[] = [];
  handlers.set("ping", () => calls.push("handler"));
  target.addEventListener("ping", () => calls.push("listener"));
  handlers.set("ping", 42);
  assert.equal(handlers.get("ping"), null);
  target.dispatchEvent(new Event("ping"));
  handlers.set("ping", () => calls.push("handler again"));
  target.dispatchEvent(new Event("ping"));
  assert.deepEqual(calls, ["listener", "listener", "handler again"]);
});

test("EventHandlers: a handler returning false cancels a cancelable event", () => {
  const target = new EventTarget();
  const handlers = new EventHandlers(target);
  handlers.set("ping", () => false);
  const event = new Event("ping", { cancelable: true });
  target.dispatchEvent(event);
  assert.equal(event.defaultPrevented, true);
});
