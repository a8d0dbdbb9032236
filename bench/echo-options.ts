/**
 * The command-line options the echo and client benchmarks share (rounds,
 * timing, peers, pinning), parsed in one place so both read the same flags
 * the same way; each adds its own.
 *
 * @module
 */

import { type ParseArgsConfig, parseArgs } from "node:util";
import { choosePinning, type Pinning } from "./echo-loadgen.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

const SHARED = {
  quick: { type: "boolean", default: false },
  rounds: { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  settle: { type: "string" },
  peers: { type: "boolean", default: false },
  "no-pin": { type: "boolean", default: false },
  only: { type: "string", multiple: true },
} as const satisfies Options;

/** The parsed values of the shared options and of `E`. */
type Values<E extends Options> = ReturnType<
  typeof parseArgs<{ options: typeof SHARED & E; allowPositionals: true }>
>["values"];

/** What every paired-round benchmark reads from its command line. */
export interface RunOptions {
  quick: boolean;
  /** Rounds per row: 3, or 1 with `--quick`. */
  rounds: number;
  /** Measured time per round, ms: 1,500, or 500 with `--quick`. */
  durationMs: number;
  /** Unmeasured time before each measurement, ms: 300, or 200 with `--quick`. */
  warmupMs: number;
  /**
   * Unmeasured load a fresh process (a server, a client) gets before its
   * first measurement, ms: 2,000, or 500 with `--quick` (`--settle 0`: none).
   * A Node process spends its first seconds under load optimizing the hot
   * path (TurboFan jobs on helper threads that share the measured CPU) and
   * running its first full GC: start-up, not what a row measures (see
   * bench/results.md, "Fresh processes").
   */
  settleMs: number;
  /** Whether Bun and Deno join the run (`--peers`). */
  peers: boolean;
  /** Which CPUs the load and the measured processes run on (`--no-pin` turns it off). */
  pinning: Pinning;
  /**
   * Whether `--only` picks the row named `name` (every row without it):
   * `--only TEXT` picks the rows whose name contains TEXT, `--only ^TEXT`
   * those whose name starts with it (`^32 B, 100` leaves out `TLS 32 B,
   * 100 …`).
   */
  picks(name: string): boolean;
}

/**
 * Parses the shared options plus the benchmark's own `extra` ones; returns
 * both, the shared ones with their defaults applied.
 */
export function parseRunOptions<const E extends Options>(
  extra: E,
): { run: RunOptions; values: Values<E> } {
  const { values } = parseArgs({ options: { ...SHARED, ...extra }, allowPositionals: true });
  const shared = values as { [K in keyof typeof SHARED]?: string | boolean | string[] };
  const quick = shared.quick === true;
  const only = (shared.only as string[] | undefined) ?? [];
  const number = (value: unknown, fallback: number) =>
    value === undefined ? fallback : Number(value);
  return {
    run: {
      quick,
      rounds: number(shared.rounds, quick ? 1 : 3),
      durationMs: number(shared.duration, quick ? 500 : 1500),
      warmupMs: number(shared.warmup, quick ? 200 : 300),
      settleMs: number(shared.settle, quick ? 500 : 2000),
      peers: shared.peers === true,
      pinning: choosePinning(shared["no-pin"] !== true),
      picks: (name) => only.length === 0 || only.some((part) => picked(name, part)),
    },
    values: values as Values<E>,
  };
}

function picked(name: string, part: string): boolean {
  return part.startsWith("^") ? name.startsWith(part.slice(1)) : name.includes(part);
}
