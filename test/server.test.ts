import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import {
  InvalidHandshake,
  InvalidHeader,
  InvalidHeaderFormat,
  InvalidHeaderValue,
  InvalidMessage,
  InvalidOrigin,
  InvalidState,
  InvalidStatus,
  InvalidUpgrade,
  NegotiationError,
  SecurityError,
} from "../src/errors.ts";
import type {
  Extension,
  ExtensionParameter,
  ServerExtensionFactory,
} from "../src/extensions/base.ts";
import { ServerPerMessageDeflateFactory } from "../src/extensions/permessage-deflate.ts";
import { Frame, OP_TEXT } from "../src/frames.ts";
import { Headers } from "../src/headers.ts";
import type { Request, Response } from "../src/http11.ts";
import { CLOSED, CONNECTING, OPEN } from "../src/protocol.ts";
import { defaultServerHeader, ServerProtocol, ServerProtocolConfig } from "../src/server.ts";
import { VERSION } from "../src/version.ts";
import { withEnv } from "./support/env.ts";
import { fromClient } from "./support/wire.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const SERVER = `websockets-ts/${VERSION}`;
// RFC 9110 §5.6.7 IMF-fixdate, as produced by Date.prototype.toUTCString.
const DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;
const BROWSER_HINT =
  "\nYou cannot access a WebSocket server directly with a browser. You need a WebSocket client.\n";
// A WebSocket client's request (it has a key) without Upgrade: a proxy dropped it.
const PROXY_HINT =
  "\nThe request has a Sec-WebSocket-Key: a proxy between you and the server probably dropped " +
  "the Upgrade and Connection headers. It must forward them.\n";

const REQUEST =
  "GET /chat HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${KEY}\r\n` +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";

/** A valid handshake request, with some headers replaced (`null` removes them). */
function makeRequest(
  changes: Record<string, string | string[] | null> = {},
  path = "/chat",
): Request {
  const headers = new Headers([
    ["Host", "server.example.com"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Sec-WebSocket-Version", "13"],
  ]);
  for (const [name, value] of Object.entries(changes)) {
    headers.delete(name);
    if (value === null) continue;
    for (const item of typeof value === "string" ? [value] : value) headers.append(name, item);
  }
  return { method: "GET", path, version: "HTTP/1.1", headers };
}

function takeRequest(server: ServerProtocol): Request {
  const events = server.eventsReceived();
  assert.equal(events.length, 1);
  const [event] = events;
  assert.ok(!(event instanceof Frame) && "path" in event);
  return event;
}

/** Feeds `server` the RFC's sample request and accepts it. */
function acceptReceived(server: ServerProtocol): Response {
  server.receiveData(Buffer.from(REQUEST));
  return server.accept(takeRequest(server));
}

/** The response as text, with the Date header checked and replaced by `<date>`. */
function responseText(data: Buffer): string {
  const text = data.toString();
  const date = /\r\nDate: ([^\r]*)\r\n/.exec(text);
  assert.ok(date !== null, "no Date header");
  assert.match(date[1], DATE);
  return text.replace(date[1], "<date>");
}

function debugLogger() {
  const lines: string[] = [];
  const record = (first: unknown, msg?: string) => {
    lines.push(typeof first === "string" ? first : (msg ?? ""));
  };
  const logger = {
    debug: record,
    info: record,
    warn: record,
    error: record,
    isLevelEnabled: (level: string) => level !== "trace",
  };
  return { logger, lines };
}

class TestExtension implements Extension {
  constructor(
    readonly name: string,
    readonly params: readonly ExtensionParameter[],
  ) {}
  encode(frame: Frame): Frame {
    return frame;
  }
  decode(frame: Frame): Frame {
    return frame;
  }
}

/** Accepts offers whose parameters pass `acceptable`, answering with `answer(params)`. */
class TestServerFactory implements ServerExtensionFactory {
  readonly offers: [readonly ExtensionParameter[], readonly Extension[]][] = [];
  constructor(
    readonly name: string,
    readonly acceptable: (params: readonly ExtensionParameter[]) => boolean = () => true,
    readonly answer: (params: readonly ExtensionParameter[]) => ExtensionParameter[] = (p) => [
      ...p,
    ],
  ) {}
  processRequestParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): [ExtensionParameter[], Extension] {
    this.offers.push([params, [...accepted]]);
    if (!this.acceptable(params)) throw new NegotiationError(`${this.name} declines`);
    return [this.answer(params), new TestExtension(this.name, params)];
  }
}

describe("ServerProtocol receiving the request", () => {
  test("emits the request once complete", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from(REQUEST));
    const request = takeRequest(server);
    assert.equal(request.path, "/chat");
    assert.equal(request.method, "GET");
    assert.equal(request.headers.get("sec-websocket-key"), KEY);
    assert.equal(server.request, request);
    assert.equal(server.state, CONNECTING);
    assert.deepEqual(server.dataToSend(), []);
  });

  test("emits the request only when its last byte arrives, one byte at a time", () => {
    const server = new ServerProtocol();
    const bytes = Buffer.from(REQUEST);
    for (let i = 0; i < bytes.length - 1; i++) {
      server.receiveData(bytes.subarray(i, i + 1));
      assert.deepEqual(server.eventsReceived(), []);
    }
    server.receiveData(bytes.subarray(bytes.length - 1));
    assert.equal(takeRequest(server).path, "/chat");
  });

  test("logs the request line by line at debug level", () => {
    const { logger, lines } = debugLogger();
    const server = new ServerProtocol({ logger });
    server.receiveData(Buffer.from(REQUEST));
    assert.deepEqual(lines, [
      "< GET /chat HTTP/1.1",
      "< Host: server.example.com",
      "< Upgrade: websocket",
      "< Connection: Upgrade",
      `< Sec-WebSocket-Key: ${KEY}`,
      "< Sec-WebSocket-Version: 13",
    ]);
  });

  test("keeps frames sent with the request and parses them once open", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.concat([Buffer.from(REQUEST), fromClient(OP_TEXT, "early")]));
    server.receiveData(fromClient(OP_TEXT, "later"));
    const request = takeRequest(server);
    server.sendResponse(server.accept(request));
    const events = server.eventsReceived();
    assert.deepEqual(
      events.map((event) => (event instanceof Frame ? event.data.toString() : null)),
      ["early", "later"],
    );
  });
});

