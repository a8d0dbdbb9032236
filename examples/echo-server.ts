/**
 * An echo server: every message comes back to its sender.
 *
 *   npx tsx examples/echo-server.ts                      # ws://127.0.0.1:8765
 *   PORT=9000 HOST=::1 npx tsx examples/echo-server.ts   # elsewhere
 *
 * Stops gracefully on SIGINT (Ctrl-C) or SIGTERM: it stops accepting
 * connections, closes the open ones with 1001 (going away) and waits for
 * their handlers to finish, which is what a process manager (systemd,
 * Kubernetes, Docker) expects before it sends SIGKILL.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8765);

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { host, port },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log(`${signal} received, closing`);
    void server.close();
  });
}

const shown = host.includes(":") ? `[${host}]` : host;
console.log(`echo server listening on ws://${shown}:${server.port}`);

await server.serveForever();
console.log("echo server closed");
