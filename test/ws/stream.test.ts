// createWebSocketStream(): the Duplex's life is tied to the WebSocket's,
// both ways, with backpressure pausing the socket.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { createWebSocketStream, WebSocket, WebSocketServer } from "../../src/ws/index.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

let wss: WebSocketServer;
after(async () => {
  for (const client of wss?.clients ?? []) client.terminate();
  if (wss !== undefined) await new Promise<void>((resolve) => wss.close(() => resolve()));
});
checkLeaksAfterAll();

async function pair(): Promise<{ server: WebSocket; client: WebSocket }> {
  wss ??= new WebSocketServer({ host: "127.0.0.1", port: 0 });
  if (!(wss.address() as AddressInfo | null)?.port) await once(wss, "listening");
  const accepted = once(wss, "connection") as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [server] = await accepted;
  return { server, client };
}

test("writes before open wait for it; ending the stream closes the WebSocket without a code", async () => {
  const { server, client } = await pair();
  const duplex = createWebSocketStream(client);
  const got = once(server, "message");
  duplex.write("early");
  equal(String((await got)[0]), "early");
  const closed = once(server, "close");
  duplex.end();
  const [code] = await closed;
  equal(code, 1005);
});

test("a full readable side pauses the WebSocket; reading resumes it", async () => {
  const { server, client } = await pair();
  const duplex = createWebSocketStream(client, { readableHighWaterMark: 4 });
  await once(client, "open");
  const sent = new Promise<void>((resolve) => {
    server.send("abcdef");
    server.send("ghij", () => resolve());
  });
  await sent;
  await new Promise((resolve) => setTimeout(resolve, 50));
  ok(client.isPaused);
  const chunks: string[] = [];
  duplex.on("data", (chunk: Buffer) => chunks.push(String(chunk)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  deepStrictEqual(chunks, ["abcdef", "ghij"]);
  equal(client.isPaused, false);
  client.terminate();
});

test("destroying the stream terminates the WebSocket: the peer sees 1006", async () => {
  const { server, client } = await pair();
  const duplex = createWebSocketStream(client);
  await once(client, "open");
  const closed = once(server, "close");
  duplex.destroy();
  equal((await closed)[0], 1006);
});

test("a protocol error on the WebSocket destroys the stream with it", async () => {
  const { server, client } = await pair();
  const duplex = createWebSocketStream(server);
  await once(client, "open");
  const failed = once(duplex, "error");
  // Invalid UTF-8 as text: the server fails the connection (1007).
  client.send(Buffer.from([0xff]), { binary: false });
  const [error] = (await failed) as [Error & { code?: string }];
  equal(error.code, "WS_ERR_INVALID_UTF8");
  ok(duplex.destroyed);
});
