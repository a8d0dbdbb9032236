// src/web/webidl.ts: the WebIDL conversions of the web classes.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  isIterableObject,
  toClampedUnsignedShort,
  toDOMString,
  toUSVString,
} from "../../src/web/webidl.ts";

test("DOMString: String(), but a Symbol throws", () => {
  assert.equal(toDOMString(null), "null");
  assert.equal(toDOMString(12), "12");
  assert.throws(() => toDOMString(Symbol("s")), TypeError);
});

test("USVString: lone surrogates become U+FFFD, pairs stay", () => {
  assert.equal(toUSVString("a\udc00b\ud800"), "a\ufffdb\ufffd");
  assert.equal(toUSVString("\ud83d\ude00"), "\ud83d\ude00");
});

test("sequences are objects with Symbol.iterator; strings aren't", () => {
  assert.equal(isIterableObject(["a"]), true);
  assert.equal(isIterableObject(new Set()), true);
  assert.equal(isIterableObject("ab"), false);
  assert.equal(isIterableObject({}), false);
  assert.equal(isIterableObject(null), false);
});

test("[Clamp] unsigned short: clamped, rounded half to even, NaN is 0", () => {
  const cases: [unknown, number][] = [
    [1000, 1000],
    [-5, 0],
    [70000, 65535],
    [Number.POSITIVE_INFINITY, 65535],
    [Number.NaN, 0],
    ["x", 0],
    [2.5, 2],
    [3.5, 4],
    [3000.4, 3000],
    [3000.6, 3001],
    ["4000", 4000],
    [undefined, 0],
  ];
  for (const [value, expected] of cases) {
    assert.equal(toClampedUnsignedShort(value, "here"), expected, String(value));
  }
  assert.throws(
    () => toClampedUnsignedShort(10n, "here"),
    /here: the close code must be a number, got a bigint/,
  );
});
