/**
 * A health check on the WebSocket port: `processRequest` answers
 * `GET /healthz` with 200 before any upgrade, so a load balancer or
 * Kubernetes probe can check the server with plain HTTP. Every other
 * request goes on to the WebSocket handshake.
 *
 *   npx tsx examples/health-check.ts
 *   curl -i http://127.0.0.1:8767/healthz
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8767);

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host,
    port,
    processRequest: (connection, request) => {
      if (request.path === "/healthz") return connection.respond(200, "OK\n");
      // Nothing returned: carry on with the WebSocket handshake.
      return undefined;
    },
  },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.close());
}

console.log(`health-check server listening on ws://${host}:${server.port}`);

await server.serveForever();
