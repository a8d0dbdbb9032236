/**
 * Runs bench/loadgen.c, the C load generator of bench/echo.ts: builds it once
 * with `cc -O2` into a cache outside the checkout (keyed by the source's hash,
 * so an edit rebuilds it), pins it to its own CPU with `taskset`, and turns
 * each job into one process whose single JSON line is the result.
 *
 * The Node generator (bench/echo-load.ts) stays for the idle-memory row, which
 * holds connections rather than driving load.
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export type LoadJob =
  | {
      type: "throughput";
      port: number;
      size: number;
      conns: number;
      inflight: number;
      warmupMs: number;
      durationMs: number;
      text?: boolean;
      deflate?: boolean;
      tls?: boolean;
    }
  | { type: "handshakes"; port: number; concurrency: number; durationMs: number; tls?: boolean };

/**
 * `cpu`: the generator's CPU time over the measured window (rusage, user + system, the kernel's
 * loopback delivery to the server included), as a share of the window. `busy` (C generator only):
 * its time on a CPU or runnable waiting for one (/proc/self/schedstat) as a share of the window,
 * that is, the share it was not idle in epoll_wait: near 1, it may set the pace.
 */
export type LoadResult =
  | {
      type: "throughput";
      messages: number;
      total: number;
      seconds: number;
      cpu: number;
      busy?: number;
      p50_us: number | null;
      p99_us: number | null;
    }
  | {
      type: "handshakes";
      handshakes: number;
      failures: number;
      seconds: number;
      cpu: number;
      busy?: number;
    };

/** `loadgen subscribe`: the subscribers of bench/topics.ts. */
export interface SubscribeJob {
  port: number;
  subscribers: number;
  rounds: number;
  burst: number;
  /** The server's pid, to read its CPU time. */
  serverPid?: number;
  /** Offer permessage-deflate: asking for server_no_context_takeover (`shared`) or not (`own`). */
  deflate?: "shared" | "own";
}

export interface SubscribeResult {
  subscribers: number;
  /** Subscribers x burst / the time until every one had the whole burst. */
  per_second: number;
  /** The generator's CPU share while it waited for the rounds, then the burst (near 1: it is the bottleneck). */
  round_cpu: number;
  burst_cpu: number;
  /** The server's CPU time per message delivered to one subscriber, one at a time and in the burst. */
  server_round_ns: number;
  server_burst_ns: number;
  p50_us: number | null;
  p99_us: number | null;
}

/** Which CPUs the generator and the servers run on, when they can be kept apart. */
export interface Pinning {
  generator: string | null;
  server: string | null;
}

/** The generator on CPU 0 and servers on CPU 1 when there are two CPUs and `taskset`. */
export function choosePinning(enabled: boolean): Pinning {
  const taskset = spawnSync("taskset", ["--version"], { encoding: "utf8" });
  if (!enabled || taskset.status !== 0 || availableParallelism() < 2) {
    return { generator: null, server: null };
  }
  return { generator: "0", server: "1" };
}

/** Prefixes a command with `taskset -c CPU` when pinning is on (taskset execs it: same pid). */
export function pinned(
  cpu: string | null,
  command: string,
  args: string[],
): { command: string; args: string[] } {
  return cpu === null
    ? { command, args }
    : { command: "taskset", args: ["-c", cpu, command, ...args] };
}

/**
 * Builds one of bench/'s C programs if the cache lacks this version of its
 * source (keyed by the source's hash); returns its path, or null without `cc`.
 */
