/**
 * Echo benchmark: our server against `ws` (and a raw Node echo, the ceiling)
 * with the same load generator, in one run, alternating implementations
 * round by round so drift on a shared machine hits each of them alike.
 *
 *   npm run bench -- echo [--quick] [--rounds 3] [--duration 1500] [--settle 2000]
 *     [--impl ours,compat,ws,raw] [--only 32 B] [--idle 10000] [--stat median|best]
 *     [--server name=command] [--peers] [--gen c|node] [--no-pin] [--json]
 *
 * Three kinds of process: this orchestrator (idle while measuring), one echo
 * server per implementation (bench/echo-server.ts, or any command following
 * its contract), and the load generator: bench/loadgen.c (one process per
 * job, see bench/echo-loadgen.ts) for the measured rows, bench/echo-load.ts
 * for holding idle connections. With two CPUs and `taskset`, the generator
 * runs on CPU 0 and every server on CPU 1. `--peers` adds
 * Bun's and Deno's built-in servers (bench/peers/), when
 * scripts/install-bench-peers.mjs has installed them. `--impl c-echo` adds
 * the C echo server (bench/echoserver.c) on the plain rows: the generator's
 * own ceiling, against which the table shows whether it set a row's pace.
 *
 * @module
 */

import { type ChildProcess, fork, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as localhostTls from "../test/helpers/localhost-tls.ts";
import type { Job, JobResult } from "./echo-load.ts";
import {
  buildEchoServer,
  buildLoadgen,
  type LoadJob,
  type LoadResult,
  pinned,
  runLoadgen,
} from "./echo-loadgen.ts";
import { parseRunOptions } from "./echo-options.ts";
import { cpuSeconds, stopServer } from "./echo-process.ts";
import { listPeers } from "./peers/installed.ts";
import { busySeconds, othersShare, quietRounds } from "./support/cpu-share.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

const { run: shared, values } = parseRunOptions({
  impl: { type: "string" },
  idle: { type: "string" },
  stat: { type: "string", default: "median" },
  server: { type: "string", multiple: true },
  json: { type: "boolean", default: false },
  gen: { type: "string", default: "c" },
});

const { quick, rounds, durationMs, warmupMs, settleMs, pinning } = shared;
const idleCount = Number(values.idle ?? (quick ? 1000 : 10_000));
const stat = values.stat === "best" ? "best" : "median";
// The C generator unless asked for the Node one or there is no compiler.
const loadgen = values.gen === "node" ? null : buildLoadgen();

interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  shell: boolean;
  env?: Record<string, string>;
}

const nodeServer = (impl: string): ServerSpec => ({
  name: impl,
  command: process.execPath,
  args: ["--import", "tsx", join(here, "echo-server.ts"), impl],
  shell: false,
});

let implNames = (values.impl ?? "ours,compat,ws,raw").split(",").filter((name) => name !== "");
if (implNames.includes("ours") && !existsSync(join(root, "src", "index.ts"))) {
  console.error("echo: src/index.ts does not exist yet; benchmarking without `ours`");
  implNames = implNames.filter((name) => name !== "ours");
}
// The generator's ceiling: the cheapest echo there is, built from C like the generator.
const CEILING = "c-echo";
const ceilingServer = (): ServerSpec => {
  const bin = buildEchoServer();
  if (bin === null) throw new Error(`echo: ${CEILING} needs cc to build bench/echoserver.c`);
  return { name: CEILING, command: bin, args: ["0"], shell: false };
};
const specs: ServerSpec[] = implNames.map((name) =>
  name === CEILING ? ceilingServer() : nodeServer(name),
);
for (const entry of values.server ?? []) {
  const eq = entry.indexOf("=");
  if (eq <= 0) throw new Error(`--server expects name=command, got ${JSON.stringify(entry)}`);
  specs.push({ name: entry.slice(0, eq), command: entry.slice(eq + 1), args: [], shell: true });
}

