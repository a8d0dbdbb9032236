import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { ClientProtocol, defaultUserAgent } from "../src/client.ts";
import {
  InvalidHeader,
  InvalidHeaderFormat,
  InvalidHeaderValue,
  InvalidMessage,
  InvalidState,
  InvalidStatus,
  InvalidUpgrade,
  InvalidURI,
  NegotiationError,
  SecurityError,
} from "../src/errors.ts";
import type {
  ClientExtensionFactory,
  Extension,
  ExtensionParameter,
  ServerExtensionFactory,
} from "../src/extensions/base.ts";
import { Frame, OP_BINARY, OP_TEXT } from "../src/frames.ts";
import { acceptKey, Headers } from "../src/headers.ts";
import type { Request, Response } from "../src/http11.ts";
import { CLOSED, CONNECTING, type Event, OPEN } from "../src/protocol.ts";
import { ServerProtocol } from "../src/server.ts";
import { parseURI } from "../src/uri.ts";
import { VERSION } from "../src/version.ts";
import { withEnv } from "./support/env.ts";
import { fromServer } from "./support/wire.ts";

const UA = `websockets-ts/${VERSION} Node/${process.versions.node}`;

/** A logger recording debug messages; debug enabled. */
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

/** The bytes of a 101 response accepting `client`'s request, with extra header lines. */
function response101(client: ClientProtocol, extra = "", accept = acceptKey(client.key)): Buffer {
  return Buffer.from(
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\n` +
      extra +
      "\r\n",
  );
}

function isResponse(event: Event | undefined): event is Response {
  return event !== undefined && !(event instanceof Frame) && "status" in event;
}

function takeRequest(server: ServerProtocol): Request {
  const [event] = server.eventsReceived();
  assert.ok(event !== undefined && !(event instanceof Frame) && "path" in event);
  return event;
}

/** Sends the request (discarded) and returns the client, ready for a response. */
function connected(uri = "ws://example.com/", options = {}): ClientProtocol {
  const client = new ClientProtocol(uri, options);
  client.sendRequest(client.connect());
  client.dataToSend();
  return client;
}

/** Asserts the handshake failed with `type`, EOF was sent and input is now ignored. */
function assertFailed(
  client: ClientProtocol,
  type: new (...args: never[]) => Error,
  message?: RegExp,
) {
  assert.ok(client.handshakeExc instanceof type, `got ${client.handshakeExc}`);
  if (message !== undefined) assert.match(client.handshakeExc.message, message);
  assert.equal(client.state, CONNECTING);
  assert.deepEqual(client.dataToSend(), [Buffer.alloc(0)]);
  assert.equal(client.closeExpected(), true);
  client.eventsReceived();
  client.receiveData(fromServer(OP_TEXT, "ignored"));
  assert.deepEqual(client.eventsReceived(), []);
}

// A test extension: reverses the payload of data frames and flags them with RSV1.
class ReverseExtension implements Extension {
  readonly name = "x-reverse";
  constructor(readonly params: readonly ExtensionParameter[]) {}
  encode(frame: Frame): Frame {
    if (frame.opcode !== OP_TEXT && frame.opcode !== OP_BINARY) return frame;
    return new Frame(OP_BINARY, Buffer.from(frame.data).reverse(), frame.fin, true);
  }
  decode(frame: Frame): Frame {
    if (!frame.rsv1) return frame;
    return new Frame(OP_TEXT, Buffer.from(frame.data).reverse(), frame.fin, false);
  }
}

class ReverseClientFactory implements ClientExtensionFactory {
  readonly name: string;
  readonly calls: [readonly ExtensionParameter[], readonly Extension[]][] = [];
  constructor(
    readonly offer: ExtensionParameter[] = [],
    readonly acceptable: (params: readonly ExtensionParameter[]) => boolean = () => true,
    name = "x-reverse",
  ) {
    this.name = name;
  }
  getRequestParams(): ExtensionParameter[] {
    return this.offer;
  }
  processResponseParams(params: readonly ExtensionParameter[], accepted: readonly Extension[]) {
    this.calls.push([params, [...accepted]]);
    if (!this.acceptable(params))
      throw new NegotiationError(`${this.name} refuses ${JSON.stringify(params)}`);
    return new ReverseExtension(params);
  }
}

class ReverseServerFactory implements ServerExtensionFactory {
  readonly name = "x-reverse";
  processRequestParams(params: readonly ExtensionParameter[]): [ExtensionParameter[], Extension] {
    return [[...params], new ReverseExtension(params)];
  }
}

describe("ClientProtocol.connect", () => {
  test("builds the handshake request (golden bytes)", () => {
    const client = new ClientProtocol("ws://example.com:8765/chat?room=1");
    client.sendRequest(client.connect());
    const [bytes, ...more] = client.dataToSend();
    assert.equal(more.length, 0);
    assert.equal(
      bytes.toString(),
      "GET /chat?room=1 HTTP/1.1\r\n" +
        "Host: example.com:8765\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${client.key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n" +
        `User-Agent: ${UA}\r\n` +
        "\r\n",
    );
    assert.equal(client.state, CONNECTING);
  });

  test("builds a request with every optional header (golden bytes)", () => {
    const client = new ClientProtocol("wss://user:p%40ss@example.com/", {
      origin: "https://example.com",
      extensions: [
        new ReverseClientFactory([
          ["a", "1"],
          ["b", null],
        ]),
        new ReverseClientFactory([], () => true, "x-other"),
      ],
      subprotocols: ["chat", "superchat"],
      additionalHeaders: { "X-Token": "abc" },
      userAgentHeader: "my-agent/1.0",
    });
    const request = client.connect();
    assert.equal(request.path, "/");
    client.sendRequest(request);
    assert.equal(
      client.dataToSend()[0].toString(),
      "GET / HTTP/1.1\r\n" +
        "Host: example.com\r\n" +
        `Authorization: Basic ${Buffer.from("user:p@ss").toString("base64")}\r\n` +
        "Origin: https://example.com\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${client.key}\r\n` +
        "Sec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Extensions: x-reverse; a=1; b, x-other\r\n" +
        "Sec-WebSocket-Protocol: chat, superchat\r\n" +
        "X-Token: abc\r\n" +
        "User-Agent: my-agent/1.0\r\n" +
        "\r\n",
    );
  });

  test("puts the port in Host only when it isn't the default", () => {
    const host = (uri: string) => new ClientProtocol(uri).connect().headers.get("Host");
    assert.equal(host("ws://example.com/"), "example.com");
    assert.equal(host("ws://example.com:80/"), "example.com");
    assert.equal(host("wss://example.com:443/"), "example.com");
    assert.equal(host("wss://example.com:80/"), "example.com:80");
    assert.equal(host("ws://[::1]:8765/"), "[::1]:8765");
    assert.equal(host("ws://[::1]/"), "[::1]");
  });

  test("accepts a parsed URI", () => {
    const uri = parseURI("ws://127.0.0.1:8765/x");
    const client = new ClientProtocol(uri);
    assert.equal(client.uri, uri);
    assert.equal(client.connect().path, "/x");
  });

  test("throws InvalidURI for an invalid URI string", () => {
    assert.throws(() => new ClientProtocol("http://example.com/"), InvalidURI);
  });

  test("uses a random 16-byte key per connection", () => {
    const a = new ClientProtocol("ws://example.com/");
    const b = new ClientProtocol("ws://example.com/");
    assert.equal(Buffer.from(a.key, "base64").length, 16);
    assert.notEqual(a.key, b.key);
    assert.equal(a.connect().headers.get("Sec-WebSocket-Key"), a.key);
  });

  test("sends no User-Agent when userAgentHeader is null", () => {
    const client = new ClientProtocol("ws://example.com/", { userAgentHeader: null });
    assert.equal(client.connect().headers.has("User-Agent"), false);
  });

  test("takes the default User-Agent from WEBSOCKETS_USER_AGENT", () => {
    withEnv({ WEBSOCKETS_USER_AGENT: "custom/2" }, () => {
      assert.equal(new ClientProtocol("ws://a/").connect().headers.get("User-Agent"), "custom/2");
    });
    assert.equal(defaultUserAgent({}), UA);
    assert.equal(defaultUserAgent({ WEBSOCKETS_USER_AGENT: "x" }), "x");
  });

  test("lets additional headers replace headers of the same name, User-Agent included", () => {
    const client = new ClientProtocol("ws://example.com/", {
      origin: "https://a.example",
      additionalHeaders: [
        ["origin", "https://b.example"],
        ["User-Agent", "mine"],
        ["X-Multi", "1"],
        ["X-Multi", "2"],
      ],
    });
    const headers = client.connect().headers;
    assert.deepEqual(headers.getAll("Origin"), ["https://b.example"]);
    assert.deepEqual(headers.getAll("User-Agent"), ["mine"]);
    assert.deepEqual(headers.getAll("X-Multi"), ["1", "2"]);
  });

  test("accepts additional headers as a Headers object", () => {
    const client = new ClientProtocol("ws://example.com/", {
      additionalHeaders: new Headers({ "X-A": "1" }),
    });
    assert.equal(client.connect().headers.get("x-a"), "1");
  });

  test("omits Sec-WebSocket-Extensions and Sec-WebSocket-Protocol for empty lists", () => {
    const headers = new ClientProtocol("ws://a/", { extensions: [], subprotocols: [] }).connect()
      .headers;
    assert.equal(headers.has("Sec-WebSocket-Extensions"), false);
    assert.equal(headers.has("Sec-WebSocket-Protocol"), false);
  });

  test("logs the request line by line at debug level", () => {
    const { logger, lines } = debugLogger();
    const client = new ClientProtocol("ws://example.com/path", { logger, userAgentHeader: null });
    client.sendRequest(client.connect());
    assert.deepEqual(lines, [
      "> GET /path HTTP/1.1",
      "> Host: example.com",
      "> Upgrade: websocket",
      "> Connection: Upgrade",
      `> Sec-WebSocket-Key: ${client.key}`,
      "> Sec-WebSocket-Version: 13",
    ]);
  });

  test("doesn't log when debug is disabled", () => {
    const { logger, lines } = debugLogger();
    logger.isLevelEnabled = () => false;
    const client = new ClientProtocol("ws://example.com/", { logger });
    client.sendRequest(client.connect());
    assert.deepEqual(lines, []);
  });

  test("refuses to send a request once the connection is open", () => {
    const client = new ClientProtocol("ws://example.com/", { state: OPEN });
    assert.throws(() => client.sendRequest(client.connect()), InvalidState);
  });
});

