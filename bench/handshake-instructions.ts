/**
 * Instructions per handshake + close of a server (a measuring tool, not a
 * rate: see bench/README.md, "Instructions per handshake"):
 *
 *   node --import tsx bench/handshake-instructions.ts IMPL [N] [--process-request] [--concurrency C] [--lib DIR] [--warmup W]
 *
 * IMPL is one of bench/echo-server.ts's servers (ours, compat, raw...).
 * Runs that server twice under callgrind, counting its instructions from
 * the end of a warm-up of W handshakes (default 5,000) to its exit: once
 * for N handshakes (default 500), once for 2N. The difference over N is
 * the server's instructions per handshake + close: start-up, warm-up and
 * the exit cancel out. The client is this process, outside valgrind: its
 * work isn't counted. Per connection, as the C load generator's
 * `handshakes` job does: connect, send the upgrade request, read the 101,
 * send a masked close frame, read the server's close frame, half-close,
 * wait for the server's FIN; C connections at a time (default 32).
 *
 * `--profile FILE` keeps the callgrind profile of the 2N run in FILE.
 * `--lib DIR` runs DIR's bench/echo-server.ts (e.g. `/work/wt/base`, for
 * an A/B against another checkout's dist/). `--process-request` sets
 * PROCESS_REQUEST=1 (ours: a `processRequest` hook; ws and compat:
 * `verifyClient`).
 *
 * @module
 */

import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const impl = args[0];
if (impl === undefined || impl.startsWith("--")) {
  console.error(
    "usage: handshake-instructions.ts IMPL [N] [--process-request] [--concurrency C] [--lib DIR] [--warmup W]",
  );
  process.exit(2);
}
const n = args[1] !== undefined && !args[1].startsWith("--") ? Number(args[1]) : 500;
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
};
const concurrency = Number(option("--concurrency", "32"));
const warmup = Number(option("--warmup", "5000"));
const processRequest = args.includes("--process-request");
const lib = option("--lib", fileURLToPath(new URL("..", import.meta.url)));
const serverScript = join(lib, "bench", "echo-server.ts");
// Where to keep the callgrind profile of the 2N run (for callgrind_annotate); none by default.
const profile = option("--profile", "");

const REQUEST =
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
// A masked close frame with code 1000 (mask key 0: the payload reads as is).
const CLOSE = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
// Bounds every connection: a server that stops answering fails the count.
const CONNECTION_TIMEOUT_MS = 60_000;

