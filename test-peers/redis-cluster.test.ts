// Sharded pub/sub on a real Redis Cluster: three redis-server masters on
// 127.0.0.1 (free ports, whose cluster bus ports +10000 are free too), made
// a cluster by redis-cli; one server with a node-redis cluster client, one
// with an ioredis Cluster, topics spread over the shards.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import { type ClientConnection, connect } from "../src/node/client.ts";
import { redisBackplane } from "../src/node/redis-backplane.ts";
import { type Server, serve } from "../src/node/server.ts";
import { withTimeout } from "../test/helpers/net.ts";
import { topicChat } from "../test/support/topic-chat.ts";
import { RedisServer } from "./helpers/redis-server.ts";
import { REDIS_CLI, requireNpmPackage, requireRedisServer } from "./helpers/requirements.ts";

const dir = mkdtempSync(join(tmpdir(), "websockets-ts-redis-cluster-"));
const masters: RedisServer[] = [];

after(async () => {
  await Promise.all(masters.map((redis) => redis.kill()));
  rmSync(dir, { recursive: true, force: true });
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port on 127.0.0.1 whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: number[]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.includes(port) || taken.includes(port + 10_000)) continue;
    if ((await canBind(port)) && (await canBind(port + 10_000))) return port;
  }
  throw new Error("no free pair of ports for a cluster node");
}

function cli(...args: string[]): string {
  const run = spawnSync(REDIS_CLI, args, { encoding: "utf8", timeout: 30_000 });
  if (run.status !== 0) throw new Error(`redis-cli ${args.join(" ")}: ${run.stderr}${run.stdout}`);
  return run.stdout;
}

const ports: number[] = [];

before(async () => {
  requireRedisServer();
  requireNpmPackage("redis");
  requireNpmPackage("ioredis");
  for (let i = 0; i < 3; i++) ports.push(await clusterPort(ports));
  for (const [i, port] of ports.entries()) {
    const redis = new RedisServer(dir, `master-${i}`, port, [
      ...["--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${i}.conf`)],
      ...["--cluster-node-timeout", "5000"],
    ]);
    masters.push(redis);
    await redis.start();
  }
  cli(
    "--cluster",
    "create",
    ...ports.map((p) => `127.0.0.1:${p}`),
    "--cluster-replicas",
    "0",
    "--cluster-yes",
  );
  const deadline = Date.now() + 30_000;
  while (
    !ports.every((p) => cli("-p", String(p), "cluster", "info").includes("cluster_state:ok"))
  ) {
    if (Date.now() > deadline) throw new Error("the cluster didn't reach cluster_state:ok in 30 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

async function chatServer(backplane: ReturnType<typeof redisBackplane>): Promise<Server> {
  return serve(topicChat(), { host: "127.0.0.1", port: 0, logger: false, backplane });
}

async function joinTopic(server: Server, topic: string): Promise<ClientConnection> {
  const { port } = server.address as { port: number };
  const ws = await connect(`ws://127.0.0.1:${port}/`, { logger: false });
  await ws.send(topic);
  assert.equal(await ws.recv(), "subscribed");
  return ws;
}

it("node-redis and ioredis cluster clients share topics over sharded pub/sub", async () => {
  const nodeRedis = createCluster({
    rootNodes: ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })),
  });
  const ioredis = new Cluster(
    ports.map((port) => ({ host: "127.0.0.1", port })),
    { lazyConnect: true },
  );
  const a = await chatServer(redisBackplane({ client: nodeRedis }));
  const b = await chatServer(redisBackplane({ client: ioredis }));
  // Topics whose channels hash to different slots, so to different masters.
  const topics = Array.from({ length: 12 }, (_, i) => `room:${i}`);
  const slots = new Set(
    topics.map((t) =>
      cli("-p", String(ports[0]), "cluster", "keyslot", `websockets-ts:${t}`).trim(),
    ),
  );
  assert.ok(slots.size > 6, `${slots.size} slots`);
  for (const topic of topics) {
    const onA = await joinTopic(a, topic);
    const onB = await joinTopic(b, topic);
    for (let i = 0; i < 10; i++) await onA.send(`${topic} a${i}`);
    await onB.send(new Uint8Array([0, 0xff, topic.length]));
    for (let i = 0; i < 10; i++) {
      assert.equal(await withTimeout(onB.recv(), 10_000, `${topic}: a${i}`), `${topic} a${i}`);
    }
    assert.deepEqual(
      await withTimeout(onA.recv(), 10_000, `${topic}: binary`),
      Buffer.from([0, 0xff, topic.length]),
    );
    await Promise.all([onA.close(), onB.close()]);
  }
  await a.close();
  await b.close();
  nodeRedis.destroy();
  ioredis.disconnect();
});
