// src/web/options.ts: which connect() options the web classes pass on.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { connectOptions, WEB_DEFAULT_MAX_SIZE } from "../../src/web/options.ts";

test("defaults differ from connect() where browsers differ: 100 MiB messages", () => {
  const signal = new AbortController().signal;
  const options = connectOptions({}, [], signal);
  // connect() follows no redirect by default, as browsers.
  assert.equal(options.followRedirects, undefined);
  assert.equal(options.maxSize, WEB_DEFAULT_MAX_SIZE);
  assert.equal(WEB_DEFAULT_MAX_SIZE, 100 * 1024 * 1024);
  assert.equal(options.subprotocols, null);
  assert.equal(options.signal, signal);
  assert.equal(options.writeLimit, undefined);
});

test("extras are passed on; headers become additionalHeaders; protocols become subprotocols", () => {
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const options = connectOptions(
    {
      headers: { "X-A": "1" },
      maxSize: null,
      maxRedirects: 3,
      compression: null,
      proxy: false,
      logger,
      openTimeout: 5,
    },
    ["chat"],
    new AbortController().signal,
    0,
  );
  assert.deepEqual(options.additionalHeaders, { "X-A": "1" });
  assert.deepEqual(
    [options.maxSize, options.maxRedirects, options.compression, options.proxy],
    [null, 3, null, false],
  );
  assert.deepEqual(options.subprotocols, ["chat"]);
  assert.equal(options.logger, logger);
  assert.equal(options.openTimeout, 5);
  assert.equal(options.writeLimit, 0);
});
