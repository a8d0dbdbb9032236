/**
 * A chat room: every message a client sends goes to every connected client,
 * prefixed with the sender's name (the `?name=` query parameter).
 *
 *   npx tsx examples/chat.ts
 *   npx tsx examples/echo-client.ts "ws://127.0.0.1:8766/?name=ada" hi
 *
 * `broadcast()` frames each message once and writes it to every open
 * connection without waiting: a slow client can't slow the room down, but
 * the messages it doesn't read pile up in its write buffer until it reads
 * them or keepalive (pingInterval, pingTimeout) drops it as dead.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { broadcast, serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8766);

const server = await serve(
  async (ws) => {
    const query = new URL(ws.request.path, "ws://chat").searchParams;
    const name = query.get("name") ?? `guest-${ws.id.slice(0, 4)}`;
    broadcast(ws.server.connections, `${name} joined`);
    try {
      for await (const message of ws) {
        if (typeof message === "string") broadcast(ws.server.connections, `${name}: ${message}`);
      }
    } finally {
      broadcast(ws.server.connections, `${name} left`);
    }
  },
  { host, port },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.close());
}

console.log(`chat server listening on ws://${host}:${server.port}`);

await server.serveForever();
