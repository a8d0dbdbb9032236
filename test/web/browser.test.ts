// src/web/browser.ts: the `browser` condition of `websockets-ts/web` gives
// the platform's classes, and the package maps it.

import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import * as browser from "../../src/web/browser.ts";

test("the browser entry point re-exports the platform's classes", () => {
  assert.equal(browser.MessageEvent, globalThis.MessageEvent);
  const platform = globalThis as Record<string, unknown>;
  assert.equal(browser.WebSocket, platform.WebSocket);
  assert.equal(browser.CloseEvent, platform.CloseEvent);
  assert.equal(browser.WebSocketStream, platform.WebSocketStream);
  assert.equal(browser.WebSocketError, platform.WebSocketError);
});

test("the browser entry point imports nothing, so it bundles without Node's modules", () => {
  const source = readFileSync(new URL("../../src/web/browser.ts", import.meta.url), "utf8");
  assert.deepEqual(source.match(/^import (?!type )/gm), null);
});

test("package.json: ./web maps types, browser and default conditions, in that order", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  assert.deepEqual(pkg.exports["./web"], {
    types: "./dist/web/index.d.ts",
    browser: "./dist/web/browser.js",
    default: "./dist/web/index.js",
  });
});
