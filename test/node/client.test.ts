/**
 * connect() over real sockets: against our server (TCP, TLS, Unix socket)
 * and against fake servers that misbehave.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ConnectionClosedError,
  InvalidHandshake,
  InvalidHeaderValue,
  InvalidMessage,
  InvalidStatus,
  InvalidURI,
} from "../../src/errors.ts";
import { ClientConnection, connect } from "../../src/node/client.ts";
import { type ServerConnection, serve } from "../../src/node/server.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import {
  acceptKey,
  type FakeRequest,
  fakeServer,
  frame,
  handshakeResponse,
  OP_TEXT,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const echo = async (ws: ServerConnection): Promise<void> => {
  for await (const message of ws) await ws.send(message);
};

async function echoServer(options = {}) {
  const server = await serve(echo, { host: "127.0.0.1", port: 0, logger: false, ...options });
  const { port } = server.address as { port: number };
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

describe("connect", () => {
  it("opens a connection and exposes the handshake", async () => {
    const { server, url, port } = await echoServer();
    const ws = await connect(`${url}/chat?room=1`, { logger: false });
    assert.ok(ws instanceof ClientConnection);
    assert.equal(ws.request?.path, "/chat?room=1");
    assert.equal(ws.request?.headers.get("Host"), `127.0.0.1:${port}`);
    assert.equal(ws.response?.status, 101);
    assert.deepEqual(ws.remoteAddress, { host: "127.0.0.1", port });
    await ws.send("ping?");
    assert.equal(await ws.recv(), "ping?");
    await ws.close();
    assert.equal(ws.closeCode, 1000);
    await server.close();
  });

  it("connects over TLS with a trusted certificate", async () => {
    const { server, port } = await echoServer({ tls: { key, cert } });
    const ws = await connect(`wss://localhost:${port}`, { tls: { ca: cert }, logger: false });
    await ws.send("secure");
    assert.equal(await ws.recv(), "secure");
    await ws.close();
    await server.close();
  });

  it("surfaces a TLS verification error as Node reports it", async () => {
    const { server, port } = await echoServer({ tls: { key, cert } });
    await assert.rejects(connect(`wss://localhost:${port}`, { logger: false }), {
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
    const ws = await connect(`wss://localhost:${port}`, {
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    await ws.close();
    await server.close();
  });

  it("connects to a Unix socket with path", async () => {
    const path = join(tmpdir(), `websockets-ts-${randomUUID()}.sock`);
    const server = await serve(echo, { path, logger: false });
    const ws = await connect("ws://localhost/", { path, logger: false });
    assert.equal(ws.request?.headers.get("Host"), "localhost");
    await ws.send("unix");
    assert.equal(await ws.recv(), "unix");
    await ws.close();
    await server.close();
  });

  it("runs over a connected stream given as sock", async () => {
    const { server, port } = await echoServer();
    const sock = netConnect({ port, host: "127.0.0.1" });
    await new Promise((resolve) => sock.once("connect", resolve));
    const ws = await connect("ws://example.test/", { sock, logger: false });
    assert.equal(ws.request?.headers.get("Host"), "example.test");
    await ws.send("tunnel");
    assert.equal(await ws.recv(), "tunnel");
    await ws.close();
    await server.close();
  });

  it("negotiates TLS over sock for wss://", async () => {
    const { server, port } = await echoServer({ tls: { key, cert } });
    const sock = netConnect({ port, host: "127.0.0.1" });
    await new Promise((resolve) => sock.once("connect", resolve));
    const ws = await connect("wss://localhost/", { sock, tls: { ca: cert }, logger: false });
    await ws.send("tls tunnel");
    assert.equal(await ws.recv(), "tls tunnel");
    await ws.close();
    await server.close();
  });

  it("closes on scope exit with await using", async () => {
    const { server, url } = await echoServer();
    let seen: ClientConnection;
    {
      await using ws = await connect(url, { logger: false });
      seen = ws;
    }
    assert.equal(seen.closeCode, 1000);
    await server.close();
  });

  it("offers permessage-deflate by default, not with compression: null", async () => {
    const requests: FakeRequest[] = [];
    const fake = await fakeServer((socket, request) => {
      requests.push(request);
      socket.write(handshakeResponse(request.key));
      socket.destroy();
    });
    for (const compression of [undefined, null] as const) {
      const ws = await connect(fake.url, { compression, logger: false });
      await ws.closed;
    }
    await fake.close();
    assert.match(requests[0].headers["sec-websocket-extensions"], /permessage-deflate/);
    assert.equal(requests[1].headers["sec-websocket-extensions"], undefined);
  });

  it("sends origin, subprotocols, additional headers and the user agent", async () => {
    let request: FakeRequest | undefined;
    const fake = await fakeServer((socket, received) => {
      request = received;
      socket.write(handshakeResponse(received.key, { "Sec-WebSocket-Protocol": "v2" }));
      socket.destroy();
    });
    const ws = await connect(fake.url, {
      origin: "https://app.example",
      subprotocols: ["v1", "v2"],
      additionalHeaders: { "X-Token": "t0k3n" },
      userAgentHeader: "test-agent/1",
      logger: false,
    });
    assert.equal(ws.subprotocol, "v2");
    await ws.closed;
    await fake.close();
    assert.equal(request?.headers.origin, "https://app.example");
    assert.equal(request?.headers["sec-websocket-protocol"], "v1, v2");
    assert.equal(request?.headers["x-token"], "t0k3n");
    assert.equal(request?.headers["user-agent"], "test-agent/1");
  });

  it("applies logContext and logs connection open through the client logger", async () => {
    const { server, url } = await echoServer();
    const capture = createCaptureLogger();
    const ws = await connect(url, {
      logger: capture.logger,
      logContext: (connection) => ({ target: connection.request?.path }),
    });
    await ws.close();
    await server.close();
    const open = capture.records.find((r) => r.msg === "connection open");
    assert.equal(open?.level, "info");
    assert.equal(open?.fields.name, "websockets.client");
    assert.equal(open?.fields.target, "/");
    assert.ok(capture.messages("debug").some((line) => line.startsWith("> GET / HTTP/1.1")));
  });

  it("enforces maxSize on the client", async () => {
    const { server, url } = await echoServer();
    const ws = await connect(url, { maxSize: 8, logger: false });
    await ws.send("more than 8 bytes");
    await assert.rejects(ws.recv(), (error: unknown) => {
      assert.ok(error instanceof ConnectionClosedError);
      // RFC 6455 §7.1.7: the failing side doesn't read the answer to its close.
      assert.equal(error.sent?.code, 1009);
      return true;
    });
    await server.close();
  });
});

describe("connect failures", () => {
  it("rejects an invalid URI with InvalidURI", async () => {
    await assert.rejects(connect("http://example.com/"), InvalidURI);
  });

  it("surfaces ECONNREFUSED naming the address", async () => {
    const { server, port } = await echoServer();
    await server.close();
    await assert.rejects(connect(`ws://127.0.0.1:${port}`, { logger: false }), {
      code: "ECONNREFUSED",
      message: new RegExp(`127\\.0\\.0\\.1:${port}`),
    });
  });

  it("rejects with InvalidStatus carrying the response and its body", async () => {
    const fake = await fakeServer((socket) => {
      socket.end(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nnot allowed!\r\n",
      );
    });
    await assert.rejects(connect(fake.url, { logger: false }), (error: unknown) => {
      assert.ok(error instanceof InvalidStatus);
      assert.equal(error.response.status, 403);
      assert.equal(error.response.body.toString(), "not allowed!\r\n");
      assert.match(error.message, /HTTP 403/);
      return true;
    });
    await fake.close();
  });

  it("rejects a wrong Sec-WebSocket-Accept", async () => {
    const fake = await fakeServer((socket) => {
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptKey("wrong")}\r\n\r\n`,
      );
    });
    await assert.rejects(connect(fake.url, { logger: false }), InvalidHeaderValue);
    await fake.close();
  });

  it("rejects when the server closes during the handshake", async () => {
    const fake = await fakeServer((socket) => {
      socket.end();
    });
    await assert.rejects(connect(fake.url, { logger: false }), InvalidMessage);
    await fake.close();
  });

  it("says nothing handles upgrades when an HTTP server answers 200", async () => {
    // An http.Server without an 'upgrade' listener answers the request as plain HTTP.
    const http = createHttpServer((_req, res) => res.end("hello"));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    await assert.rejects(connect(`ws://127.0.0.1:${port}/chat?room=1`, { logger: false }), {
      name: "InvalidStatus",
      message:
        "server rejected WebSocket connection: HTTP 200: the server answered as plain HTTP; " +
        "nothing handles WebSocket upgrades at /chat?room=1 (attach a WebSocket server to the " +
        "HTTP server's 'upgrade' event, e.g. serve(handler, { server })), or a proxy in between " +
        "dropped the Upgrade header",
    });
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it("says to use wss:// when a ws:// handshake reaches a TLS port", async () => {
    const server = await serve(async () => {}, {
      host: "127.0.0.1",
      port: 0,
      tls: { key, cert },
      logger: false,
    });
    await assert.rejects(connect(`ws://127.0.0.1:${server.port}/`, { logger: false }), {
      name: "InvalidMessage",
      message: `connection closed while reading HTTP status line: 127.0.0.1:${server.port} closed the connection without answering; if it serves TLS, connect with wss://`,
    });
    await server.close();
  });

  it("says to use ws:// when a wss:// handshake reaches a port without TLS", async () => {
    const server = await serve(async () => {}, { host: "127.0.0.1", port: 0, logger: false });
    await assert.rejects(
      connect(`wss://localhost:${server.port}/`, { logger: false, tls: { ca: cert } }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidHandshake, String(error));
        assert.equal(
          error.message,
          `TLS handshake with localhost:${server.port} failed: the server doesn't speak TLS there (wrong version number); connect with ws://, or serve TLS`,
        );
        assert.equal((error.cause as { code?: string }).code, "ERR_SSL_WRONG_VERSION_NUMBER");
        return true;
      },
    );
    await server.close();
  });

  it("times out after openTimeout when the server never answers", async () => {
    const fake = await fakeServer(() => {
      // Never answers.
    });
    await assert.rejects(connect(fake.url, { openTimeout: 50, logger: false }), {
      name: "TimeoutError",
      message: /timed out during opening handshake after 50 ms/,
    });
    await fake.close();
  });

  it("resolves when the server sends frames right after the 101", async () => {
    const fake = await fakeServer((socket, request) => {
      socket.write(
        Buffer.concat([handshakeResponse(request.key), frame(OP_TEXT, "welcome", { mask: false })]),
      );
      socket.resume();
    });
    const ws = await connect(fake.url, { logger: false, closeTimeout: 50 });
    assert.equal(await ws.recv(), "welcome");
    await ws.close();
    await fake.close();
  });

  it("rejects unsupported compression with TypeError", async () => {
    await assert.rejects(
      connect("ws://127.0.0.1:1", { compression: "gzip" as never, logger: false }),
      { name: "TypeError", message: /unsupported compression: gzip/ },
    );
  });
});
