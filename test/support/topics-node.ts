// A chat node for the multi-process topics tests: a server whose clients
// send their topic first (answered "subscribed <node>"), then messages that
// are published to that topic for everyone else. The backplane comes from
// the environment: TOPICS_BACKPLANE=cluster (a node:cluster worker) or
// redis / redis5 / ioredis / ioredis5 (a standalone process on the Unix
// socket REDIS_SOCKET; RESP=3 for node-redis over RESP3),
// logging at INFO to stderr. It listens on the
// Unix socket SOCKET_PATH and says so: an IPC message in a cluster worker,
// a "listening <path>" line otherwise.
import cluster from "node:cluster";
import { createLogger } from "../../src/logging.ts";
import type { Backplane } from "../../src/node/backplane.ts";
import { clusterBackplane } from "../../src/node/cluster-backplane.ts";
import { serve } from "../../src/node/server.ts";
import { topicChat } from "./topic-chat.ts";

const kind = process.env.TOPICS_BACKPLANE ?? "cluster";
const path = process.env.SOCKET_PATH;
if (path === undefined) throw new Error("SOCKET_PATH is required");
const name = process.env.NODE_NAME ?? String(process.pid);

async function makeBackplane(): Promise<{ backplane: Backplane; dispose(): Promise<void> }> {
  if (kind === "cluster") return { backplane: clusterBackplane(), dispose: async () => {} };
  const socket = process.env.REDIS_SOCKET;
  if (socket === undefined) throw new Error("REDIS_SOCKET is required");
  const { redisBackplane } = await import("../../src/redis.ts");
  // ioredis5 and redis5: the previous major versions, installed under aliases.
  if (kind === "ioredis" || kind === "ioredis5") {
    const options = { path: socket, lazyConnect: true };
    const client =
      kind === "ioredis"
        ? new (await import("ioredis")).Redis(options)
        : new (await import("ioredis5")).Redis(options);
    return { backplane: redisBackplane({ client }), dispose: async () => client.disconnect() };
  }
  // RESP=3: node-redis speaks RESP3 (pub/sub messages arrive as pushes).
  const options = {
    socket: { path: socket, tls: false as const },
    RESP: process.env.RESP === "3" ? (3 as const) : (2 as const),
  };
  const client =
    kind === "redis"
      ? (await import("redis")).createClient(options)
      : (await import("redis5")).createClient(options);
  return {
    backplane: redisBackplane({ client }),
    dispose: async () => {
      if (client.isOpen) client.destroy();
    },
  };
}

const { backplane, dispose } = await makeBackplane();
const server = await serve(topicChat(`subscribed ${name}`), {
  path,
  backplane,
  logger:
    kind === "cluster" ? false : createLogger({ name: `websockets.server.${name}`, level: "info" }),
});

if (cluster.isWorker) process.send?.({ listening: path });
else console.log(`listening ${path}`);

const stop = async () => {
  await server.close();
  await dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("disconnect", stop);