describe("ClientProtocol receiving a 101", () => {
  test("opens the connection and emits the response", () => {
    const client = connected();
    client.receiveData(response101(client));
    assert.equal(client.state, OPEN);
    assert.equal(client.handshakeExc, null);
    const events = client.eventsReceived();
    assert.equal(events.length, 1);
    assert.ok(isResponse(events[0]));
    assert.equal(events[0].status, 101);
    assert.equal(client.response, events[0]);
    assert.deepEqual(client.extensions, []);
    assert.equal(client.subprotocol, null);
    assert.deepEqual(client.dataToSend(), []);
    assert.equal(client.closeExpected(), false);
  });

  test("opens only when the last byte of a response fed byte by byte arrives", () => {
    const client = connected();
    const bytes = response101(client);
    for (let i = 0; i < bytes.length - 1; i++) {
      client.receiveData(bytes.subarray(i, i + 1));
      assert.equal(client.state, CONNECTING);
      assert.deepEqual(client.eventsReceived(), []);
    }
    client.receiveData(bytes.subarray(bytes.length - 1));
    assert.equal(client.state, OPEN);
    assert.equal(client.eventsReceived().length, 1);
  });

  test("parses frames received with the response, after it", () => {
    const client = connected();
    client.receiveData(Buffer.concat([response101(client), fromServer(OP_TEXT, "hi")]));
    const events = client.eventsReceived();
    assert.equal(events.length, 2);
    assert.ok(isResponse(events[0]));
    assert.ok(events[1] instanceof Frame);
    assert.equal(events[1].data.toString(), "hi");
  });

  test("logs the response line by line at debug level", () => {
    const { logger, lines } = debugLogger();
    const client = connected("ws://example.com/", { logger });
    lines.length = 0;
    client.receiveData(response101(client, "Server: test\r\n"));
    assert.deepEqual(lines, [
      "< HTTP/1.1 101 Switching Protocols",
      "< Upgrade: websocket",
      "< Connection: Upgrade",
      `< Sec-WebSocket-Accept: ${acceptKey(client.key)}`,
      "< Server: test",
      "= connection is OPEN",
    ]);
  });

  test("accepts Connection with several options and Upgrade in another case", () => {
    const client = connected();
    const accept = acceptKey(client.key);
    client.receiveData(
      Buffer.from(
        "HTTP/1.1 101 Switching Protocols\r\n" +
          "Upgrade: WebSocket\r\n" +
          "Connection: keep-alive, upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ),
    );
    assert.equal(client.state, OPEN);
  });
});

describe("ClientProtocol rejecting a response", () => {
  test("fails with InvalidStatus carrying a Content-Length body", () => {
    const client = connected();
    client.receiveData(
      Buffer.from(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nnot allowed.\r\n",
      ),
    );
    const exc = client.handshakeExc;
    assert.ok(exc instanceof InvalidStatus);
    assert.equal(exc.message, "server rejected WebSocket connection: HTTP 403");
    assert.equal(exc.response.body.toString(), "not allowed.\r\n");
    const [event] = client.eventsReceived();
    assert.ok(isResponse(event));
    assert.equal(event, exc.response);
    assertFailed(client, InvalidStatus);
  });

  test("waits for the end of the stream to complete a body without length", () => {
    const client = connected();
    client.receiveData(Buffer.from("HTTP/1.1 500 Internal Server Error\r\n\r\nsomething went "));
    client.receiveData(Buffer.from("wrong"));
    assert.equal(client.handshakeExc === null, true);
    assert.deepEqual(client.eventsReceived(), []);
    client.receiveEof();
    const exc = client.handshakeExc;
    assert.ok(exc instanceof InvalidStatus);
    assert.equal(exc.response.body.toString(), "something went wrong");
    assert.equal(client.eventsReceived().length, 1);
    assert.equal(client.state, CLOSED);
    assert.deepEqual(client.dataToSend(), [Buffer.alloc(0)]);
  });

  test("reads a chunked body, fed one byte at a time", () => {
    const client = connected();
    const bytes = Buffer.from(
      "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbad \r\n7\r\ngateway\r\n0\r\n\r\n",
    );
    for (const byte of bytes) client.receiveData(Buffer.from([byte]));
    const exc = client.handshakeExc;
    assert.ok(exc instanceof InvalidStatus);
    assert.equal(exc.response.body.toString(), "bad gateway");
  });

  test("surfaces a redirect as InvalidStatus with its Location", () => {
    const client = connected();
    client.receiveData(
      Buffer.from(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: wss://other.example/\r\nContent-Length: 0\r\n\r\n",
      ),
    );
    const exc = client.handshakeExc;
    assert.ok(exc instanceof InvalidStatus);
    assert.equal(exc.response.status, 301);
    assert.equal(exc.response.headers.get("Location"), "wss://other.example/");
    assertFailed(client, InvalidStatus);
  });

  test("fails with InvalidStatus for a 200", () => {
    const client = connected();
    client.receiveData(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    assertFailed(client, InvalidStatus, /HTTP 200/);
  });

  const invalidResponses: [
    string,
    (accept: string) => string,
    new (...args: never[]) => Error,
    RegExp,
  ][] = [
    [
      "a missing Connection header",
      (accept) => `Upgrade: websocket\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidUpgrade,
      /^missing Connection header$/,
    ],
    [
      "Connection: close",
      (accept) => `Upgrade: websocket\r\nConnection: close\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidUpgrade,
      /^invalid Connection header: close$/,
    ],
    [
      "a malformed Connection header",
      (accept) =>
        `Upgrade: websocket\r\nConnection: Upgrade;\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidHeaderFormat,
      /^invalid Connection header: expected comma at 7 in Upgrade;$/,
    ],
    [
      "a missing Upgrade header",
      (accept) => `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidUpgrade,
      /^missing Upgrade header$/,
    ],
    [
      "Upgrade: h2c",
      (accept) => `Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidUpgrade,
      /^invalid Upgrade header: h2c$/,
    ],
    [
      "two upgrade protocols",
      (accept) =>
        `Upgrade: websocket\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidUpgrade,
      /^invalid Upgrade header: websocket, h2c$/,
    ],
    [
      "a missing Sec-WebSocket-Accept",
      () => "Upgrade: websocket\r\nConnection: Upgrade\r\n",
      InvalidHeader,
      /^missing Sec-WebSocket-Accept header$/,
    ],
    [
      "a wrong Sec-WebSocket-Accept",
      () =>
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
      InvalidHeaderValue,
      /^invalid Sec-WebSocket-Accept header: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=$/,
    ],
    [
      "two Sec-WebSocket-Accept headers",
      (accept) =>
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Accept: ${accept}\r\n`,
      InvalidHeader,
      /more than one Sec-WebSocket-Accept header found/,
    ],
  ];
  for (const [what, headers, type, message] of invalidResponses) {
    test(`fails with ${type.name} for ${what}, still emitting the response`, () => {
      const client = connected();
      client.receiveData(
        Buffer.from(`HTTP/1.1 101 Switching Protocols\r\n${headers(acceptKey(client.key))}\r\n`),
      );
      const events = client.eventsReceived();
      assert.equal(events.length, 1);
      assert.ok(isResponse(events[0]));
      assert.equal(client.response, events[0]);
      assertFailed(client, type, message);
      assert.equal(client.handshakeExc?.constructor, type);
    });
  }

  test("fails with InvalidMessage for malformed HTTP, without a response event", () => {
    const client = connected();
    client.receiveData(Buffer.from("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\n\r\n"));
    assert.deepEqual(client.eventsReceived(), []);
    assert.equal(client.response, null);
    assertFailed(client, InvalidMessage, /bare LF in HTTP status line/);
  });

  test("fails with InvalidMessage for a non-HTTP answer", () => {
    const client = connected();
    client.receiveData(Buffer.from("SSH-2.0-OpenSSH_9.6\r\n"));
    assertFailed(client, InvalidMessage, /invalid HTTP status line: SSH-2.0-OpenSSH_9.6/);
  });

  test("fails with SecurityError when a header line exceeds the limit", () => {
    const client = connected();
    client.receiveData(
      Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nX-Big: ${"a".repeat(9000)}`),
    );
    assertFailed(client, SecurityError, /line too long in HTTP headers/);
  });

  test("fails with SecurityError when the body exceeds the limit set by option", () => {
    const client = connected("ws://a/", { httpLimits: { maxBodySize: 10 } });
    client.receiveData(Buffer.from("HTTP/1.1 500 Oops\r\nContent-Length: 11\r\n\r\n"));
    assertFailed(client, SecurityError, /body too large: 11 bytes exceeds limit of 10 bytes/);
  });

  test("fails with SecurityError for too many headers, limit from WEBSOCKETS_MAX_NUM_HEADERS", () => {
    withEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "3" }, () => {
      const client = connected();
      client.receiveData(response101(client, "X-A: 1\r\n"));
      assertFailed(client, SecurityError, /too many HTTP headers: more than 3/);
    });
  });

  test("fails with InvalidMessage when the stream ends during the response", () => {
    const client = connected();
    client.receiveData(Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs"));
    client.receiveEof();
    assert.ok(client.handshakeExc instanceof InvalidMessage);
    assert.equal(client.handshakeExc.message, "connection closed while reading HTTP headers");
    assert.equal(client.state, CLOSED);
    assert.deepEqual(client.dataToSend(), [Buffer.alloc(0)]);
  });

  test("fails with InvalidMessage when the stream ends before any response", () => {
    const client = connected();
    client.receiveEof();
    assert.ok(client.handshakeExc instanceof InvalidMessage);
    assert.match(client.handshakeExc.message, /HTTP status line/);
  });
});

