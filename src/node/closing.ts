/**
 * Closing a connection: the close timeout that bounds the closing
 * handshake and the wait for the transport to close, the `closed` promise,
 * the error every later call gets, and the `connection closed` log line.
 *
 * The state lives in a {@link Closing} created on first need: when closing
 * starts, when someone awaits `closed`, or when the transport fails. An
 * open connection that nobody asked about has none. The functions below take
 * the connection rather than keeping a reference to it: closing starting,
 * the close timer, tearing the transport down (half-close, abort), and
 * stopping every collaborator once it closed.
 *
 * @module
 */

import { type ConnectionClosed, type ConnectionClosedOK, InvalidState } from "../errors.ts";
import { CLOSE_INTERNAL_ERROR } from "../frames.ts";
import { type ConnectionClosedFields, logMessages } from "../logging.ts";
import { CONNECTING, OPEN, type Protocol } from "../protocol.ts";
import type { Connection } from "./connection.ts";
import { publishClose, publishSocketError } from "./diagnostics.ts";
import { unwatchIdle } from "./idle-release.ts";
import { watchedRejection } from "./mistakes.ts";
import { RESOLVED, rejected } from "./promises.ts";
import { type Slot, TimerWheel } from "./timer-wheel.ts";
import { destroyTransport } from "./transport.ts";

/** What a connection counts for its `connection closed` line. @internal */
export interface ConnectionStats {
  openedAt: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * The closing state of one connection.
 *
 * @internal
 */
export class Closing {
  /** Destroys the transport if closing takes longer than `closeTimeout`: on `closeWheel`. */
  timer: Slot | null = null;
  // The `closed` promise, created on first use, and what resolves it.
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  // Built once, on first use: an error captures a stack.
  #error: ConnectionClosed | null = null;
  /** Why the transport closed, if it failed (ECONNRESET...): the cause of the error. */
  transportError: Error | null = null;
  /** Whether a failed send nothing awaited was logged (mistakes.ts): once per connection. */
  lostSendLogged = false;

  /** Resolves once the transport is closed; `done`: it is already. */
  closed(done: boolean): Promise<void> {
    if (this.#closed === null) {
      if (done) return RESOLVED;
      this.#closed = new Promise<void>((resolve) => {
        this.#resolveClosed = resolve;
      });
    }
    return this.#closed;
  }

  /** Resolves `closed`. */
  finish(): void {
    this.#resolveClosed?.();
  }

  /**
   * The error for using the closed connection: the protocol's, with the
   * transport's error as cause when it failed.
   */
  error(protocol: Protocol): ConnectionClosed {
    if (this.#error !== null) return this.#error;
    let error = protocol.closeExc;
    // The transport's error (ECONNRESET...) says more than the protocol's
    // "unexpected end of stream".
    if (this.transportError !== null) {
      const Class = error.constructor as new (
        ...args: ConstructorParameters<typeof ConnectionClosedOK>
      ) => ConnectionClosed;
      error = new Class(error.rcvd, error.sent, error.rcvdThenSent, {
        cause: this.transportError,
      });
    }
    this.#error = error;
    return error;
  }

  /** Cancels the close timeout. */
  stopTimer(connection: Connection): void {
    if (this.timer === null) return;
    TimerWheel.remove(this.timer, connection);
    this.timer = null;
  }
}

/** The fields of the INFO `connection closed` line. */
export function closedFields(
  protocol: Protocol,
  code: number,
  reason: string,
  stats: ConnectionStats,
): ConnectionClosedFields {
  return {
    code,
    reason,
    rcvdCode: protocol.closeRcvd?.code ?? null,
    rcvdReason: protocol.closeRcvd?.reason ?? null,
    sentCode: protocol.closeSent?.code ?? null,
    sentReason: protocol.closeSent?.reason ?? null,
    durationMs: Math.round(performance.now() - stats.openedAt),
    messagesIn: stats.messagesIn,
    messagesOut: stats.messagesOut,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
  };
}

/**
 * Closing started (`close()` or a failure): writes the close frame now, keeps
 * reading so the peer's close frame arrives, and arms the close timer once
 * the transport should close. @internal
 */
export function closingStarted(connection: Connection): void {
  // The peer's close frame must be read even if the application stopped
  // reading messages.
  connection.queue.drain();
  connection.sendData();
  connection.writer.flush();
  if (connection.protocol.closeExpected()) startCloseTimer(connection);
}

