/**
 * Publish to many subscribers: how long until every subscriber has a 32-byte
 * message, and how many messages per second reach subscribers.
 *
 *   npm run bench -- topics [--subscribers 1000,10000] [--rounds 100]
 *                           [--burst 20] [--peers] [--redis] [--json]
 *
 * One process: our `server.publish()` against `ws` (a loop over clients,
 * as ws users write it) and, with `--peers`, Bun's `server.publish()`
 * (scripts/install-bench-peers.mjs installs Bun). With `--redis`: our
 * server as 1, 2 and 3 processes on one redis-server (started here on a
 * Unix socket), subscribers spread evenly, the publisher on process 1.
 *
 * Subscribers are raw TCP sockets in this process (a handshake, then
 * counting bytes: 34 per message), so the load generator costs the same
 * for every server. A round: `pub 1` on the control connection, then the
 * time until the last subscriber has the message (p50/p99 over rounds).
 * Throughput: `pub <burst>`, then subscribers x burst / time until every
 * subscriber has them all.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ClientConnection, connect } from "../src/index.ts";
import { RedisServer } from "../test-peers/helpers/redis-server.ts";
import { listPeers } from "./peers/installed.ts";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "1000,10000" },
    rounds: { type: "string", default: "100" },
    burst: { type: "string", default: "20" },
    peers: { type: "boolean", default: false },
    redis: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FRAME = 34; // 2-byte header + 32-byte payload, unmasked
const ROUND_TIMEOUT_MS = 30_000;
const counts = values.subscribers.split(",").map(Number);
const rounds = Number(values.rounds);
const burst = Number(values.burst);

interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

interface Running {
  child: ChildProcess;
  port: number;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

function start(spec: ServerSpec): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(spec.command, spec.args, {
      cwd: root,
      env: { ...process.env, ...spec.env, HOST: "127.0.0.1", PORT: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.add(child);
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${spec.name} didn't start`)), 30_000);
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      out += text;
      const match = /listening (\d+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once("exit", (code) => reject(new Error(`${spec.name} exited with ${code}`)));
  });
}

async function stop(running: Running): Promise<void> {
  const exited = new Promise((resolve) => running.child.once("exit", resolve));
  running.child.kill("SIGTERM");
  const timer = setTimeout(() => running.child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  children.delete(running.child);
}

/** A subscriber: a socket past its handshake, counting the bytes it gets. */
interface Subscriber {
  socket: Socket;
  bytes: number;
}

