/**
 * Publish to many subscribers: how long until every subscriber has a 32-byte
 * message, and how many messages per second reach subscribers.
 *
 *   npm run bench -- topics [--subscribers 1000,10000] [--rounds 100]
 *                           [--burst 20] [--trials 3] [--peers] [--redis]
 *                           [--deflate] [--no-pin] [--c-only] [--json]
 *                           [--impl ours,raw] [--baseline ../other-checkout]
 *
 * One process: our `server.publish()` against `ws` (a loop over clients,
 * as ws users write it) and, with `--peers`, Bun's `server.publish()`
 * (scripts/install-bench-peers.mjs installs Bun). Their subscribers are
 * held by the C load generator (bench/loadgen.c `subscribe`), pinned to
 * the other CPU than the server, so the receiving side is never the
 * bottleneck; `--trials` runs alternate between the servers and the
 * median is kept. The generator also reads the server's CPU time: CPU per
 * message delivered depends much less on a busy machine than latency.
 * `--deflate` adds ours with permessage-deflate publishing 512 bytes of
 * JSON to subscribers that ask for server_no_context_takeover (compressed
 * once for all) and to subscribers that don't (compressed per subscriber).
 * Socket.IO (a room, bench/topics-socketio.ts) speaks its own protocol on
 * top: its subscribers are Node sockets in this process, as are those of
 * the Redis rows. With `--redis`: our server, and Socket.IO with
 * `@socket.io/redis-adapter`, as 1, 2 and 3 processes on one redis-server
 * (started here on a Unix socket), subscribers spread evenly, the
 * publisher on process 1.
 *
 * `--baseline DIR` adds a server `base`: ours from another (built)
 * checkout, in the same alternating trials, for an A/B of a change.
 * `--impl` keeps the C-held servers named (ours, ws, raw, raw-http, base,
 * bun, deno).
 *
 * Subscribers are raw TCP sockets in this process (a handshake, then
 * counting bytes: 34 per message; 44 for Socket.IO's `42["m","…"]`, after
 * its open and connect packets), so the load generator costs the same
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
import { dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ClientConnection, connect } from "../src/index.ts";
import { RedisServer } from "../test-peers/helpers/redis-server.ts";
import { buildLoadgen, choosePinning, pinned, runSubscribers } from "./echo-loadgen.ts";
import { listPeers } from "./peers/installed.ts";

const { values } = parseArgs({
  options: {
    subscribers: { type: "string", default: "1000,10000" },
    rounds: { type: "string", default: "100" },
    burst: { type: "string", default: "20" },
    peers: { type: "boolean", default: false },
    redis: { type: "boolean", default: false },
    trials: { type: "string", default: "3" },
    deflate: { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    // Only the servers whose subscribers the C generator holds: no Socket.IO.
    "c-only": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    baseline: { type: "string" },
    impl: { type: "string" },
  },
});

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
/**
 * How a server family is spoken to: where subscribers connect, the size of
 * one message on the wire, and the control commands.
 */
interface Dialect {
  path: string;
  /** Bytes of one 32-byte message as a frame. */
  frame: number;
  /** Frames the server sends before messages flow (Socket.IO: open, connect). */
  preamble: number;
  /** A masked text frame the subscriber sends after the preamble's first frame, or null. */
  hello: Buffer | null;
  count(control: ClientConnection): Promise<number>;
  pub(control: ClientConnection, n: number): Promise<void>;
}

// A masked text frame "40" (connect to the main namespace), mask key 0.
const SOCKET_IO_CONNECT = Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x34, 0x30]);

const PLAIN: Dialect = {
  path: "/",
  frame: 34, // 2-byte header + 32-byte payload, unmasked
  preamble: 0,
  hello: null,
  async count(control) {
    await control.send("count");
    return Number(await control.recv());
  },
  pub: (control, n) => control.send(`pub ${n}`),
};

