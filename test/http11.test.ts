import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { Headers } from "../src/headers.ts";
import { reasonPhrase, serializeRequest, serializeResponse } from "../src/http11.ts";
import { RequestParser } from "../src/http11-parser.ts";
import { parseRequest, parseResponse, REQUEST, RESPONSE_101 } from "./support/http.ts";

describe("serializeRequest", () => {
  test("writes the request line, the headers and an empty line", () => {
    const headers = new Headers([
      ["Host", "server.example.com"],
      ["Upgrade", "websocket"],
    ]);
    assert.equal(
      serializeRequest({ path: "/chat", headers }).toString("latin1"),
      "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\r\n",
    );
  });

  test("writes other methods, e.g. CONNECT for a proxy", () => {
    const headers = new Headers({ Host: "example.com:443" });
    assert.equal(
      serializeRequest({ method: "CONNECT", path: "example.com:443", headers }).toString(),
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
  });

  test("round-trips through the parser", () => {
    const parsed = new RequestParser().feed(serializeRequest(parseRequest(REQUEST)));
    assert.equal(parsed?.message.path, "/chat?room=1");
    assert.deepEqual(parsed?.message.headers.raw(), parseRequest(REQUEST).headers.raw());
  });

  test("refuses a path or method that would break the request line", () => {
    const headers = new Headers();
    assert.throws(
      () => serializeRequest({ path: "/a b", headers }),
      /invalid HTTP request target: "\/a b"/,
    );
    assert.throws(() => serializeRequest({ path: "/\r\nX: y", headers }), TypeError);
    assert.throws(() => serializeRequest({ path: "", headers }), /empty HTTP request target/);
    assert.throws(
      () => serializeRequest({ method: "G T", path: "/", headers }),
      /invalid HTTP method/,
    );
  });
});

describe("serializeResponse", () => {
  test("writes the status line, the headers, an empty line and the body", () => {
    const headers = new Headers({ "Content-Type": "text/plain", "Content-Length": "2" });
    assert.equal(
      serializeResponse({
        status: 403,
        reason: "Forbidden",
        headers,
        body: Buffer.from("no"),
      }).toString(),
      "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno",
    );
  });

  test("writes a reason phrase other than the usual one, and headers changed after parsing", () => {
    const { message } = parseResponse(RESPONSE_101);
    message.headers.append("X-A", "1");
    assert.equal(
      serializeResponse({ ...message, status: 404, reason: "Nowhere" }).toString(),
      RESPONSE_101.replace("101 Switching Protocols", "404 Nowhere").replace(
        /\r\n\r\n$/,
        "\r\nX-A: 1\r\n\r\n",
      ),
    );
  });

  test("round-trips a 101 through the parser", () => {
    const response = parseResponse(RESPONSE_101).message;
    assert.equal(serializeResponse(response).toString(), RESPONSE_101);
  });

  test("refuses invalid status codes and reason phrases", () => {
    const headers = new Headers();
    const body = Buffer.alloc(0);
    assert.throws(
      () => serializeResponse({ status: 42, reason: "X", headers, body }),
      /invalid HTTP status code: 42/,
    );
    assert.throws(
      () => serializeResponse({ status: 200.5, reason: "X", headers, body }),
      TypeError,
    );
    assert.throws(
      () => serializeResponse({ status: 200, reason: "OK\r\nX-Injected: 1", headers, body }),
      /invalid HTTP reason phrase/,
    );
  });
});

test("reasonPhrase names common statuses", () => {
  assert.equal(reasonPhrase(101), "Switching Protocols");
  assert.equal(reasonPhrase(426), "Upgrade Required");
  assert.equal(reasonPhrase(431), "Request Header Fields Too Large");
  assert.equal(reasonPhrase(599), "");
});