// Runtimes next to Node in the header, so a table says what it compared.
const runtimes = [`node ${process.version}`];
if (shared.peers) {
  // The install script pins the versions and knows the commands.
  for (const peer of listPeers(root)) {
    if (peer.installed && peer.runtime !== null) {
      specs.push({
        name: peer.name,
        command: peer.bin,
        args: peer.args,
        shell: false,
        env: peer.env,
      });
      runtimes.push(peer.runtime);
    } else {
      console.error(
        `echo: ${peer.name} is not installed; benchmarking without it ` +
          "(node scripts/install-bench-peers.mjs installs it)",
      );
    }
  }
}

interface RunningServer {
  spec: ServerSpec;
  child: ChildProcess;
  port: number;
  stderr: string[];
}

/** Starts a server process and waits for its `listening <port>` line (bounded). */
function startServer(spec: ServerSpec, variant: Variant = "plain"): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const run = spec.shell
      ? {
          command:
            pinning.server === null
              ? spec.command
              : `exec taskset -c ${pinning.server} ${spec.command}`,
          args: [],
        }
      : pinned(pinning.server, spec.command, spec.args);
    const child = spawn(run.command, run.args, {
      cwd: root,
      shell: spec.shell,
      env: { ...process.env, ...spec.env, ...variantEnv(variant), HOST: "127.0.0.1", PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${spec.name}: no "listening <port>" line within 20 s`));
    }, 20_000);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => {
      // Keep a bounded tail: a server logging per connection must not eat memory.
      for (const line of text.split("\n"))
        if (line !== "" && stderr.length < 1000) stderr.push(line);
    });
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => {
      out += text;
      const match = /listening (\d+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ spec, child, port: Number(match[1]), stderr });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name}: exited with ${code} before listening\n${stderr.join("\n")}`));
    });
  });
}

let tlsFiles: { TLS_KEY: string; TLS_CERT: string } | null = null;

/** The environment that puts a server in a variant (bench/echo-server.ts documents it). */
function variantEnv(variant: Variant): Record<string, string> {
  if (variant === "deflate") return { COMPRESSION: "1" };
  if (variant === "hooks") return { PROCESS_REQUEST: "1" };
  if (variant === "plain") return {};
  if (tlsFiles === null) {
    // The test certificate for localhost, written where every runtime can read it.
    const dir = mkdtempSync(join(tmpdir(), "websockets-ts-bench-tls-"));
    tlsFiles = { TLS_KEY: join(dir, "key.pem"), TLS_CERT: join(dir, "cert.pem") };
    writeFileSync(tlsFiles.TLS_KEY, localhostTls.key);
    writeFileSync(tlsFiles.TLS_CERT, localhostTls.cert);
  }
  return tlsFiles;
}

/** Resident set size of a process, in bytes, from /proc (Linux). */
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

class LoadGenerator {
  #child: ChildProcess;
  constructor() {
    this.#child = fork(join(here, "echo-load.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  }
  run(job: Job): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
      this.#child.once("exit", onExit);
      this.#child.once("message", (result: JobResult) => {
        this.#child.off("exit", onExit);
        if (result.type === "error") reject(new Error(`load generator: ${result.message}`));
        else resolve(result);
      });
      this.#child.send(job);
    });
  }
  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.send({ type: "exit" } satisfies Job);
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

interface Sample {
  rate: number; // messages or handshakes per second
  genCpu: number; // load generator CPU, fraction of one core
  genBusy: number; // load generator not idle (on a CPU or waiting for one), fraction of the run
  genCpuPerOp: number; // load generator CPU microseconds per message or handshake
  serverCpuPerOp: number; // server CPU microseconds per message or handshake
  p50: number | null; // round-trip time of a message, microseconds (C generator only)
  p99: number | null;
  others: number | null; // share of the servers' CPU other processes took during the job
}

/**
 * Servers run in one of four set-ups; each row names the one it needs.
 * `hooks`: a request hook (bench/echo-server.ts's PROCESS_REQUEST).
 */