describe("ServerProtocol answering unparsable requests", () => {
  function assertAnswered(
    server: ServerProtocol,
    status: number,
    body: string,
    type: new (...args: never[]) => Error,
  ) {
    assert.deepEqual(server.eventsReceived(), []);
    assert.ok(server.handshakeExc instanceof type, `got ${server.handshakeExc}`);
    const [response, eof, ...more] = server.dataToSend();
    assert.equal(more.length, 0);
    assert.deepEqual(eof, Buffer.alloc(0));
    const text = responseText(response);
    assert.ok(text.startsWith(`HTTP/1.1 ${status} `), text);
    assert.ok(text.endsWith(`\r\n\r\n${body}`), text);
    assert.equal(server.response?.status, status);
    assert.equal(server.response?.body.toString(), body);
    assert.equal(server.closeExpected(), true);
    assert.equal(server.state, CONNECTING);
    assert.throws(() => server.sendResponse(server.reject(500, "x")), InvalidState);
    server.receiveData(Buffer.from(REQUEST));
    assert.deepEqual(server.eventsReceived(), []);
  }

  test("answers a malformed request with 400 (golden bytes)", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from("GET / HTTP/1.0\r\n\r\n"));
    const body = "Failed to open a WebSocket connection: unsupported HTTP version: HTTP/1.0.\n";
    const [response] = server.dataToSend();
    assert.equal(
      responseText(response),
      "HTTP/1.1 400 Bad Request\r\n" +
        "Date: <date>\r\n" +
        "Connection: close\r\n" +
        `Content-Length: ${body.length}\r\n` +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        `Server: ${SERVER}\r\n` +
        "\r\n" +
        body,
    );
    assert.ok(server.handshakeExc instanceof InvalidMessage);
  });

  test("answers a bare LF with 400", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from("GET / HTTP/1.1\nHost: a\n\n"));
    assertAnswered(
      server,
      400,
      "Failed to open a WebSocket connection: bare LF in HTTP request line: lines must end with CRLF.\n",
      InvalidMessage,
    );
  });

  test("answers a request with a body with 400", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
    assertAnswered(
      server,
      400,
      "Failed to open a WebSocket connection: unsupported HTTP request body: Content-Length 3.\n",
      InvalidMessage,
    );
  });

  test("answers a request line over the limit with 414 before it ends", () => {
    const { logger, lines } = debugLogger();
    const server = new ServerProtocol({ logger });
    server.receiveData(Buffer.from(`GET /${"a".repeat(9000)}`));
    assertAnswered(
      server,
      414,
      "Failed to open a WebSocket connection: line too long in HTTP request line: 9005 bytes or more " +
        "exceeds limit of 8192 bytes (WEBSOCKETS_MAX_LINE_LENGTH).\n",
      SecurityError,
    );
    assert.equal(lines[0], "! request line too long");
    assert.equal(lines[1], "> HTTP/1.1 414 URI Too Long");
  });

  test("answers a header line over the limit with 431", () => {
    const { logger, lines } = debugLogger();
    const server = new ServerProtocol({ logger });
    server.receiveData(Buffer.from(`GET / HTTP/1.1\r\nX-Big: ${"a".repeat(9000)}\r\n`));
    assertAnswered(
      server,
      431,
      "Failed to open a WebSocket connection: line too long in HTTP headers: 9007 bytes or more " +
        "exceeds limit of 8192 bytes (WEBSOCKETS_MAX_LINE_LENGTH).\n",
      SecurityError,
    );
    assert.equal(lines[0], "! header fields too large");
  });

  test("answers too many headers with 431", () => {
    const server = new ServerProtocol();
    const headers = Array.from({ length: 129 }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    server.receiveData(Buffer.from(`GET / HTTP/1.1\r\n${headers}`));
    assertAnswered(
      server,
      431,
      "Failed to open a WebSocket connection: too many HTTP headers: more than 128 exceeds limit of " +
        "128 (WEBSOCKETS_MAX_NUM_HEADERS).\n",
      SecurityError,
    );
  });

  test("reads the header limit from WEBSOCKETS_MAX_NUM_HEADERS", () => {
    withEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "4" }, () => {
      const server = new ServerProtocol();
      server.receiveData(Buffer.from(REQUEST));
      assert.equal(server.response?.status, 431);
    });
  });

  test("reads the line limit from WEBSOCKETS_MAX_LINE_LENGTH", () => {
    withEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "30" }, () => {
      const server = new ServerProtocol();
      server.receiveData(Buffer.from(REQUEST));
      assert.equal(server.response?.status, 431);
      assert.match(server.handshakeExc?.message ?? "", /limit of 30 bytes/);
    });
  });

  test("takes limits from the httpLimits option", () => {
    const server = new ServerProtocol({ httpLimits: { maxLineLength: 10 } });
    server.receiveData(Buffer.from(REQUEST));
    assert.equal(server.response?.status, 414);
  });

  test("fails without answering when the stream ends during the request", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n"));
    server.receiveEof();
    assert.ok(server.handshakeExc instanceof InvalidMessage);
    assert.equal(server.handshakeExc.message, "connection closed while reading HTTP headers");
    assert.equal(server.state, CLOSED);
    assert.deepEqual(server.dataToSend(), [Buffer.alloc(0)]);
    assert.deepEqual(server.eventsReceived(), []);
  });

  test("fails when the stream ends after the request, before the response", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from(REQUEST));
    const request = takeRequest(server);
    server.receiveEof();
    assert.ok(server.handshakeExc instanceof InvalidMessage);
    assert.equal(server.state, CLOSED);
    assert.throws(() => server.sendResponse(server.accept(request)), InvalidState);
  });

  test("fails when the client sends too much before the response", () => {
    const server = new ServerProtocol({ httpLimits: { maxBodySize: 10 } });
    server.receiveData(Buffer.concat([Buffer.from(REQUEST), Buffer.alloc(6)]));
    const request = takeRequest(server);
    assert.equal(server.handshakeExc === null, true);
    server.receiveData(Buffer.alloc(5));
    assert.ok(server.handshakeExc instanceof SecurityError);
    assert.equal(
      server.handshakeExc.message,
      "11 bytes received before the handshake response exceeds limit of 10 bytes (WEBSOCKETS_MAX_BODY_SIZE)",
    );
    assert.deepEqual(server.dataToSend(), [Buffer.alloc(0)]);
    assert.equal(server.closeExpected(), true);
    assert.throws(() => server.sendResponse(server.accept(request)), InvalidState);
  });
});

