/**
 * WebSockets over HTTP/2 (RFC 8441), server role, over real sockets: our
 * server with `http2: true` (TLS with ALPN, and h2c by preface) and
 * attached to node:http2 servers, against raw node:http2 client sessions
 * and a client that writes HTTP/2 frames by hand.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { createServer as createH2cServer, createSecureServer, type Http2Server } from "node:http2";
import { get as httpsGet } from "node:https";
import { type AddressInfo, createConnection } from "node:net";
import { describe, it } from "node:test";
import { ConnectionClosedError } from "../../src/errors.ts";
import { connect } from "../../src/node/client.ts";
import {
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/node/server.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import {
  closeFrame,
  frame,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  parseClose,
  withTimeout,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import {
  closeSession,
  h2Get,
  h2Options,
  h2Request,
  h2Session,
  readBody,
  streamClosed,
  streamFrames,
  wsConnectHeaders,
} from "../support/h2.ts";
import { FRAME_HEADERS, RawH2 } from "../support/h2-raw.ts";

checkLeaksAfterAll();

const echo = async (ws: ServerConnection): Promise<void> => {
  for await (const message of ws) await ws.send(message);
};

// An extended CONNECT for a WebSocket over h2c, field by field (RFC 8441 §4).
const RAW_WS_CONNECT: readonly (readonly [string, string])[] = [
  [":method", "CONNECT"],
  [":protocol", "websocket"],
  [":scheme", "http"],
  [":authority", "localhost"],
  [":path", "/"],
  ["sec-websocket-version", "13"],
];

/** Asserts that a raw session still serves: an extended CONNECT on `streamId` gets its HEADERS. */
async function assertStillServes(peer: RawH2, streamId: number): Promise<void> {
  peer.request(streamId, RAW_WS_CONNECT);
  const answer = await peer.until((f) => f.streamId === streamId);
  assert.equal(answer.type, FRAME_HEADERS);
}

// RFC 9113 §7.
const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const CANCEL = 0x8;
const ENHANCE_YOUR_CALM = 0xb;

/**
 * Our h2 + HTTP/1.1 echo server whose processRequest records each request
 * (`version method path`) and answers with what `answer` returns.
 */
async function recordingServer(
  answer: NonNullable<ServeOptions["processRequest"]>,
): Promise<{ server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = await serve(
    echo,
    h2Options({
      processRequest: (connection, request) => {
        requests.push(`${request.version} ${request.method} ${request.path}`);
        return answer(connection, request);
      },
    }),
  );
  return { server, requests };
}

