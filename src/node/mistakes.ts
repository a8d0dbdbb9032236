/**
 * Log lines for the usual mistakes with a connection, each detected where
 * it costs nothing on the hot path (docs/decisions.md, "The usual mistakes,
 * in the logs"):
 *
 * - sends that aren't awaited piling up behind a full write buffer (checked
 *   only when a send has to wait);
 * - a send that failed because the connection closed, whose promise nothing
 *   awaited (checked only on that rejection);
 * - reading paused with messages unread after a `for await` loop over them
 *   was left (checked only when reading pauses, and when keepalive times
 *   out while reading is paused: the loop may have been left after).
 *
 * Connections of `websockets-ts/ws` are left out: `ws`'s API sends without
 * waiting by design.
 *
 * @module
 */

import { isLevelEnabled, logMessages } from "../logging.ts";
import type { Connection } from "./connection.ts";
import { sinks } from "./event-sink.ts";
import { noop, RESOLVED } from "./promises.ts";

/** Sends waiting for the write buffer at once that suggest nobody awaits them. */
export const SENDS_PILING_UP = 100;

/**
 * A send's flow control, `drained`, passed through: when the send has to
 * wait, warns (once per connection) if {@link SENDS_PILING_UP} sends wait. @internal
 */
export function watchDrained(connection: Connection, drained: Promise<void>): Promise<void> {
  if (drained !== RESOLVED) checkSendsPiling(connection);
  return drained;
}

function checkSendsPiling(connection: Connection): void {
  const waiting = connection.writer.pilingUp(SENDS_PILING_UP);
  if (waiting === 0 || sinks.has(connection)) return;
  const logger = connection.logger;
  if (!isLevelEnabled(logger, "warn")) return;
  logger.warn(
    logMessages.sendsPiling(waiting, connection.bufferedAmount, connection.settings.writeLimit),
  );
}

/**
 * A promise that rejects with `error` (or the error `later` rejects with),
 * marked handled so it can't crash the process, and that tells, one
 * macrotask later, whether anything awaited it or attached a handler:
 * if nothing did, the message is lost without anyone knowing, and that is
 * logged, once per connection. @internal
 */
export function watchedRejection(
  connection: Connection,
  error: unknown,
  later?: Promise<never>,
): Promise<never> {
  const promise = new WatchedRejection<never>((_, reject) => {
    if (later === undefined) reject(error);
    else later.then(noop, reject);
  });
  // Handled for Node, without counting as observed by the application.
  Promise.prototype.then.call(promise, undefined, noop);
  const check = (): void => {
    if (promise.observed || sinks.has(connection)) return;
    const closing = connection.closingState();
    if (closing.lostSendLogged) return;
    closing.lostSendLogged = true;
    promise.then(noop, (reason: unknown) => {
      connection.logger.warn({ err: reason }, logMessages.sendLost(reason));
    });
  };
  if (later === undefined) setImmediate(check);
  else later.then(noop, () => setImmediate(check));
  return promise;
}

/**
 * Records whether `then` was called, which `await`, `.then()`, `.catch()`,
 * `Promise.all()` and returning it from an async function all do.
 */
class WatchedRejection<T> extends Promise<T> {
  observed = false;

  // Promises derived from this one are plain promises.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: a promise's own then, watched.
  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

/**
 * Reading paused because messages pile up unread (or keepalive timed out
 * while it was): if a `for await` loop over them was left since the last
 * read, that is probably why. @internal
 */
export function warnUnreadAfterLoop(connection: Connection): void {
  if (!connection.queue.takeLoopLeft()) return;
  const logger = connection.logger;
  if (!isLevelEnabled(logger, "warn")) return;
  logger.warn(logMessages.unreadAfterLoop(connection.queue.length));
}
