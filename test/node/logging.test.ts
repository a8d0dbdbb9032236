// The logging catalogue end to end: every message the library logs, produced
// by real serve() and connect() over 127.0.0.1, ::1 and a Unix socket, and
// asserted (level, message, fields, error) twice: through the capturing test
// logger and through real pino output parsed as JSON.
import { strict as assert } from "node:assert";
import { subscribe, tracingChannel, unsubscribe } from "node:diagnostics_channel";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pino from "pino";
import type {
  ClientExtensionFactory,
  Extension,
  ServerExtensionFactory,
} from "../../src/extensions/base.ts";
import type { Frame } from "../../src/frames.ts";
import {
  broadcast,
  type ClientConnection,
  type Connection,
  ConnectionClosedError,
  connect,
  createLogger,
  InvalidStatus,
  type LoggerLike,
  type LogLevel,
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/index.ts";
import { logMessages } from "../../src/logging.ts";
import { encodeEnvelope } from "../../src/node/backplane.ts";
import { redisBackplane } from "../../src/node/redis-backplane.ts";
import type { RedisClientLike } from "../../src/node/redis-clients.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { connectProxy } from "../helpers/connect-proxy.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import { exchange, frame, OP_BINARY, rawConnect, tcpConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { FakeBroker, FakeNodeRedis } from "../support/fake-redis.ts";

const HOST = "127.0.0.1";

// --- Two ways to see the records ----------------------------------------------

/** A record as both sinks show it: level name, message, fields, serialized error. */
interface Rec {
  level: LogLevel;
  msg: string;
  /** Bindings and call fields, without pino's `pid` and `hostname`. */
  fields: Record<string, unknown>;
  err: { type: string; message: string; stack: string } | undefined;
}

interface Sink {
  logger: LoggerLike;
  records(): Rec[];
}

function captureSink(): Sink {
  const capture = createCaptureLogger("trace");
  return {
    logger: capture.logger,
    records: () =>
      capture.records.map((r) => ({
        level: r.level,
        msg: r.msg,
        fields: r.fields,
        err:
          r.err instanceof Error
            ? { type: r.err.name, message: r.err.message, stack: r.err.stack ?? "" }
            : undefined,
      })),
  };
}

const PINO_LEVELS: Record<number, LogLevel> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

function pinoSink(): Sink {
  const lines: string[] = [];
  const logger = pino({ level: "trace" }, { write: (chunk: string) => void lines.push(chunk) });
  return {
    logger,
    records: () =>
      lines.map((line) => {
        const { level, time, pid, hostname, msg, err, ...fields } = JSON.parse(line);
        assert.equal(typeof time, "number");
        return { level: PINO_LEVELS[level], msg, fields, err };
      }),
  };
}

const SINKS: Record<string, () => Sink> = { "capturing logger": captureSink, pino: pinoSink };

// --- Helpers --------------------------------------------------------------------

function portOf(server: Server): number {
  const address = server.address;
  assert.ok(address !== null && "port" in address);
  return address.port;
}

async function startServer(
  sink: Sink,
  handler: (ws: ServerConnection) => Promise<void> | void,
  options: ServeOptions = {},
): Promise<{ server: Server; port: number; url: string }> {
  const server = await serve(handler, { host: HOST, port: 0, logger: sink.logger, ...options });
  const port = portOf(server);
  return { server, port, url: `ws://${HOST}:${port}/` };
}

async function echo(ws: Connection): Promise<void> {
  for await (const message of ws) await ws.send(message);
}

/** Polls `records` until one has message `msg`, or one matching it (bounded: 5 s). */
async function waitForRecord(sink: Sink, msg: string | RegExp): Promise<Rec> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const record = sink
      .records()
      .find((r) => (typeof msg === "string" ? r.msg === msg : msg.test(r.msg)));
    if (record !== undefined) return record;
    if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(msg)} record within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The only record with message `msg`, checked to be at `level`. */
function only(records: Rec[], msg: string, level: LogLevel): Rec {
  const found = records.filter((r) => r.msg === msg);
  assert.equal(found.length, 1, `expected one ${JSON.stringify(msg)} record, got ${found.length}`);
  assert.equal(found[0].level, level, `level of ${JSON.stringify(msg)}`);
  return found[0];
}

function messages(records: Rec[], level?: LogLevel): string[] {
  return records.filter((r) => level === undefined || r.level === level).map((r) => r.msg);
}

function ofConnection(records: Rec[], id: string): Rec[] {
  return records.filter((r) => r.fields.connectionId === id);
}

/** Server lifecycle and reconnection records: the logger's name and nothing about a connection. */
function assertNoConnectionFields(record: Rec, name: string): void {
  assert.deepEqual(record.fields, { name }, `fields of ${JSON.stringify(record.msg)}`);
}

/** The record carries the error thrown by `thrower` (defined in this file), with its stack. */
function assertError(record: Rec, message: string, thrower: string): void {
  assert.ok(record.err !== undefined, `${record.msg}: no err`);
  assert.equal(record.err.message, message);
  assert.match(record.err.stack, new RegExp(`^\\w*Error: ${message}\\n`));
  assert.match(record.err.stack, new RegExp(`\\n {4}at (async )?(\\w+\\.)?${thrower} \\(`));
}

/** Resolves `thrower` in stacks: a named function so the stack names it. */
function fail(message: string, ErrorClass: ErrorConstructor = Error): never {
  throw new ErrorClass(message);
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * An extension negotiated under `x-test`, passing frames through unchanged
 * except where told to throw: user code the library calls inside its
 * parser and serializer.
 */
function testExtension(options: { decodeThrows?: boolean; encodeThrowsOn?: number }): {
  server: ServerExtensionFactory;
  client: ClientExtensionFactory;
} {
  const broken: Extension = {
    name: "x-test",
    decode: (received: Frame) => {
      if (options.decodeThrows) fail("decoder bug", TypeError as ErrorConstructor);
      return received;
    },
    encode: (sent: Frame) => {
      if (sent.opcode === options.encodeThrowsOn) fail("encoder bug");
      return sent;
    },
  };
  const identity: Extension = { name: "x-test", decode: (f) => f, encode: (f) => f };
  return {
    server: { name: "x-test", processRequestParams: () => [[], broken] },
    client: {
      name: "x-test",
      getRequestParams: () => [],
      processResponseParams: () => identity,
    },
  };
}

const sockets = new Set<Socket>();
after(() => {
  for (const socket of sockets) socket.destroy();
});

// --- The catalogue, through each sink -------------------------------------------

/** How each message of the catalogue that carries a value is recognized. */
const VALUED: Record<string, RegExp> = {
  broadcastFailed: /^skipped broadcast: failed to write message: \S/,
  subprotocolIgnored: /^client offered subprotocols \S.* and the server selected none: /,
  serverListening: /^server listening on \S/,
  connectionRejected: /^connection rejected \(\d{3} .+\)$/,
  httpResponseSent: /^HTTP response sent \(\d{3} .+\)$/,
  reconnecting: /^connect failed; reconnecting in \d+\.\d seconds: \S/,
  state: /^= connection is (CONNECTING|OPEN|CLOSING|CLOSED)$/,
  frameSent: /^> [A-Z]+ .*\[.*\]$/,
  frameReceived: /^< [A-Z]+ .*\[.*\]$/,
  failing: /^! failing connection with code \d+$/,
  serverCloseTimeout:
    /^server close timed out: terminating \d+ connections, \d+ handlers still running$/,
  slowSubscriber:
    /^slow subscriber (skipped|closed): write buffer over \d+ bytes on publish to ".+"$/,
  publishFailed: /^skipped publish to ".+": failed to write message: \S/,
  backplaneLost:
    /^\S.* backplane lost: .+; delivering locally, messages to other nodes are lost until it is back$/,
  backplaneFailed: /^\S.* backplane: \w+ failed: \S/,
  backplaneMalformed: /^\S.* backplane: dropped malformed message on ".+": \S/,
  backplaneGap: /^\S.* backplane: \d+ message\(s\) from node \w+ on ".+" were lost$/,
  backplaneBack:
    /^\S.* backplane is back; resubscribed to \d+ topic\(s\); \d+ message\(s\) published meanwhile were lost$/,
  published: /^> publish to ".+": \d+ local subscriber\(s\)$/,
  sendsPiling:
    /^\d+ send\(\) calls wait for the write buffer to drain \(\d+ bytes buffered, writeLimit \d+\): /,
  sendLost: /^a send failed and nothing awaited it, so the message is lost: \S/,
  unreadAfterLoop: /^reading paused: \d+ messages wait unread since a for await loop /,
  http2Fallback: /^! falling back to HTTP\/1\.1: \S/,
  proxyTunnel: /^= connecting through proxy \S+ to \S+$/,
};

for (const [kind, createSink] of Object.entries(SINKS)) {
  describe(`through the ${kind}`, () => {
    // Every sink of this block, for the coverage check at its end.
    const sinks: Sink[] = [];
    const makeSink = (): Sink => {
      const sink = createSink();
      sinks.push(sink);
      return sink;
    };

    test("a session logs INFO lifecycle and DEBUG details on both sides, with connection fields", async () => {
      const s = makeSink();
      const c = makeSink();
      let serverWs: ServerConnection | null = null;
      const { server, port } = await startServer(s, async (ws) => {
        serverWs = ws;
        ws.logger.info({ orderId: 7 }, "order received");
        await echo(ws);
      });
      const ws = await connect(`ws://${HOST}:${port}/chat?room=1`, { logger: c.logger });
      await ws.send("hello");
      assert.equal(await ws.recv(), "hello");
      await ws.close();
      await server.close();
      assert.ok(serverWs !== null);
      const sws: ServerConnection = serverWs;
      const clientPort = (ws.localAddress as { port: number }).port;

      // Server side.
      const records = s.records();
      assert.deepEqual(messages(records, "error"), []);
      assert.deepEqual(messages(records, "warn"), []);
      const listening = only(records, `server listening on ${HOST}:${port}`, "info");
      assertNoConnectionFields(listening, "websockets.server");
      assertNoConnectionFields(only(records, "server closing", "info"), "websockets.server");
      assertNoConnectionFields(only(records, "server closed", "info"), "websockets.server");
      assert.equal(
        records[0],
        records.find((r) => r.msg.startsWith("server listening")),
      );
      assert.equal(records.at(-1)?.msg, "server closed");

      // Every record about the connection goes through connection.logger.
      assert.notEqual(sws.logger, s.logger);
      const own = ofConnection(records, sws.id);
      assert.equal(own.length, records.length - 3);
      for (const record of own) {
        assert.equal(record.fields.name, "websockets.server");
        assert.equal(record.fields.remoteAddress, `${HOST}:${clientPort}`);
      }
      const order = only(own, "order received", "info");
      assert.equal(order.fields.orderId, 7);
      only(own, "connection open", "info");
      const debug = messages(own, "debug");
      assert.deepEqual(
        debug.filter((msg) => msg.startsWith("= ")),
        [
          "= connection is CONNECTING",
          "= connection is OPEN",
          "= connection is CLOSING",
          "= connection is CLOSED",
        ],
      );
      for (const line of [
        "< GET /chat?room=1 HTTP/1.1",
        `< Host: ${HOST}:${port}`,
        "< Upgrade: websocket",
        "< Sec-WebSocket-Version: 13",
        "> HTTP/1.1 101 Switching Protocols",
        "> Connection: Upgrade",
        "< TEXT 'hello' [5 bytes]",
        "> TEXT 'hello' [5 bytes]",
        "< CLOSE 1000 (OK) [2 bytes]",
        "> CLOSE 1000 (OK) [2 bytes]",
        "> EOF",
        "< EOF",
        "x half-closing TCP connection",
      ]) {
        assert.ok(debug.includes(line), `no DEBUG ${line}`);
      }
      assert.ok(!debug.includes("connection closed"));
      // The connection opened, so its close is at INFO, with what happened.
      const closed = only(own, "connection closed", "info");
      const { durationMs, ...rest } = closed.fields;
      assert.equal(typeof durationMs, "number");
      assert.ok((durationMs as number) >= 0);
      assert.deepEqual(rest, {
        name: "websockets.server",
        connectionId: sws.id,
        remoteAddress: `${HOST}:${clientPort}`,
        code: 1000,
        reason: "",
        rcvdCode: 1000,
        rcvdReason: "",
        sentCode: 1000,
        sentReason: "",
        messagesIn: 1,
        messagesOut: 1,
        bytesIn: 5,
        bytesOut: 5,
      });

      // Client side: the same, as websockets.client.
      const client = c.records();
      assert.ok(client.length > 0);
      assert.deepEqual(
        client.filter((r) => r.fields.connectionId !== ws.id),
        [],
        "every client record is about the connection",
      );
      for (const record of client) {
        assert.equal(record.fields.name, "websockets.client");
        assert.equal(record.fields.remoteAddress, `${HOST}:${port}`);
      }
      const clientDebug = messages(client, "debug");
      assert.deepEqual(
        clientDebug.filter((msg) => msg.startsWith("= ")),
        [
          "= connection is CONNECTING",
          "= connection is OPEN",
          "= connection is CLOSING",
          "= connection is CLOSED",
        ],
      );
      for (const line of [
        "> GET /chat?room=1 HTTP/1.1",
        `> Host: ${HOST}:${port}`,
        "< HTTP/1.1 101 Switching Protocols",
        "> TEXT 'hello' [5 bytes]",
        "< TEXT 'hello' [5 bytes]",
        "> CLOSE 1000 (OK) [2 bytes]",
        "< CLOSE 1000 (OK) [2 bytes]",
        "< EOF",
        "> EOF",
      ]) {
        assert.ok(clientDebug.includes(line), `no client DEBUG ${line}`);
      }
      only(client, "connection open", "info");
      const clientClosed = only(client, "connection closed", "info");
      assert.equal(clientClosed.fields.sentCode, 1000);
      assert.equal(clientClosed.fields.messagesOut, 1);
      assert.equal(clientClosed.fields.bytesIn, 5);
    });

    test("ERROR connection handler failed, with the error and its stack; the client gets 1011", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, async function crashingHandler() {
        fail("handler bug");
      });
      const ws = await connect(url, { logger: false });
      await ws.closed;
      assert.equal(ws.closeCode, 1011);
      await server.close();
      const records = s.records();
      const failed = only(records, "connection handler failed", "error");
      assertError(failed, "handler bug", "crashingHandler");
      assert.equal(typeof failed.fields.connectionId, "string");
      assert.equal(
        failed.fields.remoteAddress,
        `${HOST}:${(ws.localAddress as { port: number }).port}`,
      );
      const closed = only(records, "connection closed", "info");
      assert.equal(closed.fields.connectionId, failed.fields.connectionId);
      assert.equal(closed.fields.sentCode, 1011);
    });

    test("ERROR processRequest failed, then INFO connection rejected (500 ...)", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo, {
        processRequest: function checkToken() {
          fail("auth backend down");
        },
      });
      await assert.rejects(connect(url, { logger: false }), (error: unknown) => {
        return error instanceof InvalidStatus && error.response.status === 500;
      });
      await server.close();
      const records = s.records();
      const failed = only(records, "processRequest failed", "error");
      assertError(failed, "auth backend down", "checkToken");
      const rejected = only(records, "connection rejected (500 Internal Server Error)", "info");
      assert.equal(rejected.fields.connectionId, failed.fields.connectionId);
      // Never OPEN: its close is at DEBUG.
      assert.equal(
        only(records, "connection closed", "debug").fields.connectionId,
        failed.fields.connectionId,
      );
      assert.deepEqual(
        messages(records, "info").filter((m) => m.startsWith("connection ")),
        ["connection rejected (500 Internal Server Error)"],
      );
    });

    test("ERROR processResponse failed, then INFO connection rejected (500 ...)", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo, {
        processResponse: function addHeaders() {
          fail("header store down");
        },
      });
      await assert.rejects(connect(url, { logger: false }), InvalidStatus);
      await server.close();
      const records = s.records();
      assertError(
        only(records, "processResponse failed", "error"),
        "header store down",
        "addHeaders",
      );
      only(records, "connection rejected (500 Internal Server Error)", "info");
      only(records, "connection closed", "debug");
    });

    test("ERROR opening handshake failed for a throwing selectSubprotocol", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo, {
        subprotocols: ["chat"],
        selectSubprotocol: function pickSubprotocol() {
          fail("no subprotocol today");
        },
      });
      await assert.rejects(connect(url, { logger: false, subprotocols: ["chat"] }), InvalidStatus);
      await server.close();
      const records = s.records();
      assertError(
        only(records, "opening handshake failed", "error"),
        "no subprotocol today",
        "pickSubprotocol",
      );
      only(records, "connection rejected (500 Internal Server Error)", "info");
    });

    test("WARN client offered subprotocols ... and the server selected none, naming the fix", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo);
      const ws = await connect(url, { logger: false, subprotocols: ["chat", "superchat"] });
      assert.equal(ws.subprotocol, null);
      await ws.close();
      await server.close();
      const warning = only(
        s.records(),
        logMessages.subprotocolIgnored(["chat", "superchat"]),
        "warn",
      );
      assert.match(warning.msg, /^client offered subprotocols chat, superchat and the server/);
      assert.match(warning.msg, /serve\(\{ subprotocols \}\)/);
      assert.equal(typeof warning.fields.connectionId, "string");
    });

    test("WARN a proxy dropped Upgrade: a request with a key but no upgrade headers gets 426", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo);
      const { received } = await exchange(
        port,
        `GET / HTTP/1.1\r\nHost: ${HOST}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      );
      const response = received.toString("latin1");
      assert.match(response, /^HTTP\/1\.1 426 /);
      assert.match(response, /a proxy between you and the server probably dropped/);
      await server.close();
      const records = s.records();
      only(records, logMessages.upgradeStripped, "warn");
      only(records, "connection rejected (426 Upgrade Required)", "info");
    });

    test("INFO HTTP response sent (200 OK) for a processRequest answer", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo, {
        processRequest: (ws, request) =>
          request.path === "/healthz" ? ws.respond(200, "OK\n") : undefined,
      });
      const { received } = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      assert.match(received.toString("latin1"), /^HTTP\/1\.1 200 OK\r\n/);
      await server.close();
      const records = s.records();
      const sent = only(records, "HTTP response sent (200 OK)", "info");
      assert.equal(typeof sent.fields.connectionId, "string");
      assert.ok(messages(records, "debug").includes("> HTTP/1.1 200 OK"));
      assert.ok(messages(records, "debug").includes("> [body] (3 bytes)"));
      assert.deepEqual(
        messages(records, "info").filter((m) => m.startsWith("connection")),
        [],
      );
      only(records, "connection closed", "debug");
    });

    test("DEBUG ! invalid origin with the error; INFO connection rejected (403 Forbidden)", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo, { origins: ["https://app.example"] });
      await assert.rejects(
        connect(url, { logger: false, origin: "https://evil.example" }),
        (error: unknown) => error instanceof InvalidStatus && error.response.status === 403,
      );
      await server.close();
      const records = s.records();
      const invalid = only(records, "! invalid origin", "debug");
      assert.equal(invalid.err?.type, "InvalidOrigin");
      assert.match(invalid.err?.message ?? "", /evil\.example/);
      only(records, "connection rejected (403 Forbidden)", "info");
      assert.ok(messages(records, "debug").includes("> HTTP/1.1 403 Forbidden"));
      assert.ok(messages(records, "debug").some((m) => /^> \[body\] \(\d+ bytes\)$/.test(m)));
    });

    test("DEBUG ! invalid upgrade; INFO connection rejected (426 Upgrade Required)", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo);
      const { received } = await exchange(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      assert.match(received.toString("latin1"), /^HTTP\/1\.1 426 /);
      await server.close();
      const records = s.records();
      assert.equal(only(records, "! invalid upgrade", "debug").err?.type, "InvalidUpgrade");
      only(records, "connection rejected (426 Upgrade Required)", "info");
    });

    test("DEBUG ! invalid handshake for a request that isn't a valid upgrade, and for one that isn't HTTP", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo);
      const badVersion = await exchange(
        port,
        `GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n",
      );
      assert.match(badVersion.received.toString("latin1"), /^HTTP\/1\.1 426 /);
      const notHttp = await exchange(port, "HELLO\r\n\r\n");
      assert.match(notHttp.received.toString("latin1"), /^HTTP\/1\.1 400 /);
      await server.close();
      const invalid = s.records().filter((r) => r.msg === "! invalid handshake");
      assert.equal(invalid.length, 2);
      for (const record of invalid) {
        assert.equal(record.level, "debug");
        assert.ok(record.err !== undefined);
      }
    });

    test("DEBUG ! TLS handshake failed when a client doesn't speak TLS", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo, { tls: { key, cert } });
      const { received } = await exchange(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      assert.equal(received.includes("HTTP/1.1"), false);
      await waitForRecord(s, "! TLS handshake failed");
      await server.close();
      const failed = only(s.records(), "! TLS handshake failed", "debug");
      assert.ok(failed.err !== undefined);
    });

    test("DEBUG ! request line too long and ! header fields too large, with 414 and 431", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo);
      const longLine = await exchange(port, `GET /${"a".repeat(9000)} HTTP/1.1\r\n\r\n`);
      assert.match(longLine.received.toString("latin1"), /^HTTP\/1\.1 414 /);
      const bigHeader = await exchange(
        port,
        `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${"b".repeat(9000)}\r\n\r\n`,
      );
      assert.match(bigHeader.received.toString("latin1"), /^HTTP\/1\.1 431 /);
      await server.close();
      const records = s.records();
      assert.equal(only(records, "! request line too long", "debug").err?.type, "SecurityError");
      assert.equal(only(records, "! header fields too large", "debug").err?.type, "SecurityError");
      only(records, "connection rejected (414 URI Too Long)", "info");
      only(records, "connection rejected (431 Request Header Fields Too Large)", "info");
      assert.ok(messages(records, "debug").includes("> HTTP/1.1 414 URI Too Long"));
    });

    test("a TCP connection that never reached OPEN logs its close at DEBUG, not INFO", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo, { openTimeout: 50 });
      // A load-balancer probe: connect, then leave.
      const probe = await tcpConnect(port);
      probe.end();
      await new Promise((resolve) => probe.once("close", resolve));
      // A client that never sends its request: dropped after openTimeout.
      const idle = await tcpConnect(port);
      sockets.add(idle);
      idle.on("error", () => {});
      await new Promise((resolve) => idle.once("close", resolve));
      await server.close();
      const records = s.records();
      const closes = records.filter((r) => r.msg === "connection closed");
      assert.equal(closes.length, 2);
      for (const record of closes) assert.equal(record.level, "debug");
      const ids = closes.map((r) => r.fields.connectionId as string);
      for (const id of ids) {
        assert.deepEqual(messages(ofConnection(records, id), "info"), []);
      }
      const dropped = messages(ofConnection(records, ids[1]), "debug");
      assert.ok(dropped.includes("- timed out during opening handshake"), dropped.join("\n"));
      assert.ok(dropped.includes("x closing TCP connection"), dropped.join("\n"));
    });

    test("DEBUG % sent keepalive ping and % received keepalive pong", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo, { pingInterval: 20, pingTimeout: 2000 });
      const ws = await connect(url, { logger: false });
      const pong = await waitForRecord(s, "% received keepalive pong");
      await ws.close();
      await server.close();
      const records = s.records();
      assert.equal(pong.level, "debug");
      assert.equal(
        pong.fields.connectionId,
        records.find((r) => r.msg === "connection open")?.fields.connectionId,
      );
      const debug = messages(records, "debug");
      const sentAt = debug.indexOf("% sent keepalive ping");
      assert.ok(sentAt !== -1);
      assert.ok(sentAt < debug.indexOf("% received keepalive pong"));
      assert.ok(
        debug.some((m) => /^> PING .* \[(binary, |text, )?4 bytes\]$/.test(m)),
        debug.join("\n"),
      );
      assert.ok(debug.some((m) => /^< PONG .* \[(binary, |text, )?4 bytes\]$/.test(m)));
    });

    test("a keepalive timeout shows at INFO: connection closed with 1011 and its reason", async () => {
      const s = makeSink();
      const { server, port } = await startServer(s, echo, { pingInterval: 20, pingTimeout: 20 });
      // A peer that stopped answering: never a pong.
      const peer = await rawConnect(port);
      sockets.add(peer.socket);
      await peer.reader.waitClosed();
      await server.close();
      const records = s.records();
      const debug = messages(records, "debug");
      assert.ok(debug.includes("% sent keepalive ping"));
      only(records, "- timed out waiting for keepalive pong", "debug");
      assert.ok(debug.includes("! failing connection with code 1011"));
      assert.ok(
        debug.includes("> CLOSE 1011 (internal error) keepalive ping timeout [24 bytes]"),
        debug.join("\n"),
      );
      const closed = only(records, "connection closed", "info");
      assert.equal(closed.fields.sentCode, 1011);
      assert.equal(closed.fields.sentReason, "keepalive ping timeout");
      assert.equal(closed.fields.rcvdCode, null);
      assert.equal(closed.fields.code, 1006);
    });

    test("ERROR keepalive ping failed when the ping can't be sent", async () => {
      const s = makeSink();
      const extension = testExtension({ encodeThrowsOn: 0x9 });
      const { server, url } = await startServer(s, echo, {
        pingInterval: 20,
        compression: null,
        extensions: [extension.server],
      });
      const ws = await connect(url, {
        logger: false,
        compression: null,
        extensions: [extension.client],
      });
      const failed = await waitForRecord(s, "keepalive ping failed");
      // The connection still works.
      await ws.send("still here");
      assert.equal(await ws.recv(), "still here");
      await ws.close();
      await server.close();
      assert.equal(failed.level, "error");
      assertError(failed, "encoder bug", "fail");
      assert.equal(typeof failed.fields.connectionId, "string");
    });

    test("ERROR parser failed; the 1011 sent then carries no reason", async () => {
      const s = makeSink();
      const extension = testExtension({ decodeThrows: true });
      const { server, url } = await startServer(s, echo, {
        compression: null,
        extensions: [extension.server],
      });
      const ws = await connect(url, {
        logger: false,
        compression: null,
        extensions: [extension.client],
      });
      await ws.send("hello");
      await assert.rejects(ws.recv(), ConnectionClosedError);
      assert.equal(ws.closeCode, 1011);
      assert.equal(ws.closeReason, "");
      await server.close();
      const records = s.records();
      const failed = only(records, "parser failed", "error");
      assert.equal(failed.err?.type, "TypeError");
      assertError(failed, "decoder bug", "fail");
      assert.equal(typeof failed.fields.connectionId, "string");
      assert.ok(messages(records, "debug").includes("> CLOSE 1011 (internal error) [2 bytes]"));
      const closed = only(records, "connection closed", "info");
      assert.equal(closed.fields.sentCode, 1011);
      assert.equal(closed.fields.sentReason, "");
    });

    test("ERROR unexpected internal error for a throwing logContext; the connection goes on", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo, {
        logContext: function brokenContext() {
          fail("context bug");
        },
      });
      const ws = await connect(url, { logger: false });
      await ws.send("hello");
      assert.equal(await ws.recv(), "hello");
      await ws.close();
      await server.close();
      const records = s.records();
      const failed = only(records, "unexpected internal error", "error");
      assertError(failed, "context bug", "brokenContext");
      assert.equal(typeof failed.fields.connectionId, "string");
      only(records, "connection open", "info");
      assert.equal(only(records, "connection closed", "info").fields.code, 1000);
    });

    test("WARN skipped broadcast: sending a fragmented message", async () => {
      const s = makeSink();
      let midway!: () => void;
      const inFragment = new Promise<void>((resolve) => {
        midway = resolve;
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      async function* fragments(): AsyncGenerator<string> {
        yield "part 1, ";
        midway();
        await gate;
        yield "part 2";
      }
      let serverWs: ServerConnection | null = null;
      const { server, url } = await startServer(s, async (ws) => {
        serverWs = ws;
        const sending = ws.send(fragments());
        await inFragment;
        broadcast(ws.server.connections, "news");
        release();
        await sending;
        await ws.send("after");
      });
      const ws = await connect(url, { logger: false });
      assert.equal(await ws.recv(), "part 1, part 2");
      assert.equal(await ws.recv(), "after");
      await ws.close();
      await server.close();
      const warning = only(s.records(), "skipped broadcast: sending a fragmented message", "warn");
      assert.equal(warning.fields.connectionId, (serverWs as ServerConnection | null)?.id);
      assert.equal(
        warning.fields.remoteAddress,
        `${HOST}:${(ws.localAddress as { port: number }).port}`,
      );
    });

    test("WARN server close timed out, without connection fields", async () => {
      const s = makeSink();
      let release!: () => void;
      const stuck = new Promise<void>((resolve) => {
        release = resolve;
      });
      const { server, url } = await startServer(s, () => stuck);
      const ws = await connect(url, { logger: false });
      await server.close({ timeout: 20 });
      release();
      await ws.closed;
      const warning = only(
        s.records(),
        "server close timed out: terminating 0 connections, 1 handlers still running",
        "warn",
      );
      assertNoConnectionFields(warning, "websockets.server");
    });

    test("WARN origins isn't set, once, when browsers send credentials", async () => {
      const s = makeSink();
      const { server, url } = await startServer(s, echo);
      for (let i = 0; i < 2; i++) {
        const ws = await connect(url, {
          logger: false,
          origin: "https://app.example",
          additionalHeaders: { Cookie: "session=1" },
        });
        await ws.close();
      }
      await server.close();
      only(s.records(), logMessages.originsUnset, "warn");
    });

    test("WARN skipped broadcast: failed to write message: <first line of the error>", async () => {
      const s = makeSink();
      const extension = testExtension({ encodeThrowsOn: 0x1 });
      const { server, url } = await startServer(
        s,
        async (ws) => {
          await ws.recv();
          broadcast([ws], "news");
        },
        { compression: null, extensions: [extension.server] },
      );
      const ws = await connect(url, {
        logger: false,
        compression: null,
        extensions: [extension.client],
      });
      await ws.send("subscribe");
      await ws.closed;
      assert.equal(ws.closeCode, 1000);
      await server.close();
      const warning = only(
        s.records(),
        "skipped broadcast: failed to write message: Error: encoder bug",
        "warn",
      );
      assert.equal(typeof warning.fields.connectionId, "string");
      // A warning is not an error report: the message says it all.
      assert.equal(warning.err, undefined);
    });

    test("DEBUG ! error while sending data when the peer reset the connection", async () => {
      const s = makeSink();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const { server, port } = await startServer(
        s,
        async (ws) => {
          // Never reads: with maxQueue 1, reading from the socket stops, so
          // the reset goes unnoticed until the next write.
          await gate;
          await ws.send(Buffer.alloc(1000)).catch(() => {});
        },
        { maxQueue: 1, compression: null },
      );
      const peer = await rawConnect(port);
      sockets.add(peer.socket);
      const chunk = frame(OP_BINARY, Buffer.alloc(65_536));
      for (let i = 0; i < 16; i++) peer.send(chunk);
      // The server pauses once two messages wait unread, then stops reading
      // from the socket as soon as its stream buffer is full.
      const deadline = Date.now() + 5000;
      while (s.records().filter((r) => r.msg.startsWith("< BINARY")).length < 2) {
        assert.ok(Date.now() < deadline, "the server read no two messages within 5 s");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      peer.socket.resetAndDestroy();
      await new Promise((resolve) => setTimeout(resolve, 20));
      release();
      await server.close();
      const records = s.records();
      const failed = only(records, "! error while sending data", "debug");
      assert.ok(failed.err !== undefined);
      assert.match(failed.err.message, /ECONNRESET|EPIPE/);
      assert.equal(typeof failed.fields.connectionId, "string");
      assert.equal(only(records, "connection closed", "info").fields.code, 1006);
    });

    test("DEBUG ! error while receiving data when the peer reset an idle connection", async () => {
      const s = makeSink();
      let opened!: () => void;
      const open = new Promise<void>((resolve) => {
        opened = resolve;
      });
      const { server, port } = await startServer(s, async (ws) => {
        opened();
        await ws.closed;
      });
      const peer = await rawConnect(port);
      sockets.add(peer.socket);
      await open;
      peer.socket.resetAndDestroy();
      await waitForRecord(s, "connection closed");
      await server.close();
      const records = s.records();
      const failed = only(records, "! error while receiving data", "debug");
      assert.ok(failed.err !== undefined);
      assert.match(failed.err.message, /ECONNRESET/);
      assert.equal(typeof failed.fields.connectionId, "string");
      assert.equal(only(records, "connection closed", "info").fields.code, 1006);
    });

    test("DEBUG - timed out waiting for TCP close when the peer never answers a close", async () => {
      const s = makeSink();
      const { server, port } = await startServer(
        s,
        async (ws) => {
          await ws.close(1000, "bye");
        },
        { closeTimeout: 50 },
      );
      // Reads nothing and answers nothing: the closing handshake can't complete.
      const peer = await rawConnect(port);
      sockets.add(peer.socket);
      await waitForRecord(s, "connection closed");
      await server.close();
      const debug = messages(s.records(), "debug");
      const timedOut = debug.indexOf("- timed out waiting for TCP close");
      assert.ok(timedOut !== -1, debug.join("\n"));
      assert.equal(debug[timedOut + 1], "x closing TCP connection");
      peer.socket.destroy();
    });

    test("INFO server listening on [::1]:port and on a Unix socket path, once each", async () => {
      const s = makeSink();
      const v6 = await serve(echo, { host: "::1", port: 0, logger: s.logger });
      const v6Port = portOf(v6);
      const ws6 = await connect(`ws://[::1]:${v6Port}/`, { logger: false });
      await ws6.close();
      await v6.close();
      const dir = mkdtempSync(join(tmpdir(), "ws-logging-"));
      try {
        const path = join(dir, "ws.sock");
        const unix = await serve(echo, { path, logger: s.logger });
        const wsUnix = await connect("ws://localhost/", { path, logger: false });
        await wsUnix.close();
        await unix.close();
        const records = s.records();
        const listening = records.filter((r) => r.msg.startsWith("server listening on "));
        assert.deepEqual(
          listening.map((r) => r.msg),
          [`server listening on [::1]:${v6Port}`, `server listening on ${path}`],
        );
        for (const record of listening) {
          assert.equal(record.level, "info");
          assertNoConnectionFields(record, "websockets.server");
        }
        const opens = records.filter((r) => r.msg === "connection open");
        assert.equal(opens.length, 2);
        const v6Client = (ws6.localAddress as { port: number }).port;
        assert.equal(opens[0].fields.remoteAddress, `[::1]:${v6Client}`);
        // A Unix socket's client end has no address.
        assert.equal(opens[1].fields.remoteAddress, null);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("INFO connect failed; reconnecting in <s.s> seconds, without connection fields", async () => {
      const c = makeSink();
      const port = await closedPort();
      const attempts = connect(`ws://${HOST}:${port}/`, { logger: c.logger, backoff: [0, 200] });
      await assert.rejects(
        (async () => {
          for await (const ws of attempts) await ws.close();
        })(),
        (error: unknown) => (error as NodeJS.ErrnoException).code === "ECONNREFUSED",
      );
      const records = c.records();
      const refused = `Error: connect ECONNREFUSED ${HOST}:${port}`;
      assert.deepEqual(messages(records), [
        `connect failed; reconnecting in 0.0 seconds: ${refused}`,
        `connect failed; reconnecting in 0.2 seconds: ${refused}`,
      ]);
      for (const record of records) {
        assert.equal(record.level, "info");
        assertNoConnectionFields(record, "websockets.client");
      }
    });

    test("DEBUG ! falling back to HTTP/1.1: <why> when a wss:// server's ALPN doesn't pick h2", async () => {
      const s = makeSink();
      const c = makeSink();
      const server = await serve(async () => {}, {
        host: HOST,
        port: 0,
        tls: { key, cert },
        logger: s.logger,
      });
      const { port } = server.address as { port: number };
      const ws = await connect(`wss://localhost:${port}/`, {
        http2: "auto",
        tls: { ca: cert },
        logger: c.logger,
      });
      await ws.closed;
      await server.close();
      const fallback = c.records().filter((r) => r.msg.startsWith("! falling back to HTTP/1.1: "));
      assert.equal(fallback.length, 1);
      assert.equal(fallback[0].level, "debug");
      assert.match(
        fallback[0].msg,
        new RegExp(`localhost:${port} doesn't speak HTTP/2: TLS ALPN chose`),
      );
      assert.equal(fallback[0].fields.reason, "alpn");
    });

    test("DEBUG = connecting through proxy <proxy> to <target>, then the CONNECT exchange, credentials redacted", async () => {
      const c = makeSink();
      const proxy = await connectProxy();
      const { server, port } = await startServer(makeSink(), async () => {});
      try {
        const ws = await connect(`ws://${HOST}:${port}/`, {
          proxy: `http://carol:hunter2@${HOST}:${proxy.port}`,
          logger: c.logger,
        });
        await ws.closed;
      } finally {
        await server.close();
        await proxy.close();
      }
      const lines = c
        .records()
        .filter((r) => r.level === "debug")
        .map((r) => r.msg);
      const tunnel = [
        `= connecting through proxy http://carol:xxxxx@${HOST}:${proxy.port} to ${HOST}:${port}`,
        `> CONNECT ${HOST}:${port} HTTP/1.1`,
        `> Proxy-Authorization: [redacted]`,
        `< HTTP/1.1 200 Connection Established`,
      ];
      for (const line of tunnel) assert.ok(lines.includes(line), `no DEBUG ${line}`);
      // Before the WebSocket handshake.
      assert.ok(lines.indexOf(tunnel[3]) < lines.indexOf("> GET / HTTP/1.1"));
      assert.ok(!lines.some((line) => line.includes("hunter2")));
    });

    test("logContext adds fields once the handshake completes: the X-Forwarded-For recipe, both sides", async () => {
      const s = makeSink();
      const c = makeSink();
      const clientIp = (ws: Connection) => ({
        clientIp: ws.request?.headers.get("X-Forwarded-For"),
      });
      let serverWs: ServerConnection | null = null;
      const { server, url } = await startServer(
        s,
        async (ws) => {
          serverWs = ws;
          await echo(ws);
        },
        { logContext: clientIp },
      );
      const ws = await connect(url, {
        logger: c.logger,
        additionalHeaders: { "X-Forwarded-For": "203.0.113.7" },
        logContext: (client: ClientConnection) => ({
          serverSoftware: client.response?.headers.get("Server"),
          ...clientIp(client),
        }),
      });
      await ws.send("hi");
      await ws.recv();
      await ws.close();
      await server.close();

      const records = ofConnection(s.records(), (serverWs as ServerConnection | null)?.id ?? "");
      const openAt = records.findIndex((r) => r.msg === "connection open");
      assert.ok(openAt > 0);
      // Before: the handshake, without the field; from `connection open` on, with it.
      for (const record of records.slice(0, openAt))
        assert.equal("clientIp" in record.fields, false);
      for (const record of records.slice(openAt)) {
        assert.equal(record.fields.clientIp, "203.0.113.7", record.msg);
      }
      assert.equal(records.at(-1)?.msg, "connection closed");
      // connection.logger is the child with the fields.
      const clientRecords = c.records();
      const clientOpen = only(clientRecords, "connection open", "info");
      assert.match(String(clientOpen.fields.serverSoftware), /^websockets-ts\//);
      assert.equal(clientOpen.fields.clientIp, "203.0.113.7");
      assert.equal(clientOpen.fields.connectionId, ws.id);
      assert.equal(
        only(clientRecords, "connection closed", "info").fields.serverSoftware,
        clientOpen.fields.serverSoftware,
      );
    });

    test("topics log slow subscribers, failed writes and backplane trouble; each publish at DEBUG", async () => {
      const s = makeSink();
      const broker = new FakeBroker();
      const subscribed = async (ws: ServerConnection) => {
        await ws.subscribe("t");
        await ws.send("ready");
        for await (const message of ws) {
          if (message !== "die") continue;
          // The transport is gone but the connection doesn't know yet.
          ws.writer.transport.destroy();
          ws.server.publish("t", "too late");
        }
      };
      const join = async (port: number) => {
        const ws = await connect(`ws://${HOST}:${port}/`, { logger: false });
        assert.equal(await ws.recv(), "ready");
        return ws;
      };
      // A: on a (fake) Redis, skipping slow subscribers.
      const a = await startServer(s, subscribed, {
        slowSubscriberLimit: 0,
        slowSubscriber: "skip",
        backplane: redisBackplane({
          client: new FakeNodeRedis(broker) as unknown as RedisClientLike,
        }),
      });
      const a1 = await join(a.port);
      a.server.publish("t", "one");
      a.server.publish("t", "skipped");
      broker.publish("websockets-ts:t", Buffer.from("junk"), false);
      const node = Buffer.alloc(8, 7);
      broker.publish("websockets-ts:t", encodeEnvelope(node, 1, Buffer.from("x"), false), false);
      broker.publish("websockets-ts:t", encodeEnvelope(node, 3, Buffer.from("y"), false), false);
      await waitForRecord(
        s,
        `redis (redis) backplane: 1 message(s) from node ${node.toString("hex")} on "t" were lost`,
      );
      broker.stop();
      await waitForRecord(
        s,
        "redis (redis) backplane lost: Error: Socket closed unexpectedly; delivering locally, messages to other nodes are lost until it is back",
      );
      broker.start();
      await waitForRecord(
        s,
        "redis (redis) backplane is back; resubscribed to 1 topic(s); 0 message(s) published meanwhile were lost",
      );
      // B: closing slow subscribers, with a backplane that fails to unsubscribe.
      const b = await startServer(s, subscribed, {
        slowSubscriberLimit: 0,
        backplane: {
          name: "broken",
          start: async () => {},
          subscribe: async () => {},
          unsubscribe: () => fail("no unsubscribe today"),
          publish: () => {},
          close: async () => {},
        },
      });
      const b1 = await join(b.port);
      b.server.publish("t", "one");
      b.server.publish("t", "closes");
      await waitForRecord(s, "broken backplane: unsubscribe failed: Error: no unsubscribe today");
      await b1.closed;
      // C: a write that fails.
      const c = await startServer(s, subscribed);
      const c1 = await join(c.port);
      await c1.send("die");
      await waitForRecord(
        s,
        'skipped publish to "t": failed to write message: Error: transport is closed: the connection is being torn down',
      );
      await Promise.all([a1.close(), c1.closed]);
      await Promise.all([a.server.close(), b.server.close(), c.server.close()]);

      const records = s.records();
      const warn = (msg: string) => only(records, msg, "warn");
      warn('slow subscriber skipped: write buffer over 0 bytes on publish to "t"');
      warn('slow subscriber closed: write buffer over 0 bytes on publish to "t"');
      warn(
        'redis (redis) backplane: dropped malformed message on "websockets-ts:t": 4 bytes is shorter than the 18-byte header',
      );
      only(
        records,
        "redis (redis) backplane is back; resubscribed to 1 topic(s); 0 message(s) published meanwhile were lost",
        "info",
      );
      const published = records.filter((r) => r.msg === '> publish to "t": 1 local subscriber(s)');
      assert.ok(published.length >= 4);
      assert.ok(published.every((r) => r.level === "debug"));
      // Per connection: the records carry the subscriber's fields.
      assert.equal(
        typeof records.find((r) => r.msg.startsWith("slow subscriber"))?.fields.connectionId,
        "string",
      );
    });

    test("WARN for the usual mistakes (test/node/mistakes.test.ts), INFO for leaving the reconnection loop", async () => {
      const s = makeSink();
      const c = makeSink();
      const warned = (pattern: RegExp): Promise<Rec> => waitForRecord(s, pattern);
      // Messages unread after break: reading pauses at the third.
      const a = await startServer(
        s,
        async (ws) => {
          for await (const _ of ws) break;
          await ws.send("ready");
          await ws.closed;
        },
        { maxQueue: 2, pingInterval: null },
      );
      const a1 = await connect(a.url, { logger: c.logger });
      await a1.send("first");
      assert.equal(await a1.recv(), "ready");
      for (let i = 0; i < 5; i++) await a1.send(`unread ${i}`);
      const unread = await warned(/^reading paused: /);
      assert.equal(unread.msg, logMessages.unreadAfterLoop(3));
      await a1.terminate();
      // A send after the client left, not awaited.
      const b = await startServer(s, async (ws) => {
        await ws.closed;
        void ws.send("too late");
      });
      const b1 = await connect(b.url, { logger: c.logger });
      await b1.close();
      const lost = await warned(/^a send failed and nothing awaited it/);
      assert.match(lost.msg, /: ConnectionClosedOK: /);
      // Sends not awaited, to a client that can't read them all.
      const d = await startServer(
        s,
        async (ws) => {
          const chunk = Buffer.alloc(65_536);
          for (
            let i = 0;
            i < 400 && !s.records().some((r) => VALUED.sendsPiling.test(r.msg));
            i++
          ) {
            ws.send(chunk).catch(() => {});
          }
          await ws.terminate();
        },
        // Uncompressed: zeros would deflate to nothing.
        { writeLimit: 1024, compression: null },
      );
      const d1 = await connect(d.url, { logger: c.logger });
      await d1.closed;
      const piling = await warned(VALUED.sendsPiling);
      assert.match(piling.msg, /^100 send\(\) calls wait/);
      for (const record of [unread, lost, piling]) {
        assert.equal(record.level, "warn");
        assert.equal(typeof record.fields.connectionId, "string");
      }
      // Leaving the reconnection loop.
      for await (const ws of connect(a.url, { logger: c.logger })) {
        assert.equal(ws.state, 1);
        break;
      }
      only(c.records(), logMessages.reconnectLoopLeft, "info");
      await Promise.all([a.server.close(), b.server.close(), d.server.close()]);
    });

    test("the tests above saw every message of the catalogue", () => {
      const seen = new Set(sinks.flatMap((sink) => sink.records().map((r) => r.msg)));
      for (const [key, message] of Object.entries(logMessages)) {
        if (typeof message === "string") {
          assert.ok(seen.has(message), `never logged: ${message}`);
        } else {
          const pattern = VALUED[key];
          assert.ok(pattern !== undefined, `no pattern for logMessages.${key}`);
          assert.ok(
            [...seen].some((msg) => pattern.test(msg)),
            `never logged: logMessages.${key}`,
          );
        }
      }
    });
  });
}

// --- Formats, cost, diagnostics ----------------------------------------------------

describe("the built-in logger", () => {
  for (const format of ["text", "json"] as const) {
    test(`writes lifecycle, connection and reconnection records in ${format}`, async () => {
      const lines: string[] = [];
      const logger = createLogger({
        name: "app",
        level: "debug",
        format,
        stream: { write: (chunk: string) => void lines.push(chunk) },
      });
      const server = await serve(echo, { host: HOST, port: 0, logger });
      const port = portOf(server);
      const ws = await connect(`ws://${HOST}:${port}/`, { logger });
      await ws.send("hello");
      await ws.recv();
      await ws.close();
      await server.close();
      const refused = await closedPort();
      await assert.rejects(async () => {
        for await (const _ of connect(`ws://${HOST}:${refused}/`, { logger, backoff: [0] })) break;
      });

      const text = lines.join("");
      const records = text.trimEnd().split("\n");
      assert.equal(records.length, lines.length, "one line per record");
      const lifecycle = [
        `server listening on ${HOST}:${port}`,
        "server closing",
        "server closed",
        `connect failed; reconnecting in 0.0 seconds: Error: connect ECONNREFUSED ${HOST}:${refused}`,
      ];
      if (format === "json") {
        const parsed = records.map((line) => JSON.parse(line));
        for (const record of parsed) {
          assert.match(record.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.ok(["debug", "info"].includes(record.level), record.level);
          assert.ok(["websockets.server", "websockets.client"].includes(record.logger));
          assert.equal(typeof record.msg, "string");
        }
        for (const msg of lifecycle) {
          const record = parsed.find((r) => r.msg === msg);
          assert.ok(record !== undefined, msg);
          assert.deepEqual(Object.keys(record), ["time", "level", "logger", "msg"]);
        }
        const closed = parsed.find(
          (r) => r.msg === "connection closed" && r.logger === "websockets.server",
        );
        assert.equal(closed.level, "info");
        assert.equal(closed.code, 1000);
        assert.equal(typeof closed.connectionId, "string");
      } else {
        const RECORD =
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO) (websockets\.server|websockets\.client) (.+)$/;
        for (const line of records) assert.match(line, RECORD);
        for (const msg of lifecycle) {
          assert.ok(
            records.some((line) => line.replace(RECORD, "$3") === msg),
            `no bare ${JSON.stringify(msg)} record:\n${text}`,
          );
        }
        assert.ok(
          records.some((line) =>
            /INFO websockets\.server connection closed connectionId=\S+ remoteAddress=127\.0\.0\.1:\d+ code=1000 reason="" /.test(
              line,
            ),
          ),
        );
      }
    });
  }
});

test("with INFO and DEBUG off, the library formats and allocates nothing for them", async () => {
  // Calls at a disabled level may only pass a constant of the catalogue:
  // no message built, no fields object.
  const constants = new Set<unknown>(
    Object.values(logMessages).filter((m) => typeof m === "string"),
  );
  const calls: unknown[][] = [];
  const errors: unknown[][] = [];
  const record =
    (into: unknown[][]) =>
    (...args: unknown[]) =>
      void into.push(args);
  const logger: LoggerLike = {
    debug: record(calls),
    info: record(calls),
    warn: record(errors),
    error: record(errors),
    isLevelEnabled: (level) => level === "warn" || level === "error" || level === "fatal",
    child() {
      return this;
    },
  };
  const { server, port, url } = await startServer({ logger, records: () => [] }, echo, {
    pingInterval: 20,
    origins: [null],
    processRequest: (ws, request) =>
      request.path === "/healthz" ? ws.respond(200, "OK\n") : undefined,
  });
  const ws = await connect(url, { logger });
  await ws.send("hello");
  await ws.recv();
  await new Promise((resolve) => setTimeout(resolve, 60)); // a few keepalive pings
  await ws.close();
  await assert.rejects(connect(url, { logger, origin: "https://evil.example" }), InvalidStatus);
  await exchange(port, `GET /healthz HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  await exchange(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  await server.close();
  const refused = await closedPort();
  await assert.rejects(async () => {
    for await (const _ of connect(`ws://${HOST}:${refused}/`, { logger, backoff: [0] })) break;
  });
  assert.deepEqual(errors, []);
  assert.ok(calls.length > 0);
  for (const args of calls) {
    assert.ok(args.length === 1 && constants.has(args[0]), `formatted: ${JSON.stringify(args)}`);
  }
});

test("a diagnostics_channel subscriber sees open, ping, pong, close and the handshake of real connections", async () => {
  const seen: { channel: string; message: Record<string, unknown> }[] = [];
  const listeners = new Map<string, (message: unknown) => void>();
  for (const name of [
    "websockets:open",
    "websockets:close",
    "websockets:ping",
    "websockets:pong",
  ]) {
    const listener = (message: unknown) =>
      void seen.push({ channel: name, message: message as Record<string, unknown> });
    listeners.set(name, listener);
    subscribe(name, listener);
  }
  const traced: { event: string; context: Record<string, unknown> }[] = [];
  const handshake = tracingChannel("websockets:handshake");
  const tracers = Object.fromEntries(
    ["start", "end", "asyncStart", "asyncEnd", "error"].map((event) => [
      event,
      (context: unknown) =>
        void traced.push({ event, context: context as Record<string, unknown> }),
    ]),
  ) as unknown as Parameters<typeof handshake.subscribe>[0];
  handshake.subscribe(tracers);
  try {
    let serverWs: ServerConnection | null = null;
    const { server, url } = await startServer(
      { logger: createCaptureLogger("silent").logger, records: () => [] },
      async (ws) => {
        serverWs = ws;
        await echo(ws);
      },
      { pingInterval: 20, origins: [null] },
    );
    const ws = await connect(url, { logger: false });
    assert.equal(await ws.ping("hi"), ws.latency);
    // Wait for a keepalive ping from the server, answered by the client.
    const deadline = Date.now() + 5000;
    while (
      !seen.some((e) => e.channel === "websockets:pong" && e.message.connection === serverWs)
    ) {
      assert.ok(Date.now() < deadline, "no keepalive pong within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await ws.close();
    await assert.rejects(
      connect(url, { logger: false, origin: "https://evil.example" }),
      InvalidStatus,
    );
    await server.close();
    const sws = serverWs as ServerConnection | null;
    assert.ok(sws !== null);
    const about = (connection: Connection) =>
      seen.filter((e) => e.message.connection === connection).map((e) => e.channel);

    // The client: open, the server's keepalive ping, the pong of its own ping, close.
    const clientEvents = about(ws);
    assert.equal(clientEvents[0], "websockets:open");
    assert.equal(clientEvents.at(-1), "websockets:close");
    assert.ok(clientEvents.includes("websockets:ping"));
    const clientPong = seen.find(
      (e) => e.channel === "websockets:pong" && e.message.connection === ws,
    );
    assert.deepEqual(clientPong?.message.payload, Buffer.from("hi"));
    // The server: open, the client's ping, its keepalive pong, close.
    const serverEvents = about(sws);
    assert.equal(serverEvents[0], "websockets:open");
    assert.equal(serverEvents.at(-1), "websockets:close");
    const serverPing = seen.find(
      (e) => e.channel === "websockets:ping" && e.message.connection === sws,
    );
    assert.deepEqual(serverPing?.message.payload, Buffer.from("hi"));
    for (const connection of [ws, sws]) {
      const close = seen.find(
        (e) => e.channel === "websockets:close" && e.message.connection === connection,
      );
      assert.deepEqual(
        { ...close?.message, connection: undefined },
        { connection: undefined, code: 1000, reason: "" },
      );
    }

    // The handshakes: the client's and the server's, successful then failed.
    const clientTrace = traced.filter((t) => t.context.side === "client");
    const serverTrace = traced.filter((t) => t.context.side === "server");
    assert.deepEqual(
      clientTrace.map((t) => t.event),
      ["start", "end", "asyncStart", "asyncEnd", "start", "end", "error", "asyncStart", "asyncEnd"],
    );
    assert.equal(clientTrace[0].context.uri, url);
    assert.equal(clientTrace[3].context.result, ws);
    assert.ok(clientTrace[6].context.error instanceof InvalidStatus);
    assert.deepEqual(
      serverTrace.map((t) => t.event).filter((e) => e !== "end"),
      ["start", "asyncStart", "asyncEnd", "start", "error", "asyncStart", "asyncEnd"],
    );
    assert.equal(
      serverTrace[0].context.remoteAddress,
      `${HOST}:${(ws.localAddress as { port: number }).port}`,
    );
    assert.equal(serverTrace.find((t) => t.event === "asyncEnd")?.context.result, sws);
  } finally {
    for (const [name, listener] of listeners) unsubscribe(name, listener);
    handshake.unsubscribe(tracers);
  }
});

test("the default logger is not called per message: 1 or 300 messages make the same calls", async () => {
  // Counts every call into the logger and its children, at any level.
  async function callsFor(count: number): Promise<number> {
    let calls = 0;
    const counting = (logger: LoggerLike): LoggerLike => {
      const method =
        (level: "debug" | "info" | "warn" | "error") =>
        (...args: unknown[]) => {
          calls++;
          logger[level](...(args as [unknown]));
        };
      return {
        debug: method("debug"),
        info: method("info"),
        warn: method("warn"),
        error: method("error"),
        isLevelEnabled: (level) => {
          calls++;
          return logger.isLevelEnabled?.(level) ?? false;
        },
        child: (bindings) => {
          calls++;
          return counting(logger.child!(bindings));
        },
      };
    };
    // The default: the built-in logger at WARN, here writing nowhere.
    const logger = counting(createLogger({ name: "app", stream: { write: () => {} } }));
    const { server, url } = await startServer({ logger, records: () => [] }, echo);
    const ws = await connect(url, { logger });
    for (let i = 0; i < count; i++) {
      await ws.send("ping");
      await ws.recv();
    }
    await ws.close();
    await server.close();
    return calls;
  }
  const one = await callsFor(1);
  assert.ok(one > 0);
  assert.equal(await callsFor(300), one);
});

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