describe("serve({ http2: true, tls })", () => {
  it("advertises extended CONNECT and echoes over an HTTP/2 stream", async () => {
    let seen: ServerConnection | null = null;
    const server = await serve(async (ws) => {
      seen = ws;
      await echo(ws);
    }, h2Options());
    const session = await h2Session(server.port);
    assert.equal(session.remoteSettings.enableConnectProtocol, true);
    const { stream, status, headers } = await h2Request(
      session,
      wsConnectHeaders(server.port, "/chat?room=1", { origin: "https://localhost" }),
    );
    assert.equal(status, 200);
    // RFC 8441 §5: no key, no accept, no upgrade on HTTP/2.
    assert.equal(headers["sec-websocket-accept"], undefined);
    assert.equal(headers.upgrade, undefined);
    const frames = streamFrames(stream);
    stream.write(frame(OP_TEXT, "hello over h2"));
    const echoed = await frames.next();
    assert.equal(echoed?.opcode, OP_TEXT);
    assert.equal(echoed?.masked, false);
    assert.equal(echoed?.payload.toString(), "hello over h2");

    const ws = seen as ServerConnection | null;
    assert.ok(ws !== null);
    assert.equal(ws.request.version, "HTTP/2");
    assert.equal(ws.request.method, "CONNECT");
    assert.equal(ws.request.path, "/chat?room=1");
    assert.equal(ws.request.headers.get("host"), `localhost:${server.port}`);
    assert.equal(ws.request.headers.get("origin"), "https://localhost");
    for (const [name] of ws.request.headers) assert.ok(!name.startsWith(":"), name);
    assert.equal(ws.response?.status, 200);
    // The address of the session's socket.
    assert.equal(ws.remoteAddress !== null && "host" in ws.remoteAddress, true);
    assert.equal((ws.remoteAddress as { host: string }).host, "127.0.0.1");

    // The client's closing handshake: our close frame, then END_STREAM.
    stream.write(closeFrame(1000, "bye"));
    const close = await frames.next();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.deepEqual(parseClose(close!.payload), { code: 1000, reason: "bye" });
    assert.equal(await frames.next(), null, "the server ended its side of the stream");
    stream.end();
    assert.equal(await streamClosed(stream), NO_ERROR);
    await ws.closed;
    assert.equal(ws.closeCode, 1000);
    await closeSession(session);
    await server.close();
  });

  it("negotiates subprotocols and permessage-deflate as on HTTP/1.1", async () => {
    const server = await serve(echo, h2Options({ subprotocols: ["chat", "superchat"] }));
    const session = await h2Session(server.port);
    const { stream, status, headers } = await h2Request(
      session,
      wsConnectHeaders(server.port, "/", {
        "sec-websocket-protocol": "superchat, chat",
        "sec-websocket-extensions": "permessage-deflate; client_max_window_bits",
      }),
    );
    assert.equal(status, 200);
    assert.equal(headers["sec-websocket-protocol"], "chat");
    assert.match(String(headers["sec-websocket-extensions"]), /^permessage-deflate/);
    const frames = streamFrames(stream);
    stream.write(frame(OP_TEXT, "compressed back"));
    const echoed = await frames.next();
    assert.equal(echoed?.rsv1, true, "the echo is compressed");
    stream.close(NO_ERROR);
    await closeSession(session);
    await server.close();
  });

  it("answers HTTP/1.1 upgrades on the same port (ALPN http/1.1 or none)", async () => {
    let version: string | undefined;
    const server = await serve(async (ws) => {
      version = ws.request.version;
      await echo(ws);
    }, h2Options());
    const ws = await connect(`wss://localhost:${server.port}/`, {
      tls: { ca: cert },
      logger: false,
    });
    await ws.send("one port");
    assert.equal(await ws.recv(), "one port");
    await ws.close();
    assert.equal(version, "HTTP/1.1");
    await server.close();
  });

  it("runs processRequest for HTTP/1.1 requests without Upgrade on the same port; 426 without an answer", async () => {
    const { server, requests } = await recordingServer((connection, request) => {
      if (request.path === "/") return connection.respond(200, "page over HTTP/1.1\n");
    });
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const [response] = (await once(
        httpsGet({ host: "127.0.0.1", servername: "localhost", port: server.port, path, ca: cert }),
        "response",
      )) as [IncomingMessage];
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      return { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() };
    };
    assert.deepEqual(await get("/"), { status: 200, body: "page over HTTP/1.1\n" });
    const other = await get("/other");
    assert.equal(other.status, 426);
    assert.deepEqual(requests, ["HTTP/1.1 GET /", "HTTP/1.1 GET /other"]);
    await server.close();
  });

  it("runs processRequest for every stream: one session serves a page and its WebSocket", async () => {
    const { server, requests } = await recordingServer((connection, request) => {
      if (request.method === "GET" && request.path === "/") {
        const page = connection.respond(200, "<script>new WebSocket('/ws')</script>");
        page.headers.set("Content-Type", "text/html; charset=utf-8");
        return page;
      }
      if (request.path === "/private") return connection.respond(401, "who are you?\n");
    });
    const session = await h2Session(server.port);
    const page = await h2Get(session, server.port);
    assert.equal(page.status, 200);
    assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(page.headers.connection, undefined, "no connection-specific header on HTTP/2");
    assert.equal(await readBody(page.stream), "<script>new WebSocket('/ws')</script>");

    const refused = await h2Request(session, wsConnectHeaders(server.port, "/private"));
    assert.equal(refused.status, 401);
    assert.equal(await readBody(refused.stream), "who are you?\n");
    // RFC 9113 §8.1: a complete answer, the rest of the request isn't needed.
    assert.equal(await streamClosed(refused.stream), NO_ERROR);

    const ws = await h2Request(session, wsConnectHeaders(server.port, "/ws"));
    assert.equal(ws.status, 200);
    const frames = streamFrames(ws.stream);
    ws.stream.write(frame(OP_TEXT, "same session"));
    assert.equal((await frames.next())?.payload.toString(), "same session");
    ws.stream.close(NO_ERROR);

    // Without a response from processRequest, a GET gets a 400 that says why.
    const other = await h2Get(session, server.port, "/other");
    assert.equal(other.status, 400);
    assert.match(
      await readBody(other.stream),
      /HTTP\/2 GET is not a WebSocket request.*\n.*browser/s,
    );
    assert.deepEqual(requests, [
      "HTTP/2 GET /",
      "HTTP/2 CONNECT /private",
      "HTTP/2 CONNECT /ws",
      "HTTP/2 GET /other",
    ]);
    await closeSession(session);
    await server.close();
  });

  it("closes the stream with NO_ERROR after the closing handshake even if the client never ends its side", async () => {
    // closeTimeout is 10 s: the stream closes long before it.
    const server = await serve(echo, h2Options());
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port));
    const frames = streamFrames(stream);
    stream.write(closeFrame(1000));
    assert.equal((await frames.next())?.opcode, OP_CLOSE);
    assert.equal(await streamClosed(stream), NO_ERROR);
    await closeSession(session);
    await server.close();
  });

  it("lets processResponse see and change the 200", async () => {
    const server = await serve(
      echo,
      h2Options({
        processResponse: (_connection, request, response) => {
          assert.equal(request.version, "HTTP/2");
          assert.equal(response.status, 200);
          response.headers.append("X-Served-By", "h2");
        },
      }),
    );
    const session = await h2Session(server.port);
    const { status, headers, stream } = await h2Request(session, wsConnectHeaders(server.port));
    assert.equal(status, 200);
    assert.equal(headers["x-served-by"], "h2");
    stream.close(NO_ERROR);
    await closeSession(session);
    await server.close();
  });

  it("checks origins on HTTP/2 too (403)", async () => {
    const server = await serve(echo, h2Options({ origins: ["https://good.example"] }));
    const session = await h2Session(server.port);
    const bad = await h2Request(
      session,
      wsConnectHeaders(server.port, "/", { origin: "https://evil.example" }),
    );
    assert.equal(bad.status, 403);
    await readBody(bad.stream);
    await closeSession(session);
    await server.close();
  });
});

