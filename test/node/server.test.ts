/**
 * serve() and Server over real sockets: TCP on 127.0.0.1, a Unix socket,
 * TLS with a test certificate, and an http.Server shared with HTTP routes.
 */

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
} from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConnectionClosedError, InvalidStatus } from "../../src/errors.ts";
import { Headers } from "../../src/headers.ts";
import { connect } from "../../src/node/client.ts";
import {
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/node/server.ts";
import { OPEN } from "../../src/protocol.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import {
  closeFrame,
  exchange,
  frame,
  OP_BINARY,
  OP_CLOSE,
  OP_TEXT,
  parseClose,
  rawConnect,
  readFrames,
  readResponseHead,
  slowloris,
  tcpConnect,
  upgradeRequest,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const echo = async (ws: ServerConnection): Promise<void> => {
  for await (const message of ws) await ws.send(message);
};

async function start(
  handler: (ws: ServerConnection) => Promise<void> | void = echo,
  options: ServeOptions = {},
): Promise<{ server: Server; url: string; port: number }> {
  const server = await serve(handler, { host: "127.0.0.1", port: 0, logger: false, ...options });
  return { server, url: `ws://127.0.0.1:${server.port}`, port: server.port };
}

/** Connects expecting the handshake to fail; returns the error. */
async function rejected(url: string, options = {}): Promise<InvalidStatus> {
  try {
    const ws = await connect(url, { logger: false, ...options });
    await ws.close();
  } catch (error) {
    assert.ok(error instanceof InvalidStatus, `expected InvalidStatus, got ${error}`);
    return error;
  }
  assert.fail("the handshake succeeded");
}

describe("serve", () => {
  it("listens on 127.0.0.1, tells the port, logs it, and echoes", async () => {
    const capture = createCaptureLogger();
    const { server, url, port } = await start(echo, { logger: capture.logger });
    assert.deepEqual(server.address, { host: "127.0.0.1", port });
    assert.ok(port > 0);
    assert.equal(server.port, port, "server.port is address.port without narrowing");
    const ws = await connect(url, { logger: false });
    await ws.send("hello");
    assert.equal(await ws.recv(), "hello");
    await ws.close();
    await server.close();
    const info = capture.records.filter((r) => r.level === "info").map((r) => r.msg);
    // The server may see the TCP close after close() started.
    assert.deepEqual(info.slice(0, 2), [
      `server listening on 127.0.0.1:${port}`,
      "connection open",
    ]);
    assert.deepEqual(info.slice(2).sort(), [
      "connection closed",
      "server closed",
      "server closing",
    ]);
    assert.equal(info.at(-1), "server closed");
    const listening = capture.records[0];
    assert.equal(listening.fields.name, "websockets.server");
    assert.equal(listening.fields.connectionId, undefined);
  });

  it("listens on a Unix socket", async () => {
    const path = join(tmpdir(), `websockets-ts-${randomUUID()}.sock`);
    const capture = createCaptureLogger();
    const server = await serve(echo, { path, logger: capture.logger });
    assert.deepEqual(server.address, { path });
    assert.throws(() => server.port, {
      name: "InvalidState",
      message: `server.port: the server has no TCP port (address: Unix socket ${path}); read server.address instead`,
    });
    assert.ok(capture.messages("info").includes(`server listening on ${path}`));
    const ws = await connect("ws://localhost/chat", { path, logger: false });
    await ws.send("over unix");
    assert.equal(await ws.recv(), "over unix");
    assert.equal(ws.request?.path, "/chat");
    await ws.close();
    await server.close();
  });

  it("serves TLS", async () => {
    const { server, port } = await start(echo, { tls: { key, cert } });
    const ws = await connect(`wss://localhost:${port}`, { tls: { ca: cert }, logger: false });
    await ws.send("secure");
    assert.equal(await ws.recv(), "secure");
    await ws.close();
    await server.close();
  });

  it("attaches to an http.Server shared with ordinary routes", async () => {
    const http = createHttpServer((req, res) => {
      res.end(`route ${req.url}`);
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    const server = await serve(echo, { server: http, httpPath: "/ws", logger: false });
    assert.deepEqual(server.address, { host: "127.0.0.1", port });
    assert.equal(server.port, port);

    const body = await new Promise<string>((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port, path: "/hello" }, (res: IncomingMessage) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve(text));
      })
        .on("error", reject)
        .end();
    });
    assert.equal(body, "route /hello");

    const ws = await connect(`ws://127.0.0.1:${port}/ws?x=1`, { logger: false });
    assert.equal(ws.request?.path, "/ws?x=1");
    await ws.send("shared port");
    assert.equal(await ws.recv(), "shared port");
    await ws.close();

    // Another path: nobody else handles upgrades, so it gets a 404.
    const error = await rejected(`ws://127.0.0.1:${port}/elsewhere`);
    assert.equal(error.response.status, 404);

    // Closing the WebSocket server leaves the HTTP server running.
    await server.close();
    assert.equal(http.listening, true);
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it("takes upgrades from the application's own listener with noServer", async () => {
    const server = await serve(echo, { noServer: true, logger: false });
    assert.equal(server.address, null);
    assert.throws(() => server.port, /no TCP port \(address: none\)/);
    const http = createHttpServer();
    http.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    const ws = await connect(`ws://127.0.0.1:${port}/`, { logger: false });
    await ws.send("via handleUpgrade");
    assert.equal(await ws.recv(), "via handleUpgrade");
    await ws.close();
    await server.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it("processes frames sent right after the upgrade request through handleUpgrade", async () => {
    const server = await serve(echo, { noServer: true, logger: false });
    const http = createHttpServer();
    http.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    const socket = await tcpConnect(port);
    socket.write(Buffer.concat([upgradeRequest("127.0.0.1", port), closeFrame(1000, "early")]));
    const { response, rest } = await readResponseHead(socket);
    assert.equal(response.status, 101);
    const reader = readFrames(socket, rest);
    const close = await reader.next();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.deepEqual(parseClose(close!.payload), { code: 1000, reason: "early" });
    await reader.waitClosed();
    await server.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it("needs a port, a path, a server or noServer", async () => {
    await assert.rejects(serve(echo, {}), {
      name: "TypeError",
      message: /needs a port, a Unix socket path, a server, or noServer/,
    });
  });

  it("rejects invalid connection options before listening", async () => {
    await assert.rejects(serve(echo, { host: "127.0.0.1", port: 0, pingInterval: -1 }), {
      name: "TypeError",
      message: /pingInterval must be a number of milliseconds >= 0 or null; got -1/,
    });
    await assert.rejects(serve(echo, { host: "127.0.0.1", port: 0, maxQueue: 1.5 }), {
      name: "TypeError",
      message: /maxQueue must be an integer >= 0; got 1.5/,
    });
  });

  it("rejects when the address is in use", async () => {
    const { server, port } = await start();
    await assert.rejects(serve(echo, { host: "127.0.0.1", port, logger: false }), {
      code: "EADDRINUSE",
    });
    await server.close();
  });
});

describe("handler", () => {
  it("closes with 1000 when the handler returns", async () => {
    const { server, url } = await start(async (ws) => {
      await ws.send("bye");
    });
    const ws = await connect(url, { logger: false });
    assert.equal(await ws.recv(), "bye");
    await ws.closed;
    assert.equal(ws.closeCode, 1000);
    await server.close();
  });

  it("closes with 1011 and logs an ERROR with the stack when the handler throws", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(
      async () => {
        throw new Error("handler bug");
      },
      { logger: capture.logger },
    );
    const ws = await connect(url, { logger: false });
    await assert.rejects(ws.recv(), ConnectionClosedError);
    assert.equal(ws.closeCode, 1011);
    await server.close();
    const record = capture.records.find((r) => r.level === "error");
    assert.equal(record?.msg, "connection handler failed");
    assert.ok(record?.err instanceof Error);
    assert.match(record.err.stack ?? "", /handler bug/);
    assert.equal(typeof record?.fields.connectionId, "string");
  });

  it("doesn't log a failure when the handler ends because the connection closed", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(
      async (ws) => {
        await ws.recv();
        await ws.recv();
      },
      { logger: capture.logger },
    );
    const ws = await connect(url, { logger: false });
    await ws.close(1000);
    await server.close();
    assert.deepEqual(capture.messages("error"), []);
  });

  it("gives the handler the request, the response and the addresses", async () => {
    let seen: ServerConnection | null = null;
    const { server, url, port } = await start(async (ws) => {
      seen = ws;
    });
    const ws = await connect(`${url}/path?query=1`, { logger: false });
    await ws.closed;
    await server.close();
    const connection = seen as unknown as ServerConnection;
    assert.equal(connection.request?.path, "/path?query=1");
    assert.equal(connection.request?.headers.get("Host"), `127.0.0.1:${port}`);
    assert.equal(connection.response?.status, 101);
    assert.equal(connection.server, server);
    assert.deepEqual(connection.localAddress, { host: "127.0.0.1", port });
    assert.equal((connection.remoteAddress as { host: string }).host, "127.0.0.1");
  });

  it("adds logContext fields to the connection's records", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(echo, {
      logger: capture.logger,
      logContext: (ws) => ({ clientIp: ws.request?.headers.get("X-Forwarded-For") }),
    });
    const ws = await connect(url, {
      logger: false,
      additionalHeaders: { "X-Forwarded-For": "203.0.113.7" },
    });
    await ws.close();
    await server.close();
    const closed = capture.records.find((r) => r.msg === "connection closed");
    assert.equal(closed?.fields.clientIp, "203.0.113.7");
  });
});

describe("handshake hooks", () => {
  it("shows the request to processRequest as connection.request, and the response sent once open", async () => {
    const seen: { sameRequest: boolean; responseBefore: unknown }[] = [];
    let opened: { path: string | undefined; status: number | undefined } | null = null;
    const { server, url } = await start(
      async (ws) => {
        opened = { path: ws.request?.path, status: ws.response?.status };
        await echo(ws);
      },
      {
        processRequest: (ws, request) => {
          seen.push({ sameRequest: ws.request === request, responseBefore: ws.response });
        },
      },
    );
    const ws = await connect(`${url}/room?x=1`, { logger: false });
    assert.equal(ws.response?.status, 101);
    assert.equal(ws.request?.path, "/room?x=1");
    await ws.close();
    await server.close();
    assert.deepEqual(seen, [{ sameRequest: true, responseBefore: null }]);
    assert.deepEqual(opened, { path: "/room?x=1", status: 101 });
  });

  it("opens a connection without hooks before its handler runs, frames sent with the request included", async () => {
    const received: string[] = [];
    const states: number[] = [];
    const { server, port } = await start(async (ws) => {
      states.push(ws.state);
      for await (const message of ws) received.push(String(message));
    });
    const socket = await tcpConnect(port);
    socket.write(Buffer.concat([upgradeRequest("127.0.0.1", port), frame(OP_TEXT, "hi")]));
    const { response, rest } = await readResponseHead(socket);
    assert.equal(response.status, 101);
    const reader = readFrames(socket, rest);
    socket.write(closeFrame(1000));
    const close = await reader.nextData();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.equal(parseClose(close!.payload).code, 1000);
    await new Promise((resolve) => socket.once("close", resolve));
    await server.close();
    assert.deepEqual(states, [OPEN]);
    assert.deepEqual(received, ["hi"]);
  });

  it("answers with processRequest's response instead of upgrading", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(echo, {
      logger: capture.logger,
      processRequest: async (ws, request) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (request.path === "/healthz") return ws.respond(200, "OK\n");
      },
    });
    const error = await rejected(`${url}/healthz`);
    assert.equal(error.response.status, 200);
    assert.equal(error.response.body.toString(), "OK\n");
    const ws = await connect(`${url}/chat`, { logger: false });
    await ws.close();
    await server.close();
    assert.ok(capture.messages("info").includes("HTTP response sent (200 OK)"));
    const closed = capture.records.filter((r) => r.msg === "connection closed");
    assert.deepEqual(
      closed.map((r) => r.level),
      ["debug", "info"],
    );
  });

  it("answers 500 and logs an ERROR when processRequest throws", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(echo, {
      logger: capture.logger,
      processRequest: () => {
        throw new Error("processRequest bug");
      },
    });
    const error = await rejected(url);
    assert.equal(error.response.status, 500);
    assert.match(error.response.body.toString(), /See server log/);
    await server.close();
    const record = capture.records.find((r) => r.level === "error");
    assert.equal(record?.msg, "processRequest failed");
    assert.match(String(record?.err), /processRequest bug/);
  });

  it("lets processResponse modify the response", async () => {
    const { server, url } = await start(echo, {
      processResponse: (_ws, _request, response) => {
        response.headers.append("X-Extra", "yes");
      },
    });
    const ws = await connect(url, { logger: false });
    assert.equal(ws.response?.headers.get("X-Extra"), "yes");
    await ws.close();
    await server.close();
  });

  it("lets processResponse replace the response, logged as a rejection", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(echo, {
      logger: capture.logger,
      processResponse: async (ws) => ws.respond(403, "Forbidden\n"),
    });
    const error = await rejected(url);
    assert.equal(error.response.status, 403);
    await server.close();
    assert.ok(capture.messages("info").includes("connection rejected (403 Forbidden)"));
  });

  it("answers 500 and logs an ERROR when processResponse throws", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(echo, {
      logger: capture.logger,
      processResponse: async () => {
        throw new Error("processResponse bug");
      },
    });
    const error = await rejected(url);
    assert.equal(error.response.status, 500);
    await server.close();
    assert.deepEqual(capture.messages("error"), ["processResponse failed"]);
  });

  it("negotiates a subprotocol, with selectSubprotocol when given", async () => {
    const { server, url } = await start(echo, { subprotocols: ["chat", "superchat"] });
    const ws = await connect(url, { subprotocols: ["superchat", "chat"], logger: false });
    assert.equal(ws.subprotocol, "chat");
    await ws.close();
    await server.close();

    const custom = await start(echo, {
      selectSubprotocol: (_ws, offered) => offered.at(-1) ?? null,
    });
    const ws2 = await connect(custom.url, { subprotocols: ["a", "b"], logger: false });
    assert.equal(ws2.subprotocol, "b");
    await ws2.close();
    await custom.server.close();
  });

  it("answers 500 and logs an ERROR when selectSubprotocol throws", async () => {
    const capture = createCaptureLogger();
    const { server, url } = await start(echo, {
      logger: capture.logger,
      selectSubprotocol: () => {
        throw new Error("selectSubprotocol bug");
      },
    });
    const error = await rejected(url, { subprotocols: ["chat"] });
    assert.equal(error.response.status, 500);
    await server.close();
    const record = capture.records.find((r) => r.level === "error");
    assert.equal(record?.msg, "opening handshake failed");
    assert.match(String(record?.err), /selectSubprotocol bug/);
  });

  it("rejects an origin not in origins with 403", async () => {
    const { server, url } = await start(echo, { origins: ["https://good.example", null] });
    const error = await rejected(url, { origin: "https://evil.example" });
    assert.equal(error.response.status, 403);
    const ws = await connect(url, { origin: "https://good.example", logger: false });
    await ws.close();
    const noOrigin = await connect(url, { logger: false });
    await noOrigin.close();
    await server.close();
  });

  it("sets the Server header, or omits it", async () => {
    const custom = await start(echo, { serverHeader: "custom/1.0" });
    const ws = await connect(custom.url, { logger: false });
    assert.equal(ws.response?.headers.get("Server"), "custom/1.0");
    await ws.close();
    await custom.server.close();
    const none = await start(echo, { serverHeader: null });
    const ws2 = await connect(none.url, { logger: false });
    assert.equal(ws2.response?.headers.get("Server"), undefined);
    await ws2.close();
    await none.server.close();
  });

  it("negotiates permessage-deflate by default, not with compression: null", async () => {
    const deflate = await start();
    const ws = await connect(deflate.url, { logger: false });
    assert.match(ws.response?.headers.get("Sec-WebSocket-Extensions") ?? "", /permessage-deflate/);
    await ws.send("x".repeat(1000));
    assert.equal(await ws.recv(), "x".repeat(1000));
    await ws.close();
    await deflate.server.close();
    const plain = await start(echo, { compression: null });
    const ws2 = await connect(plain.url, { logger: false });
    assert.equal(ws2.response?.headers.get("Sec-WebSocket-Extensions"), undefined);
    await ws2.close();
    await plain.server.close();
  });

  it("answers a malformed request with 400", async () => {
    const { server, port } = await start();
    const { received, closedByServer } = await exchange(
      port,
      "GET / HTTP/1.1\r\nbad header\r\n\r\n",
    );
    assert.match(received.toString("latin1"), /^HTTP\/1\.1 400 /);
    assert.equal(closedByServer, true);
    await server.close();
  });

  it("enforces maxSize with 1009", async () => {
    const { server, url } = await start(echo, { maxSize: 10 });
    const ws = await connect(url, { logger: false });
    await ws.send("x".repeat(11));
    await assert.rejects(ws.recv(), ConnectionClosedError);
    assert.equal(ws.closeCode, 1009);
    await server.close();
  });
});

