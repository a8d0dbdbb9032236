/**
 * What a sans-I/O `Protocol` records about its connection and keeps only
 * once it needs it: the id, the closing handshake, errors, and what follows
 * from them (the close code, reason and error); plus a fragmented message in
 * progress and bytes held while parsing is paused.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import {
  type ConnectionClosed,
  ConnectionClosedError,
  ConnectionClosedOK,
  InvalidState,
  PayloadTooBig,
  ProtocolError,
} from "./errors.ts";
import type { FragmentMerger } from "./fragment-run.ts";
import {
  CLOSE_ABNORMAL_CLOSURE,
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_INVALID_DATA,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_NO_STATUS_RCVD,
  CLOSE_NORMAL,
  type Close,
} from "./frames.ts";
import { CLOSED, STATE_NAMES, type State } from "./protocol-types.ts";
import type { Utf8Validator } from "./utf8.ts";

const OK_CLOSE_CODES: ReadonlySet<number> = new Set([
  CLOSE_NORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_NO_STATUS_RCVD,
]);

/**
 * A connection's state that most connections need late or never: the
 * closing handshake, errors, the id, a fragmented message in progress. One
 * object created on first need rather than eight fields on each connection.
 */
export class RareState {
  id: string | null = null;
  closeRcvd: Close | null = null;
  closeSent: Close | null = null;
  closeRcvdThenSent: boolean | null = null;
  handshakeExc: Error | null = null;
  parserExc: Error | null = null;
  /** Size so far of the fragmented message being received, or null. */
  curSize: number | null = null;
  utf8Validator: Utf8Validator | null = null;
  /** Merges small fragments while mergeFragments is on (see fragment-run.ts). */
  merger: FragmentMerger | null = null;
  /** Bytes received while parsing is paused, in order, or null. */
  held: Buffer[] | null = null;

  /** Keeps bytes received while parsing is paused, after those kept before. */
  hold(data: Buffer): void {
    if (this.held === null) this.held = [data];
    else this.held.push(data);
  }
}

/**
 * The record of a {@link Protocol}'s connection: its id, the close frames
 * and errors, and the close code, reason and error derived from them. Kept
 * in one object made on first need, so an idle connection pays one
 * field for all of it.
 */
export abstract class ProtocolRecord {
  /** @internal */
  protected rare: RareState | null = null;

  /** The connection's state (RFC 6455 §4.1, §4.2, §7.1.3, §7.1.4). */
  abstract get state(): State;

  /** Unique identifier of the connection (a UUID), for logs. */
  get id(): string {
    const rare = this.rareState();
    rare.id ??= flatUUID();
    return rare.id;
  }

  /** The close frame received, or `null`. */
  get closeRcvd(): Close | null {
    return this.rare?.closeRcvd ?? null;
  }

  /** Set by the protocol when a close frame arrives. */
  set closeRcvd(close: Close | null) {
    if (close !== null || this.rare !== null) this.rareState().closeRcvd = close;
  }

  /** The close frame sent, or `null`. */
  get closeSent(): Close | null {
    return this.rare?.closeSent ?? null;
  }

  /** Set by the protocol when it sends a close frame. */
  set closeSent(close: Close | null) {
    if (close !== null || this.rare !== null) this.rareState().closeSent = close;
  }

  /** Whether the close frame was received before the one sent; `null` until both exist. */
  get closeRcvdThenSent(): boolean | null {
    return this.rare?.closeRcvdThenSent ?? null;
  }

  /** Set by the protocol once both close frames exist. */
  set closeRcvdThenSent(value: boolean | null) {
    if (value !== null || this.rare !== null) this.rareState().closeRcvdThenSent = value;
  }

  /** Why the opening handshake failed, or `null`. Set by `ClientProtocol` and `ServerProtocol`. */
  get handshakeExc(): Error | null {
    return this.rare?.handshakeExc ?? null;
  }

  /** Set by the handshake code of `ClientProtocol` and `ServerProtocol` when it fails. */
  set handshakeExc(error: Error | null) {
    if (error !== null || this.rare !== null) this.rareState().handshakeExc = error;
  }

  /**
   * The error that made the parser fail the connection (`ProtocolError`,
   * `PayloadTooBig`, an unexpected EOF…), or `null`.
   */
  get parserExc(): Error | null {
    return this.rare?.parserExc ?? null;
  }