const SOCKET_IO: Dialect = {
  path: "/socket.io/?EIO=4&transport=websocket",
  frame: 44, // 42["m","<32 bytes>"]
  preamble: 2,
  hello: SOCKET_IO_CONNECT,
  async count(control) {
    await control.send('420["count"]');
    return Number(/^430\[(\d+)\]$/.exec(String(await control.recv()))?.[1]);
  },
  pub: (control, n) => control.send(`42["pub",${n}]`),
};
const ROUND_TIMEOUT_MS = 30_000;
const counts = values.subscribers.split(",").map(Number);
const rounds = Number(values.rounds);
const burst = Number(values.burst);

interface ServerSpec {
  name: string;
  dialect?: Dialect;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** A CPU to pin the server to (`taskset`), or none. */
  cpu?: string | null;
  /** What the C generator's subscribers offer: permessage-deflate asking for server_no_context_takeover, or not. */
  deflate?: "shared" | "own";
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
    const { command, args } = pinned(spec.cpu ?? null, spec.command, spec.args);
    const child = spawn(command, args, {
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

const REQUEST = (port: number, path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
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

function subscribe(port: number, dialect: Dialect): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: "127.0.0.1", port, noDelay: true });
    const subscriber: Subscriber = { socket, bytes: 0 };
    let head = Buffer.alloc(0);
    let upgraded = false;
    let preamble = dialect.preamble;
    // Until messages flow: the response head, then the preamble's frames
    // (each under 126 bytes: a 2-byte header).
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (!upgraded) {
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        if (!head.subarray(0, 12).toString().endsWith("101")) {
          reject(new Error(`handshake failed: ${head.subarray(0, end).toString()}`));
          return;
        }
        upgraded = true;
        head = head.subarray(end + 4);
      }
      while (preamble > 0 && head.length >= 2 && head.length >= 2 + head[1]) {
        head = head.subarray(2 + head[1]);
        if (preamble === dialect.preamble && dialect.hello !== null) socket.write(dialect.hello);
        preamble -= 1;
      }
      if (preamble > 0) return;
      socket.off("data", onHead);
      socket.on("data", (data: Buffer) => onBytes(subscriber, data.length));
      if (head.length > 0) onBytes(subscriber, head.length);
      resolve(subscriber);
    };
    socket.on("data", onHead);
    socket.once("error", reject);
    socket.write(REQUEST(port, dialect.path));
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
  /** Who held the subscribers: the C generator or Node sockets in this process. */
  held: "C" | "Node";
  subscribers: number;
  p50: number;
  p99: number;
  perSecond: number;
  /** Server CPU per message delivered to one subscriber, µs: one at a time, in a burst (C generator only). */
  cpuRound: number | null;
  cpuBurst: number | null;
}

/** Subscribes `count` sockets spread over `ports`, then measures rounds and a burst. */
async function measure(
  name: string,
  ports: number[],
  count: number,
  dialect: Dialect = PLAIN,
): Promise<Result> {
  const subscribers: Subscriber[] = [];
  // Connect in batches: a SYN flood of 10,000 overflows the accept backlog.
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) =>
      subscribe(ports[(i + j) % ports.length], dialect),
    );
    subscribers.push(...(await Promise.all(batch)));
  }
  const controls: ClientConnection[] = [];
  for (const port of ports) {
    const path = dialect === PLAIN ? "/control" : `${dialect.path}&control=1`;
    const control = await connect(`ws://127.0.0.1:${port}${path}`, {
      logger: false,
      compression: null,
    });
    if (dialect === SOCKET_IO) {
      await control.recv(); // open
      await control.send("40");
      await control.recv(); // connected
    }
    controls.push(control);
  }
  // Every server process counts its subscribers (live on the backplane);
  // Socket.IO counts the room's sockets in every process.
  const expected = ports.map((_, p) =>
    dialect === SOCKET_IO ? count : subscribers.filter((_, i) => i % ports.length === p).length,
  );
  for (let attempt = 0; attempt < 200; attempt++) {
    const counted = await Promise.all(controls.map((control) => dialect.count(control)));
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
    const done = everyoneHas(subscribers, sent * dialect.frame);
    await dialect.pub(control, 1);
    await done;
    if (round >= 0) latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  sent += burst;
  const started = performance.now();
  const done = everyoneHas(subscribers, sent * dialect.frame);
  await dialect.pub(control, burst);
  await done;
  const seconds = (performance.now() - started) / 1000;
  for (const c of controls) await c.close();
  for (const s of subscribers) s.socket.destroy();
  return {
    server: name,
    held: "Node",
    subscribers: count,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    perSecond: (count * burst) / seconds,
    cpuRound: null,
    cpuBurst: null,
  };
}