describe("ServerProtocol.accept", () => {
  test("accepts a valid request (golden bytes, RFC 6455 sample key)", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from(REQUEST));
    const response = server.accept(takeRequest(server));
    assert.equal(response.status, 101);
    assert.equal(response.headers.get("Sec-WebSocket-Accept"), ACCEPT);
    assert.equal(server.handshakeExc, null);
    server.sendResponse(response);
    const [bytes, ...more] = server.dataToSend();
    assert.equal(more.length, 0);
    assert.equal(
      responseText(bytes),
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Date: <date>\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        `Server: ${SERVER}\r\n` +
        "\r\n",
    );
    assert.equal(server.state, OPEN);
    // Rebuilt on first read: equal to what was sent, not the same object.
    assert.deepEqual(server.response, response);
    assert.equal(server.response, server.response);
    assert.equal(server.closeExpected(), false);
  });

  test("rebuilds an unchanged 101 exactly, with extensions and a subprotocol", () => {
    const server = new ServerProtocol({
      extensions: [new ServerPerMessageDeflateFactory()],
      subprotocols: ["chat"],
    });
    server.receiveData(
      Buffer.from(
        REQUEST.replace(
          "\r\n\r\n",
          "\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
        ),
      ),
    );
    const response = server.accept(takeRequest(server));
    const sent = [...response.headers];
    server.sendResponse(response);
    const kept = server.response!;
    assert.notEqual(kept, response);
    assert.equal(kept.status, 101);
    assert.deepEqual([...kept.headers], sent);
    assert.equal(kept.headers.get("Sec-WebSocket-Protocol"), "chat");
    assert.match(kept.headers.get("Sec-WebSocket-Extensions") ?? "", /^permessage-deflate/);
  });

  test("keeps a 101 as the very object sent when the subprotocol changed after accept", () => {
    const server = new ServerProtocol();
    const response = acceptReceived(server);
    server.subprotocol = "chat";
    server.sendResponse(response);
    assert.equal(server.response, response);
  });

  test("keeps a 101 answering a request it didn't receive as the very object sent", () => {
    const server = new ServerProtocol();
    const response = server.accept(makeRequest());
    server.sendResponse(response);
    assert.equal(server.response, response);
  });

  test("keeps a 101 changed before it was sent as the very object sent", () => {
    const server = new ServerProtocol();
    const response = acceptReceived(server);
    response.headers.append("X-Served-By", "test");
    server.sendResponse(response);
    assert.equal(server.response, response);
    assert.equal(server.response!.headers.get("X-Served-By"), "test");

    const other = new ServerProtocol();
    const replaced = acceptReceived(other);
    replaced.headers.set("Date", "Thu, 01 Jan 1970 00:00:00 GMT");
    other.sendResponse(replaced);
    assert.equal(other.response, replaced);
    assert.equal(other.response!.headers.get("Date"), "Thu, 01 Jan 1970 00:00:00 GMT");
  });

  test("keeps a 101 whose lines changed in place as the very object sent", () => {
    const server = new ServerProtocol({ serverHeader: null });
    const response = acceptReceived(server);
    // Same array, same length, another value: only a record of the lines
    // accept() built tells it from the 101 it built.
    const items = Headers.itemsOf(response.headers) as string[];
    const at = items.indexOf("Upgrade");
    assert.ok(at !== -1 && items[at + 1] === "websocket");
    items[at + 1] = "WebSocket";
    server.sendResponse(response);
    assert.equal(server.response, response);
    assert.equal(server.response!.headers.get("Upgrade"), "WebSocket");
  });

  test("logs the response line by line at debug level", () => {
    const { logger, lines } = debugLogger();
    const server = new ServerProtocol({ logger, serverHeader: null });
    server.sendResponse(server.accept(makeRequest()));
    assert.deepEqual(lines.slice(0, 1), ["> HTTP/1.1 101 Switching Protocols"]);
    assert.match(lines[1], /^> Date: /);
    assert.deepEqual(lines.slice(2), [
      "> Upgrade: websocket",
      "> Connection: Upgrade",
      `> Sec-WebSocket-Accept: ${ACCEPT}`,
      "= connection is OPEN",
    ]);
  });

  test("accepts Connection lists, Upgrade in another case, and a request built by hand", () => {
    const server = new ServerProtocol();
    const request = makeRequest({ Connection: ["keep-alive", "Upgrade"], Upgrade: "WebSocket" });
    delete request.method;
    delete request.version;
    assert.equal(server.accept(request).status, 101);
  });

  test("uses the Server header from the option, or none", () => {
    const custom = new ServerProtocol({ serverHeader: "mine/1" }).accept(makeRequest());
    assert.equal(custom.headers.get("Server"), "mine/1");
    const none = new ServerProtocol({ serverHeader: null }).accept(makeRequest());
    assert.equal(none.headers.has("Server"), false);
    const rejected = new ServerProtocol({ serverHeader: null }).reject(404, "x");
    assert.equal(rejected.headers.has("Server"), false);
  });

  test("takes the default Server header from WEBSOCKETS_SERVER", () => {
    withEnv({ WEBSOCKETS_SERVER: "custom/3" }, () => {
      assert.equal(new ServerProtocol().accept(makeRequest()).headers.get("Server"), "custom/3");
    });
    assert.equal(defaultServerHeader({}), SERVER);
  });

  const rejections: [
    string,
    () => Request,
    number,
    string,
    new (...args: never[]) => Error,
    Record<string, string>?,
  ][] = [
    [
      "a POST",
      () => ({ ...makeRequest(), method: "POST" }),
      400,
      "unsupported HTTP method: POST",
      InvalidMessage,
    ],
    [
      "HTTP/1.0",
      () => ({ ...makeRequest(), version: "HTTP/1.0" }),
      400,
      "unsupported HTTP version: HTTP/1.0",
      InvalidMessage,
    ],
    [
      "a missing Connection header",
      () => makeRequest({ Connection: null }),
      426,
      `missing Connection header`,
      InvalidUpgrade,
      { Upgrade: "websocket" },
    ],
    [
      "Connection: keep-alive",
      () => makeRequest({ Connection: "keep-alive" }),
      426,
      `invalid Connection header: keep-alive`,
      InvalidUpgrade,
      { Upgrade: "websocket" },
    ],
    [
      "a malformed Connection header",
      () => makeRequest({ Connection: "keep-alive Upgrade" }),
      400,
      "invalid Connection header: expected comma at 11 in keep-alive Upgrade",
      InvalidHeaderFormat,
    ],
    [
      "a missing Upgrade header",
      () => makeRequest({ Upgrade: null }),
      426,
      `missing Upgrade header`,
      InvalidUpgrade,
      { Upgrade: "websocket" },
    ],
    [
      "Upgrade: h2c",
      () => makeRequest({ Upgrade: "h2c" }),
      426,
      `invalid Upgrade header: h2c`,
      InvalidUpgrade,
    ],
    [
      "two upgrade protocols",
      () => makeRequest({ Upgrade: "websocket, h2c" }),
      426,
      `invalid Upgrade header: websocket, h2c`,
      InvalidUpgrade,
    ],
    [
      "a missing key",
      () => makeRequest({ "Sec-WebSocket-Key": null }),
      400,
      "missing Sec-WebSocket-Key header",
      InvalidHeader,
    ],
    [
      "a key that isn't base64",
      () => makeRequest({ "Sec-WebSocket-Key": "not base64!" }),
      400,
      "invalid Sec-WebSocket-Key header: not base64!",
      InvalidHeaderValue,
    ],
    [
      "a key of 15 bytes",
      () => makeRequest({ "Sec-WebSocket-Key": Buffer.alloc(15).toString("base64") }),
      400,
      "invalid Sec-WebSocket-Key header: AAAAAAAAAAAAAAAAAAAA",
      InvalidHeaderValue,
    ],
    [
      "a key of 17 bytes",
      () => makeRequest({ "Sec-WebSocket-Key": Buffer.alloc(17).toString("base64") }),
      400,
      "invalid Sec-WebSocket-Key header: AAAAAAAAAAAAAAAAAAAAAAA=",
      InvalidHeaderValue,
    ],
    [
      "two keys",
      () => makeRequest({ "Sec-WebSocket-Key": [KEY, KEY] }),
      400,
      "invalid Sec-WebSocket-Key header: more than one Sec-WebSocket-Key header found",
      InvalidHeader,
    ],
    [
      "a missing version",
      () => makeRequest({ "Sec-WebSocket-Version": null }),
      426,
      "missing Sec-WebSocket-Version header",
      InvalidHeader,
      { "Sec-WebSocket-Version": "13" },
    ],
    [
      "version 8",
      () => makeRequest({ "Sec-WebSocket-Version": "8" }),
      426,
      "invalid Sec-WebSocket-Version header: 8",
      InvalidHeaderValue,
      { "Sec-WebSocket-Version": "13" },
    ],
    [
      "two versions",
      () => makeRequest({ "Sec-WebSocket-Version": ["13", "8"] }),
      426,
      "invalid Sec-WebSocket-Version header: more than one Sec-WebSocket-Version header found",
      InvalidHeader,
      { "Sec-WebSocket-Version": "13" },
    ],
    [
      "two Origin headers",
      () => makeRequest({ Origin: ["https://a.example", "https://b.example"] }),
      400,
      "invalid Origin header: more than one Origin header found",
      InvalidHeader,
    ],
    [
      "a malformed Sec-WebSocket-Extensions header",
      () => makeRequest({ "Sec-WebSocket-Extensions": "x;" }),
      400,
      "invalid Sec-WebSocket-Extensions header: expected token at 2 in x;",
      InvalidHeaderFormat,
    ],
    [
      "a malformed Sec-WebSocket-Protocol header",
      () => makeRequest({ "Sec-WebSocket-Protocol": "a b" }),
      400,
      "invalid Sec-WebSocket-Protocol header: expected comma at 2 in a b",
      InvalidHeaderFormat,
    ],
  ];
  for (const [what, request, status, reason, type, extraHeaders] of rejections) {
    test(`rejects ${what} with ${status} and ${type.name}`, () => {
      const server = new ServerProtocol({
        extensions: [new TestServerFactory("x")],
        subprotocols: ["chat"],
      });
      const response = server.accept(request());
      const stripped = what === "a missing Upgrade header";
      const hint = type === InvalidUpgrade ? (stripped ? PROXY_HINT : BROWSER_HINT) : "";
      const body = `Failed to open a WebSocket connection: ${reason}.\n${hint}`;
      assert.equal(response.status, status);
      assert.equal(response.body.toString(), body);
      assert.equal(response.headers.get("Content-Type"), "text/plain; charset=utf-8");
      assert.equal(response.headers.get("Content-Length"), String(Buffer.byteLength(body)));
      assert.equal(response.headers.get("Connection"), "close");
      assert.equal(response.headers.get("Server"), SERVER);
      for (const [name, value] of Object.entries(extraHeaders ?? {})) {
        assert.equal(response.headers.get(name), value);
      }
      assert.equal(server.handshakeExc?.constructor, type);
      assert.equal(server.handshakeExc?.message, reason);
      assert.deepEqual(server.extensions, []);
      assert.equal(server.subprotocol, null);
    });
  }

  test("sends a rejection, then EOF, and ignores further input", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from(REQUEST.replace("Upgrade: websocket\r\n", "")));
    const response = server.accept(takeRequest(server));
    assert.equal(response.status, 426);
    server.sendResponse(response);
    const [bytes, eof] = server.dataToSend();
    const body = `Failed to open a WebSocket connection: missing Upgrade header.\n${PROXY_HINT}`;
    assert.equal(
      responseText(bytes),
      "HTTP/1.1 426 Upgrade Required\r\n" +
        "Date: <date>\r\n" +
        "Connection: close\r\n" +
        `Content-Length: ${body.length}\r\n` +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        `Server: ${SERVER}\r\n` +
        "Upgrade: websocket\r\n" +
        "\r\n" +
        body,
    );
    assert.deepEqual(eof, Buffer.alloc(0));
    assert.equal(server.closeExpected(), true);
    assert.equal(server.state, CONNECTING);
    assert.ok(server.handshakeExc instanceof InvalidUpgrade);
    server.receiveData(fromClient(OP_TEXT, "ignored"));
    assert.deepEqual(server.eventsReceived(), []);
  });

  test("logs why it rejected a request at debug level", () => {
    const cases: [Request, string][] = [
      [makeRequest({ Upgrade: "h2c" }), "! invalid upgrade"],
      [makeRequest({ Origin: "https://evil.example" }), "! invalid origin"],
      [makeRequest({ "Sec-WebSocket-Key": null }), "! invalid handshake"],
    ];
    for (const [request, message] of cases) {
      const { logger, lines } = debugLogger();
      new ServerProtocol({ logger, origins: [null] }).accept(request);
      assert.deepEqual(lines, [message]);
    }
  });
});

