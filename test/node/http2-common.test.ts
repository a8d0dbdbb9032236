/**
 * The conversions between HTTP/2 header blocks and our Request / Response
 * (src/node/http2-common.ts), on their own: pure functions, no session.
 * The server and the client use them over real sessions in
 * http2-server.test.ts and http2-client.test.ts; here, the edge cases and
 * the errors naming the bad field.
 */

import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http2";
import { describe, it } from "node:test";
import { InvalidHeader, InvalidHeaderValue, InvalidMessage } from "../../src/errors.ts";
import { Headers } from "../../src/headers.ts";
import type { Response } from "../../src/http11.ts";
import {
  ENABLE_CONNECT_PROTOCOL,
  HTTP2_VERSION,
  isConnectionSpecific,
  requestFromHttp2,
  requestToHttp2,
  responseFromHttp2,
  responseToHttp2,
  WEBSOCKET_PROTOCOL,
} from "../../src/node/http2-common.ts";

const CONNECT = {
  ":method": "CONNECT",
  ":protocol": "websocket",
  ":scheme": "https",
  ":authority": "example.com:8443",
  ":path": "/chat?room=1",
  "sec-websocket-version": "13",
};

/** A header block as node:http2 hands it over: `:status` is a number there, whatever the types say. */
function incoming(fields: Record<string, string | number | string[]>): IncomingHttpHeaders {
  return fields as IncomingHttpHeaders;
}

function errorNamed<T extends Error>(
  cls: abstract new (...args: never[]) => T,
  message: string,
): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  };
}

describe("constants", () => {
  it("are RFC 8441's", () => {
    assert.equal(WEBSOCKET_PROTOCOL, "websocket");
    assert.equal(ENABLE_CONNECT_PROTOCOL, "enableConnectProtocol");
    assert.equal(HTTP2_VERSION, "HTTP/2");
  });
});

describe("isConnectionSpecific", () => {
  it("names the fields RFC 9113 §8.2.2 forbids, in any case", () => {
    for (const name of [
      "connection",
      "Keep-Alive",
      "PROXY-CONNECTION",
      "transfer-encoding",
      "Upgrade",
      "te",
    ]) {
      assert.equal(isConnectionSpecific(name), true, name);
    }
    for (const name of ["host", "sec-websocket-version", "content-type", "tea", "x-connection"]) {
      assert.equal(isConnectionSpecific(name), false, name);
    }
  });
});

describe("requestFromHttp2", () => {
  it("turns an extended CONNECT into a Request: :authority as host, no pseudo-header field", () => {
    const request = requestFromHttp2({ ...CONNECT, origin: "https://example.com" });
    assert.equal(request.method, "CONNECT");
    assert.equal(request.path, "/chat?room=1");
    assert.equal(request.version, "HTTP/2");
    assert.deepEqual(
      [...request.headers],
      [
        ["host", "example.com:8443"],
        ["sec-websocket-version", "13"],
        ["origin", "https://example.com"],
      ],
    );
  });

  it("prefers the raw pairs, which keep repeated fields apart and in order", () => {
    const raw = [
      ":method",
      "CONNECT",
      ":path",
      "/",
      ":authority",
      "a.example",
      "sec-websocket-protocol",
      "one",
      "x-other",
      "1",
      "sec-websocket-protocol",
      "two, three",
    ];
    const request = requestFromHttp2(
      { ":method": "CONNECT", ":path": "/", ":authority": "a.example" },
      raw,
    );
    assert.deepEqual(request.headers.getAll("sec-websocket-protocol"), ["one", "two, three"]);
    assert.deepEqual([...request.headers.keys()], ["host", "sec-websocket-protocol", "x-other"]);
  });

  it("splits array values of the parsed block into lines when there are no raw pairs", () => {
    const request = requestFromHttp2({ ...CONNECT, "x-list": ["a", "b"] });
    assert.deepEqual(request.headers.getAll("x-list"), ["a", "b"]);
  });

  it("takes host without :authority; :authority wins over host when both are sent", () => {
    const { ":authority": _, ...withoutAuthority } = CONNECT;
    const fromHost = requestFromHttp2({ ...withoutAuthority, host: "h.example" });
    assert.deepEqual(fromHost.headers.getAll("host"), ["h.example"]);
    const both = requestFromHttp2({ ...CONNECT, host: "other.example" });
    assert.deepEqual(both.headers.getAll("host"), ["example.com:8443"]);
  });

  it("throws InvalidMessage without :method, InvalidHeader without :path or any authority", () => {
    const { ":method": _m, ...noMethod } = CONNECT;
    assert.throws(
      () => requestFromHttp2(noMethod),
      errorNamed(InvalidMessage, "HTTP/2 request without :method"),
    );
    const { ":path": _p, ...noPath } = CONNECT;
    assert.throws(
      () => requestFromHttp2(noPath),
      errorNamed(InvalidHeader, "missing :path header"),
    );
    const { ":authority": _a, ...noAuthority } = CONNECT;
    assert.throws(
      () => requestFromHttp2(noAuthority),
      errorNamed(InvalidHeader, "missing :authority header"),
    );
  });

  it("throws InvalidHeaderValue naming a field it can't represent, and its value", () => {
    for (const [field, value] of [
      [":authority", "bad\u0001host"],
      ["x-bad", "a\u0000b"],
    ]) {
      assert.throws(
        () => requestFromHttp2({ ...CONNECT, [field]: value }),
        (error: unknown) => {
          assert.ok(error instanceof InvalidHeaderValue);
          assert.equal(error.header, field);
          assert.equal(error.value, value);
          return true;
        },
      );
    }
  });
});

