// The browser-style events of websockets-ts/ws: listener bookkeeping
// (dedupe, once, handleEvent objects, on* attributes) and event objects,
// on an EventEmitter standing in for a WebSocket.
import { deepStrictEqual, equal } from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import {
  addEventListener,
  CloseEvent,
  ErrorEvent,
  type Event,
  getAttribute,
  MessageEvent,
  removeEventListener,
  setAttribute,
} from "../../src/ws/events.ts";

class Target extends EventEmitter {
  wasClean = true;
}

test("a listener added twice is called once; removeEventListener removes it", () => {
  const target = new Target();
  const seen: string[] = [];
  const listener = (event: MessageEvent): void => {
    seen.push(String(event.data));
  };
  addEventListener(target, "message", listener);
  addEventListener(target, "message", listener);
  target.emit("message", Buffer.from("a"), false);
  removeEventListener(target, "message", listener);
  target.emit("message", Buffer.from("b"), false);
  deepStrictEqual(seen, ["a"]);
});

test("message events carry text as a string and binary data as given", () => {
  const target = new Target();
  const events: MessageEvent[] = [];
  addEventListener(target, "message", (event: MessageEvent) => events.push(event));
  const bytes = Buffer.from([1, 2]);
  target.emit("message", Buffer.from("hé"), false);
  target.emit("message", bytes, true);
  deepStrictEqual(
    events.map((event) => [event.type, event.data, event.target === target]),
    [
      ["message", "hé", true],
      ["message", bytes, true],
    ],
  );
});

test("close and error events carry code, reason, wasClean, error and message", () => {
  const target = new Target();
  const seen: unknown[] = [];
  addEventListener(target, "close", (event: CloseEvent) =>
    seen.push([event.code, event.reason, event.wasClean]),
  );
  const error = new Error("boom");
  addEventListener(target, "error", (event: ErrorEvent) => seen.push([event.error, event.message]));
  target.emit("close", 4000, Buffer.from("bye"));
  target.emit("error", error);
  deepStrictEqual(seen, [
    [4000, "bye", true],
    [error, "boom"],
  ]);
});

test("once: the listener runs for the first event only; handleEvent objects are called", () => {
  const target = new Target();
  const seen: string[] = [];
  addEventListener(target, "open", () => seen.push("once"), { once: true });
  addEventListener(target, "open", { handleEvent: (event: Event) => seen.push(event.type) });
  target.emit("open");
  target.emit("open");
  deepStrictEqual(seen, ["once", "open", "open"]);
});

test("unknown types are ignored, as in ws", () => {
  const target = new Target();
  addEventListener(target, "upgrade", () => {});
  equal(target.listenerCount("upgrade"), 0);
});

test("an on* attribute replaces the previous one and leaves other listeners alone", () => {
  const target = new Target();
  const seen: string[] = [];
  const first = (): void => {
    seen.push("first");
  };
  const second = (): void => {
    seen.push("second");
  };
  addEventListener(target, "open", () => seen.push("listener"));
  setAttribute(target, "open", first);
  setAttribute(target, "open", second);
  equal(getAttribute(target, "open"), second);
  target.emit("open");
  setAttribute(target, "open", null);
  equal(getAttribute(target, "open"), null);
  target.emit("open");
  deepStrictEqual(seen, ["listener", "second", "listener"]);
});

test("event objects built directly have ws's defaults", () => {
  deepStrictEqual(
    [
      new CloseEvent("close").code,
      new CloseEvent("close").reason,
      new CloseEvent("close").wasClean,
    ],
    [0, "", false],
  );
  deepStrictEqual([new MessageEvent("message").data, new ErrorEvent("error").message], [null, ""]);
});
