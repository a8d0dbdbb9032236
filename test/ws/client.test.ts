// The client side of websockets-ts/ws where it goes beyond what the
// differential suite compares with ws: its options (headers, origin,
// handshakeTimeout, createConnection, agent, Unix sockets) and URL forms.
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import {
  createServer as createHttpServer,
  Agent as HttpAgent,
  type IncomingMessage,
} from "node:http";
import { type AddressInfo, createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { WebSocketServer as WsServer } from "ws";
import { WebSocket } from "../../src/ws/index.ts";
import { connectProxy } from "../helpers/connect-proxy.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

async function wsServer(
  perMessageDeflate = false,
): Promise<{ wss: WsServer; port: number; close(): Promise<void> }> {
  const wss = new WsServer({ host: "127.0.0.1", port: 0, perMessageDeflate });
  await once(wss, "listening");
  return {
    wss,
    port: (wss.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

test("headers and origin go with the request; http: URLs become ws:", async () => {
  const server = await wsServer();
  const accepted = once(server.wss, "connection") as Promise<[unknown, IncomingMessage]>;
  const ws = new WebSocket(`http://127.0.0.1:${server.port}/p?q=1`, {
    headers: { "X-Token": "t", "X-Many": ["a", "b"] },
    origin: "https://example.test",
  });
  equal(ws.url, `ws://127.0.0.1:${server.port}/p?q=1`);
  const [, req] = await accepted;
  await once(ws, "open");
  deepStrictEqual(
    [req.url, req.headers["x-token"], req.headers["x-many"], req.headers.origin],
    ["/p?q=1", "t", "a, b", "https://example.test"],
  );
  ws.close();
  await once(ws, "close");
  await server.close();
});

test("handshakeTimeout: a server that never answers fails the handshake with ws's message", async () => {
  // Reads and never answers (reading lets it see the client leave).
  const silent = createServer((socket) => socket.on("error", () => {}).resume());
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  const ws = new WebSocket(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
    handshakeTimeout: 100,
  });
  const events: string[] = [];
  ws.on("error", (error) => events.push(`error ${error.message}`));
  const code = await new Promise<number>((resolve) => ws.on("close", resolve));
  deepStrictEqual([events, code], [["error Opening handshake has timed out"], 1006]);
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

test("createConnection opens the transport", async () => {
  const server = await wsServer();
  const opened: string[] = [];
  const ws = new WebSocket(`ws://example.invalid:${server.port}/`, {
    createConnection: ({ host, port }) => {
      opened.push(`${host}:${port}`);
      return netConnect({ host: "127.0.0.1", port });
    },
  });
  await once(ws, "open");
  deepStrictEqual(opened, [`example.invalid:${server.port}`]);
  ws.terminate();
  await once(ws, "close");
  await server.close();
});

test("ws+unix: URLs connect to a Unix socket, with the request path after the colon", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wsts-"));
  const path = join(dir, "sock");
  const http = createHttpServer();
  const wss = new WsServer({ server: http });
  http.listen(path);
  await once(http, "listening");
  const accepted = once(wss, "connection") as Promise<[unknown, IncomingMessage]>;
  const ws = new WebSocket(`ws+unix://${path}:/room?x=1`);
  const [, req] = await accepted;
  await once(ws, "open");
  equal(req.url, "/room?x=1");
  ws.close(1000);
  await once(ws, "close");
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await new Promise<void>((resolve) => http.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

test("only protocol version 13 is spoken", () => {
  throws(
    () => new WebSocket("ws://127.0.0.1:1/", { protocolVersion: 8 }),
    /Unsupported protocol version: 8 \(supported versions: 13\)/,
  );
});

test("a subprotocol can be given as a string, options as the second argument", async () => {
  const server = await wsServer(true);
  const one = new WebSocket(`ws://127.0.0.1:${server.port}`, "chat");
  const two = new WebSocket(`ws://127.0.0.1:${server.port}`, { perMessageDeflate: false });
  await Promise.all([once(one, "open"), once(two, "open")]);
  deepStrictEqual(
    [one.protocol, one.extensions, two.extensions],
    ["chat", "permessage-deflate", ""],
  );
  one.terminate();
  two.terminate();
  await server.close();
});

test("a proxy agent's proxy is used: agent: new HttpsProxyAgent(url) goes through the proxy", async () => {
  const server = await wsServer();
  const proxy = await connectProxy();
  // What https-proxy-agent and http-proxy-agent expose: the proxy as a URL.
  const agent = { proxy: new URL(`http://127.0.0.1:${proxy.port}`) };
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { agent });
  await once(ws, "open");
  deepStrictEqual(proxy.seen, [`CONNECT 127.0.0.1:${server.port} HTTP/1.1`]);
  // Any other agent is not used: the connection is direct.
  const direct = new WebSocket(`ws://127.0.0.1:${server.port}/`, { agent: new HttpAgent() });
  await once(direct, "open");
  equal(proxy.seen.length, 1);
  ws.terminate();
  direct.terminate();
  await Promise.all([once(ws, "close"), once(direct, "close")]);
  await proxy.close();
  await server.close();
});
