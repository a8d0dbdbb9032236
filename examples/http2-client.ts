/**
 * WebSockets over HTTP/2 (RFC 8441), client side: several WebSockets to
 * one origin ride one TLS connection, as streams of one HTTP/2 session.
 * With `http2: "auto"`, a server that doesn't do WebSockets over HTTP/2
 * gets HTTP/1.1 instead; `ws.request.version` tells which.
 *
 *   TLS_CA=cert.pem npx tsx examples/http2-client.ts wss://localhost:8443/echo 3
 *
 * (examples/http2-server.ts is a server to try it with.)
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { readFileSync } from "node:fs";
import { connect } from "../src/index.ts";

const url = process.argv[2] ?? "wss://localhost:8443/echo";
const count = Number(process.argv[3] ?? 3);
// A self-signed certificate to trust, for a local server.
const tls = process.env.TLS_CA === undefined ? {} : { ca: readFileSync(process.env.TLS_CA) };

// Opened together, they share the session the first one sets up.
const sockets = await Promise.all(
  Array.from({ length: count }, () => connect(url, { http2: "auto", tls })),
);
for (const [i, ws] of sockets.entries()) {
  await ws.send(`hello from WebSocket ${i}`);
  // Skips what the server says first, if anything, until the echo.
  for (let reply = await ws.recv(); ; reply = await ws.recv()) {
    if (reply === `hello from WebSocket ${i}`) break;
  }
  console.log(`WebSocket ${i} over ${ws.request?.version}: echo received`);
}
// The session closes with its last WebSocket: nothing keeps the process alive.
await Promise.all(sockets.map((ws) => ws.close()));
console.log("all closed");
