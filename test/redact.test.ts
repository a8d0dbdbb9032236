import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  isSecretHeader,
  REDACTED_PASSWORD,
  REDACTED_VALUE,
  redactHeaderValue,
  redactURL,
} from "../src/redact.ts";

describe("redactURL", () => {
  it("replaces the password of the user info and keeps the user name", () => {
    const cases: [string, string][] = [
      ["ws://alice:secret@example.com/", `ws://alice:${REDACTED_PASSWORD}@example.com/`],
      ["wss://a:b@[::1]:8443/x?y=1", `wss://a:${REDACTED_PASSWORD}@[::1]:8443/x?y=1`],
      ["http://u:p%40ss@proxy:3128", `http://u:${REDACTED_PASSWORD}@proxy:3128`],
      // The last @ of the authority ends the user info.
      ["ws://u:p@ss@host/", `ws://u:${REDACTED_PASSWORD}@host/`],
      ["socks5h://u:pw@127.0.0.1:1080", `socks5h://u:${REDACTED_PASSWORD}@127.0.0.1:1080`],
    ];
    for (const [url, expected] of cases) assert.equal(redactURL(url), expected);
  });

  it("redacts URLs that don't parse, as error messages about them need", () => {
    assert.equal(redactURL("ws://u:pw@ho st/"), `ws://u:${REDACTED_PASSWORD}@ho st/`);
    assert.equal(redactURL("ws://u:pw@/"), `ws://u:${REDACTED_PASSWORD}@/`);
    assert.equal(redactURL("u:pw@proxy:3128"), `u:${REDACTED_PASSWORD}@proxy:3128`);
  });

  it("leaves URLs without a password unchanged", () => {
    for (const url of [
      "ws://example.com/",
      "ws://alice@example.com/",
      "ws://alice:@example.com/",
      "ws://example.com/path@with:colon",
      "ws://example.com/?q=a:b@c",
      "ws://example.com#a:b@c",
      "",
      "@",
      "not a url",
    ]) {
      assert.equal(redactURL(url), url);
    }
  });
});

describe("redactHeaderValue", () => {
  it("redacts credential headers in any case, saying they were present", () => {
    for (const name of ["Authorization", "proxy-authorization", "COOKIE", "Set-Cookie"]) {
      assert.ok(isSecretHeader(name));
      assert.equal(redactHeaderValue(name, "Basic YTpi"), REDACTED_VALUE);
    }
  });

  it("keeps other values", () => {
    assert.equal(isSecretHeader("Sec-WebSocket-Key"), false);
    assert.equal(redactHeaderValue("Host", "example.com"), "example.com");
  });
});
