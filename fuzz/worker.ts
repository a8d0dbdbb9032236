/**
 * Runs a range of inputs of one target, in a worker thread: the runner
 * watches its progress counter to tell a hang, and its heap limit makes
 * unbounded memory a finding too.
 *
 * @module
 */

import { performance } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { Random } from "./random.ts";
import { TARGETS, type Target } from "./targets.ts";

/** What the runner asks a worker to do. */
export interface Job {
  target: string;
  seed: number;
  from: number;
  count: number;
  /** Int32Array over a SharedArrayBuffer: [0] is the index being run, [1] is 1 once loaded. */
  progress: SharedArrayBuffer;
}

/** An input that threw something other than the library's own errors. */
export interface Finding {
  index: number;
  kind: string;
  message: string;
  stack: string;
}

/** What a worker reports when its range is done. */
export interface Report {
  inputs: number;
  seconds: number;
  verdicts: Record<string, number>;
  differences: Record<string, { count: number; first: number }>;
  findings: Finding[];
  peakHeapBytes: number;
  slowest: { index: number; ms: number };
}

const MAX_FINDINGS = 20;

/** A report of no input yet. */
export function emptyReport(): Report {
  return {
    inputs: 0,
    seconds: 0,
    verdicts: {},
    differences: {},
    findings: [],
    peakHeapBytes: 0,
    slowest: { index: -1, ms: 0 },
  };
}

/** Runs `count` inputs from `from`; `onIndex` hears of each before it runs. */
export function runRange(
  target: Target,
  seed: number,
  from: number,
  count: number,
  onIndex: (index: number) => void = () => {},
): Report {
  const report = emptyReport();
  const start = performance.now();
  for (let index = from; index < from + count; index++) {
    onIndex(index);
    const began = performance.now();
    try {
      const outcome = target.run(new Random(seed, index));
      report.verdicts[outcome.verdict] = (report.verdicts[outcome.verdict] ?? 0) + 1;
      if (outcome.difference !== undefined) {
        const seen = report.differences[outcome.difference];
        if (seen === undefined) report.differences[outcome.difference] = { count: 1, first: index };
        else seen.count++;
      }
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if (report.findings.length < MAX_FINDINGS) {
        report.findings.push({
          index,
          kind: err.name,
          message: err.message.slice(0, 300),
          stack: (err.stack ?? "").split("\n").slice(1, 6).join("\n"),
        });
      }
    }
    const ms = performance.now() - began;
    if (ms > report.slowest.ms) report.slowest = { index, ms };
    report.inputs++;
    if ((index & 0x3ff) === 0) {
      const heap = getHeapStatistics();
      const used = heap.used_heap_size + heap.external_memory;
      if (used > report.peakHeapBytes) report.peakHeapBytes = used;
    }
  }
  report.seconds = (performance.now() - start) / 1000;
  return report;
}

if (parentPort !== null) {
  const job = workerData as Job;
  const target = TARGETS.get(job.target);
  if (target === undefined) throw new Error(`no fuzzing target ${job.target}`);
  const progress = new Int32Array(job.progress);
  // Loading (and compiling) took its time; the deadline counts from now.
  Atomics.store(progress, 1, 1);
  const report = runRange(target, job.seed, job.from, job.count, (index) => {
    Atomics.store(progress, 0, index);
  });
  parentPort.postMessage(report);
}