describe("ClientProtocol negotiating extensions", () => {
  test("accepts an offered extension and keeps the server's parameters", () => {
    const factory = new ReverseClientFactory([["a", "1"]]);
    const client = connected("ws://a/", { extensions: [factory] });
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-reverse; a=2\r\n"));
    assert.equal(client.state, OPEN);
    assert.equal(client.extensions.length, 1);
    assert.ok(client.extensions[0] instanceof ReverseExtension);
    assert.deepEqual(client.extensions[0].params, [["a", "2"]]);
    assert.deepEqual(factory.calls, [[[["a", "2"]], []]]);
  });

  test("passes previously accepted extensions to the next factory", () => {
    const first = new ReverseClientFactory();
    const second = new ReverseClientFactory([], () => true, "x-second");
    const client = connected("ws://a/", { extensions: [first, second] });
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-reverse, x-second\r\n"));
    assert.equal(client.extensions.length, 2);
    assert.deepEqual(second.calls[0][1], [client.extensions[0]]);
  });

  test("tries the next factory with the same name when one refuses", () => {
    const picky = new ReverseClientFactory([["v", "1"]], (params) => params.length === 0);
    const lenient = new ReverseClientFactory([["v", "2"]]);
    const client = connected("ws://a/", { extensions: [picky, lenient] });
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-reverse; v=2\r\n"));
    assert.equal(client.state, OPEN);
    assert.equal(picky.calls.length, 1);
    assert.equal(lenient.calls.length, 1);
  });

  test("accepts a response without extensions", () => {
    const client = connected("ws://a/", { extensions: [new ReverseClientFactory()] });
    client.receiveData(response101(client));
    assert.equal(client.state, OPEN);
    assert.deepEqual(client.extensions, []);
  });

  test("fails with NegotiationError when the server accepts an extension not offered", () => {
    const client = connected("ws://a/", { extensions: [new ReverseClientFactory()] });
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-unknown; a=1\r\n"));
    assertFailed(client, NegotiationError, /^unsupported extension: x-unknown; a=1$/);
  });

  test("fails with NegotiationError when no extension was offered", () => {
    const client = connected();
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-reverse\r\n"));
    assertFailed(client, NegotiationError, /^no extensions offered; server accepted: x-reverse$/);
  });

  test("fails with the factory's NegotiationError when it refuses the parameters", () => {
    const client = connected("ws://a/", {
      extensions: [new ReverseClientFactory([], () => false)],
    });
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-reverse; bad\r\n"));
    assertFailed(client, NegotiationError, /^x-reverse refuses \[\["bad",null\]\]$/);
  });

  test("fails with InvalidHeaderFormat for a malformed Sec-WebSocket-Extensions", () => {
    const client = connected("ws://a/", { extensions: [new ReverseClientFactory()] });
    client.receiveData(response101(client, 'Sec-WebSocket-Extensions: x-reverse; a="1\r\n'));
    assertFailed(
      client,
      InvalidHeaderFormat,
      /unterminated quoted string at 13 in x-reverse; a="1$/,
    );
  });

  test("fails with the factory's error when it throws something else", () => {
    const factory = new ReverseClientFactory();
    factory.processResponseParams = () => {
      throw new TypeError("bug in factory");
    };
    const client = connected("ws://a/", { extensions: [factory] });
    client.receiveData(response101(client, "Sec-WebSocket-Extensions: x-reverse\r\n"));
    assertFailed(client, TypeError, /bug in factory/);
  });
});

