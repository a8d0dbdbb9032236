/**
 * Graceful shutdown with a deadline: on SIGTERM (or SIGINT), stop accepting
 * connections, close the open ones with 1001 (going away), wait for their
 * handlers, but no longer than 5 s: then terminate what is left, so the
 * process exits before the process manager's SIGKILL.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { host: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 8765) },
);
const { port } = server;
console.log(`listening on ws://127.0.0.1:${port}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log(`${signal} received: closing, 5 s at most`);
    void server.close({ timeout: Number(process.env.SHUTDOWN_MS ?? 5_000) });
  });
}
await server.closed;
console.log("closed");
