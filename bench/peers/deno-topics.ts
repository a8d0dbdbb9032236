/**
 * Deno as a peer of bench/topics.ts: Deno has no topics, so this is a loop
 * over the subscribers' sockets (`socket.send()` each), as Deno users write
 * a broadcast; the counterpart of the `ws` loop in bench/topics-server.ts.
 *
 *   deno run --allow-net=127.0.0.1 --allow-env=HOST,PORT bench/peers/deno-topics.ts
 *
 * Same contract as bench/topics-server.ts: connections to `/` subscribe;
 * `/control` answers `count` and runs `pub <n>`. Runs under Deno only
 * (bench/peers/deno-serve.ts).
 *
 * @module
 */

import { type DenoSocket, serveWebSockets } from "./deno-serve.ts";

const PAYLOAD = "x".repeat(32);
const subscribers = new Set<DenoSocket>();

serveWebSockets((socket, request) => {
  if (new URL(request.url).pathname !== "/control") {
    // Counted once open, so `count` answers only subscribers that can receive.
    socket.onopen = () => subscribers.add(socket);
    socket.onclose = () => subscribers.delete(socket);
    return;
  }
  socket.onmessage = (event) => {
    const [command, n] = String(event.data).split(" ");
    if (command === "count") socket.send(String(subscribers.size));
    else for (let i = 0; i < Number(n); i++) for (const s of subscribers) s.send(PAYLOAD);
  };
});
