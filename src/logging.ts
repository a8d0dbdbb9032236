/**
 * Logging: the logger interface, the built-in logger and frame rendering.
 *
 * CONTRACT (filled in by the logging work): other modules rely only on
 * `LoggerLike`, `isLevelEnabled` and `formatFrame` below.
 *
 * @module
 */

import { type Frame, OPCODE_NAMES } from "./frames.ts";

/** Log levels, as in pino. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** A log method: pino's `(obj, msg)` or `(msg)` forms. */
export type LogFn = (objOrMsg: unknown, msg?: string, ...args: unknown[]) => void;

/** Any pino-compatible logger. */
export interface LoggerLike {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  trace?: LogFn;
  fatal?: LogFn;
  child?(bindings: Record<string, unknown>): LoggerLike;
  isLevelEnabled?(level: string): boolean;
  level?: string;
}

const ORDER: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Whether `logger` would output records of `level`. Call it once, not per record. */
export function isLevelEnabled(logger: LoggerLike | null | undefined, level: LogLevel): boolean {
  if (logger == null) return false;
  if (typeof logger.isLevelEnabled === "function") return logger.isLevelEnabled(level);
  if (typeof logger.level === "string" && logger.level in ORDER) return ORDER[level] >= ORDER[logger.level];
  return true;
}

/** Renders a frame for debug logs: `TEXT 'hello' [5 bytes]`. */
export function formatFrame(frame: Frame): string {
  return `${OPCODE_NAMES[frame.opcode]} [${frame.data.length} bytes]`;
}
