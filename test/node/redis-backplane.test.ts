// The Redis backplane's protocol against in-memory redis / ioredis
// look-alikes (test/support/fake-redis.ts); servers and clients are real.
// test-peers/redis.test.ts runs it against redis-server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeEnvelope } from "../../src/node/backplane.ts";
import { type ClientConnection, connect } from "../../src/node/client.ts";
import { redisBackplane } from "../../src/node/redis-backplane.ts";
import type { RedisClientLike } from "../../src/node/redis-clients.ts";
import { type ServeOptions, type Server, serve } from "../../src/node/server.ts";
import { type CaptureLogger, createCaptureLogger } from "../helpers/capture-logger.ts";
import { withTimeout } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import {
  FakeBroker,
  FakeIoRedis,
  FakeIoRedisCluster,
  FakeNodeRedis,
  FakeNodeRedisCluster,
} from "../support/fake-redis.ts";
import { topicChat } from "../support/topic-chat.ts";

checkLeaksAfterAll();

type Fake = FakeNodeRedis | FakeIoRedis;

const FAMILIES = [
  { name: "redis", make: (broker: FakeBroker) => new FakeNodeRedis(broker) },
  { name: "ioredis", make: (broker: FakeBroker) => new FakeIoRedis(broker) },
] as const;

/** A chat node on a fake Redis: first message = topic, then publish the rest to it. */
async function node(client: Fake, logger: CaptureLogger, options: Partial<ServeOptions> = {}) {
  const server: Server = await serve(topicChat(), {
    host: "127.0.0.1",
    port: 0,
    logger: logger.logger,
    backplane: redisBackplane({ client: client as unknown as RedisClientLike }),
    ...options,
  });
  const clients: ClientConnection[] = [];
  return {
    server,
    async join(topic: string): Promise<ClientConnection> {
      const { port } = server.address as { port: number };
      const ws = await connect(`ws://127.0.0.1:${port}`, { logger: false });
      clients.push(ws);
      await ws.send(topic);
      assert.equal(await ws.recv(), "subscribed");
      return ws;
    },
    async close(): Promise<void> {
      await Promise.all(clients.map((ws) => ws.close()));
      await server.close();
    },
  };
}

/** Two nodes on one fake Redis: two clients in "room" on the first, one on the second. */
async function twoNodes(make: (broker: FakeBroker) => Fake) {
  const broker = new FakeBroker();
  const logger = createCaptureLogger("info");
  const a = await node(make(broker), logger);
  const b = await node(make(broker), logger);
  const a1 = await a.join("room");
  const a2 = await a.join("room");
  const b1 = await b.join("room");
  return { broker, logger, a, b, a1, a2, b1 };
}

function recv(ws: ClientConnection): Promise<unknown> {
  return withTimeout(ws.recv(), 5_000, "no message within 5 s");
}