describe("http2 option", () => {
  it("rejects http2: true where serve() doesn't listen, naming the way to attach", async () => {
    const message =
      "http2: true applies to the port serve() listens on; to attach, pass a node:http2 server as server";
    await assert.rejects(serve(echo, { noServer: true, http2: true, logger: false }), {
      name: "TypeError",
      message,
    });
    const app: Http2Server = createH2cServer();
    await assert.rejects(serve(echo, { server: app, http2: true, logger: false }), {
      name: "TypeError",
      message,
    });
  });
});

describe("bad input on HTTP/2", () => {
  it("answers a CONNECT without :protocol with 405: we are not a proxy", async () => {
    const capture = createCaptureLogger();
    const server = await serve(echo, h2Options({ logger: capture.logger }));
    const session = await h2Session(server.port);
    const answer = await h2Request(session, {
      ":method": "CONNECT",
      ":authority": "example.com:443",
    });
    assert.equal(answer.status, 405);
    assert.match(await readBody(answer.stream), /not a proxy/);
    assert.ok(capture.messages("info").includes("connection rejected (405 Method Not Allowed)"));
    await closeSession(session);
    await server.close();
  });

  it("answers an unknown :protocol with 501 and a missing or wrong sec-websocket-version with 400", async () => {
    const server = await serve(echo, h2Options());
    const session = await h2Session(server.port);
    const noVersion = wsConnectHeaders(server.port);
    delete noVersion["sec-websocket-version"];
    const cases = [
      {
        headers: wsConnectHeaders(server.port, "/", { ":protocol": "webtransport" }),
        status: 501,
        body: /Unsupported :protocol: "webtransport"/,
        version: undefined,
      },
      {
        headers: wsConnectHeaders(server.port, "/", { "sec-websocket-version": "8" }),
        status: 400,
        body: /invalid Sec-WebSocket-Version header: 8/,
        // RFC 6455 §4.4: the versions the server supports.
        version: "13",
      },
      { headers: noVersion, status: 400, body: /missing Sec-WebSocket-Version/, version: "13" },
    ];
    for (const expected of cases) {
      const answer = await h2Request(session, expected.headers);
      assert.equal(answer.status, expected.status);
      assert.equal(answer.headers["sec-websocket-version"], expected.version);
      assert.match(await readBody(answer.stream), expected.body);
    }
    await closeSession(session);
    await server.close();
  });

  it("resets an extended CONNECT without :path, :scheme or :authority (malformed, RFC 9113 §8.1.1)", async () => {
    let handlers = 0;
    const server = await serve(
      (ws) => {
        handlers++;
        return echo(ws);
      },
      { host: "127.0.0.1", port: 0, http2: true, logger: false },
    );
    const peer = await RawH2.open(server.port);
    const base = RAW_WS_CONNECT;
    // RFC 8441 §4: an extended CONNECT carries :scheme, :path and :authority.
    peer.request(
      1,
      base.filter(([name]) => name !== ":path"),
    );
    assert.deepEqual(await peer.outcome(1), { rst: PROTOCOL_ERROR });
    peer.request(
      3,
      base.filter(([name]) => name !== ":scheme"),
    );
    assert.deepEqual(await peer.outcome(3), { rst: PROTOCOL_ERROR });
    peer.request(5, [...base.filter(([name]) => name !== ":authority"), ["host", "localhost"]]);
    assert.deepEqual(await peer.outcome(5), { rst: PROTOCOL_ERROR });
    peer.request(
      7,
      base.filter(([name]) => name !== ":authority"),
    );
    assert.deepEqual(await peer.outcome(7), { rst: PROTOCOL_ERROR });
    // A stream error, not a connection error: the next request is served.
    await assertStillServes(peer, 9);
    assert.equal(handlers, 1);
    peer.close();
    await server.close();
  });

  it("resets a header list over 128 fields or 64 KiB (ENHANCE_YOUR_CALM) before any hook; the session goes on", async () => {
    let hooks = 0;
    const server = await serve(echo, {
      host: "127.0.0.1",
      port: 0,
      http2: true,
      logger: false,
      processRequest: () => {
        hooks++;
      },
    });
    const peer = await RawH2.open(server.port);
    // RFC 9113 §10.5.1: SETTINGS_MAX_HEADER_LIST_SIZE, advertised and applied.
    assert.equal(peer.settings().get(0x6), 64 * 1024);
    const many = Array.from({ length: 200 }, (_, i) => [`x-field-${i}`, "v"] as const);
    peer.request(1, [...RAW_WS_CONNECT, ...many]);
    assert.deepEqual(await peer.outcome(1), { rst: ENHANCE_YOUR_CALM });
    // 100 fields of 1,000 bytes: few enough, too large together.
    const large = Array.from(
      { length: 100 },
      (_, i) => [`x-large-${i}`, "a".repeat(1000)] as const,
    );
    peer.request(3, [...RAW_WS_CONNECT, ...large]);
    assert.deepEqual(await peer.outcome(3), { rst: ENHANCE_YOUR_CALM });
    assert.equal(hooks, 0);
    await assertStillServes(peer, 5);
    assert.equal(hooks, 1);
    peer.close();
    await server.close();
  });

  it("resets a :protocol on a session opened before serve() attached (not advertised there)", async () => {
    const app: Http2Server = createH2cServer();
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const port = (app.address() as AddressInfo).port;
    const early = await RawH2.open(port);
    assert.equal(early.settings().get(0x8), undefined, "no SETTINGS_ENABLE_CONNECT_PROTOCOL yet");
    const server = await serve(echo, { server: app, logger: false });
    early.request(1, RAW_WS_CONNECT);
    // RFC 8441 §3: a :protocol the server didn't enable is malformed.
    assert.deepEqual(await early.outcome(1), { rst: PROTOCOL_ERROR });
    const late = await RawH2.open(port);
    assert.equal(late.settings().get(0x8), 1, "sessions opened after attaching are told");
    early.close();
    late.close();
    await server.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  it("turns a stream reset by the client into 1006, and the session goes on", async () => {
    const closed: (number | null)[] = [];
    let failure: unknown = null;
    const server = await serve(async (ws) => {
      try {
        await echo(ws);
      } catch (error) {
        failure = error;
      }
      await ws.closed;
      closed.push(ws.closeCode);
    }, h2Options());
    const session = await h2Session(server.port);
    const first = await h2Request(session, wsConnectHeaders(server.port));
    first.stream.close(CANCEL);
    await withTimeout(
      (async () => {
        while (closed.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5_000,
      "the server didn't see the reset",
    );
    assert.deepEqual(closed, [1006]);
    assert.ok(failure instanceof ConnectionClosedError);
    const second = await h2Request(session, wsConnectHeaders(server.port));
    assert.equal(second.status, 200, "the session still opens streams");
    second.stream.close(NO_ERROR);
    await closeSession(session);
    await server.close();
  });

  it("resets the stream with CANCEL on an abnormal close (terminate)", async () => {
    const server = await serve(async (ws) => {
      await ws.recv();
      await ws.terminate();
    }, h2Options());
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port));
    stream.write(frame(OP_TEXT, "go"));
    assert.equal(await streamClosed(stream), CANCEL);
    assert.ok(!session.destroyed, "only the stream was reset");
    await closeSession(session);
    await server.close();
  });

  it("ignores DATA after the closing handshake", async () => {
    const messages: string[] = [];
    const server = await serve(async (ws) => {
      for await (const message of ws) messages.push(String(message));
    }, h2Options());
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port));
    const frames = streamFrames(stream);
    stream.write(frame(OP_TEXT, "before"));
    stream.write(closeFrame(1000));
    stream.write(frame(OP_TEXT, "after the close frame"));
    assert.equal((await frames.next())?.opcode, OP_CLOSE);
    assert.equal(await frames.next(), null);
    stream.end(frame(OP_TEXT, "after the server's END_STREAM"));
    assert.equal(await streamClosed(stream), NO_ERROR);
    await server.close();
    assert.deepEqual(messages, ["before"]);
    await closeSession(session);
  });

  it("waits on a peer that never grants window: send() blocks at writeLimit, close times out to RST_STREAM", async () => {
    let buffered = -1;
    let sendsDone = 0;
    let resolvedSends = 0;
    const sendsBefore = (): number => resolvedSends;
    let code: number | null = null;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const server = await serve(
      async (ws) => {
        const sends: Promise<void>[] = [];
        for (let i = 0; i < 8; i++) sends.push(ws.send(chunk).then(() => void resolvedSends++));
        await new Promise((resolve) => setTimeout(resolve, 200));
        buffered = ws.bufferedAmount;
        sendsDone = sendsBefore();
        await ws.close();
        code = ws.closeCode;
        await Promise.allSettled(sends);
      },
      h2Options({ writeLimit: 16 * 1024, closeTimeout: 300, compression: null }),
    );
    // A window of 0 for the server's DATA on every stream (RFC 9113 §6.9.2).
    const session = await h2Session(server.port, true, { settings: { initialWindowSize: 0 } });
    const { stream, status } = await h2Request(session, wsConnectHeaders(server.port));
    assert.equal(status, 200);
    assert.equal(await streamClosed(stream), CANCEL);
    await server.close();
    assert.equal(code, 1006);
    assert.ok(buffered >= 64 * 1024 && buffered <= 8 * 64 * 1024 + 1024, `buffered ${buffered}`);
    assert.ok(sendsDone < 8, "sends past writeLimit waited for the window");
    await closeSession(session);
  });

  it("stops granting window while maxQueue messages wait unread", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let received = 0;
    const server = await serve(
      async (ws) => {
        await released;
        for await (const _ of ws) received++;
      },
      h2Options({ maxQueue: 2, compression: null }),
    );
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port));
    // 256 messages of 16 KiB: 4 MiB, far beyond HTTP/2's 64 KiB window.
    const payload = Buffer.alloc(16 * 1024, 0x62);
    const total = 256;
    for (let i = 0; i < total; i++) stream.write(frame(OP_TEXT, payload));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The server read at most its queue and the windows: the rest waits here.
    assert.ok(
      stream.writableLength > 2 * 1024 * 1024,
      `client still holds ${stream.writableLength}`,
    );
    release();
    stream.end(closeFrame(1000));
    await streamClosed(stream);
    assert.equal(received, total);
    await closeSession(session);
    await server.close();
  });
});

