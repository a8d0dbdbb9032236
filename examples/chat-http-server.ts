/**
 * An Express-style chat: one `http.Server` serves the page's HTTP routes and
 * the chat's WebSockets on `/chat` (with Express, pass the server
 * `app.listen()` returns). Each message goes to everyone with
 * `broadcast()`, skipping clients with more than 1 MiB waiting.
 *
 *   npx tsx examples/chat-http-server.ts
 *   npx tsx examples/echo-client.ts "ws://127.0.0.1:8770/chat?name=ada" hi
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { createServer } from "node:http";
import { broadcast, serve } from "../src/index.ts";

const http = createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end("chat: connect a WebSocket to /chat?name=you\n");
});

const chat = await serve(
  async (ws) => {
    const name = new URL(ws.request.path, "ws://chat").searchParams.get("name") ?? "guest";
    const room = ws.server.connections;
    broadcast(room, `${name} joined`, { slowConnectionLimit: 1024 * 1024 });
    for await (const message of ws.messages({ decode: true })) {
      broadcast(room, `${name}: ${message}`, { slowConnectionLimit: 1024 * 1024 });
    }
  },
  { server: http, httpPath: "/chat" },
);

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8770);
http.listen(port, host, () => {
  const address = http.address() as { port: number };
  console.log(`chat listening on http://${host}:${address.port}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    await chat.close({ timeout: 5_000 });
    http.close();
  });
}
