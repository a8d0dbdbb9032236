/**
 * Closing a connection: the close timeout that bounds the closing
 * handshake and the wait for the transport to close, the `closed` promise,
 * the error every later call gets, and the `connection closed` log line.
 *
 * The state lives in a {@link Closing} created on first need: when closing
 * starts, when someone awaits `closed`, or when the transport fails. An
 * open connection that nobody asked about has none.
 *
 * @module
 */

import type { ConnectionClosed, ConnectionClosedOK } from "../errors.ts";
import type { ConnectionClosedFields } from "../logging.ts";
import type { Protocol } from "../protocol.ts";
import { RESOLVED } from "./promises.ts";

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
  /** Destroys the transport if closing takes longer than `closeTimeout`. */
  timer: NodeJS.Timeout | null = null;
  // The `closed` promise, created on first use, and what resolves it.
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  // Built once, on first use: an error captures a stack.
  #error: ConnectionClosed | null = null;
  /** Why the transport closed, if it failed (ECONNRESET...): the cause of the error. */
  transportError: Error | null = null;

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
  stopTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
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
