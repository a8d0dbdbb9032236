/**
 * A logger that records what it is given, for tests that assert the level,
 * message and fields of log records.
 *
 * ```ts
 * const capture = createCaptureLogger();
 * await using server = await serve(handler, { port: 0, logger: capture.logger });
 * ...
 * const closed = capture.records.find((r) => r.msg === "connection closed");
 * assert.equal(closed?.level, "info");
 * assert.equal(closed?.fields.code, 1000);
 * ```
 */

import { format } from "node:util";
import type { LevelName, LogFn, Logger, LogLevel } from "../../src/logging.ts";

/** One record: bindings of the logger (and its parents) merged with the call's fields. */
export interface CapturedRecord {
  level: LogLevel;
  msg: string;
  /** Bindings then call fields (a call field wins), without `err`. */
  fields: Record<string, unknown>;
  /** The `err` field, or the Error passed as first argument; `undefined` when none. */
  err: unknown;
}

/** A capturing logger and what it captured. */
export interface CaptureLogger {
  /** Pass this as the `logger` option. Children share the records and the level. */
  logger: Logger;
  /** Every record, in order, from the logger and all its children. */
  records: CapturedRecord[];
  /** The messages recorded, optionally only those of one level. */
  messages(level?: LogLevel): string[];
  /** Forgets the records. */
  clear(): void;
}

const LEVEL_VALUES: Record<LevelName, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

interface State {
  level: LevelName;
  records: CapturedRecord[];
}

function makeLogger(state: State, bindings: Record<string, unknown>): Logger {
  const method =
    (level: LogLevel): LogFn =>
    (...params: unknown[]) => {
      if (LEVEL_VALUES[level] < LEVEL_VALUES[state.level]) return;
      const [first, ...rest] = params;
      let fields: Record<string, unknown> = { ...bindings };
      let err: unknown;
      let msg: string;
      if (typeof first === "string") {
        msg = format(first, ...rest);
      } else {
        if (first instanceof Error) {
          err = first;
        } else if (typeof first === "object" && first !== null) {
          const { err: callErr, ...callFields } = first as Record<string, unknown>;
          err = callErr;
          fields = { ...fields, ...callFields };
        }
        msg = rest.length > 0 ? format(...rest) : first instanceof Error ? first.message : "";
      }
      state.records.push({ level, msg, fields, err });
    };
  return {
    trace: method("trace"),
    debug: method("debug"),
    info: method("info"),
    warn: method("warn"),
    error: method("error"),
    fatal: method("fatal"),
    child: (childBindings) => makeLogger(state, { ...bindings, ...childBindings }),
    isLevelEnabled: (level) =>
      level in LEVEL_VALUES &&
      level !== "silent" &&
      LEVEL_VALUES[level as LevelName] >= LEVEL_VALUES[state.level],
    get level() {
      return state.level;
    },
    set level(level: LevelName) {
      state.level = level;
    },
  };
}

/**
 * A logger recording every record at `level` and above (default: all of
 * them, so debug logging paths run too).
 */
export function createCaptureLogger(level: LevelName = "trace"): CaptureLogger {
  const state: State = { level, records: [] };
  return {
    logger: makeLogger(state, {}),
    records: state.records,
    messages: (only) =>
      state.records.filter((r) => only === undefined || r.level === only).map((r) => r.msg),
    clear: () => {
      state.records.length = 0;
    },
  };
}
