/**
 * How a connection ended, as the WHATWG WebSockets Standard reports it
 * (§3.4, "when the WebSocket connection is closed"): shared by `WebSocket`
 * (the close event) and `WebSocketStream` (`closed`).
 *
 * @module
 */

import { ConnectionClosed } from "../errors.ts";

/** The end of a connection, as the API reports it. */
export interface CloseOutcome {
  /** "Fail the WebSocket connection" was required: `error` fires; code 1006. */
  failed: boolean;
  /** Whether the closing handshake completed: close frames both ways, then TCP closed. */
  wasClean: boolean;
  /** The close code received; 1005 when its frame had none; 1006 without one, or after a failure. */
  code: number;
  /** The close reason received, or `""`. */
  reason: string;
}

/** The outcome of a connection that failed (RFC 6455 §7.1.7). */
export const FAILED: CloseOutcome = { failed: true, wasClean: false, code: 1006, reason: "" };

/**
 * The outcome, given the error the connection's `recv()` ended with and
 * whether the application started the closing handshake.
 */
export function closeOutcome(closedBy: unknown, closeCalled: boolean): CloseOutcome {
  if (!(closedBy instanceof ConnectionClosed)) return FAILED;
  const { rcvd, sent } = closedBy;
  // We sent a close frame first though the application didn't ask: our
  // side failed the connection (a protocol error, a message over maxSize,
  // a keepalive timeout), and the code it sent isn't the server's to report.
  if (sent !== null && !closeCalled && closedBy.rcvdThenSent !== true) return FAILED;
  // No close frame: the transport closed abruptly (RFC 6455 §7.1.5: 1006).
  // The Standard doesn't call this a failure, and Chromium fires no error.
  if (rcvd === null) return { failed: false, wasClean: false, code: 1006, reason: "" };
  return { failed: false, wasClean: sent !== null, code: rcvd.code, reason: rcvd.reason };
}