  /** Set by the parser when it fails the connection. */
  set parserExc(error: Error | null) {
    if (error !== null || this.rare !== null) this.rareState().parserExc = error;
  }

  /** @internal */
  protected rareState(): RareState {
    this.rare ??= new RareState();
    return this.rare;
  }

  /**
   * The close code received from the peer (RFC 6455 §7.1.5): `null` until
   * the connection is CLOSED, 1006 when no close frame was received, 1005
   * when the close frame had no code.
   */
  get closeCode(): number | null {
    if (this.state !== CLOSED) return null;
    return this.closeRcvd === null ? CLOSE_ABNORMAL_CLOSURE : this.closeRcvd.code;
  }

  /** The close reason received (RFC 6455 §7.1.6): `null` until CLOSED, `""` when none. */
  get closeReason(): string | null {
    if (this.state !== CLOSED) return null;
    return this.closeRcvd === null ? "" : this.closeRcvd.reason;
  }

  /**
   * Whether the connection closed normally: both close frames exist, with
   * 1000, 1001 or no code (1005). `closeExc` is then a `ConnectionClosedOK`;
   * this tells it without building the error (which captures a stack).
   */
  get closedNormally(): boolean {
    const rcvd = this.closeRcvd;
    const sent = this.closeSent;
    return (
      rcvd !== null &&
      sent !== null &&
      OK_CLOSE_CODES.has(rcvd.code) &&
      OK_CLOSE_CODES.has(sent.code)
    );
  }

  /**
   * The error to raise when using a closed connection:
   * `ConnectionClosedOK` when close frames were both received and sent with
   * code 1000 or 1001 (or no code), `ConnectionClosedError` otherwise; its
   * `cause` is {@link Protocol.parserExc}. Meaningful once CLOSED.
   */
  get closeExc(): ConnectionClosed {
    const rcvd = this.closeRcvd;
    const sent = this.closeSent;
    const ok = this.closedNormally;
    const options = this.parserExc === null ? undefined : { cause: this.parserExc };
    return ok
      ? new ConnectionClosedOK(rcvd, sent, this.closeRcvdThenSent, options)
      : new ConnectionClosedError(rcvd, sent, this.closeRcvdThenSent, options);
  }
}

// randomUUID() returns a rope of about 20 pieces (~900 bytes of heap); a
// connection keeps its id for its lifetime, so copy it into one flat string.
function flatUUID(): string {
  return Buffer.from(randomUUID(), "latin1").toString("latin1");
}

/**
 * What an error thrown by the frame parser or the checks of a received frame
 * means for the connection: the error to record, the close code and reason
 * to fail with, and whether it was unexpected (a bug, to log; its details
 * are not sent to the peer). A `PayloadTooBig` the parser measured against
 * what was left of a fragmented message's budget is restated for the whole
 * message.
 */
export function parserFailure(
  error: unknown,
  maxSize: number | null,
  curSize: number | null,
): { exc: Error; code: number; reason: string; unexpected: boolean } {
  if (error instanceof ProtocolError) {
    return { exc: error, code: error.closeCode, reason: error.message, unexpected: false };
  }
  if (error instanceof PayloadTooBig) {
    let exc = error;
    if (maxSize !== null && curSize !== null && exc.size !== null && exc.maxSize !== maxSize) {
      exc = new PayloadTooBig(curSize + exc.size, maxSize, "message", { cause: error });
    }
    return { exc, code: CLOSE_MESSAGE_TOO_BIG, reason: exc.message, unexpected: false };
  }
  const exc = error instanceof Error ? error : new Error(String(error));
  return { exc, code: CLOSE_INTERNAL_ERROR, reason: "", unexpected: true };
}

/** RFC 6455 §8.1: invalid UTF-8 in a text message fails the connection with 1007. @internal */
export function invalidUtf8(): ProtocolError {
  return new ProtocolError("invalid UTF-8 in text message", CLOSE_INVALID_DATA);
}

/** The error of a command the connection's state doesn't allow. @internal */
export function notInState(state: State): InvalidState {
  return new InvalidState(`connection is ${STATE_NAMES[state].toLowerCase()}`);
}
