/**
 * A server attached to an `http.Server` (node:http parses each request
 * before `handleUpgrade()` hands it over) answers bad handshake requests as
 * its own listener does, which parses them itself: the same status line,
 * headers and body, the same log records, the same closed connection.
 * Each request is sent, byte for byte, to both.
 */

import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { type Server, type ServerConnection, serve } from "../../src/node/server.ts";
import { type CaptureLogger, createCaptureLogger } from "../helpers/capture-logger.ts";
import { closeFrame, exchange } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const echo = async (ws: ServerConnection): Promise<void> => {
  for await (const message of ws) await ws.send(message);
};

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** A handshake request with `lines` in place of the usual header lines, when given. */
function request(
  options: { requestLine?: string; lines?: string[]; extra?: string[]; after?: string } = {},
): string {
  const lines = options.lines ?? [
    "Host: example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${KEY}`,
    "Sec-WebSocket-Version: 13",
  ];
  const head = [options.requestLine ?? "GET /chat HTTP/1.1", ...lines, ...(options.extra ?? [])];
  return `${head.join("\r\n")}\r\n\r\n${options.after ?? ""}`;
}

// Requests node:http hands to its `upgrade` listeners that a WebSocket
// server must refuse, and the status each gets.
const CASES: { name: string; data: string; status: number }[] = [
  { name: "two Host fields", data: request({ extra: ["Host: example.org"] }), status: 400 },
  {
    name: "no Host field",
    data: request({
      lines: [
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${KEY}`,
        "Sec-WebSocket-Version: 13",
      ],
    }),
    status: 400,
  },
  {
    name: "a Host that isn't a host",
    data: request({
      lines: [
        "Host: exa mple.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${KEY}`,
        "Sec-WebSocket-Version: 13",
      ],
    }),
    status: 400,
  },
  {
    name: "two Authorization fields",
    data: request({ extra: ["Authorization: Basic YTpi", "Authorization: Basic Yzpk"] }),
    status: 400,
  },
  {
    name: "one header over the default limit of 128",
    data: request({ extra: Array.from({ length: 124 }, (_, i) => `X-Field-${i}: ${i}`) }),
    status: 431,
  },
  {
    name: "a header line over 8192 bytes",
    data: request({ extra: [`X-Long: ${"a".repeat(8190)}`] }),
    status: 431,
  },
  {
    name: "a request line over 8192 bytes",
    data: request({ requestLine: `GET /${"a".repeat(8190)} HTTP/1.1` }),
    status: 414,
  },
  { name: "HTTP/1.0", data: request({ requestLine: "GET /chat HTTP/1.0" }), status: 400 },
  {
    name: "a body with Content-Length",
    data: request({ extra: ["Content-Length: 5"], after: "hello" }),
    status: 400,
  },
  {
    name: "a chunked body",
    data: request({ extra: ["Transfer-Encoding: chunked"], after: "5\r\nhello\r\n0\r\n\r\n" }),
    status: 400,
  },
  {
    name: "no Sec-WebSocket-Key",
    data: request({
      lines: ["Host: example.com", "Upgrade: websocket", "Connection: Upgrade"],
      extra: ["Sec-WebSocket-Version: 13"],
    }),
    status: 400,
  },
  {
    name: "a POST",
    data: request({ requestLine: "POST /chat HTTP/1.1", extra: ["Content-Length: 0"] }),
    status: 400,
  },
];

/** What a client sees of an answer, and what the server logged; nothing that varies per run. */
interface Answer {
  statusLine: string;
  headers: string[];
  body: string;
  closedByServer: boolean;
  logs: string[];
}

async function answer(
  port: number,
  data: string | Buffer,
  capture: CaptureLogger,
): Promise<Answer> {
  capture.clear();
  const { received, closedByServer } = await exchange(port, data);
  const text = received.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  assert.notEqual(end, -1, `no response head in ${JSON.stringify(text)}`);
  const [statusLine, ...headers] = text.slice(0, end).split("\r\n");
  // The rejection is logged once the transport closed, maybe after the
  // client saw it close: wait for it (bounded), then for the log to settle.
  const deadline = Date.now() + 3000;
  let count = -1;
  while (Date.now() < deadline) {
    const rejected = capture.records.some((record) =>
      /^connection (rejected|closed)/.test(record.msg),
    );
    if (rejected && capture.records.length === count) break;
    count = rejected ? capture.records.length : -1;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const varies = (line: string): boolean => /^[<>] Date: /i.test(line);
  return {
    statusLine,
    headers: headers.filter((line) => !/^Date: /i.test(line)),
    body: text.slice(end + 4),
    closedByServer,
    logs: capture.records
      .filter((record) => !varies(record.msg))
      .map((record) => {
        const err =
          record.err instanceof Error
            ? ` [${record.err.constructor.name}: ${record.err.message}]`
            : "";
        return `${record.level} ${record.msg}${err}`;
      }),
  };
}

describe("a server attached to an http.Server answers bad requests as its own listener does", () => {
  const own = createCaptureLogger("debug");
  const attached = createCaptureLogger("debug");
  let ownServer: Server;
  let attachedServer: Server;
  let http: HttpServer;
  let httpPort = 0;

  before(async () => {
    ownServer = await serve(echo, { host: "127.0.0.1", port: 0, logger: own.logger });
    http = createHttpServer();
    attachedServer = await serve(echo, { server: http, logger: attached.logger });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const address = http.address();
    assert.ok(address !== null && typeof address === "object");
    httpPort = address.port;
  });

  after(async () => {
    await ownServer.close();
    await attachedServer.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  for (const { name, data, status } of CASES) {
    it(`${name}: ${status}`, async () => {
      const expected = await answer(ownServer.port, data, own);
      const actual = await answer(httpPort, data, attached);
      assert.equal(expected.statusLine.split(" ")[1], String(status), expected.statusLine);
      assert.ok(expected.closedByServer);
      assert.ok(
        expected.logs.some((line) => line.startsWith("info connection rejected")),
        expected.logs.join("\n"),
      );
      assert.deepEqual(actual, expected);
    });
  }

  it("a good request, with a close frame right behind it: 101, then the closing handshake", async () => {
    const data = Buffer.concat([Buffer.from(request(), "latin1"), closeFrame(1000, "bye")]);
    const expected = await answer(ownServer.port, data, own);
    const actual = await answer(httpPort, data, attached);
    assert.equal(expected.statusLine, "HTTP/1.1 101 Switching Protocols");
    assert.ok(expected.logs.includes("debug < GET /chat HTTP/1.1"), expected.logs.join("\n"));
    assert.ok(expected.logs.some((line) => line.startsWith("info connection closed")));
    assert.deepEqual(actual, expected);
  });
});