type Variant = "plain" | "hooks" | "deflate" | "tls";

interface Row {
  name: string;
  size?: number;
  variant: Variant;
  /** Run on servers of its own, started (and settled) for it and stopped after it. */
  fresh?: boolean;
  job: (port: number) => LoadJob;
}

const KIB = 1024;
// Not idle this share of the run, the generator may have set a row's pace...
const GENERATOR_BOUND = 0.8;
// ...unless it drove the C echo server this much faster than the fastest server (issue 17's test).
const CEILING_MARGIN = 1.5;
const MIB = 1024 * 1024;

const throughputRow = (
  name: string,
  size: number,
  conns: number,
  inflight: number,
  { text = false, variant = "plain" }: { text?: boolean; variant?: Variant } = {},
): Row => ({
  name,
  size,
  variant,
  job: (port) => ({
    type: "throughput",
    port,
    size,
    conns,
    inflight,
    warmupMs,
    durationMs,
    text,
    deflate: variant === "deflate",
    tls: variant === "tls",
  }),
});

const rows: Row[] = [
  throughputRow("32 B, 1 conn, 1 in flight", 32, 1, 1),
  throughputRow("32 B, 1 conn, 64 in flight", 32, 1, 64),
  throughputRow("32 B, 100 conns, 16 in flight", 32, 100, 16),
  throughputRow("1 KiB text, 100 conns, 16 in flight", KIB, 100, 16, { text: true }),
  throughputRow("64 KiB, 10 conns, 4 in flight", 64 * KIB, 10, 4),
  throughputRow("1 MiB, 1 conn, 4 in flight", MIB, 1, 4),
  {
    // In the servers that ran the rows above, the first rounds paid for
    // the handshake path's warm-up (804 against 308 µs per connection for
    // ours in round six's table; bench/results.md, round seven): fresh
    // servers, settled on handshakes, as the row below has.
    name: "handshake + close, 32 concurrent",
    variant: "plain",
    fresh: true,
    job: (port) => ({ type: "handshakes", port, concurrency: 32, durationMs }),
  },
  {
    // Bun's and Deno's request handler runs for every request anyway: the
    // same server as the row above.
    name: "handshake + close, 32 concurrent, processRequest",
    variant: "hooks",
    job: (port) => ({ type: "handshakes", port, concurrency: 32, durationMs }),
  },
  throughputRow("deflate 32 B text, 100 conns, 16 in flight", 32, 100, 16, {
    text: true,
    variant: "deflate",
  }),
  throughputRow("deflate 1 KiB text, 100 conns, 16 in flight", KIB, 100, 16, {
    text: true,
    variant: "deflate",
  }),
  throughputRow("deflate 64 KiB text, 10 conns, 4 in flight", 64 * KIB, 10, 4, {
    text: true,
    variant: "deflate",
  }),
  throughputRow("TLS 32 B, 100 conns, 16 in flight", 32, 100, 16, { variant: "tls" }),
  throughputRow("TLS 64 KiB, 10 conns, 4 in flight", 64 * KIB, 10, 4, { variant: "tls" }),
];

// Servers without permessage-deflate can't run the deflate rows; the C echo has no TLS either.
const NO_DEFLATE = new Set(["raw", "floor", "floor-async", "floor-events", "deno", CEILING]);
const NO_TLS = new Set([CEILING]);

/** Runs a measured job on the C generator, or on the Node one (`--gen node`, or no `cc`). */
async function measure(gen: LoadGenerator, job: LoadJob): Promise<LoadResult> {
  if (loadgen !== null) return runLoadgen(loadgen, pinning.generator, job);
  const result = await gen.run(job);
  if (result.type === "throughput" || result.type === "handshakes") return result;
  throw new Error(`unexpected reply ${result.type}`);
}