describe("closing over HTTP/2", () => {
  it("server.close() sends GOAWAY and closes each WebSocket with 1001", async () => {
    const server = await serve(echo, h2Options());
    const session = await h2Session(server.port);
    const goaway = once(session, "goaway");
    const a = await h2Request(session, wsConnectHeaders(server.port, "/a"));
    const b = await h2Request(session, wsConnectHeaders(server.port, "/b"));
    const framesA = streamFrames(a.stream);
    const framesB = streamFrames(b.stream);
    const closing = server.close();
    for (const [frames, stream] of [
      [framesA, a.stream],
      [framesB, b.stream],
    ] as const) {
      const close = await frames.next();
      assert.equal(close?.opcode, OP_CLOSE);
      assert.equal(parseClose(close!.payload).code, 1001);
      stream.end(closeFrame(1001));
      assert.equal(await frames.next(), null, "END_STREAM after the closing handshake");
    }
    await goaway;
    await closing;
    assert.equal(server.connections.size, 0);
    await closeSession(session);
  });

  it("lets the WebSockets of a session that sent GOAWAY go on (RFC 9113 §6.8)", async () => {
    const server = await serve(echo, h2Options());
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port));
    const frames = streamFrames(stream);
    session.goaway(NO_ERROR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stream.write(frame(OP_TEXT, "still here"));
    assert.equal((await frames.next())?.payload.toString(), "still here");
    stream.end(closeFrame(1000));
    await streamClosed(stream);
    session.destroy();
    await server.close();
  });
});

