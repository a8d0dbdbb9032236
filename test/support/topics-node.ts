// A chat node for the multi-process topics tests: a server whose clients
// send their topic first (answered "subscribed <node>"), then messages that
// are published to that topic for everyone else. The backplane comes from
// the environment: TOPICS_BACKPLANE=cluster (a node:cluster worker) or
// redis / ioredis (a standalone process on the Unix socket REDIS_SOCKET),
// logging at INFO to stderr. It listens on the
// Unix socket SOCKET_PATH and says so: an IPC message in a cluster worker,
// a "listening <path>" line otherwise.
import cluster from "node:cluster";
import { createLogger } from "../../src/logging.ts";
import type { Backplane } from "../../src/node/backplane.ts";
import { clusterBackplane } from "../../src/node/cluster-backplane.ts";
import { serve } from "../../src/node/server.ts";

const kind = process.env.TOPICS_BACKPLANE ?? "cluster";
const path = process.env.SOCKET_PATH;
if (path === undefined) throw new Error("SOCKET_PATH is required");
const name = process.env.NODE_NAME ?? String(process.pid);

async function makeBackplane(): Promise<{ backplane: Backplane; dispose(): Promise<void> }> {
  if (kind === "cluster") return { backplane: clusterBackplane(), dispose: async () => {} };
  const socket = process.env.REDIS_SOCKET;
  if (socket === undefined) throw new Error("REDIS_SOCKET is required");
  const { redisBackplane } = await import("../../src/redis.ts");
  if (kind === "ioredis") {
    const { Redis } = await import("ioredis");
    const client = new Redis({ path: socket, lazyConnect: true });
    return { backplane: redisBackplane({ client }), dispose: async () => client.disconnect() };
  }
  const { createClient } = await import("redis");
  const client = createClient({ socket: { path: socket, tls: false } });
  return {
    backplane: redisBackplane({ client }),
    dispose: async () => {
      if (client.isOpen) client.destroy();
    },
  };
}

const { backplane, dispose } = await makeBackplane();
const server = await serve(
  async (ws) => {
    const topic = (await ws.recv()) as string;
    await ws.subscribe(topic);
    await ws.send(`subscribed ${name}`);
    for await (const message of ws) server.publish(topic, message, { except: ws });
  },
  {
    path,
    backplane,
    logger:
      kind === "cluster"
        ? false
        : createLogger({ name: `websockets.server.${name}`, level: "info" }),
  },
);

if (cluster.isWorker) process.send?.({ listening: path });
else console.log(`listening ${path}`);

const stop = async () => {
  await server.close();
  await dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("disconnect", stop);
