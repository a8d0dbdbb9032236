/**
 * Socket.IO as a peer of bench/topics.ts: rooms instead of topics, with
 * `@socket.io/redis-adapter` when BACKPLANE=redis (on REDIS_SOCKET), so
 * several processes on one Redis compare with ours on the same workload.
 *
 *   node --import tsx bench/topics-socketio.ts
 *
 * WebSocket transport only. A client without `control` in its query joins
 * the room `t`; a control client emits `count` (acknowledged with the
 * number of sockets in the room, across processes) and `pub <n>` (n
 * emits of the event `m` with 32 bytes to the room). `listening <port>`
 * on stdout.
 *
 * @module
 */

import { createServer } from "node:http";
import { Server } from "socket.io";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 0);
const PAYLOAD = "x".repeat(32);

const http = createServer();
// No engine.io pings during a run: subscribers only count bytes.
const io = new Server(http, {
  transports: ["websocket"],
  perMessageDeflate: false,
  pingInterval: 600_000,
  pingTimeout: 600_000,
});
if (process.env.BACKPLANE === "redis") {
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const { createClient } = await import("redis");
  const pub = createClient({ socket: { path: process.env.REDIS_SOCKET ?? "", tls: false } });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}
io.on("connection", (socket) => {
  if (socket.handshake.query.control === undefined) {
    socket.join("t");
    return;
  }
  socket.on("count", async (ack: (n: number) => void) =>
    ack((await io.in("t").fetchSockets()).length),
  );
  socket.on("pub", (n: number) => {
    for (let i = 0; i < n; i++) io.to("t").emit("m", PAYLOAD);
  });
});
await new Promise<void>((resolve) => http.listen(port, host, resolve));
process.stdout.write(`listening ${(http.address() as { port: number }).port}\n`);
process.once("SIGTERM", () => process.exit(0));
process.once("SIGINT", () => process.exit(0));
