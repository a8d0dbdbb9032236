import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import fc from "fast-check";
import { InvalidHeaderFormat, InvalidHeaderValue } from "../src/errors.ts";
import {
  buildAuthorizationBasic,
  buildExtension,
  buildSubprotocol,
  buildWwwAuthenticateBasic,
  type ExtensionHeader,
  parseAuthorizationBasic,
  parseConnection,
  parseExtension,
  parseSubprotocol,
  parseUpgrade,
} from "../src/header-grammars.ts";

describe("parseConnection", () => {
  test("parses a single option and a list", () => {
    assert.deepEqual(parseConnection("Upgrade"), ["Upgrade"]);
    assert.deepEqual(parseConnection("keep-alive, Upgrade"), ["keep-alive", "Upgrade"]);
    assert.deepEqual(parseConnection("keep-alive,Upgrade"), ["keep-alive", "Upgrade"]);
  });

  test("ignores empty list elements and surrounding whitespace (RFC 7230 §7)", () => {
    assert.deepEqual(parseConnection(" ,, a ,\t, b ,  "), ["a", "b"]);
    assert.deepEqual(parseConnection("a,"), ["a"]);
  });

  test("rejects an empty header with the position", () => {
    assert.throws(
      () => parseConnection(""),
      (error: unknown) =>
        error instanceof InvalidHeaderFormat &&
        error.header === "Connection" &&
        error.message === "invalid Connection header: expected token at 0 in ",
    );
    assert.throws(() => parseConnection(" , "), /expected token at 3/);
  });

  test("rejects elements separated by spaces instead of commas", () => {
    assert.throws(
      () => parseConnection("keep-alive Upgrade"),
      (error: unknown) =>
        error instanceof InvalidHeaderFormat &&
        error.message === "invalid Connection header: expected comma at 11 in keep-alive Upgrade",
    );
  });

  test("rejects non-token characters", () => {
    assert.throws(() => parseConnection("Up\u00e9grade"), /expected comma at 2/);
    assert.throws(() => parseConnection('"Upgrade"'), /expected token at 0/);
  });
});

describe("parseUpgrade", () => {
  test("parses protocols with optional versions", () => {
    assert.deepEqual(parseUpgrade("websocket"), ["websocket"]);
    assert.deepEqual(parseUpgrade("HTTP/2.0, SHTTP/1.3, websocket"), [
      "HTTP/2.0",
      "SHTTP/1.3",
      "websocket",
    ]);
  });

  test("rejects a slash without a version", () => {
    assert.throws(
      () => parseUpgrade("websocket/"),
      (error: unknown) =>
        error instanceof InvalidHeaderFormat &&
        error.header === "Upgrade" &&
        /expected token at 10/.test(error.message),
    );
  });
});

describe("Sec-WebSocket-Protocol", () => {
  test("parses a list of subprotocols", () => {
    assert.deepEqual(parseSubprotocol("chat"), ["chat"]);
    assert.deepEqual(parseSubprotocol("chat, superchat,v2.json"), ["chat", "superchat", "v2.json"]);
  });

  test("rejects malformed values naming the header", () => {
    assert.throws(
      () => parseSubprotocol("chat superchat"),
      (error: unknown) =>
        error instanceof InvalidHeaderFormat && error.header === "Sec-WebSocket-Protocol",
    );
    assert.throws(() => parseSubprotocol("chat; q=1"), /expected comma at 4/);
  });

  test("builds a list and refuses non-token subprotocols", () => {
    assert.equal(buildSubprotocol(["chat", "superchat"]), "chat, superchat");
    assert.throws(() => buildSubprotocol(["chat", "super chat"]), /invalid subprotocol/);
    assert.throws(() => buildSubprotocol([""]), TypeError);
  });
});