describe("ServerProtocol checking the origin", () => {
  const accepts = (origins: (string | RegExp | null)[], origin: string | null) => {
    const server = new ServerProtocol({ origins });
    const response = server.accept(makeRequest(origin === null ? {} : { Origin: origin }));
    if (response.status === 101) {
      assert.equal(server.origin, origin);
      return true;
    }
    assert.equal(response.status, 403);
    assert.ok(server.handshakeExc instanceof InvalidOrigin);
    assert.equal(
      response.body.toString(),
      origin === null
        ? "Failed to open a WebSocket connection: missing Origin header.\n"
        : `Failed to open a WebSocket connection: invalid Origin header: ${origin}.\n`,
    );
    return false;
  };

  test("accepts any origin, or none, by default", () => {
    assert.equal(accepts(null as unknown as [], "https://any.example"), true);
    const server = new ServerProtocol();
    assert.equal(server.accept(makeRequest()).status, 101);
    assert.equal(server.origin, null);
  });

  test("compares strings exactly", () => {
    assert.equal(accepts(["https://good.example"], "https://good.example"), true);
    assert.equal(accepts(["https://good.example"], "https://good.example:443"), false);
    assert.equal(accepts(["https://good.example"], "https://GOOD.example"), false);
    assert.equal(accepts(["https://good.example"], "https://evil.example"), false);
  });

  test("rejects a missing Origin unless null is listed", () => {
    assert.equal(accepts(["https://good.example"], null), false);
    assert.equal(accepts(["https://good.example", null], null), true);
    assert.equal(accepts([null], "https://good.example"), false);
  });

  test("requires regular expressions to match the whole origin", () => {
    const pattern = /https:\/\/[a-z]+\.good\.example/;
    assert.equal(accepts([pattern], "https://chat.good.example"), true);
    assert.equal(accepts([pattern], "https://chat.good.example.evil.example"), false);
    assert.equal(accepts([pattern], "https://evil.example/?https://chat.good.example"), false);
    assert.equal(accepts([/a|ab/], "ab"), true);
    assert.equal(accepts([/GOOD/i], "good"), true);
  });

  test("ignores the global flag's state between requests", () => {
    const pattern = /https:\/\/good\.example/g;
    assert.equal(accepts([pattern], "https://good.example"), true);
    assert.equal(accepts([pattern], "https://good.example"), true);
  });
});

