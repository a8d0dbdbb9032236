import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logging.ts";
import {
  childLogger,
  LoggerProxy,
  logContextFields,
  protocolLogger,
} from "../../src/node/logger-proxy.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";

describe("protocolLogger", () => {
  it("keeps the silent logger as it is: nothing to forward", () => {
    assert.equal(protocolLogger(silentLogger), silentLogger);
  });

  it("logs through the base logger until a connection binds, then through the connection's", () => {
    const base = createCaptureLogger("debug");
    const bound = createCaptureLogger("info");
    const proxy = protocolLogger(base.logger);
    assert.ok(proxy instanceof LoggerProxy);
    proxy.debug("before");
    proxy.info({ field: 1 }, "with %s", "args");
    assert.equal(proxy.isLevelEnabled?.("debug"), true);
    proxy.connection = { logger: bound.logger };
    proxy.warn("after");
    proxy.error({ err: new Error("x") }, "failed");
    assert.equal(proxy.isLevelEnabled?.("debug"), false);
    assert.deepEqual(
      base.records.map((r) => r.msg),
      ["before", "with args"],
    );
    assert.deepEqual(
      bound.records.map((r) => r.msg),
      ["after", "failed"],
    );
  });
});

describe("childLogger", () => {
  it("binds the connection's fields, then the logContext fields, in a child", () => {
    const base = createCaptureLogger("info");
    const logger = childLogger(base.logger, () => ({ connectionId: "c1" }), { user: "ada" });
    logger.info("hello");
    assert.deepEqual(base.records[0].fields, { connectionId: "c1", user: "ada" });
  });

  it("returns a logger that makes no children as it is, without computing the fields", () => {
    const plain = { debug() {}, info() {}, warn() {}, error() {} };
    let computed = false;
    const fields = () => {
      computed = true;
      return {};
    };
    assert.equal(childLogger(plain, fields, null), plain);
    assert.equal(computed, false);
  });
});

describe("logContextFields", () => {
  it("returns what logContext returns, and null for nothing", () => {
    const log = createCaptureLogger("debug");
    const connection = { id: "c1" };
    const fields = logContextFields(
      (c: never) => ({ seen: (c as { id: string }).id }),
      connection,
      () => log.logger,
    );
    assert.deepEqual(fields, { seen: "c1" });
    assert.equal(
      logContextFields(
        () => undefined,
        connection,
        () => log.logger,
      ),
      null,
    );
    assert.equal(log.records.length, 0);
  });

  it("logs an error logContext throws and gives no fields: a broken hook fails no connection", () => {
    const log = createCaptureLogger("debug");
    const error = new Error("hook broke");
    const fields = logContextFields(
      () => {
        throw error;
      },
      {},
      () => log.logger,
    );
    assert.equal(fields, null);
    assert.equal(log.records.length, 1);
    assert.equal(log.records[0].level, "error");
    assert.equal(log.records[0].err, error);
  });
});
