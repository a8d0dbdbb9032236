/**
 * The sans-I/O part of the HTTP/2 handshake (src/http2-handshake.ts):
 * which requests came over HTTP/2, and the 200 that accepts an extended
 * CONNECT (RFC 8441 §5). The server's use of it over real sessions is in
 * node/http2-server.test.ts.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Headers } from "../src/headers.ts";
import { accepted200, HTTP2_VERSION, isHttp2 } from "../src/http2-handshake.ts";
import type { Request } from "../src/http11.ts";

const DATE = "Mon, 07 Dec 2026 21:00:00 GMT";

function request(version?: string): Request {
  return { method: "CONNECT", path: "/", version, headers: new Headers() };
}

describe("isHttp2", () => {
  it("is true for HTTP/2 requests only", () => {
    assert.equal(HTTP2_VERSION, "HTTP/2");
    assert.equal(isHttp2(request("HTTP/2")), true);
    assert.equal(isHttp2(request("HTTP/1.1")), false);
    assert.equal(isHttp2(request("HTTP/2.0")), false);
    // A request without a version is HTTP/1.1 (see http11.ts).
    assert.equal(isHttp2(request(undefined)), false);
  });
});

describe("accepted200", () => {
  it("answers 200 OK with the date, the extensions, the subprotocol and the Server header, in that order", () => {
    const response = accepted200(DATE, "permessage-deflate", "chat", "websockets-ts/0.1.0");
    assert.equal(response.status, 200);
    assert.equal(response.reason, "OK");
    assert.equal(response.body.length, 0);
    assert.deepEqual(
      [...response.headers],
      [
        ["Date", DATE],
        ["Sec-WebSocket-Extensions", "permessage-deflate"],
        ["Sec-WebSocket-Protocol", "chat"],
        ["Server", "websockets-ts/0.1.0"],
      ],
    );
  });

  it("leaves out what wasn't negotiated or configured; never an Upgrade, Connection or Accept", () => {
    const response = accepted200(DATE, null, null, null);
    assert.deepEqual([...response.headers], [["Date", DATE]]);
    for (const name of ["Upgrade", "Connection", "Sec-WebSocket-Accept"]) {
      assert.equal(accepted200(DATE, "x", "y", "z").headers.get(name), undefined, name);
    }
    assert.deepEqual(
      [...accepted200(DATE, null, "chat", null).headers],
      [
        ["Date", DATE],
        ["Sec-WebSocket-Protocol", "chat"],
      ],
    );
  });

  it("builds a new response each call: changing one leaves the next alone", () => {
    const first = accepted200(DATE, null, null, null);
    first.headers.set("X-Extra", "1");
    assert.equal(accepted200(DATE, null, null, null).headers.get("X-Extra"), undefined);
  });
});
