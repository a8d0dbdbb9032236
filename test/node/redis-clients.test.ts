/**
 * The Redis client adapters (src/node/redis-clients.ts) driven directly:
 * adapterFor() telling the families apart by shape, on the real `redis`
 * and `ioredis` packages (both majors the peer range allows, constructed
 * but never connected) and on the look-alikes of test/support/fake-redis.ts;
 * then each adapter's lifecycle on the look-alikes: connect, the events
 * it reports, plain or sharded pub/sub, and what close() leaves behind.
 * redis-backplane.test.ts covers the backplane built on them.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cluster as IoCluster, Redis as IoRedis } from "ioredis";
import { Redis as IoRedis5 } from "ioredis5";
import { createClient, createCluster } from "redis";
import { createClient as createClient5 } from "redis5";
import { adapterFor, type ClientEvents, type RedisAdapter } from "../../src/node/redis-clients.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import {
  FakeBroker,
  FakeIoRedis,
  FakeIoRedisCluster,
  FakeNodeRedis,
  FakeNodeRedisCluster,
} from "../support/fake-redis.ts";

checkLeaksAfterAll();

/** Events recorded as lines, and a way to wait for the next ones. */
function recorder(): {
  events: ClientEvents;
  heard: string[];
  until(count: number): Promise<void>;
} {
  const heard: string[] = [];
  const events: ClientEvents = {
    message: (channel, message) => {
      assert.ok(Buffer.isBuffer(channel) && Buffer.isBuffer(message));
      heard.push(`message ${channel.toString()} ${message.toString("hex")}`);
    },
    lost: (error) => heard.push(`lost ${(error as Error).message}`),
    ready: () => heard.push("ready"),
  };
  return {
    events,
    heard,
    async until(count) {
      for (let i = 0; i < 200 && heard.length < count; i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(heard.length >= count, `expected ${count} events, got ${JSON.stringify(heard)}`);
    },
  };
}

const quiet: ClientEvents = { message() {}, lost() {}, ready() {} };

/** Each client is recognized as `kind`, says where it connects, and is not connected. */
function expectAdapters(cases: [unknown, string, string][]): void {
  for (const [client, kind, target] of cases) {
    const adapter = adapterFor(client, quiet);
    assert.equal(adapter.kind, kind);
    assert.equal(adapter.target, target);
    assert.equal(adapter.ready(), false, "not connected");
  }
}
describe("adapterFor", () => {
  it("recognizes the real redis clients (v6 and v5) and tells where they connect", () => {
    const cases: [unknown, string, string][] = [
      [createClient({ url: "redis://127.0.0.1:6390" }), "redis", "redis://127.0.0.1:6390"],
      [createClient({ socket: { host: "h.example", port: 7000 } }), "redis", "h.example:7000"],
      [
        createClient({ socket: { path: "/tmp/redis.sock", tls: false } }),
        "redis",
        "/tmp/redis.sock",
      ],
      [createClient(), "redis", "the client's server"],
      [createClient5({ url: "redis://127.0.0.1:6391" }), "redis", "redis://127.0.0.1:6391"],
      [
        createCluster({ rootNodes: [{ url: "redis://127.0.0.1:7001" }] }),
        "redis cluster",
        "the client's server",
      ],
    ];
    expectAdapters(cases);
  });

  it("recognizes the real ioredis clients (v6 and v5) and tells where they connect", () => {
    const cases: [unknown, string, string][] = [
      [
        new IoRedis({ lazyConnect: true, host: "h.example", port: 7001 }),
        "ioredis",
        "h.example:7001",
      ],
      [new IoRedis({ lazyConnect: true }), "ioredis", "localhost:6379"],
      [new IoRedis({ lazyConnect: true, path: "/tmp/io.sock" }), "ioredis", "/tmp/io.sock"],
      [
        new IoRedis5({ lazyConnect: true, host: "h5.example", port: 7005 }),
        "ioredis",
        "h5.example:7005",
      ],
      [
        new IoCluster([{ host: "127.0.0.1", port: 7002 }], { lazyConnect: true }),
        "ioredis cluster",
        "the client's server",
      ],
    ];
    expectAdapters(cases);
  });

  it("throws a TypeError naming what it got instead of a client", () => {
    const expected = (shape: string) =>
      `redisBackplane() expects a client from the redis package (createClient, createCluster) or from ioredis (new Redis, new Cluster); got ${shape}`;
    const cases: [unknown, string][] = [
      [undefined, "undefined"],
      ["redis://localhost", "string"],
      [{}, "an object with no keys"],
      [{ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }, "an object with a, b, c, d, e, f"],
      // Almost a client: each family needs duplicate and subscribe too.
      [{ isOpen: false, duplicate() {} }, "an object with isOpen, duplicate"],
      [{ status: "wait", subscribe() {} }, "an object with status, subscribe"],
    ];
    for (const [client, shape] of cases) {
      assert.throws(
        () => adapterFor(client, quiet),
        (error: unknown) => error instanceof TypeError && error.message === expected(shape),
        shape,
      );
    }
  });
});

const FAMILIES = [
  {
    name: "redis",
    make: (broker: FakeBroker) => new FakeNodeRedis(broker),
    cluster: (broker: FakeBroker) => new FakeNodeRedisCluster(broker),
    kinds: ["redis", "redis cluster"],
  },
  {
    name: "ioredis",
    make: (broker: FakeBroker) => new FakeIoRedis(broker),
    cluster: (broker: FakeBroker) => new FakeIoRedisCluster(broker),
    kinds: ["ioredis", "ioredis cluster"],
  },
] as const;

for (const family of FAMILIES) {
  describe(`the ${family.name} adapter`, () => {
    it("connects the given client, duplicates it for subscribing, and is ready once both are", async () => {
      const broker = new FakeBroker();
      const client = family.make(broker);
      const { events, heard } = recorder();
      const adapter: RedisAdapter = adapterFor(client, events);
      assert.equal(adapter.kind, family.kinds[0]);
      assert.equal(adapter.ready(), false);
      await adapter.connect();
      assert.equal(adapter.ready(), true);
      assert.equal(client.connectCalls, 1);
      assert.equal(client.duplicates.length, 1);
      assert.equal(client.duplicates[0].connected, true);
      assert.deepEqual(heard, ["ready", "ready"], "one per client");
      await adapter.close(false);
      assert.equal(adapter.ready(), false);
      assert.equal(client.duplicates[0].destroyed, true, "the subscriber it created is closed");
      assert.equal(client.destroyed, false, "the given client stays open");
      client.end();
    });

    for (const [name, sharded] of [
      ["on plain channels with a client", false],
      ["sharded with a cluster client", true],
    ] as const) {
      it(`publishes and subscribes ${name}, handing both channel and message as bytes`, async () => {
        const broker = new FakeBroker();
        const client = sharded ? family.cluster(broker) : family.make(broker);
        const { events, heard, until } = recorder();
        const adapter = adapterFor(client, events);
        assert.equal(adapter.kind, family.kinds[sharded ? 1 : 0]);
        await adapter.connect();
        heard.length = 0;
        await adapter.subscribe("ch");
        assert.deepEqual(broker.channels(), [broker.key("ch", sharded)]);
        await adapter.publish("ch", Buffer.from([0, 255, 10]));
        await until(1);
        assert.deepEqual(heard, ["message ch 00ff0a"]);
        assert.deepEqual(
          broker.published.map((p) => [p.channel, p.sharded]),
          [["ch", sharded]],
        );
        await adapter.unsubscribe("ch");
        assert.deepEqual(broker.channels(), []);
        await adapter.close(false);
        client.end();
      });
    }

    it("reports a lost connection, then ready again; nothing once closed", async () => {
      const broker = new FakeBroker();
      const client = family.make(broker);
      const { events, heard, until } = recorder();
      const adapter = adapterFor(client, events);
      await adapter.connect();
      heard.length = 0;
      broker.stop();
      await until(2);
      assert.equal(adapter.ready(), false);
      const lost =
        family.name === "redis"
          ? "lost Socket closed unexpectedly"
          : "lost connection to fake:6379 closed";
      assert.deepEqual(heard, [lost, lost], "the given client and the subscriber");
      heard.length = 0;
      broker.start();
      await until(2);
      assert.deepEqual(heard, ["ready", "ready"]);
      assert.equal(adapter.ready(), true);
      await adapter.close(false);
      heard.length = 0;
      // An 'error' would now throw: no listener of the adapter is left.
      for (const event of ["ready", "connect", "node-ready", "close"]) client.emit(event);
      assert.deepEqual(heard, [], "its listeners are gone from the given client");
      client.end();
    });

    it("removes its listeners from the given client on close", async () => {
      const broker = new FakeBroker();
      const client = family.make(broker);
      const before = new Map(client.eventNames().map((name) => [name, client.listenerCount(name)]));
      const adapter = adapterFor(client, quiet);
      await adapter.connect();
      assert.ok(client.listenerCount("error") > (before.get("error") ?? 0));
      await adapter.close(false);
      for (const name of client.eventNames()) {
        assert.equal(client.listenerCount(name), before.get(name) ?? 0, String(name));
      }
      client.end();
    });

    it("close(true) disconnects the given client only when it connected it", async () => {
      const broker = new FakeBroker();
      const unconnected = family.make(broker);
      const first = adapterFor(unconnected, quiet);
      await first.connect();
      await first.close(true);
      assert.equal(unconnected.destroyed, true, "it connected this one: it disconnects it");

      const connected = family.make(broker);
      await connected.connect();
      for (let i = 0; i < 100 && !connected.connected; i++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const second = adapterFor(connected, quiet);
      await second.connect();
      assert.equal(connected.connectCalls, 1, "a connected client is used as it is");
      await second.close(true);
      assert.equal(
        connected.destroyed,
        false,
        "the application's connection stays the application's",
      );
      connected.end();
    });
  });
}
