import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { InvalidMessage, InvalidState, SecurityError } from "../src/errors.ts";
import { DEFAULT_HTTP_LIMITS, httpLimitsFromEnv } from "../src/http-limits.ts";
import type { Request } from "../src/http11.ts";
import { type Parsed, RequestParser, ResponseParser } from "../src/http11-parser.ts";
import { withEnv } from "./support/env.ts";
import { feedBytes, parseRequest, parseResponse, REQUEST, RESPONSE_101 } from "./support/http.ts";

function throwsMessage(
  fn: () => unknown,
  type: typeof InvalidMessage | typeof SecurityError,
  message: RegExp,
) {
  assert.throws(
    fn,
    (error: unknown) => error instanceof type && message.test((error as Error).message),
  );
}

describe("RequestParser", () => {
  test("parses the request line and headers of a handshake", () => {
    const parsed = new RequestParser().feed(Buffer.from(REQUEST));
    assert.notEqual(parsed, null);
    const { message, rest } = parsed as Parsed<Request>;
    assert.equal(message.method, "GET");
    assert.equal(message.path, "/chat?room=1");
    assert.equal(message.version, "HTTP/1.1");
    assert.equal(message.headers.get("host"), "server.example.com");
    assert.deepEqual(message.headers.getAll("Sec-WebSocket-Protocol"), ["chat", "superchat"]);
    assert.equal(message.headers.size, 7);
    assert.equal(rest.length, 0);
  });

  test("returns the bytes received after the request", () => {
    const frames = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 5, 6]);
    const parsed = new RequestParser().feed(Buffer.concat([Buffer.from(REQUEST), frames]));
    assert.deepEqual(parsed?.rest, frames);
  });

  test("parses a request fed one byte at a time", () => {
    const parsed = feedBytes(new RequestParser(), Buffer.from(REQUEST));
    assert.equal(parsed.message.path, "/chat?room=1");
    assert.equal(parsed.message.headers.get("Sec-WebSocket-Key"), "dGhlIHNhbXBsZSBub25jZQ==");
    assert.equal(parsed.rest.length, 0);
  });

  test("parses a request split anywhere, including inside CRLF", () => {
    const data = Buffer.from(REQUEST);
    for (let split = 1; split < data.length; split++) {
      const parser = new RequestParser();
      assert.equal(parser.feed(data.subarray(0, split)), null);
      const parsed = parser.feed(data.subarray(split));
      assert.equal(parsed?.message.headers.get("Sec-WebSocket-Version"), "13", `split at ${split}`);
    }
  });

  test("copies buffered bytes so the caller may reuse its buffer", () => {
    const parser = new RequestParser();
    const chunk = Buffer.from("GET /a HTTP/1.1\r\nX-A: hel");
    assert.equal(parser.feed(chunk), null);
    chunk.fill(0x21);
    const parsed = parser.feed(Buffer.from("lo\r\n\r\n"));
    assert.equal(parsed?.message.headers.get("X-A"), "hello");
  });

  test("keeps every header line in order, however it's written and however it's split", () => {
    // Lines written `Name: value` are kept as received, others as pairs:
    // the headers must not tell the difference.
    const text =
      "GET / HTTP/1.1\r\nHost: a.example\r\nX-A:1\r\nX-B: 2\r\nX-C:  3 \r\nX-D: \r\n" +
      "x-a: 4\r\nX-E:\r\n\r\n";
    const lines = [
      ["Host", "a.example"],
      ["X-A", "1"],
      ["X-B", "2"],
      ["X-C", "3"],
      ["X-D", ""],
      ["x-a", "4"],
      ["X-E", ""],
    ];
    const data = Buffer.from(text);
    for (let split = 0; split < data.length; split++) {
      const parser = new RequestParser();
      const first = Buffer.from(data.subarray(0, split));
      const parsed = split === 0 ? null : parser.feed(first);
      assert.equal(parsed, null);
      // The parser must not keep views of a chunk once feed returned.
      first.fill(0x21);
      const request = parser.feed(Buffer.from(data.subarray(split)))?.message;
      assert.deepEqual(request && [...request.headers], lines, `split at ${split}`);
      assert.deepEqual(request?.headers.getAll("x-a"), ["1", "4"]);
      assert.equal(request?.headers.size, 7);
    }
  });

  test("finds every line of a request with more header lines than a block holds", () => {
    let text = "GET / HTTP/1.1\r\n";
    for (let i = 0; i < 100; i++) text += `X-${i}: ${"v".repeat(i)}\r\n`;
    const request = parseRequest(`${text}X-7: again\r\n\r\n`);
    assert.equal(request.headers.size, 101);
    assert.equal(request.headers.get("x-99"), "v".repeat(99));
    assert.equal(request.headers.get("X-0"), "");
    assert.deepEqual(request.headers.getAll("X-7"), ["vvvvvvv", "again"]);
  });

  test("the headers of a parsed request can be changed", () => {
    const headers = parseRequest(REQUEST).headers;
    headers.append("X-Forwarded-For", "192.0.2.1");
    headers.set("Host", "other.example");
    headers.delete("Sec-WebSocket-Protocol");
    assert.equal(headers.get("x-forwarded-for"), "192.0.2.1");
    assert.equal(headers.get("host"), "other.example");
    assert.deepEqual(headers.getAll("Sec-WebSocket-Protocol"), []);
    assert.equal(headers.size, 6);
    assert.match(headers.toString(), /^Host: other.example\r\nUpgrade: websocket\r\n/);
  });

  test("strips optional whitespace around values and accepts empty values", () => {
    const request = parseRequest("GET / HTTP/1.1\r\nX-A: \t a b \t\r\nX-B:\r\nX-C:c\r\n\r\n");
    assert.equal(request.headers.get("X-A"), "a b");
    assert.equal(request.headers.get("X-B"), "");
    assert.equal(request.headers.get("X-C"), "c");
  });

  test("decodes obs-text in values as latin1, byte for byte", () => {
    const data = Buffer.concat([
      Buffer.from("GET / HTTP/1.1\r\nX-A: "),
      Buffer.from([0xc3, 0xa9, 0xff]),
      Buffer.from("\r\n\r\n"),
    ]);
    const value = new RequestParser().feed(data)?.message.headers.get("X-A");
    assert.deepEqual(Buffer.from(value ?? "", "latin1"), Buffer.from([0xc3, 0xa9, 0xff]));
  });

  test("accepts other methods (the server rejects them)", () => {
    assert.equal(parseRequest("POST /x HTTP/1.1\r\n\r\n").method, "POST");
  });

  test("accepts Content-Length: 0", () => {
    assert.equal(parseRequest("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").path, "/");
  });

  const malformed: [string, string, RegExp][] = [
    ["a request line without a version", "GET /\r\n\r\n", /invalid HTTP request line: GET \//],
    ["an empty request line", "\r\n\r\n", /invalid HTTP request line/],
    ["two spaces after the method", "GET  / HTTP/1.1\r\n\r\n", /invalid HTTP request target/],
    ["a space at the start", " GET / HTTP/1.1\r\n\r\n", /invalid HTTP method/],
    ["a method that isn't a token", "G(T / HTTP/1.1\r\n\r\n", /invalid HTTP method: G\(T/],
    ["a space in the target", "GET /a b HTTP/1.1\r\n\r\n", /unsupported HTTP version: b HTTP\/1.1/],
    ["HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", /unsupported HTTP version: HTTP\/1.0/],
    ["HTTP/2", "GET / HTTP/2\r\n\r\n", /unsupported HTTP version: HTTP\/2/],
    ["a lowercase version", "GET / http/1.1\r\n\r\n", /unsupported HTTP version/],
    ["a bare LF ending a line", "GET / HTTP/1.1\nHost: a\r\n\r\n", /bare LF in HTTP request line/],
    ["a bare LF ending a header", "GET / HTTP/1.1\r\nHost: a\n\r\n", /bare LF in HTTP headers/],
    ["a bare LF ending the headers", "GET / HTTP/1.1\r\nHost: a\r\n\n", /bare LF in HTTP headers/],
    [
      "a bare CR in a header",
      "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
      /bare CR in HTTP headers: Host: a\\x0db/,
    ],
    ["obsolete line folding", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", /obsolete line folding/],
    ["a tab fold", "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n", /obsolete line folding/],
    [
      "a space before the colon",
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
      /invalid HTTP header line: Host : a/,
    ],
    [
      "a header without a colon",
      "GET / HTTP/1.1\r\nHost\r\n\r\n",
      /invalid HTTP header line: Host/,
    ],
    ["an empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n", /empty HTTP header name/],
    ["a name that isn't a token", "GET / HTTP/1.1\r\nX(A): a\r\n\r\n", /invalid HTTP header line/],
    [
      "a NUL in a value",
      "GET / HTTP/1.1\r\nX-A: a\u0000b\r\n\r\n",
      /invalid HTTP header value: X-A: a\\x00b/,
    ],
    ["a DEL in a value", "GET / HTTP/1.1\r\nX-A: a\u007f\r\n\r\n", /invalid HTTP header value/],
    ["a body", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", /unsupported HTTP request body/],
    [
      "a chunked body",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      /unsupported Transfer-Encoding/,
    ],
    [
      "a bad Content-Length",
      "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      /invalid Content-Length: "-1"/,
    ],
  ];
  for (const [what, text, message] of malformed) {
    test(`rejects ${what} with InvalidMessage`, () => {
      throwsMessage(
        () => new RequestParser().feed(Buffer.from(text, "latin1")),
        InvalidMessage,
        message,
      );
    });
  }

  test("rejects a request target with non-ASCII bytes", () => {
    const data = Buffer.concat([
      Buffer.from("GET /"),
      Buffer.from([0xc3, 0xa9]),
      Buffer.from(" HTTP/1.1\r\n\r\n"),
    ]);
    throwsMessage(
      () => new RequestParser().feed(data),
      InvalidMessage,
      /invalid HTTP request target: GET \/\\xc3\\xa9/,
    );
  });

  test("says which part was incomplete when the stream ends", () => {
    const parser = new RequestParser();
    assert.equal(parser.feed(Buffer.from("GET / HT")), null);
    throwsMessage(
      () => parser.feedEof(),
      InvalidMessage,
      /^connection closed while reading HTTP request line$/,
    );
    const other = new RequestParser();
    assert.equal(other.feed(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n")), null);
    throwsMessage(
      () => other.feedEof(),
      InvalidMessage,
      /^connection closed while reading HTTP headers$/,
    );
    throwsMessage(() => new RequestParser().feedEof(), InvalidMessage, /request line/);
  });

  test("reports the phase it's in, or failed in", () => {
    const parser = new RequestParser();
    assert.equal(parser.phase, "start-line");
    parser.feed(Buffer.from("GET / HTTP/1.1\r\n"));
    assert.equal(parser.phase, "headers");
    assert.equal(parser.error === null, true);
    assert.throws(() => parser.feed(Buffer.from("bad header\r\n")), InvalidMessage);
    assert.equal(parser.phase, "headers");
    assert.ok(parser.error instanceof InvalidMessage);
    const response = new ResponseParser();
    response.feed(Buffer.from("HTTP/1.1 500 Oops\r\n\r\npartial"));
    assert.equal(response.phase, "body");
    response.feedEof();
    assert.equal(response.phase, "done");
  });

  test("refuses more data once it returned a request", () => {
    const parser = new RequestParser();
    assert.notEqual(parser.feed(Buffer.from(REQUEST)), null);
    assert.equal(parser.done, true);
    assert.throws(() => parser.feed(Buffer.from("x")), InvalidState);
    assert.throws(() => parser.feedEof(), InvalidState);
  });

  test("refuses more data once it failed, keeping the error as the cause", () => {
    const parser = new RequestParser();
    assert.throws(() => parser.feed(Buffer.from("GET / HTTP/1.0\r\n")), InvalidMessage);
    assert.throws(
      () => parser.feed(Buffer.from("\r\n")),
      (error: unknown) => error instanceof InvalidState && error.cause instanceof InvalidMessage,
    );
    assert.equal(parser.done, false);
  });
});

describe("HTTP limits", () => {
  test("defaults to 8192-byte lines, 128 headers and 1 MiB bodies", () => {
    assert.deepEqual(DEFAULT_HTTP_LIMITS, {
      maxLineLength: 8192,
      maxNumHeaders: 128,
      maxBodySize: 1_048_576,
    });
    assert.deepEqual(httpLimitsFromEnv({}), DEFAULT_HTTP_LIMITS);
  });

  test("accepts a line of exactly the maximum length", () => {
    const request = parseRequest(`GET / HTTP/1.1\r\nX-A: ${"a".repeat(8192 - 5)}\r\n\r\n`);
    assert.equal(request.headers.get("X-A")?.length, 8187);
    const path = `/${"a".repeat(8192 - 14)}`;
    assert.equal(parseRequest(`GET ${path} HTTP/1.1\r\n\r\n`).path, path);
  });

  test("rejects a complete line one byte over the limit", () => {
    throwsMessage(
      () => parseRequest(`GET / HTTP/1.1\r\nX-A: ${"a".repeat(8192 - 4)}\r\n\r\n`),
      SecurityError,
      /^line too long in HTTP headers: 8193 bytes or more exceeds limit of 8192 bytes \(WEBSOCKETS_MAX_LINE_LENGTH\)$/,
    );
  });

  test("rejects an incomplete line as soon as it exceeds the limit", () => {
    const parser = new RequestParser();
    assert.equal(parser.feed(Buffer.from("GET / HTTP/1.1\r\n")), null);
    // 8193 bytes without LF may still be 8192 bytes and a CR.
    assert.equal(parser.feed(Buffer.alloc(8193, 0x61)), null);
    throwsMessage(
      () => parser.feed(Buffer.from("a")),
      SecurityError,
      /8194 bytes or more exceeds limit of 8192/,
    );
  });

  test("rejects a long request line that never ends, in one chunk", () => {
    throwsMessage(
      () => new RequestParser().feed(Buffer.alloc(1_000_000, 0x61)),
      SecurityError,
      /line too long in HTTP request line: 1000000 bytes or more/,
    );
  });

  test("rejects a line fed one byte at a time without buffering past the limit", () => {
    const parser = new RequestParser({ limits: { maxLineLength: 100 } });
    const byte = Buffer.from("a");
    let fed = 0;
    assert.throws(() => {
      for (; fed < 10_000; fed++) parser.feed(byte);
    }, SecurityError);
    assert.equal(fed, 101);
  });

  test("accepts 128 headers and rejects 129", () => {
    const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    assert.equal(parseRequest(`GET / HTTP/1.1\r\n${headers(128)}\r\n`).headers.size, 128);
    throwsMessage(
      () => parseRequest(`GET / HTTP/1.1\r\n${headers(129)}\r\n`),
      SecurityError,
      /^too many HTTP headers: more than 128 exceeds limit of 128 \(WEBSOCKETS_MAX_NUM_HEADERS\)$/,
    );
  });

  test("stops at the 129th header without waiting for the end of the headers", () => {
    const parser = new RequestParser();
    parser.feed(Buffer.from("GET / HTTP/1.1\r\n"));
    for (let i = 0; i < 128; i++) assert.equal(parser.feed(Buffer.from(`X: ${i}\r\n`)), null);
    assert.throws(() => parser.feed(Buffer.from("X: 128\r\n")), SecurityError);
  });

  test("takes limits from options", () => {
    const parser = new RequestParser({ limits: { maxNumHeaders: 1 } });
    throwsMessage(
      () => parser.feed(Buffer.from("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n")),
      SecurityError,
      /more than 1 exceeds limit of 1/,
    );
  });

  test("reads WEBSOCKETS_MAX_LINE_LENGTH when a parser is created", () => {
    withEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "20" }, () => {
      const parser = new RequestParser();
      throwsMessage(
        () => parser.feed(Buffer.from("GET /0123456789012345 HTTP/1.1\r\n")),
        SecurityError,
        /exceeds limit of 20 bytes/,
      );
      assert.equal(httpLimitsFromEnv().maxLineLength, 20);
    });
    assert.equal(new RequestParser().feed(Buffer.from("GET /0123456789012345 HTTP/1.1\r\n")), null);
  });

  test("reads WEBSOCKETS_MAX_NUM_HEADERS when a parser is created", () => {
    withEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "2" }, () => {
      throwsMessage(
        () => parseRequest("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
        SecurityError,
        /more than 2 exceeds limit of 2/,
      );
    });
    assert.equal(parseRequest("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n").headers.size, 3);
  });

  test("reads WEBSOCKETS_MAX_BODY_SIZE when a parser is created", () => {
    withEnv({ WEBSOCKETS_MAX_BODY_SIZE: "4" }, () => {
      throwsMessage(
        () =>
          new ResponseParser().feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")),
        SecurityError,
        /body too large: 5 bytes exceeds limit of 4 bytes \(WEBSOCKETS_MAX_BODY_SIZE\)/,
      );
    });
  });

  test("options override environment variables", () => {
    withEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "1" }, () => {
      const parser = new RequestParser({ limits: { maxNumHeaders: 3 } });
      assert.notEqual(parser.feed(Buffer.from("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n")), null);
    });
  });

  test("rejects environment variables that aren't integers", () => {
    assert.throws(
      () => httpLimitsFromEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "8k" }),
      /WEBSOCKETS_MAX_LINE_LENGTH must be a non-negative integer, got "8k"/,
    );
    assert.throws(() => httpLimitsFromEnv({ WEBSOCKETS_MAX_BODY_SIZE: "-1" }), RangeError);
    assert.equal(httpLimitsFromEnv({ WEBSOCKETS_MAX_BODY_SIZE: "" }).maxBodySize, 1_048_576);
  });
});