describe("ServerProtocol selecting a subprotocol", () => {
  const select = (
    options: ConstructorParameters<typeof ServerProtocol>[0],
    offered: string[] | null,
  ) => {
    const server = new ServerProtocol(options);
    const changes: Record<string, string[]> =
      offered === null ? {} : { "Sec-WebSocket-Protocol": offered };
    return { server, response: server.accept(makeRequest(changes)) };
  };

  test("picks the server's preferred subprotocol among those offered", () => {
    const { server, response } = select({ subprotocols: ["v3", "v2", "v1"] }, ["v1, v2"]);
    assert.equal(response.headers.get("Sec-WebSocket-Protocol"), "v2");
    assert.equal(server.subprotocol, "v2");
  });

  test("combines several Sec-WebSocket-Protocol headers", () => {
    const { server } = select({ subprotocols: ["v2"] }, ["v1", "v2"]);
    assert.equal(server.subprotocol, "v2");
  });

  test("goes on without a subprotocol when the server has none", () => {
    const { server, response } = select({}, ["v1"]);
    assert.equal(response.status, 101);
    assert.equal(response.headers.has("Sec-WebSocket-Protocol"), false);
    assert.equal(server.subprotocol, null);
  });

  test("rejects with 400 when the client offers none", () => {
    const { server, response } = select({ subprotocols: ["v1"] }, null);
    assert.equal(response.status, 400);
    assert.equal(
      response.body.toString(),
      "Failed to open a WebSocket connection: missing subprotocol.\n",
    );
    assert.ok(server.handshakeExc instanceof NegotiationError);
  });

  test("rejects with 400 when there's no subprotocol in common", () => {
    const { response } = select({ subprotocols: ["v1", "v2"] }, ["v3, v4"]);
    assert.equal(response.status, 400);
    assert.equal(
      response.body.toString(),
      "Failed to open a WebSocket connection: invalid subprotocol v3, v4; expected one of v1, v2.\n",
    );
  });

  test("calls selectSubprotocol with the protocol and the offers, in the client's order", () => {
    const calls: [ServerProtocol, readonly string[]][] = [];
    const { server, response } = select(
      {
        subprotocols: ["unused"],
        selectSubprotocol: (protocol, offered) => {
          calls.push([protocol, offered]);
          return offered[offered.length - 1];
        },
      },
      ["b, a", "c"],
    );
    assert.equal(calls.length, 1);
    assert.equal(calls[0][0], server);
    assert.deepEqual(calls[0][1], ["b", "a", "c"]);
    assert.equal(response.headers.get("Sec-WebSocket-Protocol"), "c");
    assert.equal(server.subprotocol, "c");
  });

  test("goes on without a subprotocol when selectSubprotocol returns null", () => {
    const { server, response } = select({ selectSubprotocol: () => null }, ["a"]);
    assert.equal(response.status, 101);
    assert.equal(response.headers.has("Sec-WebSocket-Protocol"), false);
    assert.equal(server.subprotocol, null);
  });

  test("rejects with 400 when selectSubprotocol throws NegotiationError", () => {
    const { server, response } = select(
      {
        selectSubprotocol: () => {
          throw new NegotiationError("chat required");
        },
      },
      ["a"],
    );
    assert.equal(response.status, 400);
    assert.equal(
      response.body.toString(),
      "Failed to open a WebSocket connection: chat required.\n",
    );
    assert.ok(server.handshakeExc instanceof NegotiationError);
  });

  test("lets other errors from selectSubprotocol propagate", () => {
    assert.throws(
      () =>
        select(
          {
            selectSubprotocol: () => {
              throw new TypeError("bug in application");
            },
          },
          ["a"],
        ),
      /bug in application/,
    );
  });

  test("throws when selectSubprotocol returns a subprotocol the client didn't offer", () => {
    assert.throws(
      () => select({ selectSubprotocol: () => "z" }, ["a"]),
      (error: unknown) =>
        error instanceof Error &&
        !(error instanceof InvalidHandshake) &&
        error.message === "selectSubprotocol returned z, which the client didn't offer",
    );
  });
});

