/**
 * A program written for `ws`, running on websockets-ts: the only change is
 * the import line (`from "ws"` became `from "websockets-ts/ws"`). It is the
 * broadcast server of ws's README, with its heartbeat that terminates
 * clients that stop answering pings.
 *
 *   npx tsx examples/ws-compat.ts        # ws://127.0.0.1:8080
 *
 * In your project, import from "websockets-ts/ws" instead of "../src/ws/index.ts".
 */
import WebSocket, { WebSocketServer } from "../src/ws/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8080);

const wss = new WebSocketServer({ host, port });
const alive = new WeakSet<WebSocket>();

wss.on("connection", (ws, req) => {
  alive.add(ws);
  ws.on("pong", () => alive.add(ws));
  ws.on("error", console.error);
  ws.on("message", (data, isBinary) => {
    // Everyone but the sender gets the message.
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
  ws.send(`welcome, ${req.socket.remoteAddress}`);
});

// ws's heartbeat: a client that didn't answer the last ping is terminated.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!alive.has(ws)) {
      ws.terminate();
      continue;
    }
    alive.delete(ws);
    ws.ping();
  }
}, 30_000);

wss.on("listening", () => {
  const address = wss.address() as { port: number };
  console.log(`ws-compat server listening on ws://${host}:${address.port}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    clearInterval(heartbeat);
    for (const ws of wss.clients) ws.close(1001, "server shutting down");
    wss.close(() => console.log("ws-compat server closed"));
  });
}