/**
 * The round a row keeps, by rate; its latencies are each the median (or,
 * with `--stat best`, the lowest) over the rounds. A p99 is the 100th
 * slowest of about 10,000 round trips in a round, and one burst of other
 * work on the CPU moves it by milliseconds: the round with the median rate
 * needn't have the median p99. Of the quiet rounds when there are any
 * (support/cpu-share.ts).
 */
function pick(all: Sample[]): Sample {
  const samples = quietRounds(all).kept;
  const sorted = [...samples].sort((a, b) => a.rate - b.rate);
  const kept = stat === "best" ? sorted[sorted.length - 1] : sorted[Math.floor(sorted.length / 2)];
  return { ...kept, p50: pickLatency(samples, "p50"), p99: pickLatency(samples, "p99") };
}

function pickLatency(samples: Sample[], key: "p50" | "p99"): number | null {
  const values = samples.flatMap((s) => (s[key] === null ? [] : [s[key]]));
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return stat === "best" ? values[0] : values[Math.floor(values.length / 2)];
}

function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M`;
  if (rate >= 1e4) return `${(rate / 1e3).toFixed(0)}k`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)}k`;
  return rate.toFixed(0);
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

// The young generation is a per-process cache that V8 sizes by allocation
// rate, up to 32 MiB on Node 20: holding 10,000 connections grows it to
// that cap in every Node server, which put 2.4 to 2.8 KB of the same
// memory into each server's "per connection" and brought their ratios
// toward 1 (and raw, whose warm-up left it half of ours, was charged more of
// it). Node servers measured here get a fixed 1 MiB one, alike, so the row
// counts what connections keep and the garbage promoted for them.
const FIXED_YOUNG_GENERATION = ["--min-semi-space-size=1", "--max-semi-space-size=1"];

