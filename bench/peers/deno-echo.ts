/**
 * Deno's built-in WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`)
 * as an echo peer for bench/echo.ts:
 *
 *   deno run --allow-net=127.0.0.1 --allow-env=HOST,PORT bench/peers/deno-echo.ts
 *
 * Same contract as bench/echo-server.ts: HOST (default 127.0.0.1) and PORT
 * (default 0 = any free port) from the environment, every message echoed
 * with its own type, `listening <port>` on stdout once it accepts
 * connections. SIGTERM keeps its default action (the process ends).
 * TLS_KEY and TLS_CERT (PEM file paths) serve TLS.
 *
 * `Deno.upgradeWebSocket` has no compression option: it never answers with
 * an extension, so the connection is uncompressed like the other servers'.
 * Runs under Deno only (bench/peers/deno-serve.ts).
 *
 * @module
 */

import { serveWebSockets } from "./deno-serve.ts";

serveWebSockets((socket) => {
  // ArrayBuffer rather than Blob: a Blob would have to be read back
  // asynchronously before it could be echoed.
  socket.binaryType = "arraybuffer";
  // A string is a text message and an ArrayBuffer a binary one; send()
  // picks the opcode from the type, so the echo keeps the type.
  socket.onmessage = (event) => socket.send(event.data);
});