describe("timeouts", () => {
  it("drops a client that never finishes its handshake after openTimeout", async () => {
    const capture = createCaptureLogger();
    const { server, port } = await start(echo, { openTimeout: 50, logger: capture.logger });
    const peer = await slowloris(port, { intervalMs: 5 });
    await peer.closed;
    assert.ok(peer.bytesSent() < 8192);
    await server.close();
    assert.ok(capture.messages("debug").includes("- timed out during opening handshake"));
  });
});

describe("Server.close", () => {
  it("closes open connections with 1001 and waits for handlers", async () => {
    let handlersDone = 0;
    const { server, url } = await start(async (ws) => {
      try {
        for await (const message of ws) await ws.send(message);
      } finally {
        handlersDone++;
      }
    });
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => connect(url, { logger: false })),
    );
    assert.equal(server.connections.size, 5);
    for (const ws of server.connections) assert.equal(ws.state, OPEN);
    await server.close();
    assert.equal(handlersDone, 5);
    assert.equal(server.connections.size, 0);
    for (const ws of clients) {
      await ws.closed;
      assert.equal(ws.closeCode, 1001);
    }
    await server.closed;
    await server.serveForever();
    // Idempotent.
    await server.close();
  });

  it("closes with a custom code and reason", async () => {
    const { server, url } = await start();
    const ws = await connect(url, { logger: false });
    await server.close({ code: 1012, reason: "restarting" });
    await ws.closed;
    assert.equal(ws.closeCode, 1012);
    assert.equal(ws.closeReason, "restarting");
  });

  it("waits for handlers to finish with closeConnections: false", async () => {
    const { server, url } = await start(async (ws) => {
      await ws.send(await ws.recv());
    });
    const ws = await connect(url, { logger: false });
    let closed = false;
    const closing = server.close({ closeConnections: false }).then(() => {
      closed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false);
    await ws.send("finish");
    assert.equal(await ws.recv(), "finish");
    await closing;
    await ws.closed;
    assert.equal(ws.closeCode, 1000);
  });

  it("answers 503 to a handshake that completes while the server closes", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inHook = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const { server, url } = await start(echo, {
      processRequest: async () => {
        entered();
        await gate;
      },
    });
    const attempt = rejected(url);
    await inHook;
    const closing = server.close();
    release();
    const error = await attempt;
    assert.equal(error.response.status, 503);
    await closing;
  });

  it("closes gracefully under load", async () => {
    const { server, url } = await start();
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => connect(url, { logger: false })),
    );
    let running = true;
    const loads = clients.map(async (ws) => {
      let echoed = 0;
      try {
        while (running) {
          await ws.send("load");
          await ws.recv();
          echoed++;
        }
      } catch (error) {
        assert.ok(error instanceof Error && error.name.startsWith("ConnectionClosed"));
      }
      return echoed;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await server.close();
    running = false;
    const echoed = await Promise.all(loads);
    assert.ok(echoed.every((count) => count > 0));
    for (const ws of clients) {
      await ws.closed;
      assert.equal(ws.closeCode, 1001);
    }
  });

  it("closes with await using", async () => {
    let url: string;
    {
      await using server = await serve(echo, { host: "127.0.0.1", port: 0, logger: false });
      url = `ws://127.0.0.1:${(server.address as { port: number }).port}`;
      const ws = await connect(url, { logger: false });
      await ws.close();
    }
    await assert.rejects(connect(url, { logger: false }), { code: "ECONNREFUSED" });
  });

  it("refuses upgrades through handleUpgrade once closed", async () => {
    const server = await serve(echo, { noServer: true, logger: false });
    await server.close();
    const http = createHttpServer();
    http.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    const error = await rejected(`ws://127.0.0.1:${port}`);
    assert.equal(error.response.status, 503);
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
});

