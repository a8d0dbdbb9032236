/**
 * What other processes took of a CPU while a benchmark measured on it, and
 * which rounds were quiet enough to keep. A process at 1 in flight sleeps
 * between round trips; on a CPU something else keeps busy, it waits for it
 * on every wake-up and runs slower after it (caches, TLB): at half the
 * rate, with twice the CPU per message (bench/README.md, "client"). Reads
 * Linux's /proc; elsewhere (or in Deno without `--allow-all`) every answer
 * is null, and every round is kept.
 *
 * @module
 */

import { readFileSync } from "node:fs";

/** Rounds in which others took at most this share of the CPU are quiet. */
export const QUIET = 0.05;

/** The CPU this process is pinned to (`taskset -c N`), or null when it may run on several. */
export function pinnedCpu(): string | null {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    return /^Cpus_allowed_list:\s*(\d+)\s*$/m.exec(status)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Seconds CPU `cpu` was busy since boot (/proc/stat, in USER_HZ = 100 ticks); null if unknown. */
export function busySeconds(cpu: string | null): number | null {
  if (cpu === null) return null;
  try {
    const line = readFileSync("/proc/stat", "utf8")
      .split("\n")
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (line === undefined) return null;
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) / 100;
  } catch {
    return null;
  }
}

/**
 * The share of `seconds` that processes other than the measured one kept
 * the CPU busy: its busy time between `busy0` and `busy1` less `own`, the
 * measured process's CPU time meanwhile. Null if either reading is.
 */
export function othersShare(
  busy0: number | null,
  busy1: number | null,
  own: number,
  seconds: number,
): number | null {
  if (busy0 === null || busy1 === null || seconds <= 0) return null;
  return Math.max(0, busy1 - busy0 - own) / seconds;
}

/**
 * The rounds to keep: the quiet ones when there are any, else all; and how
 * many were quiet, for the progress line (`! none quiet`: every round
 * shared its CPU; `load unknown`: no round could tell).
 */
export function quietRounds<T extends { others: number | null }>(
  all: T[],
): { kept: T[]; label: string } {
  const quiet = all.filter((s) => s.others !== null && s.others <= QUIET);
  if (quiet.length > 0) return { kept: quiet, label: `${quiet.length}/${all.length} quiet` };
  const unknown = all.every((s) => s.others === null);
  return { kept: all, label: unknown ? "load unknown" : "! none quiet" };
}
