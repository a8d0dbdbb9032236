// Topics across processes on a real redis-server (Debian's), with both the
// `redis` and the `ioredis` client, each in its current and previous major
// version (node-redis over RESP2 and RESP3): three server processes
// (test/support/topics-node.ts) on one Redis listening on a Unix socket in a
// temporary folder (no TCP port at all), clients spread across them. Redis
// is killed and restarted mid-run; a server process is killed mid-run.
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type ClientConnection, connect } from "../src/node/client.ts";
import { withTimeout } from "../test/helpers/net.ts";
import { RedisServer } from "./helpers/redis-server.ts";
import { requireNpmPackage, requireRedisServer } from "./helpers/requirements.ts";

const NODE = fileURLToPath(new URL("../test/support/topics-node.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "websockets-ts-redis-"));
const children = new Set<ChildProcess>();

const redisServers: RedisServer[] = [];

/** A redis-server in the test's folder, killed at the end whatever happens. */
function redisServer(name: string, port = 0): RedisServer {
  const redis = new RedisServer(dir, name, port);
  redisServers.push(redis);
  return redis;
}
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(redisServers.map((redis) => redis.kill()));
  rmSync(dir, { recursive: true, force: true });
});

/** Waits until `check()` holds, polling, for at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** A client and its major version; `-resp3`: node-redis over RESP3. */
type Kind = "redis" | "redis5" | "ioredis" | "ioredis5" | "redis-resp3" | "redis5-resp3";

/** A server process of test/support/topics-node.ts. */
class ChatNode {
  readonly path: string;
  readonly child: ChildProcess;
  #output = "";

  constructor(name: string, kind: Kind, redis: RedisServer) {
    this.path = join(dir, `${name}.sock`);
    this.child = spawn(process.execPath, ["--import", "tsx", NODE], {
      env: {
        ...process.env,
        TOPICS_BACKPLANE: kind.replace("-resp3", ""),
        RESP: kind.endsWith("-resp3") ? "3" : "2",
        REDIS_SOCKET: redis.socket,
        SOCKET_PATH: this.path,
        NODE_NAME: name,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(this.child);
    this.child.once("exit", () => children.delete(this.child));
    this.child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      this.#output += text;
    });
    this.child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      this.#output += text;
    });
  }

  get output(): string {
    return this.#output;
  }

  started(): Promise<void> {
    return until(() => {
      if (this.child.exitCode !== null) throw new Error(`node exited early:\n${this.#output}`);
      return this.#output.includes(`listening ${this.path}`);
    }, `${this.path} to listen`);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.child.kill(signal);
    await withTimeout(exited(this.child), 10_000, `${this.path} didn't exit`);
  }
}

async function startNodes(redis: RedisServer, kinds: Kind[], tag: string) {
  const nodes = kinds.map((kind, i) => new ChatNode(`${tag}-${i}-${kind}`, kind, redis));
  await Promise.all(nodes.map((node) => node.started()));
  return nodes;
}

async function joinTopic(node: ChatNode, topic: string): Promise<ClientConnection> {
  const ws = await connect("ws://localhost/", { path: node.path, logger: false });
  await ws.send(topic);
  assert.match((await ws.recv()) as string, /^subscribed /);
  return ws;
}

function recv(ws: ClientConnection, what = "a message"): Promise<unknown> {
  return withTimeout(ws.recv(), 20_000, `no ${what} within 20 s`);
}

before(() => {
  requireRedisServer();
  requireNpmPackage("redis");
  requireNpmPackage("ioredis");
});

