/**
 * HTTP Basic Authentication (RFC 7617) before the upgrade: `basicAuth()`
 * builds a `processRequest` that answers 401 with a `WWW-Authenticate`
 * challenge unless the request carries valid credentials, and sets
 * `connection.username` when it does.
 *
 *   npx tsx examples/basic-auth.ts
 *   npx tsx examples/echo-client.ts ws://alice:s3cret@127.0.0.1:8768/ hi
 *
 * The credentials here are for the demo; load real ones from your secret
 * store, or pass `checkCredentials(username, password)` to look them up.
 * Send credentials only over TLS (wss://) outside of localhost.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { basicAuth, serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8768);

const server = await serve(
  async (ws) => {
    await ws.send(`Hello, ${ws.username}!`);
    for await (const message of ws) await ws.send(message);
  },
  {
    host,
    port,
    processRequest: basicAuth({ realm: "example", credentials: [["alice", "s3cret"]] }),
  },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.close());
}

console.log(`basic-auth server listening on ws://${host}:${server.port}`);

await server.serveForever();
