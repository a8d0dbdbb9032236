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
 * On the client, a failed handshake that looks like a usual mistake gets
 * its error explained instead ({@link explainHandshakeFailure}).
 *
 * @module
 */

import { InvalidHandshake, InvalidMessage, InvalidStatus, InvalidUpgrade } from "../errors.ts";
import { closedWhileReading } from "../http11-parser.ts";
import { handshakeHints, isLevelEnabled, logMessages } from "../logging.ts";
import type { WebSocketURI } from "../uri.ts";
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

/**
 * The usual mistakes behind a failed client handshake, told in words that
 * name the fix (texts from {@link handshakeHints}); any other error
 * unchanged. `ws://` to a TLS port: Node's TLS servers close without a
 * byte. `wss://` to a plain port: the server's HTTP answer reads as a bad
 * TLS record. A 2xx: an HTTP server answered the upgrade request as a
 * plain request, as Node's does when nothing listens to its `upgrade`
 * event (or a proxy dropped `Upgrade`, and the server behind it had no
 * reason to refuse a plain request). A 426, "Upgrade Required" (ours,
 * Python websockets', `ws`'s with `port`), or a 101 without its upgrade
 * headers: a proxy dropped the hop-by-hop headers. @internal
 */
export function explainHandshakeFailure(error: unknown, uri: WebSocketURI): unknown {
  const where = `${uri.host}:${uri.port}`;
  if (error instanceof InvalidStatus) {
    const status = error.response.status;
    if (status < 300) error.message += handshakeHints.noUpgradeHandler(uri.resourceName);
    else if (status === 426) error.message += handshakeHints.upgradeStripped;
    return error;
  }
  // The server's side of RFC 6455 §4.2.2 step 5: a 101 carries both.
  if (error instanceof InvalidUpgrade && error.value === null) {
    error.message += handshakeHints.responseUpgradeStripped;
    return error;
  }
  if (!uri.secure && closedWhileReading(error, "HTTP status line")) {
    return new InvalidMessage(error.message + handshakeHints.wsToTlsPort(where), { cause: error });
  }
  if (uri.secure && (error as { code?: unknown } | null)?.code === "ERR_SSL_WRONG_VERSION_NUMBER") {
    return new InvalidHandshake(handshakeHints.wssToPlainPort(where), { cause: error });
  }
  return error;
}