// The C generator's largest CPU share while it waited, over the run: near 1, it was the bottleneck.
let generatorShare = 0;

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Runs `specs` on the C generator, `trials` times each, alternating (the
 * order reversed every other trial, so no server always runs first), and
 * keeps the median of each figure.
 */
async function measureWithLoadgen(
  bin: string,
  generatorCpu: string | null,
  specs: ServerSpec[],
  count: number,
): Promise<Result[]> {
  const trials = new Map<string, Result[]>(specs.map((spec) => [spec.name, []]));
  for (let trial = 0; trial < Number(values.trials); trial++) {
    const order = trial % 2 === 0 ? specs : [...specs].reverse();
    for (const spec of order) {
      const running = await start(spec);
      try {
        const result = await runSubscribers(bin, generatorCpu, {
          port: running.port,
          subscribers: count,
          rounds,
          burst,
          serverPid: running.child.pid,
          deflate: spec.deflate,
        });
        generatorShare = Math.max(generatorShare, result.round_cpu, result.burst_cpu);
        trials.get(spec.name)!.push({
          server: spec.name,
          held: "C",
          subscribers: count,
          p50: (result.p50_us ?? Number.NaN) / 1000,
          p99: (result.p99_us ?? Number.NaN) / 1000,
          perSecond: result.per_second,
          cpuRound: result.server_round_ns / 1000,
          cpuBurst: result.server_burst_ns / 1000,
        });
      } catch (error) {
        // One failed trial (a server too slow for the round's time limit) leaves the others.
        console.error(`topics: ${spec.name}, ${count} subscribers: ${(error as Error).message}`);
      } finally {
        await stop(running);
      }
    }
  }
  return specs.flatMap((spec) => {
    const all = trials.get(spec.name)!;
    if (all.length === 0) return [];
    const of = (pick: (r: Result) => number) => median(all.map(pick));
    const result: Result = {
      server: spec.name,
      held: "C",
      subscribers: count,
      p50: of((r) => r.p50),
      p99: of((r) => r.p99),
      perSecond: of((r) => r.perSecond),
      cpuRound: of((r) => r.cpuRound!),
      cpuBurst: of((r) => r.cpuBurst!),
    };
    return [result];
  });
}

const tsx = (file: string, ...args: string[]) => ({
  command: process.execPath,
  args: ["--import", "tsx", file, ...args],
});
const loadgen = buildLoadgen();
const pinning = choosePinning(loadgen !== null && values["no-pin"] !== true);
const specs: ServerSpec[] = [
  { name: "ours", ...tsx("bench/topics-server.ts", "ours"), cpu: pinning.server },
  { name: "ws", ...tsx("bench/topics-server.ts", "ws"), cpu: pinning.server },
  // Node's floor: one socket.write() per subscriber and nothing else.
  { name: "raw", ...tsx("bench/topics-server.ts", "raw"), cpu: pinning.server },
  // The same on sockets from node:http's upgrade, as ours's and ws's are.
  { name: "raw-http", ...tsx("bench/topics-server.ts", "raw-http"), cpu: pinning.server },
];
if (values.deflate) {
  // 512 bytes of JSON compressed once for every subscriber, or per subscriber.
  for (const deflate of ["shared", "own"] as const) {
    specs.push({
      name: `ours deflate ${deflate}`,
      ...tsx("bench/topics-server.ts", "ours"),
      env: { COMPRESSION: "deflate" },
      cpu: pinning.server,
      deflate,
    });
  }
}
if (values.baseline !== undefined) {
  const file = join(resolvePath(values.baseline), "bench/topics-server.ts");
  specs.push({ name: "base", ...tsx(file, "ours"), cpu: pinning.server });
}
const socketIo: ServerSpec = {
  name: "socket.io",
  ...tsx("bench/topics-socketio.ts"),
  dialect: SOCKET_IO,
};
const runtimes = [`node ${process.version}`];
if (values.peers) {
  // Each runtime's echo command, with its topics script instead of the echo one.
  for (const peer of listPeers(root)) {
    if (!peer.installed || peer.runtime === null) {
      console.error(
        `topics: ${peer.name} is not installed (node scripts/install-bench-peers.mjs installs it)`,
      );
      continue;
    }
    specs.push({
      name: peer.name,
      command: peer.bin,
      args: peer.args.map((arg) => arg.replace(/-echo\.ts$/, "-topics.ts")),
      env: peer.env,
      cpu: pinning.server,
    });
    runtimes.push(peer.runtime);
  }
}