describe("responseToHttp2", () => {
  it("sends :status and the fields in lower case, repeated ones as a list, connection-specific ones dropped", () => {
    const headers = new Headers([
      ["Sec-WebSocket-Protocol", "chat"],
      ["Connection", "close"],
      ["Set-Cookie", "a=1"],
      ["Upgrade", "websocket"],
      ["Set-Cookie", "b=2"],
      ["Transfer-Encoding", "chunked"],
      ["Set-Cookie", "c=3"],
    ]);
    const response: Response = { status: 200, reason: "OK", headers, body: Buffer.alloc(0) };
    assert.deepEqual(responseToHttp2(response), {
      ":status": 200,
      "sec-websocket-protocol": "chat",
      "set-cookie": ["a=1", "b=2", "c=3"],
    });
  });
});

describe("requestToHttp2", () => {
  it("builds an extended CONNECT: pseudo-header fields first, host as :authority only", () => {
    const headers = new Headers([
      ["Host", "example.com"],
      ["Sec-WebSocket-Version", "13"],
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
    ]);
    const block = requestToHttp2(
      { method: "CONNECT", path: "/ws", headers },
      "https",
      WEBSOCKET_PROTOCOL,
    );
    assert.deepEqual(Object.entries(block), [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "https"],
      [":authority", "example.com"],
      [":path", "/ws"],
      ["sec-websocket-version", "13"],
    ]);
  });

  it("defaults the method to GET, and leaves out :protocol and :authority when there are none", () => {
    const block = requestToHttp2({ path: "/", headers: new Headers() }, "http", null);
    assert.deepEqual(block, { ":method": "GET", ":scheme": "http", ":path": "/" });
  });
});

describe("responseFromHttp2", () => {
  it("reads :status (number or string), the standard reason, the regular fields, an empty body", () => {
    for (const status of [101, "101"]) {
      const response = responseFromHttp2(
        incoming({ ":status": status, "x-a": "1", "set-cookie": ["p", "q"] }),
      );
      assert.equal(response.status, 101);
      assert.equal(response.reason, "Switching Protocols");
      assert.deepEqual(response.headers.raw(), [
        ["x-a", "1"],
        ["set-cookie", "p"],
        ["set-cookie", "q"],
      ]);
      assert.equal(response.body.length, 0);
    }
  });

  it("throws InvalidMessage naming a missing or invalid :status", () => {
    for (const [status, shown] of [
      [undefined, "undefined"],
      ["abc", "abc"],
      [99, "99"],
      [1000, "1000"],
      ["200.5", "200.5"],
      ["", ""],
    ] as const) {
      assert.throws(
        () => responseFromHttp2(incoming(status === undefined ? {} : { ":status": status })),
        errorNamed(InvalidMessage, `HTTP/2 response with invalid :status: ${shown}`),
        String(status),
      );
    }
  });
});
