// websockets-ts/ws's WebSocketServer where it goes beyond what the
// differential suite compares with ws: its options, the core's logger,
// closing, and sharing a port with an HTTP application.
import { deepStrictEqual, equal, match, ok, throws } from "node:assert/strict";
import { once } from "node:events";
import { createServer, get } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocket as WsWebSocket } from "ws";
import { type WebSocket, WebSocketServer } from "../../src/ws/index.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { readResponseHead, tcpConnect, upgradeRequest } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

async function closeServer(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

test("exactly one of port, server and noServer", () => {
  const message = /One and only one of the "port", "server", or "noServer" options/;
  throws(() => new WebSocketServer({}), message);
  throws(() => new WebSocketServer({ port: 0, noServer: true }), message);
  throws(() => new WebSocketServer({ server: createServer(), noServer: true }), message);
});

test("without clientTracking, clients is undefined, as in ws", async () => {
  const wss = new WebSocketServer({ noServer: true, clientTracking: false });
  equal(wss.clients, undefined);
  await closeServer(wss);
});

test("permessage-deflate is off unless enabled, as in ws", async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const client = new WsWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [[server]] = await Promise.all([
    once(wss, "connection") as Promise<[WebSocket]>,
    once(client, "open"),
  ]);
  deepStrictEqual([client.extensions, server.extensions], ["", ""]);
  client.terminate();
  await closeServer(wss);
});

test("maxPayload 0 lifts the limit; the default is ws's 100 MiB", async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 0 });
  await once(wss, "listening");
  const client = new WsWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [[server]] = await Promise.all([
    once(wss, "connection") as Promise<[WebSocket]>,
    once(client, "open"),
  ]);
  const got = once(server, "message");
  client.send(Buffer.alloc(2 * 1024 * 1024));
  equal(((await got)[0] as Buffer).length, 2 * 1024 * 1024);
  client.terminate();
  await closeServer(wss);
});

test("the core's logger, when given one, logs connections", async () => {
  const capture = createCaptureLogger("info");
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, logger: capture.logger });
  await once(wss, "listening");
  const client = new WsWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [[server]] = await Promise.all([
    once(wss, "connection") as Promise<[WebSocket]>,
    once(client, "open"),
  ]);
  client.close(1000);
  await once(server, "close");
  ok(capture.messages("info").includes("connection open"), capture.messages().join("\n"));
  ok(capture.messages("info").includes("connection closed"), capture.messages().join("\n"));
  await closeServer(wss);
});

test("a closed server answers upgrades with 503, and a second close() reports it", async () => {
  const wss = new WebSocketServer({ noServer: true });
  const http = createServer();
  http.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const port = (http.address() as AddressInfo).port;
  const socket = await tcpConnect(port);
  socket.write(upgradeRequest("127.0.0.1", port));
  const { response } = await readResponseHead(socket);
  equal(response.status, 503);
  socket.destroy();
  const [error] = await new Promise<[Error | undefined]>((resolve) =>
    wss.close((e) => resolve([e])),
  );
  match(String(error?.message), /The server is not running/);
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

test("attached to an application's server: HTTP requests stay the app's, listening is forwarded", async () => {
  const http = createServer((_req, res) => res.end("app"));
  const wss = new WebSocketServer({ server: http, path: "/ws" });
  const listening = once(wss, "listening");
  http.listen(0, "127.0.0.1");
  await listening;
  const port = (http.address() as AddressInfo).port;
  const body = await new Promise<string>((resolve, reject) => {
    get(`http://127.0.0.1:${port}/`, { agent: false }, (res) => {
      let text = "";
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => resolve(text));
    }).on("error", reject);
  });
  equal(body, "app");
  const client = new WsWebSocket(`ws://127.0.0.1:${port}/ws`);
  await once(client, "open");
  client.close(1000);
  await once(client, "close");
  await closeServer(wss);
  // The application's server is the application's to close.
  ok(http.listening);
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

test("a server with port answers plain HTTP requests with 426", async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const status = await new Promise<number>((resolve, reject) => {
    get(`http://127.0.0.1:${(wss.address() as AddressInfo).port}/`, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
  equal(status, 426);
  await closeServer(wss);
});
