/**
 * The vocabulary of the sans-I/O protocol: its states (RFC 6455 §4, §7),
 * sides, events and options. `protocol.ts` re-exports all of it.
 *
 * @module
 */

import type { DataOpcode, Frame } from "./frames.ts";
import type { Request, Response } from "./http11.ts";
import type { LoggerLike } from "./logging.ts";

/** The opening handshake is in progress (RFC 6455 §4). */
export const CONNECTING = 0;
/** The connection is open: data frames flow (RFC 6455 §4.1). */
export const OPEN = 1;
/** A close frame was sent (RFC 6455 §7.1.3). */
export const CLOSING = 2;
/** The transport is closed (RFC 6455 §7.1.4). */
export const CLOSED = 3;

/** A connection's state. */
export type State = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;

/** Names of states, for logs and error messages. */
export const STATE_NAMES: Readonly<Record<State, "CONNECTING" | "OPEN" | "CLOSING" | "CLOSED">> = {
  [CONNECTING]: "CONNECTING",
  [OPEN]: "OPEN",
  [CLOSING]: "CLOSING",
  [CLOSED]: "CLOSED",
};

/** Which end of the connection a protocol implements. */
export type Side = "client" | "server";

/** What `Protocol.eventsReceived` returns: frames, and the handshake's request or response. */
export type Event = Frame | Request | Response;

/** Options of `Protocol`. */
export interface ProtocolOptions {
  /** Initial state. Default: `OPEN` (`ClientProtocol` and `ServerProtocol` pass `CONNECTING`). */
  state?: State;
  /**
   * Largest incoming message, in bytes, summed over its fragments; `null`
   * for no limit. Default: 1 MiB (1_048_576).
   */
  maxSize?: number | null;
  /**
   * Logger for this connection. Whether it logs at debug level is checked
   * once, here. Default: `null`, no logs.
   */
  logger?: LoggerLike | null;
  /**
   * Whether small fragments of a message (128 bytes or less each) received
   * before `eventsReceived()` is called are merged into one frame, up to
   * 16 KiB, once 16 of them came as they are, as RFC 6455 §5.4 lets an
   * intermediary do. A peer sending a message as a million tiny fragments
   * then costs memory in proportion to its bytes, not to its frames, while
   * the events wait to be collected. The payload, the message type and
   * `fin` of the last fragment are kept; only fragment boundaries change,
   * and never across a control frame. Default: `false`, one event per frame
   * received; the Node I/O layer turns it on.
   */
  mergeFragments?: boolean;
}

/** Default of {@link ProtocolOptions.maxSize}. */
export const DEFAULT_MAX_SIZE = 1_048_576;

/**
 * Where {@link Protocol.receiveDataTo} hands whole messages, without a
 * `Frame` or the events array (docs/performance.md, "Hot paths").
 * @internal
 */
export interface MessageReceiver {
  /**
   * A whole message, checked: a text one is valid UTF-8. Must not throw:
   * an error would count as the peer's.
   */
  receiveMessage(opcode: DataOpcode, data: Buffer): void;
}
