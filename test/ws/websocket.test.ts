// websockets-ts/ws's WebSocket where it goes beyond what the differential
// suite compares with ws: the frames it writes, the core connection under
// it, keepalive, pausing control frames, argument checks.
import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/ws/index.ts";
import { OP_BINARY, OP_CONT, OP_PING, OP_TEXT, rawConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

const servers: WebSocketServer[] = [];
after(async () => {
  for (const wss of servers) {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});
checkLeaksAfterAll();

async function listen(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{
  wss: WebSocketServer;
  url: string;
  port: number;
}> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  servers.push(wss);
  await once(wss, "listening");
  const port = (wss.address() as AddressInfo).port;
  return { wss, url: `ws://127.0.0.1:${port}`, port };
}

async function pair(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{
  server: WebSocket;
  client: WebSocket;
}> {
  const { wss, url } = await listen(options);
  const accepted = once(wss, "connection") as Promise<[WebSocket]>;
  const client = new WebSocket(url);
  await once(client, "open");
  const [server] = await accepted;
  return { server, client };
}

test("send({ fin: false }) writes one frame per call: the first typed, then continuations", async () => {
  const { wss, port } = await listen();
  const accepted = once(wss, "connection") as Promise<[WebSocket]>;
  const peer = await rawConnect(port);
  const [ws] = await accepted;
  const callbacks: string[] = [];
  ws.send("ab", { fin: false }, (error) => callbacks.push(`1 ${error ?? "ok"}`));
  ws.send(Buffer.from("cd"), { fin: false });
  ws.send("e", (error) => callbacks.push(`3 ${error ?? "ok"}`));
  ws.send(Buffer.from([1]));
  const frames = [];
  for (let i = 0; i < 4; i++) frames.push(await peer.reader.next());
  deepStrictEqual(
    frames.map((frame) => [frame?.opcode, frame?.fin, frame?.payload.toString("latin1")]),
    [
      [OP_TEXT, false, "ab"],
      [OP_CONT, false, "cd"],
      [OP_CONT, true, "e"],
      [OP_BINARY, true, "\u0001"],
    ],
  );
  deepStrictEqual(callbacks, ["1 ok", "3 ok"]);
  peer.socket.destroy();
});

test("ping() sends exactly the payload given, repeated payloads included", async () => {
  const { wss, port } = await listen();
  const accepted = once(wss, "connection") as Promise<[WebSocket]>;
  const peer = await rawConnect(port);
  const [ws] = await accepted;
  ws.ping("same");
  ws.ping("same");
  ws.ping();
  const frames = [await peer.reader.next(), await peer.reader.next(), await peer.reader.next()];
  deepStrictEqual(
    frames.map((frame) => [frame?.opcode, frame?.payload.toString()]),
    [
      [OP_PING, "same"],
      [OP_PING, "same"],
      [OP_PING, ""],
    ],
  );
  peer.socket.destroy();
});

test("the core connection is there for what ws lacks: await a ping's round trip", async () => {
  const { server, client } = await pair();
  ok(server.connection !== null);
  const latency = await server.connection.ping();
  ok(latency >= 0);
  equal(client.connection?.subprotocol, null);
  client.terminate();
  await once(server, "close");
});

test("keepalive pings reach a ws-style client, which answers them", async () => {
  const { server, client } = await pair({ pingInterval: 20, pingTimeout: 1000 });
  const [payload] = (await once(client, "ping")) as [Buffer];
  equal(payload.length, 4);
  await once(server, "pong");
  client.close(1000);
  await once(server, "close");
});

test("pause() holds pings, pongs and messages, in order, until resume()", async () => {
  const { server, client } = await pair();
  const seen: string[] = [];
  client.on("message", (data) => seen.push(`message ${data}`));
  client.on("ping", (data) => seen.push(`ping ${data}`));
  client.on("pong", (data) => seen.push(`pong ${data}`));
  client.pause();
  server.send("one");
  server.ping("p");
  server.pong("q");
  await new Promise<void>((resolve) => server.send("two", () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 50));
  deepStrictEqual(seen, []);
  const done = once(client, "message");
  client.resume();
  await done;
  await new Promise((resolve) => setImmediate(resolve));
  deepStrictEqual(seen, ["message one", "ping p", "pong q", "message two"]);
  client.terminate();
});

test("binaryType blob delivers a Blob", async () => {
  const { server, client } = await pair();
  client.binaryType = "blob";
  const got = once(client, "message");
  server.send(Buffer.from([7, 8]));
  const [data] = (await got) as [Blob];
  ok(data instanceof Blob);
  deepStrictEqual([...new Uint8Array(await data.arrayBuffer())], [7, 8]);
  client.terminate();
});

test("arguments are checked: ping data over 125 bytes, data of no supported type", async () => {
  const { client } = await pair();
  throws(() => client.ping(Buffer.alloc(126)), /must not be greater than 125 bytes/);
  throws(() => client.send({ not: "bytes" } as never), /expects a string, a Buffer.*got Object/);
  client.terminate();
  await once(client, "close");
});

test("a fragments array is sent as one message", async () => {
  const { server, client } = await pair();
  const got = once(server, "message");
  client.send([Buffer.from("ab"), Buffer.from("c")]);
  const [data, isBinary] = await got;
  deepStrictEqual([String(data), isBinary], ["abc", true]);
  client.terminate();
});

test("bufferedAmount counts what is written but not yet sent", async () => {
  const { server, client } = await pair();
  equal(client.bufferedAmount, 0);
  client.pause();
  // The peer stops reading: the kernel buffers fill, then ours.
  for (let i = 0; i < 64; i++) server.send(Buffer.alloc(256 * 1024));
  await new Promise((resolve) => setTimeout(resolve, 50));
  ok(server.bufferedAmount > 0, `bufferedAmount ${server.bufferedAmount}`);
  client.terminate();
  await rejects(
    new Promise<void>((_resolve, reject) => client.send("late", (error) => reject(error))),
    /WebSocket is not open: readyState 2 \(CLOSING\)/,
  );
  equal(client.bufferedAmount, 4);
});
