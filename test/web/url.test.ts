// src/web/url.ts: the URL record and subprotocol list of the WHATWG
// WebSocket constructor (§3.1), without sockets.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { badPort, checkProtocols, getURLRecord } from "../../src/web/url.ts";

function syntaxError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "SyntaxError";
}

test("http and https become ws and wss; default ports are dropped", () => {
  assert.equal(getURLRecord("http://example.com").href, "ws://example.com/");
  assert.equal(getURLRecord("https://example.com:443/a?b").href, "wss://example.com/a?b");
  assert.equal(getURLRecord("HTTP://EXAMPLE.com:8080").href, "ws://example.com:8080/");
  assert.equal(getURLRecord(new URL("ws://[::1]:80/x")).href, "ws://[::1]/x");
});

test("other schemes, fragments (even empty) and unparsable URLs are SyntaxErrors naming the URL", () => {
  for (const url of [
    "ftp://example.com/",
    "file:///tmp",
    "ws://example.com/#a",
    "ws://example.com/#",
    "ws://[",
    "example.com",
  ]) {
    assert.throws(
      () => getURLRecord(url),
      (error: unknown) => syntaxError(error) && (error as Error).message.length > 0,
      url,
    );
  }
  assert.throws(() => getURLRecord("ftp://example.com/"), /"ftp"/);
});

test("lone surrogates in the URL are replaced (USVString) before parsing", () => {
  assert.equal(getURLRecord("ws://example.com/\ud800").pathname, "/%EF%BF%BD");
});

test("protocols: undefined, a string, or any iterable of strings", () => {
  assert.deepEqual(checkProtocols(undefined), []);
  assert.deepEqual(checkProtocols("chat"), ["chat"]);
  assert.deepEqual(checkProtocols(["a", "b"]), ["a", "b"]);
  assert.deepEqual(checkProtocols(new Set(["a"])), ["a"]);
  // WebIDL DOMString conversion.
  assert.deepEqual(checkProtocols(null), ["null"]);
  assert.deepEqual(checkProtocols([1]), ["1"]);
  assert.throws(() => checkProtocols([Symbol("s")]), TypeError);
});

test("protocols must be tokens (RFC 6455 §4.1), none repeated ignoring ASCII case", () => {
  for (const bad of [
    [""],
    ["a b"],
    ["a\tb"],
    ["é"],
    ["a/b"],
    ["{x}"],
    ['"q"'],
    ["\u007f"],
    ["a", "A"],
  ]) {
    assert.throws(() => checkProtocols(bad), syntaxError, JSON.stringify(bad));
  }
  assert.deepEqual(checkProtocols(["!#$%&'*+-.^_`|~09azAZ"]), ["!#$%&'*+-.^_`|~09azAZ"]);
});

test("Fetch's bad ports are reported; default and other ports aren't", () => {
  assert.equal(badPort(getURLRecord("ws://127.0.0.1:25/")), 25);
  assert.equal(badPort(getURLRecord("wss://127.0.0.1:6667/")), 6667);
  assert.equal(badPort(getURLRecord("ws://127.0.0.1/")), null);
  assert.equal(badPort(getURLRecord("wss://127.0.0.1:443/")), null);
  assert.equal(badPort(getURLRecord("ws://127.0.0.1:8080/")), null);
});