/** A free TCP port on 127.0.0.1 (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const EXAMPLE = fileURLToPath(new URL("../examples/chat-redis.ts", import.meta.url));

describe("examples/chat-redis.ts", () => {
  it("two processes on one Redis share a room", async () => {
    const redis = redisServer("redis-example", await freePort());
    await redis.start();
    const processes = [0, 1].map(() => {
      const child = spawn(process.execPath, ["--import", "tsx", EXAMPLE], {
        env: {
          ...process.env,
          HOST: "127.0.0.1",
          PORT: "0",
          REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.add(child);
      let output = "";
      child.stdout?.setEncoding("utf8").on("data", (text: string) => {
        output += text;
      });
      child.stderr?.setEncoding("utf8").on("data", (text: string) => {
        output += text;
      });
      return { child, output: () => output };
    });
    const ports: number[] = [];
    for (const { child, output } of processes) {
      await until(() => {
        if (child.exitCode !== null) throw new Error(`chat-redis exited early:\n${output()}`);
        return /listening on ws:\/\/127\.0\.0\.1:\d+/.test(output());
      }, "chat-redis to listen");
      ports.push(Number(/listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(output())?.[1]));
    }
    const ada = await connect(`ws://127.0.0.1:${ports[0]}/lobby?name=ada`, { logger: false });
    assert.match((await recv(ada)) as string, /^welcome to lobby, ada \(pid \d+\)$/);
    const bob = await connect(`ws://127.0.0.1:${ports[1]}/lobby?name=bob`, { logger: false });
    assert.match((await recv(bob)) as string, /^welcome to lobby, bob/);
    assert.equal(await recv(ada), "bob joined");
    await ada.send("hi bob");
    assert.equal(await recv(ada), "ada: hi bob");
    assert.equal(await recv(bob), "ada: hi bob");
    await bob.close();
    assert.equal(await recv(ada), "bob left");
    for (const { child } of processes) child.kill("SIGTERM");
    await ada.closed;
    assert.equal(ada.closeCode, 1001);
    for (const { child, output } of processes) {
      await withTimeout(exited(child), 10_000, "chat-redis didn't exit");
      assert.equal(child.exitCode, 0, output());
    }
    await redis.kill();
  });
});

describe("topics on redis-server", () => {
  it("three processes, both clients: every client gets every message of its topic once, in order", async () => {
    const redis = redisServer("redis-a");
    await redis.start();
    const nodes = await startNodes(redis, ["redis", "ioredis5", "redis5-resp3"], "a");
    const room = await Promise.all(
      nodes.flatMap((node) => [joinTopic(node, "room"), joinTopic(node, "room")]),
    );
    const other = await joinTopic(nodes[2], "other");
    // One publisher per process, interleaving.
    const publishers = [room[0], room[2], room[4]];
    const count = 100;
    await Promise.all(
      publishers.map(async (ws, p) => {
        for (let i = 0; i < count; i++) {
          await ws.send(i % 10 === 0 ? Buffer.from(`${p}:${i}`) : `${p}:${i}`);
        }
      }),
    );
    await Promise.all(
      room.map(async (ws) => {
        const own = publishers.indexOf(ws);
        const received: string[] = [];
        const expected = (own === -1 ? 3 : 2) * count;
        for (let i = 0; i < expected; i++) {
          const message = await recv(ws);
          // Binary stays binary, text stays text.
          received.push(Buffer.isBuffer(message) ? `bin ${message}` : (message as string));
        }
        for (let p = 0; p < publishers.length; p++) {
          const fromP = received.filter((m) => m.replace("bin ", "").startsWith(`${p}:`));
          if (p === own) {
            assert.deepEqual(fromP, []);
          } else {
            assert.deepEqual(
              fromP,
              Array.from({ length: count }, (_, i) =>
                i % 10 === 0 ? `bin ${p}:${i}` : `${p}:${i}`,
              ),
            );
          }
        }
      }),
    );
    // "other" heard nothing of "room".
    const otherPublisher = await joinTopic(nodes[0], "other");
    await otherPublisher.send("to other");
    assert.equal(await recv(other), "to other");
    for (const node of nodes) assert.doesNotMatch(node.output, /WARN|ERROR/, node.output);

    await Promise.all([...room, other, otherPublisher].map((ws) => ws.close()));
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.kill();
  });

  it("Redis killed and restarted: local delivery goes on, WARN once, back with INFO, gaps logged", async () => {
    const redis = redisServer("redis-b");
    await redis.start();
    const nodes = await startNodes(redis, ["redis-resp3", "ioredis", "redis5"], "b");
    const [local, n1, n2] = [
      await joinTopic(nodes[0], "room"),
      await joinTopic(nodes[1], "room"),
      await joinTopic(nodes[2], "room"),
    ];
    const publisher = await joinTopic(nodes[0], "room");
    await publisher.send("before");
    for (const ws of [local, n1, n2]) assert.equal(await recv(ws), "before");

    await redis.kill();
    await until(
      () => nodes.every((node) => /backplane lost/.test(node.output)),
      "every node to notice",
    );
    for (let i = 0; i < 5; i++) await publisher.send(`during ${i}`);
    for (let i = 0; i < 5; i++) assert.equal(await recv(local), `during ${i}`);

    await redis.start();
    await until(
      () =>
        nodes.every((node) => /backplane is back; resubscribed to 1 topic\(s\)/.test(node.output)),
      "every node to be back",
    );
    assert.match(nodes[0].output, /5 message\(s\) published meanwhile were lost/);
    // The publisher's node may have re-subscribed a moment before the
    // others: probe until a message crosses to both, then check order.
    await publisher.send("after");
    assert.equal(await recv(local), "after");
    assert.equal(await recv(n1, "message after the restart"), "after");
    assert.equal(await recv(n2, "message after the restart"), "after");
    for (const node of nodes.slice(1)) {
      assert.match(node.output, /5 message\(s\) from node [0-9a-f]{16} on "room" were lost/);
      // WARN once per outage.
      assert.equal(node.output.match(/backplane lost/g)?.length, 1, node.output);
    }
    await Promise.all([local, n1, n2, publisher].map((ws) => ws.close()));
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.kill();
  });

  it("a server process killed mid-run: its clients reconnect to another; nobody else notices", async () => {
    const redis = redisServer("redis-c");
    await redis.start();
    const nodes = await startNodes(redis, ["ioredis", "redis", "ioredis5"], "c");
    const publisher = await joinTopic(nodes[0], "room");
    const steady = [
      await joinTopic(nodes[0], "room"),
      await joinTopic(nodes[1], "room"),
      await joinTopic(nodes[1], "room"),
    ];
    const movers = [await joinTopic(nodes[2], "room"), await joinTopic(nodes[2], "room")];
    const count = 200;

    // Movers: on losing their node, reconnect to node 1 and go on.
    const moverLogs = movers.map(async (first) => {
      const seen: number[] = [];
      let ws = first;
      while (seen.at(-1) !== count - 1) {
        try {
          seen.push(Number(await recv(ws)));
        } catch {
          ws = await joinTopic(nodes[1], "room");
        }
      }
      await ws.close();
      return seen;
    });
    const steadyLogs = steady.map(async (ws) => {
      const seen: number[] = [];
      for (let i = 0; i < count; i++) seen.push(Number(await recv(ws)));
      return seen;
    });
    for (let i = 0; i < count; i++) {
      if (i === 50) await nodes[2].stop("SIGKILL");
      await publisher.send(`${i}`);
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const everything = Array.from({ length: count }, (_, i) => i);
    for (const seen of await Promise.all(steadyLogs)) assert.deepEqual(seen, everything);
    for (const seen of await Promise.all(moverLogs)) {
      // In order, never twice; what was published while it moved is gone.
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], `${seen}`);
      assert.ok(seen.length >= 100, `${seen.length} messages`);
    }
    await Promise.all([publisher, ...steady].map((ws) => ws.close()));
    await Promise.all(nodes.slice(0, 2).map((node) => node.stop()));
    await redis.kill();
  });
});
