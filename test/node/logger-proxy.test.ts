import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logging.ts";
import { LoggerProxy, protocolLogger } from "../../src/node/logger-proxy.ts";
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
