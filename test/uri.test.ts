import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { InvalidURI } from "../src/errors.ts";
import { redactURL } from "../src/redact.ts";
import { isWebSocketURI, parseURI } from "../src/uri.ts";

describe("parseURI", () => {
  test("parses a ws:// URI with the default port 80", () => {
    assert.deepEqual(parseURI("ws://localhost/"), {
      uri: "ws://localhost/",
      secure: false,
      host: "localhost",
      port: 80,
      path: "/",
      query: "",
      resourceName: "/",
      username: null,
      password: null,
    });
  });

  test("parses a wss:// URI with the default port 443", () => {
    const uri = parseURI("wss://example.com/chat");
    assert.equal(uri.secure, true);
    assert.equal(uri.port, 443);
    assert.equal(uri.resourceName, "/chat");
  });

  test("keeps an explicit port, default or not", () => {
    assert.equal(parseURI("ws://localhost:8765").port, 8765);
    assert.equal(parseURI("wss://localhost:80").port, 80);
    assert.equal(parseURI("ws://localhost:443/").port, 443);
  });

  test("uses / as the resource name when the path is empty", () => {
    assert.equal(parseURI("ws://localhost").resourceName, "/");
    assert.equal(parseURI("ws://localhost?x=1").resourceName, "/?x=1");
  });

  test("includes the query in the resource name", () => {
    const uri = parseURI("ws://localhost/path/to?a=1&b=2");
    assert.equal(uri.path, "/path/to");
    assert.equal(uri.query, "a=1&b=2");
    assert.equal(uri.resourceName, "/path/to?a=1&b=2");
  });

  test("percent-encodes characters that can't appear in a request target", () => {
    assert.equal(parseURI("ws://localhost/caf\u00e9?q=\u00e9").resourceName, "/caf%C3%A9?q=%C3%A9");
  });

  test("accepts the scheme in any case and lowercases the host", () => {
    const uri = parseURI("WSS://Example.COM/Path");
    assert.equal(uri.secure, true);
    assert.equal(uri.host, "example.com");
    assert.equal(uri.path, "/Path");
  });

  test("encodes internationalized domain names in punycode", () => {
    assert.equal(parseURI("ws://b\u00fccher.example/").host, "xn--bcher-kva.example");
  });

  test("strips the brackets of IPv6 literals", () => {
    const uri = parseURI("ws://[::1]:8765/");
    assert.equal(uri.host, "::1");
    assert.equal(uri.port, 8765);
    assert.equal(parseURI("wss://[2001:db8::1]/").host, "2001:db8::1");
  });

  test("parses IPv4 addresses", () => {
    assert.equal(parseURI("ws://127.0.0.1:8765").host, "127.0.0.1");
  });

  test("percent-decodes user info for Basic auth", () => {
    const uri = parseURI("ws://us%20er:p%40ss%3Aw@localhost/");
    assert.equal(uri.username, "us er");
    assert.equal(uri.password, "p@ss:w");
    assert.equal(uri.host, "localhost");
    const empty = parseURI("ws://user:@localhost/");
    assert.equal(empty.username, "user");
    assert.equal(empty.password, "");
  });

  test("decodes UTF-8 in user info", () => {
    assert.equal(parseURI("ws://j%C3%B6rg:pw@localhost/").username, "jörg");
  });

  const invalid: [string, RegExp][] = [
    ["http://localhost/", /scheme isn't ws or wss/],
    ["https://localhost/", /scheme isn't ws or wss/],
    ["localhost:8765", /scheme isn't ws or wss/],
    ["/path", /scheme isn't ws or wss/],
    ["", /scheme isn't ws or wss/],
    ["ws:localhost", /expected \/\/ after the scheme/],
    ["ws:/localhost", /expected \/\/ after the scheme/],
    ["ws://", /missing host/],
    ["ws:///path", /missing host/],
    ["ws://?x", /missing host/],
    ["ws://:8765/", /missing host/],
    ["ws://user:pw@/", /missing host/],
    ["ws://localhost/#fragment", /fragment in URI/],
    ["ws://localhost/#", /fragment in URI/],
    ["ws://local host/", /whitespace or control character/],
    ["ws://localhost/\npath", /whitespace or control character/],
    [" ws://localhost/", /scheme isn't ws or wss/],
    ["ws://localhost\\path", /backslash in URI/],
    ["ws://localhost:99999/", /not a valid URL/],
    ["ws://localhost:port/", /not a valid URL/],
    ["ws://[::1/", /not a valid URL/],
    ["ws://user@localhost/", /username provided without password/],
    ["ws://us%3Aer:pw@localhost/", /username contains a colon/],
    ["ws://user:%E0%A4%A@localhost/", /invalid percent-encoding in user info/],
    ["ws://user:%ff@localhost/", /invalid percent-encoding in user info/],
  ];
  for (const [uri, reason] of invalid) {
    test(`rejects ${JSON.stringify(uri)} with InvalidURI naming it, password redacted`, () => {
      const shown = redactURL(uri);
      assert.throws(
        () => parseURI(uri),
        (error: unknown) =>
          error instanceof InvalidURI &&
          error.uri === shown &&
          error.message.startsWith(`${shown} isn't a valid URI: `) &&
          reason.test(error.message),
      );
    });
  }
});

describe("isWebSocketURI", () => {
  test("recognizes parsed URIs and not strings", () => {
    assert.equal(isWebSocketURI(parseURI("ws://localhost/")), true);
    assert.equal(isWebSocketURI("ws://localhost/"), false);
    assert.equal(isWebSocketURI(null), false);
    assert.equal(isWebSocketURI({ host: "x" }), false);
  });
});