/** One handshake + close, as the load generator does it; resolves when the server's FIN came. */
function cycle(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    let phase: "upgrading" | "closing" | "done" = "upgrading";
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no handshake + close within ${CONNECTION_TIMEOUT_MS} ms`));
    }, CONNECTION_TIMEOUT_MS);
    socket.on("connect", () => socket.write(REQUEST));
    socket.on("data", (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (phase === "upgrading") {
        const end = received.indexOf("\r\n\r\n");
        if (end === -1) return;
        if (!received.toString("latin1", 0, 12).startsWith("HTTP/1.1 101")) {
          socket.destroy();
          reject(new Error(`handshake failed: ${received.toString("latin1", 0, end)}`));
          return;
        }
        received = received.subarray(end + 4);
        phase = "closing";
        socket.write(CLOSE);
      }
      // The server's close frame: 2 bytes of header, then its code.
      if (
        phase === "closing" &&
        received.length >= 2 &&
        received.length >= 2 + (received[1] & 0x7f)
      ) {
        phase = "done";
        socket.end();
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (phase === "done") resolve();
      else reject(new Error(`connection closed while ${phase}`));
    });
  });
}

/** `count` handshakes, `concurrency` at a time. */
async function run(port: number, count: number): Promise<void> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      await cycle(port);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

// Work whose amount per handshake depends on when it happens, not on the
// handshake: full collections (marking, sweeping, compaction: one in a run
// is tens of millions of instructions, in the N run or the 2N one by
// chance) and optimizing compilation. Scavenges stay in the count: the
// garbage each connection leaves is its cost.
const FULL_GC = /MarkCompact|Marking|Marker|Sweep|Evacuat|Compaction|MinorMC/;
const COMPILER = /compiler::|maglev::|OptimizedCompilationJob|Turbofan/;

interface Count {
  all: number;
  fullGc: number;
  compiler: number;
}

/**
 * Sums the self cost of each function of a callgrind profile into `all`,
 * and those of the full collector and the optimizing compiler apart.
 */
function countProfile(file: string): Count {
  const text = readFileSync(file, "latin1");
  const names = new Map<string, string>();
  const count: Count = { all: 0, fullGc: 0, compiler: 0 };
  let kind: keyof Count = "all";
  let callCost = false;
  for (const line of text.split("\n")) {
    const first = line.charCodeAt(0);
    if (line.startsWith("fn=")) {
      // `fn=(id) name` the first time, `fn=(id)` after.
      const match = /^fn=\((\d+)\)(?: (.*))?/.exec(line);
      let name = line.slice(3);
      if (match !== null) {
        if (match[2] !== undefined) names.set(match[1], match[2]);
        name = names.get(match[1]) ?? name;
      }
      kind = FULL_GC.test(name) ? "fullGc" : COMPILER.test(name) ? "compiler" : "all";
    } else if (line.startsWith("cfn=")) {
      const match = /^cfn=\((\d+)\) (.*)/.exec(line);
      if (match !== null) names.set(match[1], match[2]);
    } else if (line.startsWith("calls=")) {
      // The next cost line is the call's inclusive cost, counted in the callee.
      callCost = true;
    } else if (
      (first >= 0x30 && first <= 0x39) ||
      first === 0x2b ||
      first === 0x2d ||
      first === 0x2a
    ) {
      if (callCost) {
        callCost = false;
        continue;
      }
      const cost = Number(line.slice(line.lastIndexOf(" ") + 1));
      count.all += cost;
      if (kind !== "all") count[kind] += cost;
    }
  }
  return count;
}

/** The server's instructions over `count` handshakes after the warm-up. */
async function total(count: number): Promise<Count> {
  const dir = mkdtempSync(join(tmpdir(), "handshake-instructions-"));
  const profileFile = profile !== "" && count === 2 * n ? profile : join(dir, "callgrind.out");
  // Files, not pipes: a pipe on the server's stdout would be one more
  // net.Socket in its process, giving Node's stream functions other shapes.
  const out = openSync(join(dir, "out"), "w");
  const child = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      `--callgrind-out-file=${profileFile}`,
      "--instr-atstart=no",
      `--log-file=${join(dir, "valgrind")}`,
      process.execPath,
      // One thread: concurrent compiler and GC threads would count too.
      "--single-threaded",
      // With --profile: JIT code's names in /tmp/perf-PID.map, for mapping callgrind's addresses.
      ...(profile !== ""
        ? ["--perf-basic-prof", "--logfile=/dev/null", "--no-logfile-per-isolate"]
        : []),
      "--import",
      "tsx",
      serverScript,
      impl,
    ],
    {
      stdio: ["ignore", out, out],
      cwd: lib,
      env: { ...process.env, PORT: "0", PROCESS_REQUEST: processRequest ? "1" : "0" },
    },
  );
  closeSync(out);
  const exited = once(child, "exit");
  try {
    let port = 0;
    for (let waited = 0; port === 0; waited += 100) {
      if (waited > 120_000) throw new Error("the server didn't listen within 120 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
      const match = /listening (\d+)/.exec(readFileSync(join(dir, "out"), "latin1"));
      if (match !== null) port = Number(match[1]);
    }
    await run(port, warmup);
    execFileSync("callgrind_control", ["--instr=on", String(child.pid)], { stdio: "ignore" });
    await run(port, count);
    // Off before the exit: the server's close and exit aren't counted.
    execFileSync("callgrind_control", ["--instr=off", String(child.pid)], { stdio: "ignore" });
    child.kill("SIGTERM");
    await exited;
    if (profileFile === profile) {
      console.log(`profile ${profile}, JIT names /tmp/perf-${child.pid}.map`);
    }
    return countProfile(profileFile);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const single = await total(n);
const double = await total(2 * n);
const per = (key: keyof Count | "steady"): string => {
  const value = (count: Count): number =>
    key === "steady" ? count.all - count.fullGc - count.compiler : count[key];
  return ((value(double) - value(single)) / n).toFixed(0);
};
console.log(
  `${impl}${processRequest ? " processRequest" : ""} (${lib}): ${per("steady")} instructions per handshake + close ` +
    `without full GC and compiler (${per("all")} with; full GC ${per("fullGc")}, compiler ${per("compiler")}; ` +
    `window totals ${single.all}, ${double.all})`,
);