describe("ServerProtocol negotiating extensions", () => {
  const negotiate = (factories: ServerExtensionFactory[], offers: string | null) => {
    const server = new ServerProtocol({ extensions: factories });
    const changes: Record<string, string> =
      offers === null ? {} : { "Sec-WebSocket-Extensions": offers };
    return { server, response: server.accept(makeRequest(changes)) };
  };

  test("accepts an offer and answers with the factory's parameters", () => {
    const factory = new TestServerFactory(
      "x-a",
      () => true,
      () => [["answer", "1"]],
    );
    const { server, response } = negotiate([factory], "x-a; offer=2");
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), "x-a; answer=1");
    assert.equal(server.extensions.length, 1);
    assert.deepEqual(factory.offers, [[[["offer", "2"]], []]]);
  });

  test("sends no header when nothing is accepted or offered", () => {
    const declining = new TestServerFactory("x-a", () => false);
    const declined = negotiate([declining], "x-a");
    assert.equal(declined.response.status, 101);
    assert.equal(declined.response.headers.has("Sec-WebSocket-Extensions"), false);
    assert.deepEqual(declined.server.extensions, []);
    assert.equal(
      negotiate([declining], null).response.headers.has("Sec-WebSocket-Extensions"),
      false,
    );
  });

  test("ignores extensions it doesn't support", () => {
    const { response } = negotiate([new TestServerFactory("x-a")], "x-unknown, x-a");
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), "x-a");
  });

  test("ignores offers when it supports no extension", () => {
    const server = new ServerProtocol();
    const response = server.accept(makeRequest({ "Sec-WebSocket-Extensions": "x-a" }));
    assert.equal(response.headers.has("Sec-WebSocket-Extensions"), false);
  });

  test("accepts the first acceptable of several offers of one extension, once", () => {
    const factory = new TestServerFactory("x-a", (params) => params[0]?.[0] !== "bad");
    const { server, response } = negotiate([factory], "x-a; bad, x-a; good=1, x-a; good=2");
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), "x-a; good=1");
    assert.equal(server.extensions.length, 1);
    assert.equal(factory.offers.length, 2);
  });

  test("keeps the client's order and passes accepted extensions along", () => {
    const a = new TestServerFactory("x-a");
    const b = new TestServerFactory("x-b");
    const { server, response } = negotiate([a, b], "x-b, x-a");
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), "x-b, x-a");
    assert.deepEqual(
      server.extensions.map((extension) => extension.name),
      ["x-b", "x-a"],
    );
    assert.deepEqual(a.offers[0][1], [server.extensions[0]]);
  });

  test("falls back to the next factory with the same name", () => {
    const first = new TestServerFactory("x-a", () => false);
    const second = new TestServerFactory(
      "x-a",
      () => true,
      () => [["second", null]],
    );
    const { response } = negotiate([first, second], "x-a");
    assert.equal(response.headers.get("Sec-WebSocket-Extensions"), "x-a; second");
  });

  test("lets other errors from a factory propagate", () => {
    const factory = new TestServerFactory("x-a");
    factory.processRequestParams = () => {
      throw new RangeError("bug in factory");
    };
    assert.throws(() => negotiate([factory], "x-a"), RangeError);
  });
});

describe("ServerProtocol.reject and sendResponse", () => {
  test("builds a plain-text response for any status", () => {
    const server = new ServerProtocol();
    const response = server.reject(404, "Not here: café\n");
    assert.equal(response.status, 404);
    assert.equal(response.reason, "Not Found");
    assert.equal(response.body.toString(), "Not here: café\n");
    assert.equal(response.headers.get("Content-Length"), "16");
    assert.equal(response.headers.get("Content-Type"), "text/plain; charset=utf-8");
    assert.equal(response.headers.get("Connection"), "close");
    assert.match(response.headers.get("Date") ?? "", DATE);
    assert.ok(server.handshakeExc instanceof InvalidStatus);
    assert.equal(server.handshakeExc.response, response);
  });

  test("uses an empty reason for statuses it doesn't name", () => {
    const response = new ServerProtocol().reject(599, "");
    assert.equal(response.reason, "");
    assert.equal(response.headers.get("Content-Length"), "0");
  });

  test("keeps the handshake error when rejecting after accept", () => {
    const server = new ServerProtocol();
    server.accept(makeRequest({ Upgrade: null }));
    server.reject(500, "oops");
    assert.ok(server.handshakeExc instanceof InvalidUpgrade);
  });

  test("sends a health check's 200 and closes", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    takeRequest(server);
    server.sendResponse(server.reject(200, "OK\n"));
    const [bytes, eof] = server.dataToSend();
    assert.match(responseText(bytes), /^HTTP\/1.1 200 OK\r\n[\s\S]*\r\n\r\nOK\n$/);
    assert.deepEqual(eof, Buffer.alloc(0));
    assert.ok(server.handshakeExc instanceof InvalidStatus);
  });

  test("sets handshakeExc when sending a non-101 response built by hand", () => {
    const server = new ServerProtocol();
    const response: Response = {
      status: 503,
      reason: "Service Unavailable",
      headers: new Headers({ "Content-Length": "0" }),
      body: Buffer.alloc(0),
    };
    server.sendResponse(response);
    assert.ok(server.handshakeExc instanceof InvalidStatus);
    assert.equal(server.handshakeExc.response, response);
    assert.equal(server.closeExpected(), true);
  });

  test("sends headers added to the 101 between accept and sendResponse", () => {
    const server = new ServerProtocol({ serverHeader: null });
    const response = server.accept(makeRequest());
    response.headers.append("Set-Cookie", "session=1");
    server.sendResponse(response);
    assert.match(server.dataToSend()[0].toString(), /\r\nSet-Cookie: session=1\r\n\r\n$/);
    assert.equal(server.state, OPEN);
  });

  test("refuses to send a response once open", () => {
    const server = new ServerProtocol();
    server.sendResponse(server.accept(makeRequest()));
    assert.throws(() => server.sendResponse(server.reject(500, "x")), InvalidState);
  });
});