describe("openTimeout over HTTP/2", () => {
  it("bounds each stream's handshake: a stream whose processRequest doesn't answer in time is reset (CANCEL)", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await serve(
      echo,
      h2Options({
        openTimeout: 100,
        processRequest: async (_connection, request) => {
          if (request.path === "/slow") await held;
        },
      }),
    );
    const session = await h2Session(server.port);
    const slow = session.request(wsConnectHeaders(server.port, "/slow"), { endStream: false });
    assert.equal(await streamClosed(slow), CANCEL);
    // Only that stream: the session serves the next one.
    const { stream, status } = await h2Request(session, wsConnectHeaders(server.port, "/fast"));
    assert.equal(status, 200);
    stream.end(closeFrame(1000));
    await streamClosed(stream);
    release();
    await closeSession(session);
    await server.close();
  });

  it("drops a cleartext connection that sends nothing within openTimeout", async () => {
    const server = await serve(echo, {
      host: "127.0.0.1",
      port: 0,
      http2: true,
      openTimeout: 100,
      logger: false,
    });
    const socket = createConnection({ host: "127.0.0.1", port: server.port });
    socket.on("error", () => {});
    await withTimeout(once(socket, "close"), 5_000, "the silent connection wasn't dropped");
    await server.close();
  });
});

