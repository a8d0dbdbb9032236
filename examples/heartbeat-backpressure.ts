/**
 * Heartbeat and backpressure, without hand-written code for either:
 * - keepalive pings every `pingInterval` and drops a peer that doesn't
 *   answer within `pingTimeout`; `ws.latency` is the last round-trip time,
 *   and `await ws.ping()` measures one now;
 * - `await ws.send()` waits while more than `writeLimit` bytes are queued,
 *   so a fast producer follows a slow reader;
 * - `broadcast()` doesn't wait: with `slowConnectionLimit`, a client with
 *   too many bytes waiting (`ws.bufferedAmount`) misses messages instead of
 *   making the server buffer without end; `terminate()` drops it.
 *
 * It runs over a Unix socket, whose kernel buffers are small and fixed, so
 * a stalled reader's backlog shows after a few hundred KiB; over TCP the
 * kernels of both ends absorb several MiB first (tens on loopback).
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { broadcast, connect, type ServerConnection, serve } from "../src/index.ts";

const KiB = 1024;
const dir = mkdtempSync(join(tmpdir(), "heartbeat-"));
const socketPath = join(dir, "server.sock");
const SLOW = 1024 * KiB;

const server = await serve(
  async (ws) => {
    if (ws.request.path === "/download") {
      // Backpressure: 200 messages of 64 KiB, never much more than writeLimit queued.
      const chunk = randomBytes(64 * KiB); // incompressible, as a file would be
      let highest = 0;
      for (let i = 0; i < 200; i++) {
        await ws.send(chunk);
        highest = Math.max(highest, ws.bufferedAmount);
      }
      await ws.send(`sent 200 messages; bufferedAmount stayed under ${highest + 1} bytes`);
    }
    await ws.closed;
  },
  { path: socketPath, pingInterval: 200, pingTimeout: 1_000, writeLimit: 256 * KiB },
);

// A slow reader: the server's sends wait for it.
const reader = await connect("ws://localhost/download", { path: socketPath });
for (let received = 1; ; received++) {
  const message = await reader.recv();
  if (typeof message === "string") {
    console.log(message);
    break;
  }
  if (received % 50 === 0) await sleep(20);
}

// Heartbeat: the server pinged the client every 200 ms meanwhile.
await sleep(300);
const [serverSide] = server.connections;
console.log(`keepalive: last ping answered in ${serverSide.latency.toFixed(1)} ms`);
const rtt = await reader.ping();
console.log(`ping answered in ${rtt.toFixed(1)} ms`);

// A client that stopped reading (maxQueue: 1 keeps its own buffer small).
const stalled = await connect("ws://localhost/stalled", { path: socketPath, maxQueue: 1 });
/** The server's end of the connection to `path`, once it is in server.connections. */
async function serverEnd(path: string): Promise<ServerConnection> {
  for (let tries = 0; tries < 200; tries++) {
    const found = [...server.connections].find((ws) => ws.request.path === path);
    if (found !== undefined) return found;
    await sleep(10);
  }
  throw new Error(`no connection to ${path}`);
}
const stalledSide = await serverEnd("/stalled");
const readerSide = await serverEnd("/download");

let got = 0;
const counting = (async () => {
  while ((await reader.recv()) !== "done") got++;
})();
// Random bytes: zeros would shrink to nothing under permessage-deflate.
const news = randomBytes(512 * KiB);
let skipped = 0;
for (let i = 0; i < 40; i++) {
  if (stalledSide.bufferedAmount > SLOW) skipped++; // what broadcast() checks
  broadcast(server.connections, news, { slowConnectionLimit: SLOW });
  // The reader keeps up: its backlog drains before the next message.
  for (let tries = 0; tries < 500 && readerSide.bufferedAmount > 0; tries++) await sleep(2);
}
await readerSide.send("done");
await counting;
console.log(`broadcast: the reader got ${got} of 40; the stalled client missed ${skipped}`);
console.log(
  `waiting for the stalled client: ${stalledSide.bufferedAmount} bytes, at most the limit and one message`,
);
// It doesn't read, so it wouldn't read a close frame either: drop it.
await stalledSide.terminate();
await stalled.terminate();
await reader.close();
await server.close();
rmSync(dir, { recursive: true, force: true });