describe("ServerProtocol.useConfig", () => {
  test("replaces the config after the request, before accept, with its maxSize", () => {
    const server = new ServerProtocol({ subprotocols: ["v1"], maxSize: 10 });
    server.receiveData(
      Buffer.from(REQUEST.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: v1, v2\r\n\r\n")),
    );
    const request = takeRequest(server);
    const route = new ServerProtocolConfig({
      subprotocols: ["v2"],
      maxSize: 20,
      serverHeader: "r/1",
    });
    server.useConfig(route);
    assert.equal(server.config, route);
    assert.equal(server.maxSize, 20);
    const response = server.accept(request);
    assert.equal(server.subprotocol, "v2");
    assert.equal(response.headers.get("Server"), "r/1");
  });

  test("throws InvalidState once a response was sent", () => {
    const server = new ServerProtocol();
    server.sendResponse(acceptReceived(server));
    assert.throws(() => server.useConfig(new ServerProtocolConfig()), {
      name: "InvalidState",
      message: "cannot change the config: a handshake response was sent",
    });
  });
});

describe("ServerProtocolConfig shared by connections", () => {
  test("is kept by reference, and every connection reads its options from it", () => {
    const factory = new TestServerFactory("x-test");
    const config = new ServerProtocolConfig({
      origins: ["https://good.example"],
      extensions: [factory],
      subprotocols: ["chat"],
      serverHeader: "shared/1",
      httpLimits: { maxLineLength: 100, maxNumHeaders: 20, maxBodySize: 10 },
      maxSize: 1000,
    });
    const servers = [new ServerProtocol({ config }), new ServerProtocol({ config })];
    for (const server of servers) {
      assert.equal(server.config, config);
      assert.equal(server.origins, config.origins);
      assert.equal(server.availableExtensions, config.extensions);
      assert.equal(server.availableSubprotocols, config.subprotocols);
      assert.equal(server.maxSize, 1000);
      const response = server.accept(
        makeRequest({
          Origin: "https://good.example",
          "Sec-WebSocket-Protocol": "chat",
          "Sec-WebSocket-Extensions": "x-test",
        }),
      );
      assert.equal(response.status, 101);
      assert.equal(response.headers.get("Server"), "shared/1");
      assert.equal(server.subprotocol, "chat");
      assert.equal(server.extensions.length, 1);
    }
    // One connection's negotiation doesn't leak into the config or the other.
    assert.notEqual(servers[0].extensions, servers[1].extensions);
    assert.deepEqual(config.subprotocols, ["chat"]);
    assert.ok(Object.isFrozen(config.httpLimits));
    assert.deepEqual(config.httpLimits, { maxLineLength: 100, maxNumHeaders: 20, maxBodySize: 10 });
  });

  test("applies its HTTP limits to the request and to bytes sent before the response", () => {
    const config = new ServerProtocolConfig({ httpLimits: { maxLineLength: 30 } });
    const long = new ServerProtocol({ config });
    long.receiveData(Buffer.from(REQUEST));
    assert.equal(long.response?.status, 431);

    const early = new ServerProtocol({
      config: new ServerProtocolConfig({ httpLimits: { maxBodySize: 4 } }),
    });
    early.receiveData(Buffer.concat([Buffer.from(REQUEST), Buffer.alloc(5)]));
    assert.ok(early.handshakeExc instanceof SecurityError);
  });

  test("reads the environment once, when it's created, not per connection", () => {
    let config: ServerProtocolConfig | undefined;
    withEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "30", WEBSOCKETS_SERVER: "from-env/1" }, () => {
      config = new ServerProtocolConfig();
    });
    assert.ok(config !== undefined);
    assert.equal(config.httpLimits.maxLineLength, 30);
    assert.equal(config.serverHeader, "from-env/1");
    withEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "9000", WEBSOCKETS_SERVER: "changed/2" }, () => {
      const server = new ServerProtocol({ config });
      server.receiveData(Buffer.from(REQUEST));
      assert.equal(server.response?.status, 431);
      assert.equal(server.response?.headers.get("Server"), "from-env/1");
    });
  });

  test("without one, each ServerProtocol reads the environment when it's created", () => {
    withEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "30" }, () => {
      const server = new ServerProtocol();
      assert.equal(server.config.httpLimits.maxLineLength, 30);
    });
    assert.equal(new ServerProtocol().config.httpLimits.maxLineLength, 8192);
  });

  test("refuses options that belong to it when it's given", () => {
    const config = new ServerProtocolConfig();
    for (const option of [
      { origins: null },
      { extensions: [] },
      { subprotocols: ["chat"] },
      { serverHeader: null },
      { httpLimits: {} },
      { maxSize: 10 },
    ]) {
      const name = Object.keys(option)[0];
      assert.throws(
        () => new ServerProtocol({ config, ...option }),
        new TypeError(`${name} belongs to the ServerProtocolConfig when one is given`),
      );
    }
  });

  test("takes the connection's own logger, state and selectSubprotocol", () => {
    const calls: string[] = [];
    const config = new ServerProtocolConfig({
      subprotocols: ["a"],
      selectSubprotocol: () => {
        calls.push("config");
        return "a";
      },
    });
    const { logger, lines } = debugLogger();
    const own = new ServerProtocol({
      config,
      logger,
      selectSubprotocol: (_protocol, offered) => {
        calls.push("own");
        return offered[1];
      },
    });
    assert.equal(own.logger, logger);
    own.receiveData(
      Buffer.from(REQUEST.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: a, b\r\n\r\n")),
    );
    assert.equal(lines[0], "< GET /chat HTTP/1.1");
    assert.equal(own.accept(takeRequest(own)).status, 101);
    assert.equal(own.subprotocol, "b");
    const shared = new ServerProtocol({ config });
    shared.accept(makeRequest({ "Sec-WebSocket-Protocol": "a" }));
    assert.deepEqual(calls, ["own", "config"]);
    assert.equal(new ServerProtocol({ config, state: OPEN }).state, OPEN);
  });

  test("refuses a Server header that isn't a valid header value when it's created", () => {
    assert.throws(
      () => new ServerProtocolConfig({ serverHeader: "a\r\nX-Injected: 1" }),
      new TypeError('invalid value for header Server: "a\\r\\nX-Injected: 1"'),
    );
    assert.throws(() => new ServerProtocol({ serverHeader: "a\nb" }), TypeError);
  });
});

