/**
 * A chat in an Express app: Express serves the HTTP routes, and the
 * WebSockets on `/chat` share its port. `serve({ server })` takes the
 * `http.Server` that `app.listen()` returns and answers only the upgrades
 * to `httpPath`; every other request stays Express's. Each message goes to
 * everyone with `broadcast()`, skipping clients with more than 1 MiB
 * waiting (a slow reader misses messages rather than growing our memory).
 *
 *   npx tsx examples/chat-express.ts
 *   npx tsx examples/echo-client.ts "ws://127.0.0.1:8770/chat?name=ada" hi
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import { broadcast, serve } from "../src/index.ts";

const SLOW = 1024 * 1024;
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8770);

const app = express();
app.get("/", (_req, res) => {
  res.type("text/plain").send("chat: connect a WebSocket to /chat?name=you\n");
});

const http = app.listen(port, host);

const chat = await serve(
  async (ws) => {
    const name = new URL(ws.request.path, "ws://chat").searchParams.get("name") ?? "guest";
    // ws.server.connections: every open connection of this server.
    broadcast(ws.server.connections, `${name} joined`, { slowConnectionLimit: SLOW });
    for await (const message of ws.messages({ decode: true })) {
      broadcast(ws.server.connections, `${name}: ${message}`, { slowConnectionLimit: SLOW });
    }
  },
  { server: http, httpPath: "/chat" },
);

if (!http.listening) await once(http, "listening");
console.log(`chat listening on http://${host}:${(http.address() as AddressInfo).port}`);

app.get("/stats", (_req, res) => {
  res.json({ connections: chat.connections.size });
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await chat.close({ timeout: 5_000 });
    http.close();
  });
}
