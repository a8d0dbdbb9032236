/**
 * WebSockets and ordinary HTTP routes on one port: `serve({ server })`
 * attaches to an existing `http.Server` (Express, Fastify and Koa apps all
 * have one) and takes the upgrade requests for `httpPath`; every other
 * request goes to the HTTP app as usual.
 *
 *   npx tsx examples/attach-to-http-server.ts
 *   curl http://127.0.0.1:8769/api/time
 *   npx tsx examples/echo-client.ts ws://127.0.0.1:8769/ws hi
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { createServer } from "node:http";
import { serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8769);

const httpServer = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>demo</title><p>WebSocket echo on <code>/ws</code></p>\n");
  } else if (req.method === "GET" && req.url === "/api/time") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ now: new Date().toISOString() }));
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not found\n");
  }
});

const wsServer = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { server: httpServer, httpPath: "/ws" },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    // WebSocket connections first (close 1001), then the HTTP server.
    await wsServer.close();
    httpServer.closeAllConnections();
    httpServer.close();
  });
}

await new Promise<void>((resolve) => httpServer.listen(port, host, resolve));
const address = httpServer.address() as { address: string; port: number };
console.log(
  `http server listening on http://${address.address}:${address.port} (WebSocket on /ws)`,
);