describe("performance", () => {
  it("echoes all the messages of one read chunk in one socket write", async () => {
    let writes = 0;
    const { server, port } = await start(
      async (ws) => {
        const socket = (ws as unknown as { writer: { transport: Socket } }).writer.transport;
        const write = socket.write;
        socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
          writes++;
          return write.apply(this, args);
        } as Socket["write"];
        for await (const message of ws) await ws.send(message);
      },
      { compression: null },
    );
    const peer = await rawConnect(port);
    await new Promise((resolve) => setImmediate(resolve));
    // Not counting the 101 response.
    writes = 0;
    peer.send(Buffer.concat(Array.from({ length: 50 }, () => frame(OP_BINARY, Buffer.alloc(32)))));
    for (let i = 0; i < 50; i++) assert.equal((await peer.reader.next())?.opcode, OP_BINARY);
    assert.equal(writes, 1);
    await peer.close();
    await peer.reader.waitClosed();
    await server.close();
  });
});

describe("raw peers", () => {
  it("accepts a raw client and answers its ping", async () => {
    const { server, port } = await start();
    const peer = await rawConnect(port);
    const close = await peer.close(1000, "done");
    assert.deepEqual(parseClose(close!.payload), { code: 1000, reason: "done" });
    await peer.reader.waitClosed();
    await server.close();
  });

  it("exposes request headers as a Headers instance", async () => {
    let headers: Headers | undefined;
    const { server, port } = await start(async (ws) => {
      headers = ws.request?.headers;
    });
    const peer = await rawConnect(port, { headers: { "X-Test": "1" } });
    // The handler returned at once: the server closes; answer its close.
    const close = await peer.reader.nextData();
    assert.equal(close?.opcode, OP_CLOSE);
    peer.socket.write(closeFrame(1000));
    await peer.reader.waitClosed();
    await server.close();
    assert.ok(headers instanceof Headers);
    assert.equal(headers.get("x-test"), "1");
  });
});