describe("Sec-WebSocket-Extensions", () => {
  test("parses extensions with and without parameters", () => {
    assert.deepEqual(parseExtension("permessage-deflate"), [["permessage-deflate", []]]);
    assert.deepEqual(
      parseExtension(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo",
      ),
      [
        [
          "permessage-deflate",
          [
            ["client_max_window_bits", null],
            ["server_max_window_bits", "10"],
          ],
        ],
        ["x-foo", []],
      ],
    );
  });

  test("unquotes quoted-string values, escapes included", () => {
    assert.deepEqual(parseExtension('x; a="10"; b = "1\\0" ;c'), [
      [
        "x",
        [
          ["a", "10"],
          ["b", "10"],
          ["c", null],
        ],
      ],
    ]);
  });

  test("requires unquoted values to be tokens too (RFC 6455 §9.1)", () => {
    assert.throws(
      () => parseExtension('x; a="1 0"'),
      (error: unknown) =>
        error instanceof InvalidHeaderFormat &&
        error.header === "Sec-WebSocket-Extensions" &&
        /invalid quoted header content at 5/.test(error.message),
    );
    assert.throws(() => parseExtension('x; a=""'), /invalid quoted header content/);
  });

  test("rejects unterminated quoted strings at the opening quote", () => {
    assert.throws(() => parseExtension('x; a="10'), /unterminated quoted string at 5/);
    assert.throws(() => parseExtension('x; a="10\\'), /unterminated quoted string at 5/);
  });

  test("rejects control characters in quoted strings", () => {
    assert.throws(
      () => parseExtension('x; a="1\u00010"'),
      /invalid character in quoted string at 7/,
    );
    assert.throws(() => parseExtension('x; a="1\\\u00010"'), /invalid quoted-pair at 7/);
  });

  test("rejects missing names and values", () => {
    assert.throws(() => parseExtension("x; =1"), /expected token at 3/);
    assert.throws(() => parseExtension("x; a="), /expected token at 5/);
    assert.throws(() => parseExtension("x;"), /expected token at 2/);
    assert.throws(() => parseExtension("; a"), /expected token at 0/);
    assert.throws(() => parseExtension("x y"), /expected comma at 2/);
  });

  test("builds the header from names and parameters", () => {
    const extensions: ExtensionHeader[] = [
      [
        "permessage-deflate",
        [
          ["server_no_context_takeover", null],
          ["client_max_window_bits", "12"],
        ],
      ],
      ["x-foo", []],
    ];
    const header = buildExtension(extensions);
    assert.equal(
      header,
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=12, x-foo",
    );
    assert.deepEqual(parseExtension(header), extensions);
  });

  test("refuses to build names and values that aren't tokens", () => {
    assert.throws(() => buildExtension([["x y", []]]), /invalid extension name/);
    assert.throws(
      () => buildExtension([["x", [["a b", null]]]]),
      /invalid extension parameter name/,
    );
    assert.throws(
      () => buildExtension([["x", [["a", "1 2"]]]]),
      /invalid value for extension parameter a/,
    );
  });

  test("round-trips any list of token names and parameters", () => {
    const token = fc.stringMatching(/^[-!#$%&'*+.^_`|~0-9a-zA-Z]{1,8}$/);
    const param = fc.tuple(token, fc.option(token, { nil: null }));
    const extension = fc.tuple(token, fc.array(param, { maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(extension, { minLength: 1, maxLength: 4 }), (extensions) => {
        assert.deepEqual(parseExtension(buildExtension(extensions)), extensions);
      }),
      { numRuns: 200 },
    );
  });
});

describe("adversarial header values (linear-time parsing)", () => {
  const size = 100 * 1024;

  test('parses "a," repeated 50,000 times into 50,000 elements', () => {
    const header = "a,".repeat(50_000);
    assert.equal(header.length, size - 2400);
    assert.equal(parseConnection(header).length, 50_000);
    assert.equal(parseSubprotocol(header).length, 50_000);
    assert.equal(parseExtension(header).length, 50_000);
    assert.equal(parseUpgrade(header).length, 50_000);
  });

  test("skips 100 KiB of commas and spaces before an element", () => {
    const header = `${", ".repeat(size / 2)}a`;
    assert.deepEqual(parseConnection(header), ["a"]);
    assert.deepEqual(parseConnection(", ".repeat(size / 2).concat("a,b")), ["a", "b"]);
  });

  test("reports a list of only commas as an empty list", () => {
    const header = ",".repeat(size);
    assert.throws(() => parseConnection(header), new RegExp(`expected token at ${size}`));
  });

  test("rejects 100 KiB of spaces between two tokens at the right position", () => {
    const header = `a${" ".repeat(size)}b`;
    assert.throws(() => parseSubprotocol(header), new RegExp(`expected comma at ${size + 1}`));
  });

  test("rejects an unterminated 100 KiB quoted string", () => {
    assert.throws(
      () => parseExtension(`x; a="${"a".repeat(size)}`),
      /unterminated quoted string at 5/,
    );
    assert.throws(
      () => parseExtension(`x; a="${"\\a".repeat(size / 2)}`),
      /unterminated quoted string at 5/,
    );
  });

  test("parses a 100 KiB quoted string made of escapes", () => {
    const [[, params]] = parseExtension(`x; a="${"\\a".repeat(size / 2)}"`);
    assert.deepEqual(params, [["a", "a".repeat(size / 2)]]);
  });

  test("parses 20,000 parameters", () => {
    const [[name, params]] = parseExtension(`x${"; a=1".repeat(20_000)}`);
    assert.equal(name, "x");
    assert.equal(params.length, 20_000);
  });

  test("rejects a 100 KiB token followed by garbage, quoting only an excerpt", () => {
    const header = `${"a".repeat(size)}\u0001`;
    assert.throws(
      () => parseConnection(header),
      (error: unknown) =>
        error instanceof InvalidHeaderFormat &&
        error.message.includes(`expected comma at ${size}`) &&
        error.message.includes(`(${size + 1} chars)`) &&
        error.message.length < 300,
    );
  });

  test("parses a 100 KiB Authorization header", () => {
    const password = "p".repeat(75_000);
    assert.deepEqual(parseAuthorizationBasic(buildAuthorizationBasic("u", password)), [
      "u",
      password,
    ]);
  });
});

describe("Authorization: Basic", () => {
  test("round-trips credentials, UTF-8 included", () => {
    assert.equal(
      buildAuthorizationBasic("Aladdin", "open sesame"),
      "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    );
    assert.deepEqual(parseAuthorizationBasic("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), [
      "Aladdin",
      "open sesame",
    ]);
    assert.deepEqual(parseAuthorizationBasic(buildAuthorizationBasic("héllo", "pa:ss wörd")), [
      "héllo",
      "pa:ss wörd",
    ]);
    assert.deepEqual(parseAuthorizationBasic("basic   dTpw  "), ["u", "p"]);
  });

  test("refuses to build credentials with a colon in the username (RFC 7617 §2)", () => {
    assert.throws(() => buildAuthorizationBasic("a:b", "c"), /must not contain a colon/);
  });

  test("rejects other schemes as an invalid value", () => {
    assert.throws(
      () => parseAuthorizationBasic("Bearer abc"),
      (error: unknown) =>
        error instanceof InvalidHeaderValue &&
        error.message === "invalid Authorization header: unsupported scheme: Bearer",
    );
  });

  test("rejects malformed headers with their position", () => {
    assert.throws(() => parseAuthorizationBasic("Basic"), /expected space after scheme at 5/);
    assert.throws(() => parseAuthorizationBasic("Basic "), /expected token68 at 6/);
    assert.throws(() => parseAuthorizationBasic("Basic dTpw x"), /expected end of header at 11/);
    assert.throws(() => parseAuthorizationBasic(""), /expected token at 0/);
  });

  test("rejects credentials that aren't base64 of username:password in UTF-8", () => {
    assert.throws(
      () => parseAuthorizationBasic("Basic dTp"),
      /expected base64-encoded credentials/,
    );
    assert.throws(
      () => parseAuthorizationBasic("Basic d-pw"),
      /expected base64-encoded credentials/,
    );
    assert.throws(
      () => parseAuthorizationBasic(`Basic ${Buffer.from("nocolon").toString("base64")}`),
      /expected username:password credentials/,
    );
    assert.throws(
      () => parseAuthorizationBasic(`Basic ${Buffer.from([0x75, 0x3a, 0xff]).toString("base64")}`),
      /expected UTF-8 credentials/,
    );
  });
});

describe("WWW-Authenticate", () => {
  test("builds a Basic challenge with a quoted realm", () => {
    assert.equal(buildWwwAuthenticateBasic("chat"), 'Basic realm="chat", charset="UTF-8"');
    assert.equal(
      buildWwwAuthenticateBasic('my "quoted" \\ realm'),
      'Basic realm="my \\"quoted\\" \\\\ realm", charset="UTF-8"',
    );
    assert.throws(() => buildWwwAuthenticateBasic("a\r\nb"), /invalid character in quoted string/);
  });
});
