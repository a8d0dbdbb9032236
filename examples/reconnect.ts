/**
 * A client that stays connected: when the connection is lost, or the server
 * is down, it reconnects with exponential backoff, logging each retry at
 * INFO. Ctrl-C (SIGINT) or SIGTERM stops it at once, even in the middle of a
 * delay.
 *
 *   npx tsx examples/reconnect.ts ws://127.0.0.1:8765
 *
 * Start it before the echo server (`npx tsx examples/echo-server.ts`), stop
 * and restart the server: the client comes back on its own. Set
 * WEBSOCKETS_BACKOFF_MAX_DELAY=5 to wait at most 5 s between attempts.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { ConnectionClosed, connect, createLogger } from "../src/index.ts";

const url = process.argv[2] ?? "ws://127.0.0.1:8765";

// Aborting stops the loop; the pending iteration rejects with the reason.
const controller = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => controller.abort());
}

// INFO shows "connect failed; reconnecting in 3.1 seconds: ..." records.
const logger = createLogger({ name: "websockets.client", level: "info" });

try {
  for await (const ws of connect(url, { logger, signal: controller.signal })) {
    console.log(`connected to ${url}`);
    try {
      await ws.send("hello");
      for await (const message of ws) console.log(`< ${message}`);
      console.log("connection closed by the server");
    } catch (error) {
      // Lost without a closing handshake: reconnect too.
      if (!(error instanceof ConnectionClosed)) throw error;
      console.log(`connection lost: ${error.message}`);
    }
  }
} catch (error) {
  // Anything else than our own abort is fatal: a 403, an invalid URI...
  if (!controller.signal.aborted) throw error;
}
console.log("stopped");
