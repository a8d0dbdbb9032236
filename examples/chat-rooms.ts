/**
 * The chat room handler shared by chat-cluster.ts and chat-redis.ts: a
 * client joins the room named by its path (`/lobby`), under the name in
 * `?name=`. Each room is a topic; messages are published to it, so they
 * reach its members in every process that shares the server's backplane.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import type { Handler } from "../src/index.ts";

/** A handler for chat rooms; `where` names this process in the welcome line. */
export function chatRooms(where: string): Handler {
  return async (ws) => {
    const url = new URL(ws.request.path, "ws://chat");
    const room = url.pathname.slice(1) || "lobby";
    const name = url.searchParams.get("name") ?? `guest-${ws.id.slice(0, 4)}`;
    const topic = `room:${room}`;
    const server = ws.server;
    // Resolves once messages of the room from other processes flow here.
    await ws.subscribe(topic);
    await ws.send(`welcome to ${room}, ${name} (${where})`);
    server.publish(topic, `${name} joined`, { except: ws });
    try {
      for await (const message of ws) {
        if (typeof message === "string") server.publish(topic, `${name}: ${message}`);
      }
    } finally {
      server.publish(topic, `${name} left`);
    }
  };
}