async function measureIdle(
  spec: ServerSpec,
  gen: LoadGenerator,
): Promise<{ perConn: number; opened: number }> {
  const server = await startServer(
    spec.command === process.execPath
      ? { ...spec, args: [...FIXED_YOUNG_GENERATION, ...spec.args] }
      : spec,
  );
  try {
    // Warm the code paths so the baseline includes them.
    await gen.run({ type: "hold", port: server.port, count: 20, concurrency: 10 });
    await gen.run({ type: "release" });
    await sleep(500);
    const before = rss(server.child.pid!);
    const held = await gen.run({
      type: "hold",
      port: server.port,
      count: idleCount,
      concurrency: 100,
    });
    if (held.type !== "hold") throw new Error("unexpected reply");
    await sleep(1000);
    const after = rss(server.child.pid!);
    await gen.run({ type: "release" });
    return { perConn: (after - before) / Math.max(1, held.opened), opened: held.opened };
  } finally {
    await stopServer(server);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const selected = rows.filter((row) => shared.picks(row.name));
const withIdle = shared.picks("idle");

const gen = new LoadGenerator();
// By variant, or by row name for a row that runs on fresh servers.
const running = new Map<string, RunningServer[]>();
const results = new Map<string, Map<string, Sample | null>>();
const idle = new Map<string, { perConn: number; opened: number }>();

/**
 * The servers of a row's variant, started on first use and kept for its
 * other rows (a `fresh` row's own, started for it). Freshly started, each
 * first runs the row's job unmeasured for `settleMs`, one after the other:
 * the first row of a variant measures servers past their start-up, as the
 * later rows do.
 */
async function serversFor(row: Row): Promise<RunningServer[]> {
  const variant = row.variant;
  const key = row.fresh ? row.name : variant;
  let list = running.get(key);
  if (list === undefined) {
    const without = variant === "deflate" ? NO_DEFLATE : variant === "tls" ? NO_TLS : null;
    const wanted = without === null ? specs : specs.filter((spec) => !without.has(spec.name));
    list = [];
    running.set(key, list);
    for (const spec of wanted) list.push(await startServer(spec, variant));
    if (settleMs > 0) for (const server of list) await settle(server, row);
  }
  return list;
}

/** Runs a row's job on a fresh server without measuring it. */
async function settle(server: RunningServer, row: Row): Promise<void> {
  const job = row.job(server.port);
  try {
    await measure(
      gen,
      job.type === "throughput"
        ? { ...job, warmupMs: 0, durationMs: settleMs }
        : { ...job, durationMs: settleMs },
    );
  } catch {
    // A server that can't run the row fails its measured jobs too, and says so there.
  }
}

try {
  for (const row of selected) {
    const servers = await serversFor(row);
    const samples = new Map<string, Sample[]>(servers.map((s) => [s.spec.name, []]));
    for (let round = 0; round < rounds; round++) {
      // Alternate the order each round so no implementation always goes first.
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        const cpu0 = cpuSeconds(server.child.pid!);
        const busy0 = busySeconds(pinning.server);
        const start = performance.now();
        let result: LoadResult;
        try {
          result = await measure(gen, row.job(server.port));
        } catch (error) {
          // One server failing a row (a missing feature, a crash) leaves the others' figures.
          console.error(`  ${row.name}: ${server.spec.name} failed: ${(error as Error).message}`);
          continue;
        }
        const cpu1 = cpuSeconds(server.child.pid!);
        const others = othersShare(
          busy0,
          busySeconds(pinning.server),
          cpu1 - cpu0,
          (performance.now() - start) / 1000,
        );
        let ops: number;
        let sample: Sample;
        // The generator's figures are over its measured window, as its count of messages is.
        const generatorFigures = (measured: number) => ({
          genCpu: result.cpu,
          genBusy: result.busy ?? result.cpu,
          genCpuPerOp: measured > 0 ? (result.cpu * result.seconds * 1e6) / measured : 0,
        });
        if (result.type === "throughput") {
          // Server CPU is read around the whole job, so divide by every echo of the job.
          ops = result.total;
          sample = {
            rate: result.messages / result.seconds,
            ...generatorFigures(result.messages),
            serverCpuPerOp: 0,
            p50: result.p50_us,
            p99: result.p99_us,
            others,
          };
        } else {
          ops = result.handshakes;
          sample = {
            rate: ops / result.seconds,
            ...generatorFigures(ops),
            serverCpuPerOp: 0,
            p50: null,
            p99: null,
            others,
          };
        }
        sample.serverCpuPerOp = ops > 0 ? ((cpu1 - cpu0) * 1e6) / ops : 0;
        samples.get(server.spec.name)!.push(sample);
      }
    }
    const picked = new Map(
      specs.map((spec) => {
        const list = samples.get(spec.name) ?? [];
        return [spec.name, list.length > 0 ? pick(list) : null] as const;
      }),
    );
    results.set(row.name, picked);
    if (row.fresh) {
      await Promise.all(servers.map(stopServer));
      running.delete(row.name);
    }
    if (!values.json) {
      const parts = [...picked].map(
        ([name, s]) =>
          `${name} ${s === null ? "–" : formatRate(s.rate)} (${quietRounds(samples.get(name) ?? []).label})`,
      );
      console.error(`  ${row.name}: ${parts.join(", ")}`);
      const byRound = [...samples].map(
        ([name, list]) =>
          `${name} ${list.map((x) => `${formatRate(x.rate)}@${x.others === null ? "?" : Math.round(x.others * 100)}%`).join(" ")}`,
      );
      console.error(`    rate@others on the servers' CPU by round: ${byRound.join("; ")}`);
    }
  }
  if (withIdle && idleCount > 0) {
    // Each measurement is a fresh server process, and its RSS varies by a
    // few percent either way from one to the next: the median of `rounds`,
    // in alternating order, rather than one.
    // `raw` too: its idle connection is a bare Node socket with its
    // listeners, the floor every Node server stands on.
    const idleSpecs = specs;
    const perConn = new Map<string, number[]>();
    const opened = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? idleSpecs : [...idleSpecs].reverse();
      for (const spec of order) {
        const measured = await measureIdle(spec, gen);
        perConn.set(spec.name, [...(perConn.get(spec.name) ?? []), measured.perConn]);
        opened.set(spec.name, Math.min(opened.get(spec.name) ?? Infinity, measured.opened));
      }
    }
    for (const [name, list] of perConn) {
      const sorted = [...list].sort((a, b) => a - b);
      idle.set(name, { perConn: sorted[Math.floor(sorted.length / 2)], opened: opened.get(name)! });
    }
  }
} finally {
  await Promise.all([...running.values()].flat().map(stopServer));
  await gen.stop();
  if (tlsFiles !== null) rmSync(dirname(tlsFiles.TLS_KEY), { recursive: true, force: true });
}