describe("ResponseParser", () => {
  test("parses a 101 and returns the frames after it", () => {
    const frames = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    const { message, rest } = parseResponse(Buffer.concat([Buffer.from(RESPONSE_101), frames]));
    assert.equal(message.status, 101);
    assert.equal(message.reason, "Switching Protocols");
    assert.equal(message.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(message.body.length, 0);
    assert.deepEqual(rest, frames);
  });

  test("parses a 101 fed one byte at a time", () => {
    const parsed = feedBytes(new ResponseParser(), Buffer.from(RESPONSE_101));
    assert.equal(parsed.message.status, 101);
    assert.equal(parsed.message.headers.get("Upgrade"), "websocket");
  });

  test("reads a body by Content-Length", () => {
    const text = "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbiddenEXTRA";
    const { message, rest } = parseResponse(text);
    assert.equal(message.status, 403);
    assert.equal(message.body.toString(), "forbidden");
    assert.equal(rest.toString(), "EXTRA");
  });

  test("reads a body by Content-Length fed one byte at a time", () => {
    const parsed = feedBytes(
      new ResponseParser(),
      Buffer.from("HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request"),
    );
    assert.equal(parsed.message.body.toString(), "bad request");
  });

  test("completes an empty body by Content-Length: 0 without more data", () => {
    const { message } = parseResponse("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
    assert.equal(message.body.length, 0);
  });

  test("reads a chunked body with extensions and trailers", () => {
    const text =
      "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n" +
      "1;name=value\r\n \r\n" +
      "6 ; x\r\nworld!\r\n" +
      "0\r\nX-Trailer: 1\r\n\r\nREST";
    const { message, rest } = parseResponse(text);
    assert.equal(message.body.toString(), "hello world!");
    assert.equal(message.headers.has("X-Trailer"), false);
    assert.equal(rest.toString(), "REST");
  });

  test("reads a chunked body fed one byte at a time", () => {
    const text =
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\nnot found!\r\n0\r\n\r\n";
    const parsed = feedBytes(new ResponseParser(), Buffer.from(text));
    assert.equal(parsed.message.body.toString(), "not found!");
  });

  test("reads a body until the end of the stream", () => {
    const parser = new ResponseParser();
    assert.equal(
      parser.feed(Buffer.from("HTTP/1.1 500 Internal Server Error\r\n\r\nsomething ")),
      null,
    );
    assert.equal(parser.feed(Buffer.from("broke")), null);
    const { message, rest } = parser.feedEof();
    assert.equal(message.body.toString(), "something broke");
    assert.equal(rest.length, 0);
  });

  test("completes an empty body delimited by the end of the stream", () => {
    const parser = new ResponseParser();
    assert.equal(parser.feed(Buffer.from("HTTP/1.1 503 Service Unavailable\r\n\r\n")), null);
    assert.equal(parser.feedEof().message.body.length, 0);
  });

  test("reads no body for 1xx, 204 and 304", () => {
    for (const status of [100, 102, 204, 304]) {
      const { message, rest } = parseResponse(
        `HTTP/1.1 ${status} X\r\nContent-Length: 3\r\n\r\nabc`,
      );
      assert.equal(message.body.length, 0);
      assert.equal(rest.toString(), "abc");
    }
  });

  test("reads no body for a HEAD request", () => {
    const parser = new ResponseParser({ requestMethod: "HEAD" });
    const parsed = parser.feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"));
    assert.equal(parsed?.message.body.length, 0);
  });

  test("reads no body for a 2xx answer to CONNECT, and a body for other answers", () => {
    const tunnel = new ResponseParser({ requestMethod: "CONNECT" }).feed(
      Buffer.from("HTTP/1.1 200 Connection established\r\n\r\n\u0016\u0003\u0001"),
    );
    assert.equal(tunnel?.message.status, 200);
    assert.deepEqual(tunnel?.rest, Buffer.from([0x16, 0x03, 0x01]));
    const refused = new ResponseParser({ requestMethod: "CONNECT" }).feed(
      Buffer.from("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\nauth"),
    );
    assert.equal(refused?.message.body.toString(), "auth");
  });

  test("accepts HTTP/1.0 only when allowed, for proxies", () => {
    const text = "HTTP/1.0 200 Connection established\r\n\r\n";
    throwsMessage(() => parseResponse(text), InvalidMessage, /unsupported HTTP version: HTTP\/1.0/);
    const parsed = new ResponseParser({ requestMethod: "CONNECT", allowHttp10: true }).feed(
      Buffer.from(text),
    );
    assert.equal(parsed?.message.status, 200);
  });

  test("accepts a status line without a reason phrase", () => {
    assert.equal(parseResponse("HTTP/1.1 101\r\n\r\n").message.reason, "");
    assert.equal(parseResponse("HTTP/1.1 101 \r\n\r\n").message.reason, "");
  });

  test("keeps reason phrases with spaces and obs-text", () => {
    const data = Buffer.concat([
      Buffer.from("HTTP/1.1 101 Switching \tProtocols "),
      Buffer.from([0xe9]),
      Buffer.from("\r\n\r\n"),
    ]);
    assert.equal(parseResponse(data).message.reason, "Switching \tProtocols \u00e9");
  });

  const malformed: [string, string, RegExp][] = [
    ["garbage", "SSH-2.0-OpenSSH\r\n\r\n", /invalid HTTP status line: SSH-2.0-OpenSSH/],
    ["an empty status line", "\r\n\r\n", /invalid HTTP status line/],
    ["HTTP/2", "HTTP/2 101 Switching Protocols\r\n\r\n", /unsupported HTTP version: HTTP\/2/],
    ["a two-digit status", "HTTP/1.1 20 OK\r\n\r\n", /invalid HTTP status/],
    ["a four-digit status", "HTTP/1.1 1010 X\r\n\r\n", /invalid HTTP status code: 1010 X/],
    ["a status below 100", "HTTP/1.1 099 X\r\n\r\n", /invalid HTTP status code: 099/],
    ["a non-numeric status", "HTTP/1.1 1x1 X\r\n\r\n", /invalid HTTP status code: 1x1 X/],
    [
      "a control character in the reason",
      "HTTP/1.1 101 A\u0000B\r\n\r\n",
      /invalid HTTP reason phrase: A\\x00B/,
    ],
    ["a bare LF", "HTTP/1.1 101 Switching Protocols\n\n", /bare LF in HTTP status line/],
    ["obsolete line folding", "HTTP/1.1 101 OK\r\nA: 1\r\n 2\r\n\r\n", /obsolete line folding/],
    [
      "two Content-Length headers",
      "HTTP/1.1 400 X\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
      /multiple Content-Length headers: 1, 1/,
    ],
    [
      "a Content-Length list",
      "HTTP/1.1 400 X\r\nContent-Length: 1, 1\r\n\r\nx",
      /invalid Content-Length: "1, 1"/,
    ],
    [
      "a signed Content-Length",
      "HTTP/1.1 400 X\r\nContent-Length: +1\r\n\r\nx",
      /invalid Content-Length: "\+1"/,
    ],
    [
      "an empty Content-Length",
      "HTTP/1.1 400 X\r\nContent-Length:\r\n\r\n",
      /invalid Content-Length: ""/,
    ],
    [
      "a huge Content-Length",
      "HTTP/1.1 400 X\r\nContent-Length: 1234567890123456789\r\n\r\n",
      /invalid Content-Length/,
    ],
    [
      "both Transfer-Encoding and Content-Length",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
      /both Transfer-Encoding and Content-Length/,
    ],
    [
      "an unknown transfer coding",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      /unsupported Transfer-Encoding: gzip, chunked/,
    ],
    [
      "an invalid chunk size",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
      /invalid chunk size: xyz/,
    ],
    [
      "garbage after a chunk size",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n",
      /invalid chunk size: 1 x/,
    ],
    [
      "an empty chunk size",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
      /invalid chunk size/,
    ],
    [
      "chunk data longer than announced",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
      /expected CRLF after chunk data/,
    ],
    [
      "a malformed trailer",
      "HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
      /invalid HTTP header line/,
    ],
  ];
  for (const [what, text, message] of malformed) {
    test(`rejects ${what} with InvalidMessage`, () => {
      throwsMessage(() => parseResponse(text), InvalidMessage, message);
    });
  }

  test("says what was incomplete when the stream ends", () => {
    const cases: [string, RegExp][] = [
      ["HTTP/1.1 10", /reading HTTP status line/],
      ["HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", /reading HTTP headers/],
      ["HTTP/1.1 400 X\r\nContent-Length: 10\r\n\r\nshort", /reading HTTP body/],
      ["HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /reading HTTP body/],
      ["HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", /reading HTTP body/],
    ];
    for (const [text, message] of cases) {
      const parser = new ResponseParser();
      assert.equal(parser.feed(Buffer.from(text)), null);
      throwsMessage(() => parser.feedEof(), InvalidMessage, message);
    }
  });

  test("rejects a Content-Length over the body limit before reading the body", () => {
    const parser = new ResponseParser();
    throwsMessage(
      () => parser.feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n")),
      SecurityError,
      /^body too large: 1048577 bytes exceeds limit of 1048576 bytes \(WEBSOCKETS_MAX_BODY_SIZE\)$/,
    );
  });

  test("accepts a body of exactly the limit", () => {
    const parser = new ResponseParser({ limits: { maxBodySize: 10 } });
    const parsed = parser.feed(
      Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"),
    );
    assert.equal(parsed?.message.body.length, 10);
  });

  test("rejects a body read to the end of the stream as soon as it exceeds the limit", () => {
    const parser = new ResponseParser({ limits: { maxBodySize: 10 } });
    assert.equal(parser.feed(Buffer.from("HTTP/1.1 200 OK\r\n\r\n0123456789")), null);
    throwsMessage(
      () => parser.feed(Buffer.from("x")),
      SecurityError,
      /body too large: over 11 bytes exceeds limit of 10/,
    );
  });

  test("rejects a chunked body as soon as a chunk size exceeds the limit", () => {
    const parser = new ResponseParser({ limits: { maxBodySize: 10 } });
    assert.equal(
      parser.feed(
        Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n"),
      ),
      null,
    );
    throwsMessage(
      () => parser.feed(Buffer.from("3\r\n")),
      SecurityError,
      /body too large: 11 bytes exceeds limit of 10/,
    );
  });

  test("rejects a chunk size with many digits without overflowing", () => {
    throwsMessage(
      () =>
        parseResponse(
          `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${"f".repeat(100)}\r\n`,
        ),
      SecurityError,
      /body too large/,
    );
    const ok = parseResponse(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${"0".repeat(100)}2\r\nok\r\n0\r\n\r\n`,
    );
    assert.equal(ok.message.body.toString(), "ok");
  });

  test("limits the number of trailers", () => {
    const trailers = Array.from({ length: 3 }, (_, i) => `T-${i}: ${i}\r\n`).join("");
    const parser = new ResponseParser({ limits: { maxNumHeaders: 2 } });
    throwsMessage(
      () =>
        parser.feed(
          Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${trailers}\r\n`),
        ),
      SecurityError,
      /too many HTTP trailers: more than 2/,
    );
  });

  test("limits the length of chunk lines", () => {
    const parser = new ResponseParser({ limits: { maxLineLength: 30 } });
    throwsMessage(
      () =>
        parser.feed(
          Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${"x".repeat(40)}`),
        ),
      SecurityError,
      /line too long in HTTP body/,
    );
  });
});
