// The handler of the topics tests' chat servers: a client's first message
// names its topic; the server subscribes it, answers `reply`, then
// publishes every further message to the topic for everyone else.
import type { ServerConnection } from "../../src/node/server.ts";

export function topicChat(reply = "subscribed"): (ws: ServerConnection) => Promise<void> {
  return async (ws) => {
    const topic = (await ws.recv()) as string;
    await ws.subscribe(topic);
    await ws.send(reply);
    for await (const message of ws) ws.server.publish(topic, message, { except: ws });
  };
}