describe("ClientProtocol negotiating a subprotocol", () => {
  test("accepts the subprotocol the server selected among those offered", () => {
    const client = connected("ws://a/", { subprotocols: ["chat", "superchat"] });
    client.receiveData(response101(client, "Sec-WebSocket-Protocol: superchat\r\n"));
    assert.equal(client.state, OPEN);
    assert.equal(client.subprotocol, "superchat");
  });

  test("accepts a response without subprotocol", () => {
    const client = connected("ws://a/", { subprotocols: ["chat"] });
    client.receiveData(response101(client));
    assert.equal(client.state, OPEN);
    assert.equal(client.subprotocol, null);
  });

  test("fails with NegotiationError for a subprotocol not offered", () => {
    const client = connected("ws://a/", { subprotocols: ["chat"] });
    client.receiveData(response101(client, "Sec-WebSocket-Protocol: superchat\r\n"));
    assertFailed(client, NegotiationError, /^unsupported subprotocol: superchat$/);
    assert.equal(client.subprotocol, null);
  });

  test("fails with NegotiationError when none was offered", () => {
    const client = connected();
    client.receiveData(response101(client, "Sec-WebSocket-Protocol: chat\r\n"));
    assertFailed(client, NegotiationError, /^no subprotocols offered; server selected: chat$/);
  });

  test("fails with NegotiationError when the server selects several", () => {
    const client = connected("ws://a/", { subprotocols: ["chat", "superchat"] });
    client.receiveData(response101(client, "Sec-WebSocket-Protocol: chat, superchat\r\n"));
    assertFailed(client, NegotiationError, /^multiple subprotocols: chat, superchat$/);
  });
});

