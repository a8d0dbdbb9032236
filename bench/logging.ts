/**
 * The cost of logging: echo throughput of our server with the default
 * logger (built-in, WARN) against `logger: false`, same load generator as
 * bench/echo.ts, servers measured in rotating order round by round.
 *
 *   npx tsx bench/logging.ts [--rounds 20] [--duration 700] [--warmup 200]
 *     [--modes default,off] [--control] [--no-handshakes]
 *
 * For each row it prints each mode's best round, and the ratio of each mode
 * to `off` two ways: best round against best round, and the median of the
 * per-round ratios (each round measures the modes back to back, so the
 * median of those pairs resists drift on a shared machine best), and the
 * median server CPU per message against `off`'s. `--control` adds a second
 * `logger: false` server, `control`: its difference from `off` is what
 * noise alone produces in the same run.
 *
 * @module
 */

import { type ChildProcess, fork, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Job, JobResult } from "./echo-load.ts";
import { cpuSeconds, stopServer } from "./echo-process.ts";

const here = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    duration: { type: "string", default: "700" },
    warmup: { type: "string", default: "200" },
    modes: { type: "string", default: "default,off" },
    control: { type: "boolean", default: false },
    "no-handshakes": { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const durationMs = Number(values.duration);
const warmupMs = Number(values.warmup);
const modes = values.modes.split(",").filter((m) => m !== "");
if (!modes.includes("off")) modes.push("off");
// A second `logger: false` server: its difference from `off` is the noise floor.
if (values.control) modes.push("control");

interface Running {
  mode: string;
  child: ChildProcess;
  port: number;
}

function startServer(mode: string): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(here, "logging-server.ts"), mode],
      {
        env: { ...process.env, HOST: "127.0.0.1", PORT: "0" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${mode}: no "listening <port>" line within 20 s`));
    }, 20_000);
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      out += text;
      const match = /listening (\d+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ mode, child, port: Number(match[1]) });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${mode}: exited with ${code} before listening`));
    });
  });
}

const load = fork(join(here, "echo-load.ts"), [], {
  execArgv: ["--import", "tsx"],
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});

function runJob(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`load generator exited (${code})`));
    load.once("exit", onExit);
    load.once("message", (result: JobResult) => {
      load.off("exit", onExit);
      if (result.type === "error") reject(new Error(`load generator: ${result.message}`));
      else resolve(result);
    });
    load.send(job);
  });
}

interface Row {
  name: string;
  job: (port: number) => Job;
}

const throughput = (size: number, conns: number, inflight: number) => (port: number) =>
  ({ type: "throughput", port, size, conns, inflight, warmupMs, durationMs }) satisfies Job;

const rows: Row[] = [
  { name: "32 B, 100 conns, 16 in flight", job: throughput(32, 100, 16) },
  { name: "32 B, 1 conn, 64 in flight", job: throughput(32, 1, 64) },
];
if (!values["no-handshakes"]) {
  rows.push({
    name: "handshakes/s, 8 concurrent",
    job: (port) => ({ type: "handshakes", port, concurrency: 8, durationMs }),
  });
}

interface Sample {
  rate: number;
  cpuPerOp: number; // server CPU microseconds per message or handshake
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function formatRate(rate: number): string {
  return rate >= 1e4 ? `${(rate / 1e3).toFixed(0)}k` : rate.toFixed(0);
}

const servers: Running[] = [];
const lines: string[][] = [];
try {
  for (const mode of modes) servers.push(await startServer(mode));
  for (const row of rows) {
    const samples = new Map<string, Sample[]>(modes.map((m) => [m, []]));
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no mode always goes first or follows the same one.
      const shift = round % servers.length;
      const order = [...servers.slice(shift), ...servers.slice(0, shift)];
      for (const server of order) {
        const cpu0 = cpuSeconds(server.child.pid!);
        const result = await runJob(row.job(server.port));
        const cpu1 = cpuSeconds(server.child.pid!);
        let ops: number;
        let rate: number;
        if (result.type === "throughput") {
          ops = result.total;
          rate = result.messages / result.seconds;
        } else if (result.type === "handshakes") {
          ops = result.handshakes;
          rate = ops / result.seconds;
        } else throw new Error(`unexpected reply ${result.type}`);
        const sample: Sample = { rate, cpuPerOp: ops > 0 ? ((cpu1 - cpu0) * 1e6) / ops : 0 };
        samples.get(server.mode)!.push(sample);
        console.error(
          `  ${row.name}, round ${round + 1}, ${server.mode}: ${formatRate(rate)}/s, ` +
            `${sample.cpuPerOp.toFixed(2)} µs cpu/op`,
        );
      }
    }
    const off = samples.get("off")!;
    const bestOff = Math.max(...off.map((s) => s.rate));
    const cpuOff = median(off.map((s) => s.cpuPerOp));
    for (const mode of modes) {
      const list = samples.get(mode)!;
      const best = Math.max(...list.map((s) => s.rate));
      const perRound = list.map((s, i) => s.rate / off[i].rate);
      const cells = [
        row.name,
        mode,
        formatRate(best),
        mode === "off" ? "" : `${((best / bestOff - 1) * 100).toFixed(1)}%`,
        mode === "off" ? "" : `${((median(perRound) - 1) * 100).toFixed(1)}%`,
        median(list.map((s) => s.cpuPerOp)).toFixed(2),
        mode === "off"
          ? ""
          : `${((median(list.map((s) => s.cpuPerOp)) / cpuOff - 1) * 100).toFixed(1)}%`,
      ];
      lines.push(cells);
    }
  }
} finally {
  await Promise.all(servers.map(stopServer));
  load.send({ type: "exit" } satisfies Job);
}

const header = [
  "row",
  "logger",
  "best/s",
  "best vs off",
  "median vs off",
  "µs cpu/op",
  "cpu vs off",
];
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const format = (cells: string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(
  `\nlogging bench: ${rounds} rounds of ${durationMs} ms per mode, order rotating; ` +
    "binary messages, no compression, loopback\n",
);
console.log(format(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const line of lines) console.log(format(line));
console.log(
  "\n'vs off': throughput difference from logger: false (negative = slower); " +
    "µs cpu/op: median server CPU per message or handshake (positive = more).",
);
