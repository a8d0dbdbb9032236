import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { DEFAULT_MAX_SIZE } from "../src/protocol.ts";
import { defaultServerHeader, ServerProtocolConfig } from "../src/server-config.ts";
import { VERSION } from "../src/version.ts";

describe("ServerProtocolConfig", () => {
  test("defaults: any origin, no extensions or subprotocols, the default Server header", () => {
    const config = new ServerProtocolConfig();
    assert.equal(config.origins, null);
    assert.equal(config.originMatchers, null);
    assert.equal(config.extensions, null);
    assert.equal(config.subprotocols, null);
    assert.equal(config.selectSubprotocol, null);
    assert.equal(config.serverHeader, defaultServerHeader());
    assert.equal(config.maxSize, DEFAULT_MAX_SIZE);
    // No origins given: the browser hint is still to be logged once.
    assert.equal(config.originHintPending, true);
  });

  test("matches a RegExp origin against the whole origin, a string exactly, null as no Origin", () => {
    const config = new ServerProtocolConfig({
      origins: ["https://good.example", /https:\/\/[a-z]+\.good\.example/, null],
    });
    const matches = (origin: string | undefined) =>
      config.originMatchers!.some((matcher) => matcher(origin));
    assert.equal(matches("https://good.example"), true);
    assert.equal(matches("https://chat.good.example"), true);
    assert.equal(matches(undefined), true);
    assert.equal(matches("https://evil.example/?https://chat.good.example"), false);
    assert.equal(matches("https://good.example.evil"), false);
    assert.equal(config.originHintPending, false);
  });

  test("resolves the HTTP limits once, frozen", () => {
    const config = new ServerProtocolConfig({ httpLimits: { maxLineLength: 100 } });
    assert.equal(config.httpLimits.maxLineLength, 100);
    assert.equal(typeof config.httpLimits.maxNumHeaders, "number");
    assert.equal(Object.isFrozen(config.httpLimits), true);
  });

  test("refuses a Server header that can't be sent, and sends none for null", () => {
    assert.throws(
      () => new ServerProtocolConfig({ serverHeader: "bad\r\nInjected: yes" }),
      /invalid value for header Server/,
    );
    assert.equal(new ServerProtocolConfig({ serverHeader: null }).serverHeader, null);
  });
});

describe("defaultServerHeader", () => {
  test("is WEBSOCKETS_SERVER when set, else websockets-ts/<version>", () => {
    assert.equal(defaultServerHeader({}), `websockets-ts/${VERSION}`);
    assert.equal(defaultServerHeader({ WEBSOCKETS_SERVER: "custom/2" }), "custom/2");
  });
});
