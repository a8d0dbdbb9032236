/**
 * The main entry point, `websockets-ts` (src/index.ts): the names the docs
 * use exist and are the right kind, the connection classes share their
 * base, and the errors are the very classes of the core, so `instanceof`
 * holds whichever entry point an error came through. Loading the built
 * package is in types/package.test.ts.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as errors from "../src/errors.ts";
import * as api from "../src/index.ts";
import * as protocol from "../src/sans-io.ts";
import { isClass } from "./support/exports.ts";

// By name: the tests below look exports up from lists.
const exported = new Map<string, unknown>(Object.entries(api));

describe("websockets-ts", () => {
  it("exports the functions of the API", () => {
    for (const name of [
      "serve",
      "connect",
      "route",
      "broadcast",
      "basicAuth",
      "backoff",
      "createLogger",
      "getProxy",
      "processException",
      "withoutCredentials",
      "clusterBackplane",
    ]) {
      assert.equal(typeof exported.get(name), "function", name);
      assert.equal(isClass(exported.get(name)), false, `${name} is a function, not a class`);
    }
  });

  it("exports the classes of the API; both connection classes extend Connection", () => {
    for (const name of [
      "Server",
      "ServerConnection",
      "ClientConnection",
      "Connection",
      "Router",
      "Headers",
      "Close",
      "Frame",
    ]) {
      assert.ok(isClass(exported.get(name)), name);
    }
    assert.equal(Object.getPrototypeOf(api.ServerConnection), api.Connection);
    assert.equal(Object.getPrototypeOf(api.ClientConnection), api.Connection);
  });

  it("exports the connection states as RFC 6455's readyState numbers", () => {
    assert.deepEqual([api.CONNECTING, api.OPEN, api.CLOSING, api.CLOSED], [0, 1, 2, 3]);
  });

  it("exports silentLogger, a logger that accepts every level and drops it", () => {
    for (const level of ["trace", "debug", "info", "warn", "error", "fatal"] as const) {
      assert.equal(typeof api.silentLogger[level], "function", level);
      assert.equal(api.silentLogger[level]("dropped"), undefined);
    }
    assert.equal(typeof api.DEFAULT_MAX_PATH_LENGTH, "number");
    assert.ok(api.DEFAULT_MAX_PATH_LENGTH > 0);
  });

  it("exports every error class of the core, the same objects as websockets-ts/protocol's", () => {
    const core = new Map<string, unknown>(Object.entries(protocol));
    const classes = Object.entries(errors).filter(([, value]) => isClass(value));
    assert.ok(classes.length >= 27, classes.map(([name]) => name).join(", "));
    for (const [name, cls] of classes) {
      assert.equal(exported.get(name), cls, name);
      assert.equal(core.get(name), cls, name);
    }
  });

  it("keeps the sans-I/O core and the Redis backplane in their own entry points", () => {
    for (const name of ["ServerProtocol", "ClientProtocol", "FrameParser", "redisBackplane"]) {
      assert.equal(name in api, false, name);
    }
  });
});
