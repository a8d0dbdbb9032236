/**
 * Chat rooms on every core: `node:cluster` workers share the port, and
 * `clusterBackplane()` carries each room's messages between them (the
 * primary relays over the IPC channels; no broker to run).
 *
 *   npx tsx examples/chat-cluster.ts            # WORKERS=2 by default
 *   npx tsx examples/echo-client.ts "ws://127.0.0.1:8770/lobby?name=ada" hi
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import cluster from "node:cluster";
import { clusterBackplane, serve } from "../src/index.ts";
import { chatRooms } from "./chat-rooms.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8770);
const workers = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  // The relay must run before the workers start.
  clusterBackplane();
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on("message", (message: { listening?: { host: string; port: number } }) => {
      if (message.listening === undefined) return;
      listening += 1;
      if (listening === workers) {
        const { host, port } = message.listening;
        console.log(`chat server listening on ws://${host}:${port} (${workers} workers)`);
      }
    });
  }
  // Each worker closes its server (connections get 1001) and exits; the
  // primary exits after the last one.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    });
  }
} else {
  const server = await serve(chatRooms(`worker ${cluster.worker?.id}`), {
    host,
    port,
    backplane: clusterBackplane(),
  });
  // Ctrl-C reaches the whole process group, then the primary sends SIGTERM:
  // close() is idempotent.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, async () => {
      await server.close();
      if (process.connected) process.disconnect();
    });
  }
  process.send?.({ listening: server.address });
}
