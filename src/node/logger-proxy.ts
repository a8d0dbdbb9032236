/**
 * A connection's loggers: its child of the configured logger, bound with
 * its fields, and the logger its protocol logs through (the protocol is
 * built before its connection, yet its records must carry those fields).
 *
 * @module
 */

import { isLevelEnabled, type LoggerLike, logMessages, silentLogger } from "../logging.ts";
import type { LogFields } from "./options.ts";

/**
 * The logger a connection logs through: a child of `base` bound with
 * `fields()`, then with `context` (what `logContext` returned) if any; `base`
 * itself when it makes no children (then `fields` isn't called).
 *
 * @internal
 */
export function childLogger(
  base: LoggerLike,
  fields: () => LogFields,
  context: LogFields | null,
): LoggerLike {
  if (typeof base.child !== "function") return base;
  const logger = base.child(fields());
  return context !== null && typeof logger.child === "function" ? logger.child(context) : logger;
}

/**
 * Calls the `logContext` option for `connection`; an error it throws is
 * logged on `logger` and means no fields, so a broken hook never fails a
 * connection.
 *
 * @internal
 */
export function logContextFields(
  logContext: (connection: never) => LogFields | null | undefined,
  connection: unknown,
  logger: () => LoggerLike,
): LogFields | null {
  try {
    return logContext(connection as never) ?? null;
  } catch (error) {
    logger().error({ err: error }, logMessages.internalError);
    return null;
  }
}

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
