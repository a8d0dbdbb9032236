/**
 * The server of bench/http2.ts, in a process of its own so that its memory
 * is measured alone: our echo server with TLS and `http2: true` (HTTP/2
 * and HTTP/1.1 on one port). Sends `{ port }` once listening; answers
 * `"rss"` with `{ rss }` (after a garbage collection) and `"close"` by
 * exiting.
 *
 * @module
 */

import { serve } from "../src/index.ts";
import { cert, key } from "../test/helpers/localhost-tls.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host: "127.0.0.1",
    port: 0,
    tls: { key, cert },
    http2: true,
    logger: false,
    // Keepalive pings and the open timeout would only add noise.
    pingInterval: null,
    openTimeout: 120_000,
    maxSize: null,
  },
);

process.on("message", (message) => {
  if (message === "rss") {
    globalThis.gc?.();
    process.send?.({ rss: process.memoryUsage().rss });
  } else if (message === "close") {
    void server.close().then(() => process.exit(0));
  }
});
process.send?.({ port: (server.address as { port: number }).port });