if (values.impl !== undefined) {
  const wanted = new Set(values.impl.split(","));
  for (let i = specs.length - 1; i >= 0; i--) if (!wanted.has(specs[i].name)) specs.splice(i, 1);
}
const results: Result[] = [];
for (const count of counts) {
  if (loadgen !== null) {
    results.push(...(await measureWithLoadgen(loadgen, pinning.generator, specs, count)));
  }
  // Without cc, every server on the Node subscribers. Socket.IO always,
  // and ours with it: the reference of the Socket.IO and Redis rows.
  const nodeHeld =
    loadgen === null
      ? [...specs, socketIo]
      : values["c-only"]
        ? []
        : [...specs.filter((s) => s.name === "ours").map((s) => ({ ...s, cpu: null })), socketIo];
  for (const spec of nodeHeld) {
    const running = await start(spec);
    try {
      results.push(await measure(spec.name, [running.port], count, spec.dialect));
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
    const families = [
      { label: "ours", file: "bench/topics-server.ts", args: ["ours"], dialect: PLAIN },
      { label: "socket.io", file: "bench/topics-socketio.ts", args: [], dialect: SOCKET_IO },
    ];
    for (const count of counts) {
      for (const family of families) {
        for (const processes of [1, 2, 3]) {
          const spec = {
            name: `${family.label} x${processes} redis`,
            ...tsx(family.file, ...family.args),
            env: { BACKPLANE: "redis", REDIS_SOCKET: socket },
          };
          const running = await Promise.all(Array.from({ length: processes }, () => start(spec)));
          try {
            const ports = running.map((r) => r.port);
            results.push(await measure(spec.name, ports, count, family.dialect));
          } finally {
            await Promise.all(running.map(stop));
          }
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
  const generator =
    loadgen === null
      ? "Node subscribers"
      : `C subscribers (bench/loadgen.c)${pinning.generator === null ? "" : ` on CPU ${pinning.generator}, servers on CPU ${pinning.server}`}, median of ${values.trials} alternating trials; Socket.IO and Redis rows, and ours as their reference: Node subscribers`;
  console.log(`topics: 32-byte messages, ${rounds} rounds, burst ${burst}; ${runtimes.join(", ")}`);
  console.log(generator);
  if (loadgen !== null) {
    console.log(
      `C generator's CPU share while waiting: at most ${(100 * generatorShare).toFixed(0)}%`,
    );
  }
  console.log("(shared 2-core machine: compare ratios within this run, not absolute figures)\n");
  const header = [
    "server",
    "held by",
    "subscribers",
    "p50 ms",
    "p99 ms",
    "msgs/s delivered",
    "cpu µs/msg 1",
    `cpu µs/msg ${burst}`,
    "p50 vs ours",
    "cpu 1 vs ours",
  ];
  const cpu = (v: number | null) => (v === null ? "" : v.toFixed(2));
  const rows = results.map((r) => {
    const ours = results.find(
      (o) => o.server === "ours" && o.held === r.held && o.subscribers === r.subscribers,
    );
    const ratio = (a: number | null | undefined, b: number | null | undefined) =>
      a == null || b == null ? "" : `${(a / b).toFixed(2)}x`;
    return [
      r.server,
      r.held,
      String(r.subscribers),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      Math.round(r.perSecond).toLocaleString("en-US"),
      cpu(r.cpuRound),
      cpu(r.cpuBurst),
      ratio(r.p50, ours?.p50),
      ratio(r.cpuRound, ours?.cpuRound),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
process.exit(0);