/** Waits until `check()` holds, for at most 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

for (const family of FAMILIES) {
  describe(`redisBackplane with a ${family.name} client`, () => {
    it("relays between servers on prefixed channels, once, in order, binary-safe", async () => {
      const { broker, logger, a, b, a1, a2, b1 } = await twoNodes(family.make);
      assert.deepEqual(broker.channels(), [":websockets-ts:room"]);
      for (let i = 0; i < 50; i++) await a1.send(`${i}`);
      await b1.send(new Uint8Array([0, 0xff, 0x80]));
      for (let i = 0; i < 50; i++) {
        assert.equal(await recv(a2), `${i}`);
        assert.equal(await recv(b1), `${i}`);
      }
      // The publisher's own process delivered locally and ignores the echo.
      assert.deepEqual(await recv(a1), Buffer.from([0, 0xff, 0x80]));
      assert.deepEqual(await recv(a2), Buffer.from([0, 0xff, 0x80]));
      await a1.send("last");
      assert.equal(await recv(a2), "last");
      assert.equal(await recv(b1), "last");
      // Every message on the wire is an envelope with the opcode.
      const first = decodeEnvelope(broker.published[0].message);
      assert.ok(typeof first !== "string");
      assert.equal(first.binary, false);
      assert.equal(first.seq, 1);
      assert.equal(first.payload.toString(), "0");
      assert.deepEqual(logger.messages("warn"), []);
      await a.close();
      await b.close();
    });

    it("subscribes to a channel only while a local connection is subscribed", async () => {
      const broker = new FakeBroker();
      const logger = createCaptureLogger("info");
      const a = await node(family.make(broker), logger);
      assert.deepEqual(broker.channels(), []);
      const ws = await a.join("t");
      assert.deepEqual(broker.channels(), [":websockets-ts:t"]);
      await ws.close();
      await until(() => a.server.subscribers("t") === 0, "the connection to leave");
      await until(() => broker.channels().length === 0, "UNSUBSCRIBE");
      await a.close();
    });

    it("connects the client if needed, duplicates it, and leaves it open on close", async () => {
      const broker = new FakeBroker();
      const client = family.make(broker);
      const a = await node(client, createCaptureLogger("warn"));
      assert.equal(client.connectCalls, 1);
      assert.equal(client.duplicates.length, 1);
      await a.close();
      assert.equal(client.connected, true);
      assert.equal(client.duplicates[0].destroyed, true);
      client.end();
    });

    it("uses a connected client as it is", async () => {
      const broker = new FakeBroker();
      const client = family.make(broker);
      await client.connect();
      await until(() => client.connected, "the client to connect");
      const a = await node(client, createCaptureLogger("warn"));
      assert.equal(client.connectCalls, 1);
      await a.close();
      client.end();
    });

    it("serve() rejects when Redis is down at start, and disconnects what it connected", async () => {
      const broker = new FakeBroker();
      broker.up = false;
      const client = family.make(broker);
      await assert.rejects(
        serve(() => {}, {
          host: "127.0.0.1",
          port: 0,
          logger: false,
          backplane: redisBackplane({
            client: client as unknown as RedisClientLike,
            connectTimeout: 50,
          }),
        }),
        {
          message:
            /^redisBackplane\(\): cannot connect to Redis at (redis:\/\/fake:6379|fake:6379) within 50 ms: Error: connect ECONNREFUSED \/fake\/redis.sock$/,
        },
      );
      assert.equal(client.destroyed, true);
    });

    it("survives an outage: local delivery goes on, WARN once, resubscribes, INFO when back, gaps logged", async () => {
      const { broker, logger, a, b, a1, a2, b1 } = await twoNodes(family.make);
      await a1.send("before");
      assert.equal(await recv(a2), "before");
      assert.equal(await recv(b1), "before");

      broker.stop();
      const publishedBefore = broker.published.length;
      for (let i = 0; i < 3; i++) await a1.send(`during ${i}`);
      for (let i = 0; i < 3; i++) assert.equal(await recv(a2), `during ${i}`);
      // Dropped, not queued in the client.
      assert.equal(broker.published.length, publishedBefore);
      const lost = logger.messages("warn").filter((m) => m.includes("backplane lost"));
      assert.equal(lost.length, 2, lost.join("\n")); // one per server

      broker.start();
      await until(
        () => logger.messages("info").filter((m) => m.includes("backplane is back")).length === 2,
        "both servers to be back",
      );
      assert.ok(
        logger
          .messages("info")
          .includes(
            `redis (${family.name}) backplane is back; resubscribed to 1 topic(s); 3 message(s) published meanwhile were lost`,
          ),
        logger.messages("info").join("\n"),
      );
      await until(() => broker.channels().length === 1, "the resubscription");
      await a1.send("after");
      assert.equal(await recv(a2), "after");
      assert.equal(await recv(b1), "after");
      // b learns that 3 messages from a never came.
      await until(
        () => logger.messages("warn").some((m) => m.includes("were lost")),
        "the gap WARN",
      );
      assert.match(
        logger.messages("warn").find((m) => m.includes("were lost")) ?? "",
        new RegExp(
          `^redis \\(${family.name}\\) backplane: 3 message\\(s\\) from node [0-9a-f]{16} on "room" were lost$`,
        ),
      );
      await a.close();
      await b.close();
    });

    it("drops a malformed message on the channel with a WARN", async () => {
      const broker = new FakeBroker();
      const logger = createCaptureLogger("warn");
      const a = await node(family.make(broker), logger);
      const ws = await a.join("room");
      broker.publish("websockets-ts:room", Buffer.from("not an envelope"), false);
      const bad = Buffer.alloc(20);
      bad[0] = 1;
      bad[19] = 0xff; // seq 0
      broker.publish("websockets-ts:room", bad, false);
      await until(() => logger.messages("warn").length === 2, "two WARNs");
      assert.deepEqual(logger.messages("warn"), [
        `redis (${family.name}) backplane: dropped malformed message on "websockets-ts:room": 15 bytes is shorter than the 18-byte header`,
        `redis (${family.name}) backplane: dropped malformed message on "websockets-ts:room": sequence number 0`,
      ]);
      // Still working.
      const other = await node(family.make(broker), logger);
      const sender = await other.join("room");
      await sender.send("fine");
      assert.equal(await recv(ws), "fine");
      await other.close();
      await a.close();
    });
  });
}

describe("redisBackplane options and clients", () => {
  it("uses sharded pub/sub with cluster clients", async () => {
    for (const client of [
      new FakeNodeRedisCluster(new FakeBroker()),
      new FakeIoRedisCluster(new FakeBroker()),
    ]) {
      const logger = createCaptureLogger("warn");
      const a = await node(client, logger);
      const b = await node(client, logger);
      const ws = await a.join("t");
      const other = await b.join("t");
      assert.deepEqual(client.broker.channels(), ["s:websockets-ts:t"]);
      await other.send("sharded");
      assert.equal(await recv(ws), "sharded");
      assert.ok(client.broker.published.every((p) => p.sharded));
      await a.close();
      await b.close();
      client.end();
    }
  });

  it("prefixes channels with the prefix option; *?[] mean nothing special", async () => {
    const broker = new FakeBroker();
    const client = new FakeNodeRedis(broker);
    const server = await serve(
      async (ws) => {
        await ws.subscribe("room:*?[]");
        await ws.send("subscribed");
        await ws.closed;
      },
      {
        host: "127.0.0.1",
        port: 0,
        logger: false,
        backplane: redisBackplane({
          client: client as unknown as RedisClientLike,
          prefix: "app1/",
        }),
      },
    );
    const ws = await connect(`ws://127.0.0.1:${(server.address as { port: number }).port}`, {
      logger: false,
    });
    assert.equal(await ws.recv(), "subscribed");
    assert.deepEqual(broker.channels(), [":app1/room:*?[]"]);
    await ws.close();
    await server.close();
    client.end();
  });

  it("rejects what isn't a redis or ioredis client, and bad options", () => {
    assert.throws(
      () => redisBackplane({ client: { url: "redis://x" } as unknown as RedisClientLike }),
      {
        name: "TypeError",
        message:
          "redisBackplane() expects a client from the redis package (createClient, createCluster) or from ioredis (new Redis, new Cluster); got an object with url",
      },
    );
    const client = new FakeNodeRedis(new FakeBroker()) as unknown as RedisClientLike;
    assert.throws(() => redisBackplane({ client, connectTimeout: -1 }), {
      name: "TypeError",
      message: "connectTimeout must be a number of milliseconds > 0; got -1",
    });
    assert.throws(() => redisBackplane({ client, prefix: 1 as unknown as string }), {
      name: "TypeError",
      message: "prefix must be a string; got number",
    });
  });
});

describe("the core and Redis", () => {
  it("no module of src/ imports a Redis client; only websockets-ts/redis exports the backplane", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const root = new URL("../../src/", import.meta.url);
    const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".ts"),
    );
    assert.ok(files.length > 20);
    for (const file of files) {
      const text = readFileSync(new URL(file, root), "utf8");
      // Code, not TSDoc examples (` * import ...`).
      const imports = /^(import|export)\b[^;]*from "(redis|ioredis)"|import\("(redis|ioredis)"\)/m;
      assert.ok(!imports.test(text), `${file} imports a Redis client`);
    }
    const index = readFileSync(new URL("index.ts", root), "utf8");
    assert.doesNotMatch(index, /redis/);
  });
});