describe("context from the handshake to the handler", () => {
  it("processRequest sets typed data, gets node:http's request when attached", async () => {
    const http = createHttpServer();
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    const seen: (string | undefined)[] = [];
    const server = await serve<{ user: string }>(
      async (ws) => {
        // Typed: no cast, no null check.
        await ws.send(`${ws.data.user} via ${ws.request.path}`);
        await ws.closed;
      },
      {
        server: http,
        logger: false,
        processRequest: (connection, request, incoming) => {
          seen.push(`${incoming?.method} ${incoming?.headers["x-app"]}`);
          const token = new URL(request.path, "ws://host").searchParams.get("token");
          if (token !== "s3cret") return connection.respond(401, "Unauthorized\n");
          connection.data = { user: "alice" };
        },
      },
    );
    const ws = await connect(`ws://127.0.0.1:${port}/chat?token=s3cret`, {
      logger: false,
      additionalHeaders: { "X-App": "day-one" },
    });
    assert.equal(await ws.recv(), "alice via /chat?token=s3cret");
    await ws.close();
    const error = await rejected(`ws://127.0.0.1:${port}/chat?token=wrong`, {
      additionalHeaders: { "X-App": "day-one" },
    });
    assert.equal(error.response.status, 401);
    assert.deepEqual(seen, ["GET day-one", "GET day-one"]);
    await server.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it("handleUpgrade passes data and the request to the connection", async () => {
    let incomingUrl: string | undefined;
    const server = await serve<{ session: string }>(
      async (ws) => {
        await ws.send(ws.data.session);
      },
      {
        noServer: true,
        logger: false,
        processRequest: (_connection, _request, incoming) => {
          incomingUrl = incoming?.url;
        },
      },
    );
    const http = createHttpServer();
    http.on("upgrade", (req, socket, head) =>
      server.handleUpgrade(req, socket, head, { session: `session of ${req.url}` }),
    );
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as { port: number };
    const ws = await connect(`ws://127.0.0.1:${port}/x`, { logger: false });
    assert.equal(await ws.recv(), "session of /x");
    assert.equal(incomingUrl, "/x");
    await ws.closed;
    await server.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  it("data is undefined until set, and per connection", async () => {
    let count = 0;
    const { server, url } = await start(async (ws) => {
      assert.equal(ws.data, undefined);
      ws.data = ++count;
      await ws.send(String(ws.data));
    });
    const [a, b] = await Promise.all([
      connect(url, { logger: false }),
      connect(url, { logger: false }),
    ]);
    assert.deepEqual([await a.recv(), await b.recv()].sort(), ["1", "2"]);
    await Promise.all([a.closed, b.closed]);
    await server.close();
  });
});

describe("server.close({ timeout })", () => {
  it("terminates connections whose handlers don't return by the deadline", async () => {
    const capture = createCaptureLogger();
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { server } = await start(
      async () => {
        // A handler that ignores the connection closing.
        await stuck;
      },
      { logger: capture.logger },
    );
    // A peer that never answers the close frame: only terminate() ends it.
    const raw = await rawConnect(server.port);
    const peerClosed = new Promise<void>((resolve) => raw.socket.once("close", () => resolve()));
    await server.close({ timeout: 50 });
    assert.equal(server.connections.size, 0);
    assert.ok(
      capture.records.some((r) =>
        /server close timed out: terminating 1 connections, 1 handlers/.test(r.msg),
      ),
    );
    release();
    // The server destroyed its end: the peer's socket closes without being told to.
    await peerClosed;
  });

  it("waits for handlers that return before the deadline, and closes with 1001", async () => {
    const { server, url } = await start(async (ws) => {
      await ws.closed;
    });
    const ws = await connect(url, { logger: false });
    await server.close({ timeout: 10_000 });
    await ws.closed;
    assert.equal(ws.closeCode, 1001);
  });

  it("rejects an invalid timeout", async () => {
    const { server } = await start();
    await assert.rejects(server.close({ timeout: -1 }), { name: "RangeError", message: /-1/ });
    await server.close();
  });
});
