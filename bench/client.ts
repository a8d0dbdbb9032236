/**
 * Client benchmark: our client, and `compat` (ours through
 * `websockets-ts/ws`, `ws`'s event API), against `ws`'s (and Bun's and
 * Deno's built-in WebSocket clients with `--peers`), each driving the same
 * C echo server (bench/echoserver.c), in one run, alternating clients
 * round by round.
 *
 *   npm run bench -- client [--quick] [--rounds 3] [--duration 1500] [--settle 2000] [--peers] [--no-pin]
 *                           [--only "1 in flight"] [--baseline ../other-checkout]
 *
 * The echo server is C so that it is never the bottleneck: the figures
 * measure the clients. With two CPUs and `taskset`, the server runs on CPU 0
 * and each client on CPU 1. Each client is its own process
 * (bench/client-run.ts) and reports its own CPU time over the measured
 * window. `--only` picks rows as the echo bench's does (bench/echo-options.ts);
 * `--baseline DIR` adds a client `base`: our client from another checkout
 * (DIR/bench/client-run.ts, which loads DIR's build: run `npm run build`
 * there first), for before/after figures in one run.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { buildEchoServer, ownSession, pinned } from "./echo-loadgen.ts";
import { parseRunOptions } from "./echo-options.ts";
import { stopServer } from "./echo-process.ts";
import { listPeers } from "./peers/installed.ts";
import { QUIET, quietRounds } from "./support/cpu-share.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

const { run, values } = parseRunOptions({ baseline: { type: "string" } });
const { rounds, durationMs, pinning } = run;
// Each round runs a fresh client process: it settles (JIT, first full GC)
// before its window is measured, as a server does in the echo bench.
const warmupMs = run.settleMs + run.warmupMs;

interface Client {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

const clients: Client[] = [
  {
    name: "ours",
    command: process.execPath,
    args: ["--import", "tsx", "bench/client-run.ts", "ours"],
  },
  {
    name: "compat",
    command: process.execPath,
    args: ["--import", "tsx", "bench/client-run.ts", "compat"],
  },
  { name: "ws", command: process.execPath, args: ["--import", "tsx", "bench/client-run.ts", "ws"] },
];
if (values.baseline !== undefined) {
  clients.push({
    name: "base",
    command: process.execPath,
    args: ["--import", "tsx", join(resolvePath(values.baseline), "bench/client-run.ts"), "ours"],
  });
}
const runtimes = [`node ${process.version}`];
if (run.peers) {
  // The install script pins the versions and knows the commands.
  for (const peer of listPeers(root)) {
    if (!peer.installed) {
      console.error(`client: ${peer.name} is not installed (node scripts/install-bench-peers.mjs)`);
      continue;
    }
    runtimes.push(peer.runtime ?? peer.name);
    // Deno's client needs more than its echo server: reading its own CPU time.
    const args =
      peer.name === "deno"
        ? ["run", "--allow-net=127.0.0.1", "--allow-env", "--allow-sys", "--no-config", "--no-lock"]
        : [];
    clients.push({
      name: peer.name,
      command: peer.bin,
      args: [...args, "bench/client-run.ts", "web"],
      env: peer.env,
    });
  }
}

interface Row {
  name: string;
  size: number;
  conns: number;
  inflight: number;
}
const allRows: Row[] = [
  { name: "32 B, 1 conn, 1 in flight", size: 32, conns: 1, inflight: 1 },
  { name: "32 B, 1 conn, 64 in flight", size: 32, conns: 1, inflight: 64 },
  { name: "32 B, 100 conns, 16 in flight", size: 32, conns: 100, inflight: 16 },
  { name: "64 KiB, 10 conns, 4 in flight", size: 64 * 1024, conns: 10, inflight: 4 },
];

const rows = allRows.filter((row) => run.picks(row.name));

interface Sample {
  rate: number;
  cpuPerMessage: number; // client CPU microseconds per message
  p50: number | null;
  p99: number | null;
  /** The share of the client's CPU other processes took during the window; null if unknown. */
  others: number | null;
}

function startEchoServer(bin: string): Promise<{ child: ChildProcess; port: number }> {
  // In its own session, as the echo bench's generator (see ownSession).
  const { command, args } = ownSession(pinned(pinning.server === null ? null : "0", bin, ["0"]));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("echoserver: no listening line within 10 s"));
    }, 10_000);
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      out += text;
      const match = /listening (\d+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`echoserver exited with ${code}`));
    });
  });
}