describe("ServerProtocol after the handshake", () => {
  test("refuses to send a second response after a rejection", () => {
    const server = new ServerProtocol();
    server.sendResponse(server.reject(404, "no"));
    assert.equal(server.state, CONNECTING);
    assert.throws(
      () => server.sendResponse(server.reject(500, "again")),
      new InvalidState("cannot send a handshake response: a response was already sent"),
    );
    assert.equal(server.response?.status, 404);
  });

  test("shares one frozen empty extensions list until extensions are negotiated", () => {
    const a = new ServerProtocol();
    const b = new ServerProtocol();
    assert.equal(a.extensions, b.extensions);
    assert.equal(a.extensions.length, 0);
    assert.ok(Object.isFrozen(a.extensions));
    a.sendResponse(a.accept(makeRequest()));
    assert.equal(a.extensions, b.extensions);
  });

  test("still rejects a malformed Sec-WebSocket-Protocol when it has no subprotocols", () => {
    const server = new ServerProtocol();
    const response = server.accept(makeRequest({ "Sec-WebSocket-Protocol": "a b" }));
    assert.equal(response.status, 400);
    assert.ok(server.handshakeExc instanceof InvalidHeaderFormat);
  });

  test("keeps the request headers as edited before accept", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.from(REQUEST));
    const request = takeRequest(server);
    request.headers.append("X-Forwarded-For", "192.0.2.1");
    request.headers.set("Host", "edited.example");
    server.sendResponse(server.accept(request));
    assert.equal(server.state, OPEN);
    assert.equal(server.request, request);
    assert.equal(server.request?.headers.get("x-forwarded-for"), "192.0.2.1");
    assert.equal(server.request?.headers.get("host"), "edited.example");
    assert.equal(server.request?.headers.get("Sec-WebSocket-Key"), KEY);
  });

  test("parses frames that came with the request once the handshake is over", () => {
    const server = new ServerProtocol();
    server.receiveData(Buffer.concat([Buffer.from(REQUEST), fromClient(OP_TEXT, "early")]));
    server.sendResponse(server.accept(takeRequest(server)));
    server.receiveData(fromClient(OP_TEXT, "late"));
    const texts = server.eventsReceived().map((event) => (event as Frame).data.toString());
    assert.deepEqual(texts, ["early", "late"]);
  });
});

describe("ServerProtocol.receiveRequest with an HTTP/1.1 request parsed elsewhere", () => {
  // The request node:http hands to an `upgrade` listener: its fields, and
  // its header lines as flat pairs (req.rawHeaders).
  function parsedElsewhere(text: string): Request {
    const [head] = text.split("\r\n\r\n");
    const [requestLine, ...lines] = head.split("\r\n");
    const [method, path, version] = requestLine.split(" ");
    const pairs = lines.flatMap((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
    return { method, path, version, headers: Headers.fromValidated(pairs) };
  }

  test("takes a good request: an event, answered by accept()", () => {
    const server = new ServerProtocol();
    const request = parsedElsewhere(REQUEST);
    server.receiveRequest(request);
    assert.deepEqual(server.eventsReceived(), [request]);
    assert.equal(server.request, request);
    const response = server.accept(request);
    assert.equal(response.status, 101);
    server.sendResponse(response);
    assert.equal(server.state, OPEN);
    assert.match(responseText(server.dataToSend()[0]), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  });

  test("bytes received after it are the first frames", () => {
    const server = new ServerProtocol();
    const request = parsedElsewhere(REQUEST);
    server.receiveRequest(request);
    server.receiveData(fromClient(OP_TEXT, "early"));
    assert.deepEqual(server.eventsReceived(), [request]);
    server.sendResponse(server.accept(request));
    const [frame] = server.eventsReceived() as Frame[];
    assert.equal(frame.data.toString(), "early");
  });

  const bad: {
    name: string;
    text: string;
    status: number;
    type: new (...args: never[]) => Error;
  }[] = [
    {
      name: "two Host fields",
      text: REQUEST.replace("\r\n\r\n", "\r\nHost: other.example.com\r\n\r\n"),
      status: 400,
      type: InvalidHeader,
    },
    {
      name: "a request line over the limit",
      text: REQUEST.replace("GET /chat", `GET /${"a".repeat(8200)}`),
      status: 414,
      type: SecurityError,
    },
    {
      name: "too many header lines",
      text: REQUEST.replace("\r\n\r\n", `\r\n${"X-A: 1\r\n".repeat(125)}\r\n`),
      status: 431,
      type: SecurityError,
    },
    {
      name: "HTTP/1.0",
      text: REQUEST.replace("HTTP/1.1", "HTTP/1.0"),
      status: 400,
      type: InvalidMessage,
    },
    {
      name: "a body",
      text: REQUEST.replace("\r\n\r\n", "\r\nContent-Length: 2\r\n\r\n"),
      status: 400,
      type: InvalidMessage,
    },
  ];
  for (const { name, text, status, type } of bad) {
    test(`${name}: answered ${status} at once, as the same bytes are`, () => {
      const parsing = new ServerProtocol();
      parsing.receiveData(Buffer.from(text, "latin1"));
      const taking = new ServerProtocol();
      taking.receiveRequest(parsedElsewhere(text));
      assert.deepEqual(taking.eventsReceived(), []);
      assert.ok(taking.handshakeExc instanceof type, String(taking.handshakeExc));
      assert.equal(taking.handshakeExc?.message, parsing.handshakeExc?.message);
      assert.equal(taking.response?.status, status);
      const [expected, expectedEof] = parsing.dataToSend();
      const [actual, eof, ...more] = taking.dataToSend();
      assert.equal(responseText(actual), responseText(expected));
      assert.deepEqual([eof, more], [expectedEof, []]);
      assert.equal(taking.closeExpected(), true);
      assert.equal(taking.request, null);
    });
  }

  test("takes one request only", () => {
    const server = new ServerProtocol();
    server.receiveRequest(parsedElsewhere(REQUEST));
    assert.throws(() => server.receiveRequest(parsedElsewhere(REQUEST)), InvalidState);
    const parsed = new ServerProtocol();
    parsed.receiveData(Buffer.from(REQUEST));
    assert.throws(() => parsed.receiveRequest(parsedElsewhere(REQUEST)), InvalidState);
  });
});