describe("h2c", () => {
  it("serve({ http2: true }) without tls speaks h2c to a client with prior knowledge, HTTP/1.1 to others", async () => {
    const versions: string[] = [];
    const server = await serve(
      async (ws) => {
        versions.push(ws.request.version ?? "");
        await echo(ws);
      },
      { host: "127.0.0.1", port: 0, http2: true, logger: false },
    );
    const raw = await RawH2.open(server.port);
    assert.equal(raw.settings().get(0x8), 1, "SETTINGS_ENABLE_CONNECT_PROTOCOL");
    raw.close();
    const session = await h2Session(server.port, false);
    const { stream, status } = await h2Request(
      session,
      wsConnectHeaders(server.port, "/", { ":scheme": "http" }),
    );
    assert.equal(status, 200);
    stream.end(closeFrame(1000));
    await streamClosed(stream);
    const ws = await connect(`ws://127.0.0.1:${server.port}/`, { logger: false });
    await ws.send("http/1.1");
    assert.equal(await ws.recv(), "http/1.1");
    await ws.close();
    assert.deepEqual(versions, ["HTTP/2", "HTTP/1.1"]);
    await closeSession(session);
    await server.close();
  });

  it("attaches to http2.createServer(): WebSocket streams come here, the app keeps the rest", async () => {
    const app: Http2Server = createH2cServer();
    app.on("stream", (stream, headers) => {
      if (headers[":protocol"] === "websocket") return;
      stream.respond({ ":status": 200 });
      stream.end("from the app");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const port = (app.address() as AddressInfo).port;
    const server = await serve(echo, { server: app, logger: false });
    const session = await h2Session(port, false);
    assert.equal(session.remoteSettings.enableConnectProtocol, true);
    const page = await h2Get(session, port, "/", "http");
    assert.equal(await readBody(page.stream), "from the app");
    const { stream, status } = await h2Request(
      session,
      wsConnectHeaders(port, "/", { ":scheme": "http" }),
    );
    assert.equal(status, 200);
    const frames = streamFrames(stream);
    stream.write(frame(OP_TEXT, "attached"));
    assert.equal((await frames.next())?.payload.toString(), "attached");
    const closing = server.close();
    assert.equal(parseClose((await frames.next())!.payload).code, 1001);
    stream.end(closeFrame(1001));
    await closing;
    assert.ok(app.listening, "close() detaches without closing the app's server");
    await closeSession(session);
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });
});

describe("attach keeps the application's SETTINGS", () => {
  it("adds extended CONNECT to them: a maxConcurrentStreams bound stays", async () => {
    const app: Http2Server = createH2cServer({ settings: { maxConcurrentStreams: 2 } });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const port = (app.address() as AddressInfo).port;
    const server = await serve(echo, { server: app, logger: false });
    const peer = await RawH2.open(port);
    // RFC 9113 §6.5.2: SETTINGS_MAX_CONCURRENT_STREAMS; RFC 8441 §3.
    assert.equal(peer.settings().get(0x3), 2);
    assert.equal(peer.settings().get(0x8), 1);
    peer.close();
    await server.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });
});

describe("attach with httpPath", () => {
  it("takes only the WebSocket streams for httpPath; the app answers the others", async () => {
    const app: Http2Server = createH2cServer();
    app.on("stream", (stream, headers) => {
      const path = String(headers[":path"]).split("?")[0];
      if (headers[":protocol"] === "websocket" && path === "/ws") return;
      stream.respond({ ":status": 404 });
      stream.end("not here");
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const port = (app.address() as AddressInfo).port;
    const server = await serve(echo, { server: app, httpPath: "/ws", logger: false });
    const session = await h2Session(port, false);
    const other = await h2Request(
      session,
      wsConnectHeaders(port, "/elsewhere", { ":scheme": "http" }),
    );
    assert.equal(other.status, 404);
    assert.equal(await readBody(other.stream), "not here");
    const ours = await h2Request(session, wsConnectHeaders(port, "/ws?x=1", { ":scheme": "http" }));
    assert.equal(ours.status, 200);
    ours.stream.end(closeFrame(1000));
    await streamClosed(ours.stream);
    await closeSession(session);
    await server.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });
});

describe("keepalive over HTTP/2", () => {
  it("pings on the stream and closes with 1011 when no pong comes", async () => {
    const server = await serve(echo, h2Options({ pingInterval: 50, pingTimeout: 50 }));
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port));
    const frames = streamFrames(stream);
    assert.equal((await frames.next())?.opcode, OP_PING);
    const close = await frames.next();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.equal(parseClose(close!.payload).code, 1011);
    stream.end(closeFrame(1011));
    await streamClosed(stream);
    await closeSession(session);
    await server.close();
  });
});

describe("attach to http2.createSecureServer()", () => {
  it("with the compatibility API and allowHTTP1: pages, h2 WebSockets and HTTP/1.1 upgrades", async () => {
    const app = createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
      res.end(`page over ${req.httpVersion}`);
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    const port = (app.address() as AddressInfo).port;
    const versions: string[] = [];
    const server = await serve(
      async (ws) => {
        versions.push(ws.request.version ?? "");
        await echo(ws);
      },
      { server: app, logger: false },
    );
    const session = await h2Session(port);
    const page = await h2Get(session, port);
    assert.equal(await readBody(page.stream), "page over 2.0");
    const { stream, status } = await h2Request(session, wsConnectHeaders(port));
    assert.equal(status, 200);
    const frames = streamFrames(stream);
    stream.write(frame(OP_TEXT, "compat"));
    assert.equal((await frames.next())?.payload.toString(), "compat");
    stream.end(closeFrame(1000));
    await streamClosed(stream);
    // A plain CONNECT still gets node:http2's answer when the app doesn't listen.
    const proxy = await h2Request(session, {
      ":method": "CONNECT",
      ":authority": "example.com:443",
    });
    assert.equal(proxy.status, 405);
    proxy.stream.close(NO_ERROR);

    const ws = await connect(`wss://localhost:${port}/`, { tls: { ca: cert }, logger: false });
    await ws.send("upgrade");
    assert.equal(await ws.recv(), "upgrade");
    await ws.close();
    assert.deepEqual(versions, ["HTTP/2", "HTTP/1.1"]);
    await closeSession(session);
    await server.close();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });
});

describe("logging over HTTP/2", () => {
  it("logs the request and the 200 with their HTTP/2 start lines", async () => {
    const capture = createCaptureLogger("debug");
    const server = await serve(echo, h2Options({ logger: capture.logger }));
    const session = await h2Session(server.port);
    const { stream } = await h2Request(session, wsConnectHeaders(server.port, "/logged"));
    stream.end(closeFrame(1000));
    await streamClosed(stream);
    await closeSession(session);
    await server.close();
    const debug = capture.messages("debug");
    assert.ok(debug.includes("< CONNECT /logged HTTP/2"), debug.join("\n"));
    assert.ok(debug.includes("> HTTP/2 200 OK"));
    assert.ok(capture.messages("info").includes("connection open"));
  });
});
