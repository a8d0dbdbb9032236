// What send(), ping() and pong() of websockets-ts/ws turn their data into,
// as ws does: the conversions, and the errors that name the bad value.
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { test } from "node:test";
import { controlPayload, toPayload } from "../../src/ws/payloads.ts";

test("strings stay strings, numbers become strings, nothing becomes empty bytes", () => {
  equal(toPayload("héllo", "send"), "héllo");
  equal(toPayload(42, "send"), "42");
  deepStrictEqual(toPayload(undefined, "send"), Buffer.alloc(0));
  deepStrictEqual(toPayload(null as never, "send"), Buffer.alloc(0));
});

test("bytes of every kind become a Buffer over the same bytes", () => {
  const bytes = Uint8Array.of(1, 2, 3);
  deepStrictEqual(toPayload(Buffer.from(bytes), "send"), Buffer.from(bytes));
  deepStrictEqual(toPayload(bytes, "send"), Buffer.from(bytes));
  deepStrictEqual(toPayload(bytes.buffer, "send"), Buffer.from(bytes));
  deepStrictEqual(toPayload(new DataView(bytes.buffer), "send"), Buffer.from(bytes));
});

test("an array of Buffers (a message received as fragments) is sent whole; an array of numbers as bytes", () => {
  deepStrictEqual(toPayload([Buffer.from("ab"), Buffer.from("c")], "send"), Buffer.from("abc"));
  deepStrictEqual(toPayload([104, 105] as never, "send"), Buffer.from("hi"));
});

test("an object with valueOf() is read as Buffer.from() reads it", () => {
  const boxed = { valueOf: () => "boxed" };
  deepStrictEqual(toPayload(boxed as never, "send"), Buffer.from("boxed"));
});

test("what can't be converted throws a TypeError naming the method and the type", () => {
  throws(
    () => toPayload({} as never, "send"),
    (error: Error) => error instanceof TypeError && /^send\(\) expects .* got /.test(error.message),
  );
  throws(() => toPayload(Symbol("s") as never, "pong"), /^TypeError: pong\(\) expects/);
});

test("a control payload is bytes of at most 125", () => {
  deepStrictEqual(controlPayload("ping"), Buffer.from("ping"));
  equal(controlPayload(Buffer.alloc(125)).length, 125);
  throws(() => controlPayload(Buffer.alloc(126)), RangeError);
  throws(() => controlPayload("x".repeat(126)), /125 bytes/);
});
