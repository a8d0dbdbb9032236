// The listener of `new WebSocketServer({ port })` (src/ws/listener.ts):
// upgrade requests read by our parser, with a real IncomingMessage where
// one is read, and what it leaves to node:http. What the differential
// suite compares with ws (verifyClient's req, headers, wsClientError,
// early frames, closing) runs on this listener too.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { once } from "node:events";
import { IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { test } from "node:test";
import { WebSocket as WsWebSocket } from "ws";
import { type WebSocket, WebSocketServer, type WsServerOptions } from "../../src/ws/index.ts";
import { readResponseHead, tcpConnect, upgradeRequest, withTimeout } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

async function listening(options: Partial<WsServerOptions> = {}): Promise<{
  wss: WebSocketServer;
  port: number;
}> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await once(wss, "listening");
  return { wss, port: (wss.address() as AddressInfo).port };
}

async function closeServer(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
}

/** Writes `bytes` on a new connection; resolves with everything read until the server closes it. */
async function exchange(port: number, bytes: string): Promise<string> {
  const socket = await tcpConnect(port);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.write(bytes);
  await withTimeout(once(socket, "close"), 2000, "the server kept the connection open");
  return Buffer.concat(chunks).toString("latin1");
}

test("a connection listener reading req gets node:http's IncomingMessage for the request", async () => {
  const { wss, port } = await listening();
  const connected = once(wss, "connection") as Promise<[WebSocket, IncomingMessage]>;
  const client = new WsWebSocket(`ws://127.0.0.1:${port}/chat?room=1`, ["a", "b"], {
    headers: { "X-Twice": "1" },
  });
  const [ws, req] = await connected;
  ok(req instanceof IncomingMessage);
  deepStrictEqual(
    {
      method: req.method,
      url: req.url,
      version: req.httpVersion,
      protocol: req.headers["sec-websocket-protocol"],
      custom: req.headers["x-twice"],
      upgrade: req.headers.upgrade,
      socket: typeof req.socket.remotePort,
      protocolChosen: ws.protocol,
    },
    {
      method: "GET",
      url: "/chat?room=1",
      version: "1.1",
      protocol: "a,b",
      custom: "1",
      upgrade: "websocket",
      socket: "number",
      protocolChosen: "a",
    },
  );
  ok(req.rawHeaders.includes("X-Twice"));
  await once(client, "open");
  client.close();
  await once(ws, "close");
  await closeServer(wss);
});

test("a listener declared with one parameter gets req too, and echoes", async () => {
  const { wss, port } = await listening();
  let request: unknown = null;
  wss.on("connection", function (ws: WebSocket) {
    // biome-ignore lint/complexity/noArguments: req must reach a listener that declares one parameter, as in ws
    request = arguments[1];
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  const client = new WsWebSocket(`ws://127.0.0.1:${port}/`);
  await once(client, "open");
  client.send("ping me");
  const [data] = (await once(client, "message")) as [Buffer];
  equal(data.toString(), "ping me");
  ok(request instanceof IncomingMessage);
  equal((request as IncomingMessage).url, "/");
  client.close();
  await once(client, "close");
  await closeServer(wss);
});

test("a subclass's shouldHandle() gets the request, as in ws", async () => {
  const seen: string[] = [];
  class OnlyRooms extends WebSocketServer {
    override shouldHandle(req: IncomingMessage): boolean {
      seen.push(`${req instanceof IncomingMessage} ${req.url}`);
      return req.url?.startsWith("/room") === true;
    }
  }
  const wss = new OnlyRooms({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const port = (wss.address() as AddressInfo).port;
  const refused = await exchange(port, upgradeRequest("127.0.0.1", port).toString("latin1"));
  ok(refused.startsWith("HTTP/1.1 400 "), refused);
  const client = new WsWebSocket(`ws://127.0.0.1:${port}/room/1`);
  await once(client, "open");
  deepStrictEqual(seen, ["true /", "true /room/1"]);
  client.terminate();
  await closeServer(wss);
});

test("a request that arrives in pieces is read by node:http, then upgraded", async () => {
  const { wss, port } = await listening();
  const connected = once(wss, "connection") as Promise<[WebSocket, IncomingMessage]>;
  const socket = await tcpConnect(port);
  const request = upgradeRequest("127.0.0.1", port, { path: "/slow" });
  socket.write(request.subarray(0, 20));
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.write(request.subarray(20));
  const { response } = await readResponseHead(socket);
  equal(response.status, 101);
  const [ws, req] = await connected;
  equal(req.url, "/slow");
  socket.destroy();
  await once(ws, "close");
  await closeServer(wss);
});

test("plain requests get 426 from node:http, kept alive between them as ws's server does", async () => {
  const { wss, port } = await listening();
  const socket: Socket = await tcpConnect(port);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.write(
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  await withTimeout(once(socket, "close"), 2000, "the server kept the connection open");
  const text = Buffer.concat(chunks).toString("latin1");
  equal(text.match(/HTTP\/1\.1 426 Upgrade Required/g)?.length, 2, text);
  ok(text.includes("Content-Type: text/plain"), text);
  ok(text.includes("\r\n\r\nUpgrade Required"), text);
  await closeServer(wss);
});

test("a request our parser refuses is answered by node:http", async () => {
  const { wss, port } = await listening();
  // A bare LF ends lines here: our parser refuses it; node:http answers.
  const answer = await exchange(port, "GET / HTTP/1.1\nHost: x\nConnection: close\n\n");
  ok(/^HTTP\/1\.1 (400|426) /.test(answer), answer);
  await closeServer(wss);
});

test("a connection that sends nothing is dropped after openTimeout", async () => {
  const { wss, port } = await listening({ openTimeout: 100 });
  const socket = await tcpConnect(port);
  socket.resume();
  await withTimeout(once(socket, "close"), 2000, "the silent connection was kept");
  await closeServer(wss);
});

test("close() stops listening and calls back once clients are gone", async () => {
  const { wss, port } = await listening();
  const connected = once(wss, "connection") as Promise<[WebSocket]>;
  const client = new WsWebSocket(`ws://127.0.0.1:${port}/`);
  const [ws] = await connected;
  await once(client, "open");
  let closed = false;
  const done = new Promise<void>((resolve) =>
    wss.close(() => {
      closed = true;
      resolve();
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  equal(closed, false);
  client.close(1000);
  await once(ws, "close");
  await withTimeout(done, 2000, "close() never called back");
  equal(wss.address(), null);
});

test("verifyClient, handleProtocols and headers listeners get the request with its headers", async () => {
  const seen: string[] = [];
  const { wss, port } = await listening({
    verifyClient: (info: { origin: string | undefined; req: IncomingMessage }) => {
      seen.push(`verify ${info.origin} ${info.req.headers["x-a"]}`);
      return true;
    },
    handleProtocols: (protocols: Set<string>, req: IncomingMessage) => {
      seen.push(`protocols ${[...protocols].join("+")} ${req.headers["x-a"]}`);
      return "two";
    },
  });
  wss.on("headers", (_lines: string[], req: IncomingMessage) => {
    seen.push(`headers ${req.url}`);
  });
  const client = new WsWebSocket(`ws://127.0.0.1:${port}/h`, ["one", "two"], {
    origin: "https://app.example",
    headers: { "X-A": "b" },
  });
  await once(client, "open");
  equal(client.protocol, "two");
  deepStrictEqual(seen, ["verify https://app.example b", "protocols one+two b", "headers /h"]);
  client.terminate();
  await closeServer(wss);
});
