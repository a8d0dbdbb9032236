/**
 * `npm run fuzz -- [target ...] [--inputs 1000000] [--seed 1] [--from 0]
 * [--deadline 2000] [--heap 512] [--parallel 1] [--json]`: runs each target (all by default) for
 * `--inputs` inputs in a worker thread, and prints, per target, inputs per
 * second, verdicts, differences with `ws`, the heap's peak and findings.
 *
 * An input is a finding when it throws anything but the library's own
 * errors or breaks an invariant, when it runs past `--deadline` ms (the
 * worker is then stopped and restarted after it), or when the worker
 * outgrows `--heap` MiB. Input `i` of seed `s` is always the same:
 * `--seed s --from i --inputs 1` reproduces a finding.
 *
 * Exits with 1 if anything was found. Never part of `npm test`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { TARGETS } from "./targets.ts";
import { emptyReport, type Finding, type Job, type Report } from "./worker.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    inputs: { type: "string", default: "1000000" },
    seed: { type: "string", default: "1" },
    from: { type: "string", default: "0" },
    deadline: { type: "string", default: "2000" },
    heap: { type: "string", default: "512" },
    parallel: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});

const names = positionals.length > 0 ? positionals : [...TARGETS.keys()];
for (const name of names) {
  if (!TARGETS.has(name)) {
    console.error(`fuzz: no target ${name} (targets: ${[...TARGETS.keys()].join(", ")})`);
    process.exit(2);
  }
}
const INPUTS = Number(values.inputs);
const SEED = Number(values.seed);
const FROM = Number(values.from);
const DEADLINE_MS = Number(values.deadline);
const HEAP_MB = Number(values.heap);

/** Runs inputs [from, from + count) in a worker; resolves with its report, or a finding that stopped it. */
function runWorker(
  target: string,
  from: number,
  count: number,
): Promise<{ report: Report | null; stopped: Finding | null; next: number }> {
  const progress = new SharedArrayBuffer(8);
  const index = new Int32Array(progress);
  Atomics.store(index, 0, from);
  const job: Job = { target, seed: SEED, from, count, progress };
  const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: HEAP_MB },
  });
  return new Promise((resolve) => {
    let last = from;
    let lastChange = Date.now();
    const stop = (kind: string, message: string): void => {
      clearInterval(watchdog);
      const at = Atomics.load(index, 0);
      void worker.terminate();
      resolve({
        report: null,
        stopped: { index: at, kind, message, stack: "" },
        next: at + 1,
      });
    };
    const watchdog = setInterval(() => {
      const now = Atomics.load(index, 0);
      if (Atomics.load(index, 1) === 0) {
        // Still loading.
        lastChange = Date.now();
      } else if (now !== last) {
        last = now;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > DEADLINE_MS) {
        stop("hang", `input ran for more than ${DEADLINE_MS} ms`);
      }
    }, 100);
    worker.once("message", (report: Report) => {
      clearInterval(watchdog);
      resolve({ report, stopped: null, next: from + count });
    });
    worker.once("error", (error: Error) => {
      stop(
        "worker error",
        `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`,
      );
    });
  });
}

/** Runs one target over every input, restarting the worker after an input that stopped it. */
async function fuzz(target: string): Promise<Report> {
  const total = emptyReport();
  const started = Date.now();
  let from = FROM;
  const end = FROM + INPUTS;
  while (from < end) {
    const { report, stopped, next } = await runWorker(target, from, end - from);
    if (stopped !== null) {
      total.findings.push(stopped);
      total.inputs += stopped.index - from + 1;
    }
    if (report !== null) {
      total.inputs += report.inputs;
      for (const [verdict, n] of Object.entries(report.verdicts)) {
        total.verdicts[verdict] = (total.verdicts[verdict] ?? 0) + n;
      }
      for (const [label, seen] of Object.entries(report.differences)) {
        const known = total.differences[label];
        if (known === undefined) total.differences[label] = { ...seen };
        else known.count += seen.count;
      }
      total.findings.push(...report.findings);
      total.peakHeapBytes = Math.max(total.peakHeapBytes, report.peakHeapBytes);
      if (report.slowest.ms > total.slowest.ms) total.slowest = report.slowest;
    }
    from = next;
  }
  total.seconds = (Date.now() - started) / 1000;
  return total;
}

function print(target: string, report: Report): void {
  const rate = Math.round(report.inputs / report.seconds);
  console.log(
    `\n${target}: ${report.inputs} inputs in ${report.seconds.toFixed(1)} s ` +
      `(${rate} inputs/s), ${report.findings.length} findings, ` +
      `peak heap ${(report.peakHeapBytes / 2 ** 20).toFixed(1)} MiB, ` +
      `slowest input #${report.slowest.index} ${report.slowest.ms.toFixed(1)} ms`,
  );
  const verdicts = Object.entries(report.verdicts).sort((a, b) => b[1] - a[1]);
  console.log(`  verdicts: ${verdicts.map(([v, n]) => `${v} ${n}`).join(", ")}`);
  for (const [label, seen] of Object.entries(report.differences).sort(
    (a, b) => b[1].count - a[1].count,
  )) {
    console.log(`  differs from ws: ${label}: ${seen.count} inputs (first #${seen.first})`);
  }
  for (const finding of report.findings) {
    console.log(`  FINDING #${finding.index} ${finding.kind}: ${finding.message}`);
    if (finding.stack !== "") console.log(finding.stack.replace(/^/gm, "      "));
  }
}

console.log(
  `fuzz: ${names.join(", ")}; ${INPUTS} inputs each from #${FROM}, seed ${SEED}, ` +
    `deadline ${DEADLINE_MS} ms per input, heap limit ${HEAP_MB} MiB`,
);
const results: Record<string, Report> = {};
let found = 0;
// --parallel n: n targets at a time, each in its own worker.
const queue = [...names];
await Promise.all(
  Array.from({ length: Math.max(1, Number(values.parallel)) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const report = await fuzz(name);
      results[name] = report;
      found += report.findings.length;
      print(name, report);
    }
  }),
);
if (values.json) console.log(JSON.stringify(results));
process.exit(found > 0 ? 1 : 0);
