import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { InvalidMessage, SecurityError } from "../src/errors.ts";
import { Headers } from "../src/headers.ts";
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from "../src/http-limits.ts";
import type { Request } from "../src/http11.ts";
import { RequestParser } from "../src/http11-parser.ts";
import {
  checkNoRequestBody,
  checkParsedHeaders,
  checkParsedRequestLine,
  parseContentLength,
  printable,
} from "../src/http11-rules.ts";

const LIMITS: Readonly<HttpLimits> = DEFAULT_HTTP_LIMITS;

const GOOD_LINES: [string, string][] = [
  ["Host", "example.com"],
  ["Upgrade", "websocket"],
  ["Connection", "Upgrade"],
  ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
  ["Sec-WebSocket-Version", "13"],
];

/** A request as another HTTP/1.1 stack hands it over: fields, header lines as flat pairs. */
function parsedElsewhere(method: string, path: string, version: string, lines: [string, string][]) {
  const request: Request = {
    method,
    path,
    version,
    headers: Headers.fromValidated(lines.flat()),
  };
  return request;
}

/** What the checks of a request parsed elsewhere throw, or null. */
function checkError(request: Request, limits = LIMITS): Error | null {
  try {
    checkParsedRequestLine(request, limits);
    checkParsedHeaders(request.headers, limits);
    return null;
  } catch (error) {
    return error as Error;
  }
}

/** What the parser throws for the same request written as bytes, or null. */
function parserError(request: Request, limits = LIMITS): Error | null {
  const lines = [`${request.method} ${request.path} ${request.version}`];
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
  try {
    new RequestParser({ limits }).feed(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"));
    return null;
  } catch (error) {
    return error as Error;
  }
}

describe("checks of a request parsed elsewhere, against the parser's", () => {
  const many = Array.from({ length: 124 }, (_, i): [string, string] => [`X-Field-${i}`, `${i}`]);
  // A good request with these header lines too.
  const withLines = (...extra: [string, string][]) =>
    parsedElsewhere("GET", "/", "HTTP/1.1", [...GOOD_LINES, ...extra]);
  // A good request but for its request line.
  const withRequestLine = (method: string, path: string, version: string) =>
    parsedElsewhere(method, path, version, GOOD_LINES);
  const table: [name: string, request: Request, type: typeof InvalidMessage | null][] = [
    ["a good request", withLines(), null],
    ["128 header lines", withLines(...many.slice(1)), null],
    ["129 header lines", withLines(...many), SecurityError],
    ["a header line of 8192 bytes", withLines(["X", "a".repeat(8189)]), null],
    ["a header line of 8193 bytes", withLines(["X", "a".repeat(8190)]), SecurityError],
    [
      "a request line of 8192 bytes",
      withRequestLine("GET", `/${"a".repeat(8178)}`, "HTTP/1.1"),
      null,
    ],
    [
      "a request line of 8193 bytes",
      withRequestLine("GET", `/${"a".repeat(8179)}`, "HTTP/1.1"),
      SecurityError,
    ],
    ["a method that isn't a token", withRequestLine("G(T", "/", "HTTP/1.1"), InvalidMessage],
    [
      "a target with a control character",
      withRequestLine("GET", "/a\x7fb", "HTTP/1.1"),
      InvalidMessage,
    ],
    [
      "a target with a non-ASCII byte",
      withRequestLine("GET", "/caf\xe9", "HTTP/1.1"),
      InvalidMessage,
    ],
    ["HTTP/1.0", withRequestLine("GET", "/", "HTTP/1.0"), InvalidMessage],
    ["a header name that isn't a token", withLines(["X(Y)", "1"]), InvalidMessage],
    ["a header value with a control character", withLines(["X", "a\x01b"]), InvalidMessage],
    ["a header value with obs-text", withLines(["X", "caf\xe9"]), null],
    ["Transfer-Encoding", withLines(["Transfer-Encoding", "chunked"]), InvalidMessage],
    ["Content-Length: 5", withLines(["Content-Length", "5"]), InvalidMessage],
    ["Content-Length: 0", withLines(["Content-Length", "0"]), null],
  ];
  const cases = table.map(([name, request, type]) => ({ name, request, type }));
  for (const { name, request, type } of cases) {
    test(`${name}: ${type === null ? "accepted" : type.name}, as by the parser`, () => {
      const expected = parserError(request);
      const actual = checkError(request);
      if (type === null) {
        assert.equal(expected, null);
        assert.equal(actual, null);
        return;
      }
      assert.ok(expected instanceof type, String(expected));
      assert.ok(actual instanceof type, String(actual));
      assert.equal(actual.message, expected.message);
    });
  }

  test("limits given override the defaults, as the parser's do", () => {
    const limits = { ...LIMITS, maxNumHeaders: 5, maxLineLength: 100 };
    const fits = parsedElsewhere("GET", "/", "HTTP/1.1", GOOD_LINES);
    assert.equal(checkError(fits, limits), null);
    const over = parsedElsewhere("GET", "/", "HTTP/1.1", [...GOOD_LINES, ["X", "1"]]);
    assert.equal(checkError(over, limits)?.message, parserError(over, limits)?.message);
    assert.match(checkError(over, limits)?.message ?? "", /more than 5 exceeds limit of 5/);
  });

  test("a header block comes from a parser: only the body rule is checked", () => {
    const headers = Headers.fromBlock("Host: example.com\r\nContent-Length: 3\r\n");
    assert.throws(() => checkParsedHeaders(headers, LIMITS), /Content-Length 3/);
  });
});

describe("the request body rule", () => {
  test("refuses Transfer-Encoding and a Content-Length other than 0", () => {
    assert.doesNotThrow(() => checkNoRequestBody(new Headers({ "Content-Length": "0" })));
    assert.throws(
      () => checkNoRequestBody(new Headers({ "Transfer-Encoding": "gzip" })),
      /unsupported Transfer-Encoding/,
    );
    assert.throws(
      () => checkNoRequestBody(new Headers({ "Content-Length": "12" })),
      /unsupported HTTP request body: Content-Length 12/,
    );
  });

  test("Content-Length: one value of digits", () => {
    assert.equal(parseContentLength(new Headers()), null);
    assert.equal(parseContentLength(new Headers({ "Content-Length": "42" })), 42);
    assert.throws(
      () => parseContentLength(new Headers({ "Content-Length": ["1", "1"] })),
      /multiple Content-Length headers: 1, 1/,
    );
    assert.throws(
      () => parseContentLength(new Headers({ "Content-Length": "-1" })),
      /invalid Content-Length: "-1"/,
    );
    assert.throws(
      () => parseContentLength(new Headers({ "Content-Length": "1".repeat(16) })),
      /invalid Content-Length/,
    );
  });
});

describe("printable", () => {
  test("escapes control characters in bytes and strings alike", () => {
    assert.equal(printable(Buffer.from("a\r\nb\x7f")), "a\\x0d\\x0ab\\x7f");
    assert.equal(printable("a\r\nb\x7f"), "a\\x0d\\x0ab\\x7f");
  });

  test("bounds what it shows", () => {
    assert.equal(printable(Buffer.alloc(201, 0x61)), `${"a".repeat(200)}… (201 bytes)`);
    assert.equal(printable("a".repeat(300)), `${"a".repeat(200)}… (300 characters)`);
  });

  test("shows characters past U+00FF, which no HTTP/1.1 parser decodes, by their code", () => {
    assert.equal(printable("\u20ac"), "\\x20ac");
  });
});