describe("ClientProtocol and ServerProtocol together", () => {
  function handshake(
    clientOptions: ConstructorParameters<typeof ClientProtocol>[1] = {},
    serverOptions: ConstructorParameters<typeof ServerProtocol>[0] = {},
  ) {
    const client = new ClientProtocol("ws://localhost:8765/chat", clientOptions);
    const server = new ServerProtocol(serverOptions);
    client.sendRequest(client.connect());
    for (const data of client.dataToSend()) server.receiveData(data);
    const request = takeRequest(server);
    assert.equal(request.path, "/chat");
    server.sendResponse(server.accept(request));
    for (const data of server.dataToSend()) client.receiveData(data);
    assert.ok(isResponse(client.eventsReceived()[0]));
    return { client, server };
  }

  test("complete the handshake and exchange messages both ways", () => {
    const { client, server } = handshake();
    assert.equal(client.state, OPEN);
    assert.equal(server.state, OPEN);
    client.sendText("hello");
    for (const data of client.dataToSend()) server.receiveData(data);
    const [fromClient] = server.eventsReceived();
    assert.ok(fromClient instanceof Frame);
    assert.equal(fromClient.data.toString(), "hello");
    server.sendBinary(Buffer.from([1, 2, 3]));
    for (const data of server.dataToSend()) client.receiveData(data);
    const [fromServerFrame] = client.eventsReceived();
    assert.ok(fromServerFrame instanceof Frame);
    assert.deepEqual(fromServerFrame.data, Buffer.from([1, 2, 3]));
  });

  test("complete the handshake when every byte travels on its own", () => {
    const client = new ClientProtocol("ws://localhost/");
    const server = new ServerProtocol();
    client.sendRequest(client.connect());
    for (const data of client.dataToSend())
      for (const byte of data) server.receiveData(Buffer.from([byte]));
    const request = takeRequest(server);
    server.sendResponse(server.accept(request));
    server.sendText("first");
    for (const data of server.dataToSend())
      for (const byte of data) client.receiveData(Buffer.from([byte]));
    const events = client.eventsReceived();
    assert.equal(client.state, OPEN);
    assert.equal(events.length, 2);
    assert.ok(events[1] instanceof Frame);
    assert.equal(events[1].data.toString(), "first");
  });

  test("negotiate a subprotocol and an extension that then transforms frames", () => {
    const { client, server } = handshake(
      { subprotocols: ["v1", "v2"], extensions: [new ReverseClientFactory([["k", "v"]])] },
      { subprotocols: ["v2", "v1"], extensions: [new ReverseServerFactory()] },
    );
    assert.equal(client.subprotocol, "v2");
    assert.equal(server.subprotocol, "v2");
    assert.equal(client.extensions.length, 1);
    assert.equal(server.extensions.length, 1);
    client.sendText("abc");
    const wire = client.dataToSend();
    // RSV1 is set on the wire by the extension.
    assert.equal(wire[0][0] & 0x40, 0x40);
    for (const data of wire) server.receiveData(data);
    const [frame] = server.eventsReceived();
    assert.ok(frame instanceof Frame);
    assert.equal(frame.data.toString(), "abc");
  });

  test("close cleanly after the handshake", () => {
    const { client, server } = handshake();
    client.sendClose(1000, "bye");
    for (const data of client.dataToSend()) server.receiveData(data);
    for (const data of server.dataToSend()) {
      if (data.length === 0) client.receiveEof();
      else client.receiveData(data);
    }
    assert.equal(client.state, CLOSED);
    assert.equal(client.closeCode, 1000);
    assert.equal(client.closeReason, "bye");
  });

  test("surface the server's rejection to the client with its body", () => {
    const client = new ClientProtocol("ws://localhost/", { origin: "https://evil.example" });
    const server = new ServerProtocol({ origins: ["https://good.example"] });
    client.sendRequest(client.connect());
    for (const data of client.dataToSend()) server.receiveData(data);
    const request = takeRequest(server);
    server.sendResponse(server.accept(request));
    for (const data of server.dataToSend()) {
      if (data.length === 0) client.receiveEof();
      else client.receiveData(data);
    }
    const exc = client.handshakeExc;
    assert.ok(exc instanceof InvalidStatus);
    assert.equal(exc.response.status, 403);
    assert.equal(
      exc.response.body.toString(),
      "Failed to open a WebSocket connection: invalid Origin header: https://evil.example.\n",
    );
  });
});