export function buildC(file: string, libs: string[]): string | null {
  const source = join(here, file);
  const hash = createHash("sha256").update(readFileSync(source)).digest("hex").slice(0, 16);
  const dir = join(process.env.BENCH_CACHE_DIR || join(tmpdir(), "websockets-ts-bench"), "c");
  const bin = join(dir, `${file.replace(/\.c$/, "")}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const cc = spawnSync("cc", ["-O2", "-Wall", "-o", bin, source, ...libs], { encoding: "utf8" });
  if (cc.error !== undefined || cc.status !== 0) {
    console.error(`bench: cc could not build bench/${file}: ${cc.error?.message ?? cc.stderr}`);
    return null;
  }
  return bin;
}

/** The load generator, with OpenSSL and zlib for the TLS and compression rows (libssl-dev, zlib1g-dev). */
export function buildLoadgen(): string | null {
  return buildC("loadgen.c", ["-lssl", "-lcrypto", "-lz"]);
}

/**
 * The C echo server (bench/echoserver.c): in the echo bench, the `c-echo`
 * server, the generator's own ceiling on the plain rows (it spends less per
 * message than any server measured, so its rate is what the generator can
 * drive).
 */
export function buildEchoServer(): string | null {
  return buildC("echoserver.c", ["-lcrypto"]);
}

function argv(job: LoadJob): string[] {
  const flags = job.tls ? ["tls"] : [];
  if (job.type === "handshakes") {
    return [...["handshakes", job.port, job.concurrency, job.durationMs].map(String), ...flags];
  }
  if (job.text) flags.push("text");
  if (job.deflate) flags.push("deflate");
  return [
    ...[
      "throughput",
      job.port,
      job.size,
      job.conns,
      job.inflight,
      job.warmupMs,
      job.durationMs,
    ].map(String),
    ...flags,
  ];
}

let setsidWorks: boolean | null = null;

/**
 * Runs a command in a session of its own (`setsid`, which execs it: same
 * pid), when `setsid` is there. With autogroup scheduling (Linux's default)
 * a session's share of the CPUs is split among them by its load on each: a
 * generator in the servers' session takes part of the share the server
 * gets on its CPU, and a server with more runnable threads there (ws with
 * compression: its main thread and four zlib pool threads) takes back more
 * than a single-threaded one. On a machine shared with other work, that
 * skewed the rates of the compression rows (bench/README.md).
 */
export function ownSession(run: { command: string; args: string[] }): {
  command: string;
  args: string[];
} {
  setsidWorks ??= spawnSync("setsid", ["--version"], { encoding: "utf8" }).status === 0;
  return setsidWorks ? { command: "setsid", args: [run.command, ...run.args] } : run;
}

/** Runs one job in a fresh generator process, in its own session, bounded by its duration plus a margin. */
export function runLoadgen(bin: string, cpu: string | null, job: LoadJob): Promise<LoadResult> {
  const limitMs = ("warmupMs" in job ? job.warmupMs : 0) + job.durationMs + 30_000;
  return runJson<LoadResult>(ownSession(pinned(cpu, bin, argv(job))), limitMs);
}

/** Runs `loadgen subscribe` in a fresh process in its own session, bounded as each of its rounds is (30 s, plus 200 µs per message delivered). */
export function runSubscribers(
  bin: string,
  cpu: string | null,
  job: SubscribeJob,
): Promise<SubscribeResult> {
  const { port, subscribers, rounds, burst, serverPid, deflate } = job;
  const args = ["subscribe", port, subscribers, rounds, burst, serverPid ?? 0].map(String);
  if (deflate !== undefined) args.push(`deflate-${deflate}`);
  const roundMs = (messages: number) => 30_000 + (messages * subscribers) / 5;
  const limitMs = 120_000 + (rounds + 10) * roundMs(1) + 6 * roundMs(burst);
  return runJson<SubscribeResult>(ownSession(pinned(cpu, bin, args)), limitMs);
}

function runJson<T>(
  { command, args }: { command: string; args: string[] },
  limitMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (err.length < 4096) err += chunk;
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`loadgen ${args.join(" ")}: exit ${code ?? signal}: ${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`loadgen printed no JSON: ${JSON.stringify(out.slice(0, 200))}`));
      }
    });
  });
}
