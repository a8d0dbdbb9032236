/**
 * The logger a connection's protocol logs through: the protocol is built
 * before its connection, yet its records must carry the connection's fields.
 *
 * @module
 */

import { isLevelEnabled, type LoggerLike, silentLogger } from "../logging.ts";

/**
 * Forwards log calls to the connection's logger: the protocol gets its
 * logger at construction, before the connection, its id and the
 * `logContext` fields exist, and its records must carry them.
 */
export class LoggerProxy implements LoggerLike {
  readonly #base: LoggerLike;
  connection: { readonly logger: LoggerLike } | null = null;

  constructor(base: LoggerLike) {
    this.#base = base;
  }

  get target(): LoggerLike {
    return this.connection === null ? this.#base : this.connection.logger;
  }

  debug(obj: unknown, msg?: string, ...args: unknown[]): void {
    forward(this.target, "debug", obj, msg, args);
  }

  info(obj: unknown, msg?: string, ...args: unknown[]): void {
    forward(this.target, "info", obj, msg, args);
  }

  warn(obj: unknown, msg?: string, ...args: unknown[]): void {
    forward(this.target, "warn", obj, msg, args);
  }

  error(obj: unknown, msg?: string, ...args: unknown[]): void {
    forward(this.target, "error", obj, msg, args);
  }

  isLevelEnabled(level: string): boolean {
    return isLevelEnabled(this.target, level as "debug");
  }
}

/**
 * Creates the logger a protocol is constructed with: it logs through
 * `base` until the connection binds its own fields.
 *
 * @internal
 */
export function protocolLogger(base: LoggerLike): LoggerLike {
  return base === silentLogger ? base : new LoggerProxy(base);
}

/** Calls `logger[level]` with the arguments it was given: no `undefined` message added. */
function forward(
  logger: LoggerLike,
  level: "debug" | "info" | "warn" | "error",
  obj: unknown,
  msg: string | undefined,
  args: unknown[],
): void {
  if (msg === undefined) logger[level](obj);
  else logger[level](obj, msg, ...args);
}
