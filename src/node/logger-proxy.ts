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
    if (msg === undefined) this.target.debug(obj);
    else this.target.debug(obj, msg, ...args);
  }

  info(obj: unknown, msg?: string, ...args: unknown[]): void {
    if (msg === undefined) this.target.info(obj);
    else this.target.info(obj, msg, ...args);
  }

  warn(obj: unknown, msg?: string, ...args: unknown[]): void {
    if (msg === undefined) this.target.warn(obj);
    else this.target.warn(obj, msg, ...args);
  }

  error(obj: unknown, msg?: string, ...args: unknown[]): void {
    if (msg === undefined) this.target.error(obj);
    else this.target.error(obj, msg, ...args);
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