describe("ClientProtocol over HTTP/2 (RFC 8441)", () => {
  /** A response to an extended CONNECT with the given status and headers. */
  function h2Response(status: number, headers: [string, string][] = []): Response {
    return { status, reason: "", headers: new Headers(headers), body: Buffer.alloc(0) };
  }

  test("connectHttp2 builds an extended CONNECT without Upgrade, Connection and key", () => {
    const client = new ClientProtocol("wss://example.com/chat?x=1", {
      subprotocols: ["chat"],
      additionalHeaders: { "X-Token": "t" },
    });
    const request = client.connectHttp2();
    assert.equal(request.method, "CONNECT");
    assert.equal(request.version, "HTTP/2");
    assert.equal(request.path, "/chat?x=1");
    assert.equal(request.headers.get("Host"), "example.com");
    assert.equal(request.headers.get("Sec-WebSocket-Version"), "13");
    assert.equal(request.headers.get("Sec-WebSocket-Protocol"), "chat");
    assert.equal(request.headers.get("X-Token"), "t");
    for (const name of ["Upgrade", "Connection", "Sec-WebSocket-Key"]) {
      assert.equal(request.headers.get(name), undefined, name);
    }
  });

  test("connect says GET and HTTP/1.1, so that request.version tells the transports apart", () => {
    const request = new ClientProtocol("ws://example.com/").connect();
    assert.equal(request.method, "GET");
    assert.equal(request.version, "HTTP/1.1");
  });

  test("a 200 opens the connection without Sec-WebSocket-Accept, and writes no bytes", () => {
    const { logger, lines } = debugLogger();
    const client = new ClientProtocol("wss://example.com/", { subprotocols: ["chat"], logger });
    client.sendHttp2Request(client.connectHttp2());
    assert.deepEqual(client.dataToSend(), []);
    client.receiveHttp2Response(h2Response(200, [["Sec-WebSocket-Protocol", "chat"]]));
    assert.equal(client.handshakeExc, null);
    assert.equal(client.state, OPEN);
    assert.equal(client.subprotocol, "chat");
    const [event] = client.eventsReceived();
    assert.ok(isResponse(event) && event.status === 200);
    assert.equal(client.request?.version, "HTTP/2");
    assert.ok(lines.includes("> CONNECT / HTTP/2"), lines.join("\n"));
    client.receiveData(fromServer(OP_TEXT, "over a stream"));
    const [frame] = client.eventsReceived();
    assert.ok(frame instanceof Frame && frame.data.toString() === "over a stream");
  });

  test("negotiates extensions as over HTTP/1.1", () => {
    const factory = new ReverseClientFactory();
    const client = new ClientProtocol("wss://example.com/", { extensions: [factory] });
    client.sendHttp2Request(client.connectHttp2());
    client.receiveHttp2Response(h2Response(200, [["Sec-WebSocket-Extensions", "x-reverse"]]));
    assert.equal(client.state, OPEN);
    assert.equal(client.extensions.length, 1);
  });

  test("another status fails with InvalidStatus carrying the response", () => {
    const client = new ClientProtocol("wss://example.com/");
    client.sendHttp2Request(client.connectHttp2());
    client.receiveHttp2Response(h2Response(404));
    assertFailed(client, InvalidStatus, /HTTP 404/);
    assert.equal(client.response?.status, 404);
  });

  test("an extension or subprotocol not offered fails with NegotiationError", () => {
    const ext = new ClientProtocol("wss://example.com/");
    ext.sendHttp2Request(ext.connectHttp2());
    ext.receiveHttp2Response(h2Response(200, [["Sec-WebSocket-Extensions", "x-reverse"]]));
    assertFailed(ext, NegotiationError, /no extensions offered; server accepted: x-reverse/);
    const sub = new ClientProtocol("wss://example.com/", { subprotocols: ["a"] });
    sub.sendHttp2Request(sub.connectHttp2());
    sub.receiveHttp2Response(h2Response(200, [["Sec-WebSocket-Protocol", "b"]]));
    assertFailed(sub, NegotiationError, /unsupported subprotocol: b/);
  });

  test("sendHttp2Request once the handshake is over is an InvalidState", () => {
    const client = new ClientProtocol("wss://example.com/");
    client.sendHttp2Request(client.connectHttp2());
    client.receiveHttp2Response(h2Response(200));
    assert.throws(() => client.sendHttp2Request(client.connectHttp2()), InvalidState);
  });
});