/** Runs one client process for one row; bounded by the row's time plus a margin. */
function runClient(client: Client, url: string, row: Row): Promise<Sample> {
  const argv = [...client.args, url, row.size, row.conns, row.inflight, warmupMs, durationMs].map(
    String,
  );
  const { command, args } = pinned(pinning.server === null ? null : "1", client.command, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, ...client.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), warmupMs + durationMs + 30_000);
    child.stdout!.setEncoding("utf8").on("data", (text: string) => {
      out += text;
    });
    child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      if (err.length < 4096) err += text;
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${client.name}: exit ${code}: ${err.trim().slice(0, 500)}`));
        return;
      }
      const r = JSON.parse(line) as {
        messages: number;
        seconds: number;
        cpu: number;
        others?: number | null;
        p50_us: number | null;
        p99_us: number | null;
      };
      resolve({
        rate: r.messages / r.seconds,
        cpuPerMessage: r.messages > 0 ? (r.cpu * r.seconds * 1e6) / r.messages : 0,
        p50: r.p50_us,
        p99: r.p99_us,
        others: r.others ?? null,
      });
    });
  });
}

function medianOf(list: Sample[], key: "p50" | "p99"): number | null {
  const values = list.flatMap((s) => (s[key] === null ? [] : [s[key]]));
  values.sort((a, b) => a - b);
  return values.length === 0 ? null : values[Math.floor(values.length / 2)];
}

const bin = buildEchoServer();
if (bin === null) {
  console.error("client: the C echo server needs cc and libssl-dev");
  process.exit(1);
}
const server = await startEchoServer(bin);
const url = `ws://127.0.0.1:${server.port}/`;
const results = new Map<string, Map<string, Sample | null>>();
try {
  for (const row of rows) {
    const samples = new Map<string, Sample[]>(clients.map((c) => [c.name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? clients : [...clients].reverse();
      for (const client of order) {
        try {
          samples.get(client.name)!.push(await runClient(client, url, row));
        } catch (error) {
          console.error(`  ${row.name}: ${(error as Error).message}`);
        }
      }
    }
    // Of the quiet rounds if any, else of all (marked !): the median round
    // by rate; latencies are each the median over those rounds (one round's
    // p99 moves by milliseconds with other work on the CPU).
    const picked = new Map<string, Sample | null>();
    const kept = new Map<string, string>();
    for (const [name, all] of samples) {
      const { kept: list, label } = quietRounds(all);
      const sorted = [...list].sort((a, b) => a.rate - b.rate);
      const median = sorted.length > 0 ? sorted[Math.floor(sorted.length / 2)] : null;
      picked.set(
        name,
        median === null
          ? null
          : { ...median, p50: medianOf(list, "p50"), p99: medianOf(list, "p99") },
      );
      kept.set(name, label);
    }
    results.set(row.name, picked);
    console.error(
      `  ${row.name}: ${[...picked].map(([n, s]) => `${n} ${s === null ? "–" : Math.round(s.rate)} (${kept.get(n)})`).join(", ")}`,
    );
    console.error(
      `    others on the client's CPU by round, %: ${[...samples].map(([n, list]) => `${n} ${list.map((s) => (s.others === null ? "?" : Math.round(s.others * 100))).join(" ")}`).join("; ")}`,
    );
  }
} finally {
  await stopServer(server);
}

const names = clients.map((c) => c.name);
const peers = names.filter((n) => n !== "ours");
const dash = "–";
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a != null && b != null && b > 0 ? `${(a / b).toFixed(2)}x` : dash;
const header = [
  "row",
  ...names.map((n) => `${n} msg/s`),
  ...peers.map((p) => `ours/${p}`),
  ...names.map((n) => `${n} µs cpu/msg`),
  ...names.map((n) => `${n} p50 µs`),
  ...names.map((n) => `${n} p99 µs`),
];
const body = rows.map((row) => {
  const m = results.get(row.name)!;
  return [
    row.name,
    ...names.map((n) => (m.get(n) ? String(Math.round(m.get(n)!.rate)) : dash)),
    ...peers.map((p) => ratio(m.get("ours")?.rate, m.get(p)?.rate)),
    ...names.map((n) => m.get(n)?.cpuPerMessage.toFixed(1) ?? dash),
    ...names.map((n) => String(m.get(n)?.p50 ?? dash)),
    ...names.map((n) => String(m.get(n)?.p99 ?? dash)),
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
const cpus = pinning.server === null ? "not pinned" : "echo server on CPU 0, clients on CPU 1";
console.log(
  `\nclient bench: ${rounds} paired round(s) of ${durationMs} ms per client, median kept; ` +
    `C echo server (bench/echoserver.c), ${cpus}; binary, no compression; ${runtimes.join(", ")}\n`,
);
console.log(
  [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n"),
);
console.log(
  "\nµs cpu/msg is the client process's CPU time per echoed message over the measured window. " +
    `Each figure is of the rounds in which other processes took at most ${QUIET * 100}% of the ` +
    "client's CPU, when there were any (the counts above the table), else of all rounds.",
);
