import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logging.ts";
import {
  ConnectionSettings,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_MAX_QUEUE,
  DEFAULT_PING_INTERVAL,
  DEFAULT_PING_TIMEOUT,
  DEFAULT_WRITE_LIMIT,
} from "../../src/node/options.ts";

describe("ConnectionSettings", () => {
  it("applies the defaults", () => {
    const settings = new ConnectionSettings({}, silentLogger);
    assert.equal(settings.pingInterval, DEFAULT_PING_INTERVAL);
    assert.equal(settings.pingTimeout, DEFAULT_PING_TIMEOUT);
    assert.equal(settings.closeTimeout, DEFAULT_CLOSE_TIMEOUT);
    assert.equal(settings.maxQueue, DEFAULT_MAX_QUEUE);
    assert.equal(settings.writeLimit, DEFAULT_WRITE_LIMIT);
    assert.equal(settings.writeLowWater, DEFAULT_WRITE_LIMIT / 4);
    assert.equal(settings.logContext, null);
    assert.equal(settings.baseLogger, silentLogger);
  });

  it("takes null to disable timeouts and flow control", () => {
    const settings = new ConnectionSettings(
      { pingInterval: null, pingTimeout: null, closeTimeout: null, maxQueue: null },
      silentLogger,
    );
    assert.equal(settings.pingInterval, null);
    assert.equal(settings.pingTimeout, null);
    assert.equal(settings.closeTimeout, null);
    assert.equal(settings.maxQueue, null);
  });

  it("rejects invalid values with a TypeError naming the option and the value", () => {
    assert.throws(
      () => new ConnectionSettings({ pingInterval: -1 }, silentLogger),
      new TypeError("pingInterval must be a number of milliseconds >= 0 or null; got -1"),
    );
    assert.throws(
      () => new ConnectionSettings({ closeTimeout: Number.POSITIVE_INFINITY }, silentLogger),
      /closeTimeout must be a number of milliseconds >= 0 or null; got Infinity/,
    );
    assert.throws(
      () => new ConnectionSettings({ writeLimit: 1.5 }, silentLogger),
      new TypeError("writeLimit must be an integer >= 0; got 1.5"),
    );
    assert.throws(
      () => new ConnectionSettings({ maxQueue: "8" as never }, silentLogger),
      new TypeError("maxQueue must be an integer >= 0; got 8"),
    );
  });
});
