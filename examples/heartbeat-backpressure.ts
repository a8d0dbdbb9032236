/**
 * Heartbeat and backpressure:
 * - keepalive pings every `pingInterval` and drops a peer that doesn't
 *   answer within `pingTimeout` (no hand-written heartbeat); `ws.latency`
 *   is the last round-trip time;
 * - `await ws.send()` waits while more than `writeLimit` bytes are queued,
 *   so a fast producer follows a slow reader;
 * - `broadcast()` doesn't wait: `slowConnectionLimit` skips a client with
 *   too many bytes waiting (`ws.bufferedAmount`) instead of buffering for it.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { broadcast, connect, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    // Backpressure: 200 messages of 64 KiB, never more than writeLimit queued.
    const chunk = Buffer.alloc(64 * 1024);
    let highest = 0;
    for (let i = 0; i < 200; i++) {
      await ws.send(chunk);
      highest = Math.max(highest, ws.bufferedAmount);
    }
    await ws.send(`sent 200 messages; bufferedAmount stayed under ${highest + 1} bytes`);
    await ws.closed;
  },
  {
    host: "127.0.0.1",
    port: 0,
    pingInterval: 200,
    pingTimeout: 1_000,
    writeLimit: 256 * 1024,
  },
);

const { port } = server;
const ws = await connect(`ws://127.0.0.1:${port}`);
let received = 0;
for (;;) {
  const message = await ws.recv();
  if (typeof message === "string") {
    console.log(message);
    break;
  }
  received++;
  // A slow reader: the server's sends wait for it.
  if (received % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
}

// Heartbeat: wait for a keepalive ping to be answered.
const rtt = await ws.ping();
console.log(`ping answered in ${rtt.toFixed(1)} ms; keepalive every 200 ms`);

// A broadcast skips connections with a backlog over the limit; this client
// keeps up, so it gets the tick.
broadcast(server.connections, "tick", { slowConnectionLimit: 64 * 1024 });
console.log(`broadcast: ${await ws.recv()}`);
await ws.close();
await server.close();