const REQUEST = (port: number) =>
  `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

let waiting: { target: number; remaining: number; resolve: () => void } | null = null;

function onBytes(subscriber: Subscriber, length: number): void {
  const before = subscriber.bytes;
  subscriber.bytes += length;
  const w = waiting;
  if (w !== null && before < w.target && subscriber.bytes >= w.target) {
    w.remaining -= 1;
    if (w.remaining === 0) {
      waiting = null;
      w.resolve();
    }
  }
}

function subscribe(port: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: "127.0.0.1", port, noDelay: true });
    const subscriber: Subscriber = { socket, bytes: 0 };
    let head = Buffer.alloc(0);
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      if (!head.subarray(0, 12).toString().endsWith("101")) {
        reject(new Error(`handshake failed: ${head.subarray(0, end).toString()}`));
        return;
      }
      socket.off("data", onHead);
      socket.on("data", (data: Buffer) => onBytes(subscriber, data.length));
      const rest = head.length - end - 4;
      if (rest > 0) onBytes(subscriber, rest);
      resolve(subscriber);
    };
    socket.on("data", onHead);
    socket.once("error", reject);
    socket.write(REQUEST(port));
  });
}

/** Resolves when every subscriber has `target` bytes (bounded). */
function everyoneHas(subscribers: Subscriber[], target: number): Promise<void> {
  const remaining = subscribers.filter((s) => s.bytes < target).length;
  if (remaining === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting = null;
      reject(new Error(`${remaining} subscribers short of ${target} bytes`));
    }, ROUND_TIMEOUT_MS);
    waiting = {
      target,
      remaining,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    };
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Result {
  server: string;
  subscribers: number;
  p50: number;
  p99: number;
  perSecond: number;
}

/** Subscribes `count` sockets spread over `ports`, then measures rounds and a burst. */
async function measure(name: string, ports: number[], count: number): Promise<Result> {
  const subscribers: Subscriber[] = [];
  // Connect in batches: a SYN flood of 10,000 overflows the accept backlog.
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) =>
      subscribe(ports[(i + j) % ports.length]),
    );
    subscribers.push(...(await Promise.all(batch)));
  }
  const controls: ClientConnection[] = [];
  for (const port of ports) {
    controls.push(
      await connect(`ws://127.0.0.1:${port}/control`, { logger: false, compression: null }),
    );
  }
  // Every server process counts its subscribers (live on the backplane).
  const expected = ports.map((_, p) => subscribers.filter((_, i) => i % ports.length === p).length);
  for (let attempt = 0; attempt < 200; attempt++) {
    const counted = await Promise.all(
      controls.map(async (control) => {
        await control.send("count");
        return Number(await control.recv());
      }),
    );
    if (counted.every((n, p) => n === expected[p])) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const control = controls[0];
  let sent = 0;
  // Warm-up, then measured rounds, one message at a time.
  const latencies: number[] = [];
  for (let round = -10; round < rounds; round++) {
    sent += 1;
    const started = performance.now();
    const done = everyoneHas(subscribers, sent * FRAME);
    await control.send("pub 1");
    await done;
    if (round >= 0) latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  sent += burst;
  const started = performance.now();
  const done = everyoneHas(subscribers, sent * FRAME);
  await control.send(`pub ${burst}`);
  await done;
  const seconds = (performance.now() - started) / 1000;
  for (const c of controls) await c.close();
  for (const s of subscribers) s.socket.destroy();
  return {
    server: name,
    subscribers: count,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    perSecond: (count * burst) / seconds,
  };
}

const tsx = (file: string, ...args: string[]) => ({
  command: process.execPath,
  args: ["--import", "tsx", file, ...args],
});
const specs: ServerSpec[] = [
  { name: "ours", ...tsx("bench/topics-server.ts", "ours") },
  { name: "ws", ...tsx("bench/topics-server.ts", "ws") },
];
const runtimes = [`node ${process.version}`];
if (values.peers) {
  const peers = listPeers(root);
  const bun = peers.find((peer) => peer.name === "bun");
  if (bun?.installed && bun.runtime !== null) {
    specs.push({
      name: "bun",
      command: bun.bin,
      args: ["bench/peers/bun-topics.ts"],
      env: bun.env,
    });
    runtimes.push(bun.runtime);
  } else {
    console.error(
      "topics: bun is not installed (node scripts/install-bench-peers.mjs installs it)",
    );
  }
}

const results: Result[] = [];
for (const count of counts) {
  for (const spec of specs) {
    const running = await start(spec);
    try {
      results.push(await measure(spec.name, [running.port], count));
    } finally {
      await stop(running);
    }
  }
}

if (values.redis) {
  const dir = mkdtempSync(join(tmpdir(), "websockets-ts-bench-redis-"));
  const redis = new RedisServer(dir, "redis");
  await redis.start();
  const socket = redis.socket;
  try {
    for (const count of counts) {
      for (const processes of [1, 2, 3]) {
        const spec = {
          name: `ours x${processes} redis`,
          ...tsx("bench/topics-server.ts", "ours"),
          env: { BACKPLANE: "redis", REDIS_SOCKET: socket },
        };
        const running = await Promise.all(Array.from({ length: processes }, () => start(spec)));
        try {
          results.push(
            await measure(
              spec.name,
              running.map((r) => r.port),
              count,
            ),
          );
        } finally {
          await Promise.all(running.map(stop));
        }
      }
    }
  } finally {
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.json) {
  console.log(JSON.stringify({ runtimes, rounds, burst, results }, null, 2));
} else {
  console.log(`topics: 32-byte messages, ${rounds} rounds, burst ${burst}; ${runtimes.join(", ")}`);
  console.log("(shared 2-core machine: compare ratios within this run, not absolute figures)\n");
  const header = ["server", "subscribers", "p50 ms", "p99 ms", "msgs/s delivered", "p50 vs ours"];
  const rows = results.map((r) => {
    const ours = results.find((o) => o.server === "ours" && o.subscribers === r.subscribers);
    return [
      r.server,
      String(r.subscribers),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      Math.round(r.perSecond).toLocaleString("en-US"),
      ours === undefined ? "" : `${(r.p50 / ours.p50).toFixed(2)}x`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
process.exit(0);
