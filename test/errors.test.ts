/**
 * The error hierarchy (src/errors.ts) on its own: the tree its module
 * comment draws, one stable `code` per class, `name` from the class, the
 * cause passed on, and messages that name the offending value (with
 * passwords redacted from URLs). Where each error is raised is tested with
 * the code that raises it.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConcurrencyError,
  ConnectionClosed,
  ConnectionClosedError,
  ConnectionClosedOK,
  DuplicateParameter,
  InvalidHandshake,
  InvalidHeader,
  InvalidHeaderFormat,
  InvalidHeaderValue,
  InvalidMessage,
  InvalidOrigin,
  InvalidParameterName,
  InvalidParameterValue,
  InvalidProxy,
  InvalidProxyMessage,
  InvalidProxyStatus,
  InvalidState,
  InvalidStatus,
  InvalidUpgrade,
  InvalidURI,
  NegotiationError,
  PayloadTooBig,
  ProtocolError,
  ProxyError,
  SecurityError,
  SocksProxyError,
  WebSocketError,
} from "../src/errors.ts";
import { Close } from "../src/frames.ts";
import { Headers } from "../src/headers.ts";
import type { Response } from "../src/http11.ts";

function response(status: number): Response {
  return { status, reason: "", headers: new Headers(), body: Buffer.from("body") };
}

// Each class, an instance, its parent in the documented tree, and its code.
const TREE: readonly [
  cls: abstract new (...args: never[]) => Error,
  instance: Error,
  parent: abstract new (...args: never[]) => Error,
  code: string,
][] = [
  [WebSocketError, new WebSocketError("m"), Error, "WS_ERR"],
  [ConnectionClosed, new ConnectionClosed(null, null), WebSocketError, "WS_ERR_CONNECTION_CLOSED"],
  [
    ConnectionClosedOK,
    new ConnectionClosedOK(null, null),
    ConnectionClosed,
    "WS_ERR_CONNECTION_CLOSED_OK",
  ],
  [
    ConnectionClosedError,
    new ConnectionClosedError(null, null),
    ConnectionClosed,
    "WS_ERR_CONNECTION_CLOSED_ERROR",
  ],
  [InvalidURI, new InvalidURI("x", "r"), WebSocketError, "WS_ERR_INVALID_URI"],
  [InvalidProxy, new InvalidProxy("x", "r"), WebSocketError, "WS_ERR_INVALID_PROXY"],
  [InvalidHandshake, new InvalidHandshake("m"), WebSocketError, "WS_ERR_INVALID_HANDSHAKE"],
  [SecurityError, new SecurityError("m"), InvalidHandshake, "WS_ERR_SECURITY"],
  [ProxyError, new ProxyError("m"), InvalidHandshake, "WS_ERR_PROXY"],
  [InvalidProxyMessage, new InvalidProxyMessage("m"), ProxyError, "WS_ERR_INVALID_PROXY_MESSAGE"],
  [
    InvalidProxyStatus,
    new InvalidProxyStatus(response(407)),
    ProxyError,
    "WS_ERR_INVALID_PROXY_STATUS",
  ],
  [SocksProxyError, new SocksProxyError("m", 5, 5), ProxyError, "WS_ERR_SOCKS_PROXY"],
  [InvalidMessage, new InvalidMessage("m"), InvalidHandshake, "WS_ERR_INVALID_MESSAGE"],
  [InvalidStatus, new InvalidStatus(response(403)), InvalidHandshake, "WS_ERR_INVALID_STATUS"],
  [InvalidHeader, new InvalidHeader("X"), InvalidHandshake, "WS_ERR_INVALID_HEADER"],
  [
    InvalidHeaderFormat,
    new InvalidHeaderFormat("X", "e", "v", 0),
    InvalidHeader,
    "WS_ERR_INVALID_HEADER_FORMAT",
  ],
  [
    InvalidHeaderValue,
    new InvalidHeaderValue("X", "v"),
    InvalidHeader,
    "WS_ERR_INVALID_HEADER_VALUE",
  ],
  [InvalidOrigin, new InvalidOrigin(null), InvalidHeader, "WS_ERR_INVALID_ORIGIN"],
  [InvalidUpgrade, new InvalidUpgrade("Upgrade"), InvalidHeader, "WS_ERR_INVALID_UPGRADE"],
  [NegotiationError, new NegotiationError("m"), InvalidHandshake, "WS_ERR_NEGOTIATION"],
  [DuplicateParameter, new DuplicateParameter("p"), NegotiationError, "WS_ERR_DUPLICATE_PARAMETER"],
  [
    InvalidParameterName,
    new InvalidParameterName("p"),
    NegotiationError,
    "WS_ERR_INVALID_PARAMETER_NAME",
  ],
  [
    InvalidParameterValue,
    new InvalidParameterValue("p", null),
    NegotiationError,
    "WS_ERR_INVALID_PARAMETER_VALUE",
  ],
  [ProtocolError, new ProtocolError("m"), WebSocketError, "WS_ERR_PROTOCOL"],
  [PayloadTooBig, new PayloadTooBig(null, 1), WebSocketError, "WS_ERR_PAYLOAD_TOO_BIG"],
  [InvalidState, new InvalidState("m"), WebSocketError, "WS_ERR_INVALID_STATE"],
  [ConcurrencyError, new ConcurrencyError("m"), WebSocketError, "WS_ERR_CONCURRENCY"],
];

describe("the error tree", () => {
  for (const [cls, instance, parent, code] of TREE) {
    it(`${cls.name} extends ${parent.name}, is named ${cls.name}, code ${code}`, () => {
      assert.ok(instance instanceof cls);
      assert.equal(Object.getPrototypeOf(cls.prototype), parent.prototype);
      assert.ok(instance instanceof WebSocketError);
      assert.equal(instance.name, cls.name);
      assert.equal((instance as WebSocketError).code, code);
      assert.match(String(instance.stack), new RegExp(`^${cls.name}: `));
    });
  }

  it("gives every class its own code", () => {
    const codes = TREE.map(([, , , code]) => code);
    assert.equal(new Set(codes).size, codes.length);
  });

  it("passes the cause on, whatever the constructor's other arguments", () => {
    const cause = new Error("root");
    const withCause: Error[] = [
      new WebSocketError("m", { cause }),
      new ConnectionClosedError(null, null, null, { cause }),
      new InvalidURI("x", "r", { cause }),
      new InvalidProxyStatus(response(407), { cause }),
      new SocksProxyError("m", 4, 91, { cause }),
      new InvalidHeaderFormat("X", "e", "v", 0, { cause }),
      new InvalidOrigin("o", { cause }),
      new InvalidParameterValue("p", "v", { cause }),
      new ProtocolError("m", 1007, { cause }),
      new PayloadTooBig(1, 0, "message", { cause }),
    ];
    for (const error of withCause) assert.equal(error.cause, cause, error.name);
    assert.equal(new WebSocketError("m").cause, undefined);
  });
});

describe("ConnectionClosed", () => {
  const ok = new Close(1000, "bye");
  const away = new Close(1001, "");

  it("describes each combination of close frames received and sent", () => {
    assert.equal(new ConnectionClosed(null, null).message, "no close frame received or sent");
    assert.equal(
      new ConnectionClosed(null, away).message,
      "sent 1001 (going away); no close frame received",
    );
    assert.equal(
      new ConnectionClosed(ok, null).message,
      "received 1000 (OK) bye; no close frame sent",
    );
    assert.equal(
      new ConnectionClosed(ok, away, true).message,
      "received 1000 (OK) bye; then sent 1001 (going away)",
    );
    assert.equal(
      new ConnectionClosed(ok, away, false).message,
      "sent 1001 (going away); then received 1000 (OK) bye",
    );
  });

  it("keeps the frames and the order, and reads the received code and reason", () => {
    const error = new ConnectionClosedOK(ok, away, true);
    assert.equal(error.rcvd, ok);
    assert.equal(error.sent, away);
    assert.equal(error.rcvdThenSent, true);
    assert.equal(error.closeCode, 1000);
    assert.equal(error.closeReason, "bye");
    assert.equal(new ConnectionClosed(ok, null).rcvdThenSent, null, "defaults to null");
  });

  it("reports 1006 and no reason when no close frame was received", () => {
    const error = new ConnectionClosedError(null, new Close(4000, "mine"));
    assert.equal(error.closeCode, 1006);
    assert.equal(error.closeReason, "");
  });
});

describe("errors naming a URL", () => {
  it("InvalidURI names the URI and the reason, its password redacted", () => {
    const error = new InvalidURI("ws://alice:s3cret@example.com/chat", "bad port");
    assert.equal(error.message, "ws://alice:xxxxx@example.com/chat isn't a valid URI: bad port");
    assert.equal(error.uri, "ws://alice:xxxxx@example.com/chat");
    assert.doesNotMatch(error.message, /s3cret/);
    const plain = new InvalidURI("http://example.com", "scheme isn't ws or wss");
    assert.equal(plain.message, "http://example.com isn't a valid URI: scheme isn't ws or wss");
    assert.equal(plain.uri, "http://example.com");
  });

  it("InvalidProxy names the proxy and the reason, its password redacted", () => {
    const error = new InvalidProxy("socks5://bob:hunter2@proxy:1080", "unreachable");
    assert.equal(error.message, "socks5://bob:xxxxx@proxy:1080 isn't a valid proxy: unreachable");
    assert.equal(error.proxy, "socks5://bob:xxxxx@proxy:1080");
    assert.doesNotMatch(`${error.message} ${error.proxy}`, /hunter2/);
  });
});

describe("handshake errors", () => {
  it("InvalidStatus and InvalidProxyStatus name the status and keep the response", () => {
    const rejected = response(403);
    const status = new InvalidStatus(rejected);
    assert.equal(status.message, "server rejected WebSocket connection: HTTP 403");
    assert.equal(status.response, rejected);
    const proxy = new InvalidProxyStatus(response(407));
    assert.equal(proxy.message, "proxy rejected connection: HTTP 407");
    assert.equal(proxy.response.status, 407);
  });

  it("InvalidHeader tells a missing, an empty and an invalid header apart", () => {
    const missing = new InvalidHeader("Sec-WebSocket-Key");
    assert.equal(missing.message, "missing Sec-WebSocket-Key header");
    assert.equal(missing.header, "Sec-WebSocket-Key");
    assert.equal(missing.value, null);
    assert.equal(new InvalidHeader("Host", "").message, "empty Host header");
    const invalid = new InvalidHeaderValue("Sec-WebSocket-Version", "12");
    assert.equal(invalid.message, "invalid Sec-WebSocket-Version header: 12");
    assert.equal(invalid.value, "12");
  });

  it("InvalidHeaderFormat names the error, its position and the value", () => {
    const error = new InvalidHeaderFormat("Sec-WebSocket-Extensions", "expected token", "a;;b", 2);
    assert.equal(
      error.message,
      "invalid Sec-WebSocket-Extensions header: expected token at 2 in a;;b",
    );
    assert.equal(error.header, "Sec-WebSocket-Extensions");
    assert.equal(error.value, "expected token at 2 in a;;b");
  });

  it("InvalidOrigin is about the Origin header, missing or not allowed", () => {
    const missing = new InvalidOrigin(null);
    assert.equal(missing.message, "missing Origin header");
    assert.equal(missing.header, "Origin");
    const refused = new InvalidOrigin("https://evil.example");
    assert.equal(refused.message, "invalid Origin header: https://evil.example");
    assert.equal(refused.value, "https://evil.example");
  });

  it("SocksProxyError keeps the SOCKS version and the reply code", () => {
    const error = new SocksProxyError("connection refused", 5, 5);
    assert.equal(error.message, "connection refused");
    assert.equal(error.socksVersion, 5);
    assert.equal(error.reply, 5);
  });

  it("negotiation errors name the parameter and its value", () => {
    const duplicate = new DuplicateParameter("server_no_context_takeover");
    assert.equal(duplicate.message, "duplicate parameter: server_no_context_takeover");
    assert.equal(duplicate.parameter, "server_no_context_takeover");
    const name = new InvalidParameterName("x_unknown");
    assert.equal(name.message, "invalid parameter name: x_unknown");
    assert.equal(name.parameter, "x_unknown");
    const noValue = new InvalidParameterValue("server_max_window_bits", null);
    assert.equal(noValue.message, "missing value for parameter server_max_window_bits");
    assert.equal(noValue.value, null);
    const badValue = new InvalidParameterValue("server_max_window_bits", "16");
    assert.equal(badValue.message, "invalid value for parameter server_max_window_bits: 16");
    assert.equal(badValue.parameter, "server_max_window_bits");
    assert.equal(badValue.value, "16");
  });
});

describe("frame-level errors", () => {
  it("ProtocolError fails the connection with 1002 unless told otherwise", () => {
    assert.equal(new ProtocolError("bad opcode").closeCode, 1002);
    const utf8 = new ProtocolError("invalid UTF-8", 1007);
    assert.equal(utf8.closeCode, 1007);
    assert.equal(utf8.message, "invalid UTF-8");
  });

  it("PayloadTooBig names the size when known, the limit, and frame or message", () => {
    const frame = new PayloadTooBig(2000, 1024);
    assert.equal(frame.message, "frame with 2000 bytes exceeds limit of 1024 bytes");
    assert.equal(frame.size, 2000);
    assert.equal(frame.maxSize, 1024);
    const message = new PayloadTooBig(null, 1024, "message");
    assert.equal(message.message, "message exceeds limit of 1024 bytes");
    assert.equal(message.size, null);
  });
});