/**
 * What `close()` does in each state: OPEN sends the close frame (or fails
 * with 1011 while a fragmented message is being sent: it can't be
 * completed), CONNECTING aborts the transport (no WebSocket connection to
 * close yet), and later states only make sure the close timer runs.
 * @throws ProtocolError for a code that can't be sent or a reason too long.
 * @internal
 */
export function startClosing(connection: Connection, code: number | null, reason: string): void {
  const protocol = connection.protocol;
  if (protocol.state === OPEN) {
    if (connection.writer.fragmented !== null) {
      connection.failWith(CLOSE_INTERNAL_ERROR, "close during fragmented message");
    } else {
      protocol.sendClose(code ?? undefined, reason);
      closingStarted(connection);
    }
  } else if (protocol.state === CONNECTING) {
    abortTransport(connection);
  } else {
    startCloseTimer(connection);
  }
}

// Every connection that closes arms a close timer, most only to clear it a
// moment later: a shared wheel costs a set insertion and deletion where a
// Timeout of its own cost Node's timer lists (docs/performance.md).
const closeWheel = new TimerWheel(closeTimedOut);

/**
 * Arms the close timer: past `closeTimeout` (or up to a grain of the
 * wheel later), the transport is destroyed. Does nothing if it's armed,
 * the transport closed, or there's no timeout. @internal
 */
export function startCloseTimer(connection: Connection): void {
  const closeTimeout = connection.settings.closeTimeout;
  if (connection.isClosed || closeTimeout === null) return;
  const closing = connection.closingState();
  if (closing.timer !== null) return;
  closing.timer = closeWheel.add(connection, closeTimeout);
}

function closeTimedOut(connection: Connection): void {
  connection.closing!.timer = null;
  if (connection.debug) connection.logger.debug(logMessages.closeTimeout);
  abortTransport(connection);
}

/** What `send()` and friends return when the connection isn't OPEN. @internal */
export function notOpen(connection: Connection): Promise<never> {
  if (connection.protocol.state === CONNECTING) {
    return rejected(new InvalidState("cannot send before the opening handshake completes"));
  }
  if (connection.isClosed) return watchedRejection(connection, connection.closeError());
  // CLOSING: wait for the transport to close, then report how it closed.
  startCloseTimer(connection);
  const later = connection.closed.then(() => {
    throw connection.closeError();
  });
  return watchedRejection(connection, null, later);
}

/** Half-closes the transport, once what was written before is out. @internal */
export function halfClose(connection: Connection): void {
  const transport = connection.writer.transport;
  if (transport.destroyed || transport.writableEnded) return;
  connection.keepAddresses();
  if (connection.debug) connection.logger.debug(logMessages.halfClosing);
  transport.end();
}

/** Destroys the transport at once. @internal */
export function abortTransport(connection: Connection): void {
  const transport = connection.writer.transport;
  if (transport.destroyed) return;
  connection.keepAddresses();
  if (connection.debug) connection.logger.debug(logMessages.closingTcp);
  destroyTransport(transport);
}

/** The transport failed (ECONNRESET...): the error becomes the close error's cause. @internal */
export function transportFailed(connection: Connection, error: Error): void {
  connection.closingState().transportError ??= error;
  if (connection.debug) {
    const syscall = (error as NodeJS.ErrnoException).syscall;
    const message =
      syscall === "write" || (error as NodeJS.ErrnoException).code === "EPIPE"
        ? logMessages.sendFailed
        : logMessages.receiveFailed;
    connection.logger.debug({ err: error }, message);
  }
  publishSocketError(connection, error);
  // Node destroys the stream after an error: 'close' follows.
}

/**
 * The transport closed: stops the close timer, the writer, the idle sweep,
 * the message queue and keepalive, then logs `connection closed`. @internal
 */
export function tearDown(connection: Connection): void {
  connection.closing?.stopTimer(connection);
  const writer = connection.writer;
  writer.discard();
  // Free extension resources (zlib streams) now rather than at GC.
  unwatchIdle(connection);
  connection.releaseIdle();

  const protocol = connection.protocol;
  const closeError = (): ConnectionClosed => connection.closeError();
  connection.queue.close(closeError, protocol.closedNormally);
  connection.keepalive?.stop(connection, closeError);
  writer.release();

  if (connection.wasOpen) {
    const code = protocol.closeCode ?? 1006;
    const reason = protocol.closeReason ?? "";
    // Checked once per connection: no record is built when INFO is off.
    if (connection.info) {
      const fields = closedFields(protocol, code, reason, connection.stats());
      connection.logger.info(fields, logMessages.connectionClosed);
    }
    publishClose(connection, code, reason);
  } else if (connection.debug) {
    connection.logger.debug(logMessages.connectionClosed);
  }
}