const names = specs.map((s) => s.name);
const peers = names.filter((name) => name !== "ours");
const hasOurs = names.includes("ours");

if (values.json) {
  console.log(
    JSON.stringify(
      {
        rounds,
        durationMs,
        stat,
        runtimes,
        rows: Object.fromEntries([...results].map(([row, m]) => [row, Object.fromEntries(m)])),
        idleBytesPerConnection: Object.fromEntries(idle),
      },
      null,
      2,
    ),
  );
} else {
  const header = ["row", ...names.map((n) => `${n}/s`)];
  if (hasOurs) for (const peer of peers) header.push(`ours/${peer}`);
  // websockets-ts/ws must keep >= 80% of our own API's throughput: each
  // form against ours attached the same way (own listener, http.Server),
  // by rate and by server CPU per operation (ours' over compat's).
  const compatPairs = [
    ["compat", "ours"],
    ["compat-http", "ours-http"],
  ].filter(([compat, ours]) => names.includes(compat) && names.includes(ours));
  for (const [compat, ours] of compatPairs)
    header.push(`${compat}/${ours}`, `${compat}/${ours} cpu`);
  header.push(...names.map((n) => `${n} MB/s`), ...names.map((n) => `${n} µs cpu/op`));
  header.push("gen busy", "gen µs cpu/op");
  const hasCeiling = names.includes(CEILING);
  if (hasCeiling) header.push(`${CEILING}/fastest`);
  const body: string[][] = [];
  const dash = "–";
  // A ratio of two samples, or a dash where either server could not run the row.
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a != null && b != null && b > 0 ? `${(a / b).toFixed(2)}x` : dash;
  for (const row of selected) {
    const m = results.get(row.name)!;
    const cells = [row.name, ...names.map((n) => (m.get(n) ? formatRate(m.get(n)!.rate) : dash))];
    if (hasOurs)
      for (const peer of peers) cells.push(ratio(m.get("ours")?.rate, m.get(peer)?.rate));
    const share = (a: number | null | undefined, b: number | null | undefined) =>
      a != null && b != null && b > 0 ? `${((100 * a) / b).toFixed(0)}%` : dash;
    for (const [compat, ours] of compatPairs) {
      cells.push(
        share(m.get(compat)?.rate, m.get(ours)?.rate),
        share(m.get(ours)?.serverCpuPerOp, m.get(compat)?.serverCpuPerOp),
      );
    }
    for (const n of names) {
      const sample = m.get(n);
      cells.push(row.size && sample ? ((sample.rate * row.size) / MIB).toFixed(1) : "");
    }
    for (const n of names) cells.push(m.get(n)?.serverCpuPerOp.toFixed(1) ?? dash);
    // A generator seldom idle may have set the row's pace, unless it drove the C echo server
    // 1.5x as fast as the fastest server (issue 17's test). The C echo server's own cost bounds
    // that ratio too (on the large rows, the kernel's copies cost it about what they cost Bun):
    // a ratio under 1.5 with a generator often idle doesn't flag the row.
    const busy = Math.max(0, ...names.map((n) => m.get(n)?.genBusy ?? 0));
    const servers = names.filter((n) => n !== CEILING && m.get(n) != null);
    const fastest = servers.reduce<string | null>(
      (best, n) => (best === null || m.get(n)!.rate > m.get(best)!.rate ? n : best),
      null,
    );
    const ceiling =
      fastest !== null && m.get(CEILING) != null
        ? m.get(CEILING)!.rate / m.get(fastest)!.rate
        : null;
    const bound = busy >= GENERATOR_BOUND && (ceiling === null || ceiling < CEILING_MARGIN);
    cells.push(`${Math.round(busy * 100)}%${bound ? " !" : ""}`);
    cells.push(fastest === null ? dash : m.get(fastest)!.genCpuPerOp.toFixed(2));
    if (hasCeiling) cells.push(ceiling === null ? dash : `${ceiling.toFixed(2)}x`);
    body.push(cells);
  }
  const generator =
    loadgen === null ? "Node generator (bench/echo-load.ts)" : "C generator (bench/loadgen.c)";
  const cpus =
    pinning.server === null
      ? "not pinned"
      : `generator on CPU ${pinning.generator}, servers on CPU ${pinning.server}`;
  console.log(
    `\necho bench: ${rounds} paired round(s) of ${durationMs} ms per implementation, ${stat} kept; ` +
      `${generator}, ${cpus}; loopback; ${runtimes.join(", ")}\n`,
  );
  console.log(table(header, body));
  const latency = selected.filter((row) => row.name.includes("1 in flight"));
  if (latency.length > 0) {
    const lh = ["round-trip time, µs", ...names.flatMap((n) => [`${n} p50`, `${n} p99`])];
    if (hasOurs) for (const peer of peers) lh.push(`ours/${peer} p50`);
    const lb = latency.map((row) => {
      const m = results.get(row.name)!;
      const cells = [
        row.name,
        ...names.flatMap((n) => [String(m.get(n)?.p50 ?? dash), String(m.get(n)?.p99 ?? dash)]),
      ];
      if (hasOurs)
        for (const peer of peers) cells.push(ratio(m.get("ours")?.p50, m.get(peer)?.p50));
      return cells;
    });
    if (lb.length > 0) console.log(`\n${table(lh, lb)}`);
  }
  if (idle.size > 0) {
    const idleNames = [...idle.keys()];
    const idleHeader = ["idle connections", ...idleNames.map((n) => `${n} B/conn`)];
    if (idle.has("ours")) {
      for (const n of idleNames) if (n !== "ours") idleHeader.push(`ours/${n}`);
    }
    const cells = [
      `RSS per connection (${[...idle.values()][0].opened} held, median of ${rounds})`,
      ...idleNames.map((n) => idle.get(n)!.perConn.toFixed(0)),
    ];
    if (idle.has("ours")) {
      for (const n of idleNames) {
        if (n !== "ours")
          cells.push(`${(idle.get("ours")!.perConn / idle.get(n)!.perConn).toFixed(2)}x`);
      }
    }
    console.log(`\n${table(idleHeader, [cells])}`);
  }
  console.log(
    "\nMB/s counts payload echoed back; µs cpu/op is server CPU per message (or handshake) over",
  );
  console.log(
    "the whole job (opening and closing included); gen busy is the largest share of a measured window the",
  );
  console.log(
    "generator was not idle (on its CPU or waiting for it); gen µs cpu/op its CPU per op against the fastest server.",
  );
  console.log(
    `A row marked ! had a generator not idle ${GENERATOR_BOUND * 100}% of the time or more` +
      (hasCeiling ? ` and ${CEILING} under ${CEILING_MARGIN}x the fastest server's rate` : "") +
      ": its fastest rates may be the generator's.",
  );
  for (const server of [...running.values()].flat()) {
    if (server.stderr.length > 0) {
      console.log(`\n${server.spec.name} wrote ${server.stderr.length}+ lines to stderr, first:`);
      console.log(`  ${server.stderr[0]}`);
    }
  }
}
