/**
 * `node:diagnostics_channel` events, so APM and OpenTelemetry tools can
 * observe connections without patching the library. Names follow undici's
 * (`undici:websocket:open` ...), under a `websockets:` prefix.
 *
 * | channel                   | published when                                | message                        |
 * | ------------------------- | --------------------------------------------- | ------------------------------ |
 * | `websockets:open`         | a connection reaches OPEN                     | {@link OpenMessage}            |
 * | `websockets:close`        | a connection reaches CLOSED (after OPEN)      | {@link CloseMessage}           |
 * | `websockets:socket_error` | the transport fails (reset, TLS error, ...)   | {@link SocketErrorMessage}     |
 * | `websockets:ping`         | a ping frame is received                      | {@link PingMessage}            |
 * | `websockets:pong`         | a pong frame is received                      | {@link PongMessage}            |
 * | `websockets:handshake`    | tracing channel around the opening handshake  | {@link HandshakeContext}       |
 * | `websockets:slow_subscriber` | a publish finds a subscriber over its limit | {@link SlowSubscriberMessage}  |
 *
 * Publishing costs one property read when nobody subscribes: the `publish*`
 * helpers build the message only after checking `hasSubscribers`. The I/O
 * layer calls them; subscribers use the channels, or subscribe by name:
 *
 * ```ts
 * import { subscribe } from "node:diagnostics_channel";
 * subscribe("websockets:close", (message) => {
 *   const { connection, code } = message as CloseMessage;
 *   metrics.closes.add(1, { code });
 * });
 * ```
 *
 * @module
 */

import { type Channel, channel, tracingChannel } from "node:diagnostics_channel";
import { redactURL } from "../redact.ts";

/**
 * The connection an event is about: at run time the `ServerConnection` or
 * `ClientConnection` itself, so subscribers can read `request`, `response`,
 * `remoteAddress`, `subprotocol`, `logger`... Typed minimally here so this
 * module doesn't depend on the connection classes.
 */
export interface DiagnosticsConnection {
  /** The connection id (a UUID), as in the `connectionId` log field. */
  readonly id: string;
}

/** Message of `websockets:open`: the opening handshake succeeded. */
export interface OpenMessage {
  /** The connection: at run time the `ServerConnection` or `ClientConnection`. */
  connection: DiagnosticsConnection;
}

/** Message of `websockets:close`: the connection is CLOSED. */
export interface CloseMessage {
  /** The connection: at run time the `ServerConnection` or `ClientConnection`. */
  connection: DiagnosticsConnection;
  /** The close code: the peer's, or 1006 when no close frame was received. */
  code: number;
  /** The close reason; empty when none. */
  reason: string;
}

/** Message of `websockets:socket_error`: the transport reported an error. */
export interface SocketErrorMessage {
  /** The connection: at run time the `ServerConnection` or `ClientConnection`. */
  connection: DiagnosticsConnection;
  /** The transport's error, e.g. `ECONNRESET`. */
  error: Error;
}

/** Message of `websockets:ping`: a ping frame was received (and answered). */
export interface PingMessage {
  /** The connection: at run time the `ServerConnection` or `ClientConnection`. */
  connection: DiagnosticsConnection;
  /** The ping's payload (application data, 0 to 125 bytes). */
  payload: Buffer;
}

/** Message of `websockets:pong`: a pong frame was received. */
export interface PongMessage {
  /** The connection: at run time the `ServerConnection` or `ClientConnection`. */
  connection: DiagnosticsConnection;
  /** The pong's payload; for a keepalive pong, the payload of our ping. */
  payload: Buffer;
}

/** Message of `websockets:slow_subscriber`: a publish skipped or closed a subscriber. */
export interface SlowSubscriberMessage {
  /** The connection: at run time the `ServerConnection`. */
  connection: DiagnosticsConnection;
  /** The topic published to. */
  topic: string;
  /** Bytes waiting to be written to the connection. */
  bufferedAmount: number;
  /** What was done, per the server's `slowSubscriber` option. */
  action: "skipped" | "closed";
}

/**
 * Context of the `websockets:handshake` tracing channel, from the first byte
 * of the handshake until the connection is OPEN or the handshake fails.
 * Node's tracing channel adds `result` (the connection) on success and
 * `error` on failure.
 */
export interface HandshakeContext {
  /** Which end of the connection this process is. */
  side: "server" | "client";
  /**
   * Client side: the URI connected to, e.g. `ws://example.com/chat`, its
   * password redacted (`ws://user:xxxxx@example.com/`).
   */
  uri?: string;
  /** Server side: the client's address, `host:port`. */
  remoteAddress?: string;
  /** Set by the tracing channel when the handshake succeeds. */
  result?: DiagnosticsConnection;
  /** Set by the tracing channel when the handshake fails. */
  error?: unknown;
}

/** `websockets:open` */
export const openChannel: Channel = channel("websockets:open");
/** `websockets:close` */
export const closeChannel: Channel = channel("websockets:close");
/** `websockets:socket_error` */
export const socketErrorChannel: Channel = channel("websockets:socket_error");
/** `websockets:ping` */
export const pingChannel: Channel = channel("websockets:ping");
/** `websockets:pong` */
export const pongChannel: Channel = channel("websockets:pong");
/** `websockets:slow_subscriber` */
export const slowSubscriberChannel: Channel = channel("websockets:slow_subscriber");
/**
 * `websockets:handshake`: subchannels `tracing:websockets:handshake:start`,
 * `:end`, `:asyncStart`, `:asyncEnd` and `:error`.
 */
export const handshakeChannel: HandshakeChannels = tracingChannel<unknown, HandshakeContext>(
  "websockets:handshake",
);

/**
 * The five subchannels of the handshake's tracing channel. Declared here
 * rather than as `TracingChannel<...>`: `@types/node` swapped that type's
 * parameters between majors (store first up to 24, context first since), so
 * any arguments written in our declarations break a consumer on the other
 * side with `skipLibCheck: false`.
 */
export interface HandshakeChannels {
  readonly start: Channel;
  readonly end: Channel;
  readonly asyncStart: Channel;
  readonly asyncEnd: Channel;
  readonly error: Channel;
  /** Subscribes to the five subchannels at once. */
  subscribe(handlers: HandshakeSubscribers): void;
  /** Undoes {@link HandshakeChannels.subscribe}. */
  unsubscribe(handlers: HandshakeSubscribers): void;
  /** Runs `fn` traced, publishing `context` on the subchannels. */
  tracePromise<T>(fn: () => Promise<T>, context: HandshakeContext): Promise<T>;
}

/** Handlers for {@link HandshakeChannels.subscribe}, each given the {@link HandshakeContext}. */
export type HandshakeSubscribers = Record<
  "start" | "end" | "asyncStart" | "asyncEnd" | "error",
  (context: HandshakeContext) => void
>;

/** Publishes on `websockets:open` if anyone listens. */
export function publishOpen(connection: DiagnosticsConnection): void {
  if (openChannel.hasSubscribers) openChannel.publish({ connection } satisfies OpenMessage);
}

/** Publishes on `websockets:close` if anyone listens. */
export function publishClose(
  connection: DiagnosticsConnection,
  code: number,
  reason: string,
): void {
  if (closeChannel.hasSubscribers) {
    closeChannel.publish({ connection, code, reason } satisfies CloseMessage);
  }
}

/** Publishes on `websockets:socket_error` if anyone listens. */
export function publishSocketError(connection: DiagnosticsConnection, error: Error): void {
  if (socketErrorChannel.hasSubscribers) {
    socketErrorChannel.publish({ connection, error } satisfies SocketErrorMessage);
  }
}

/** Publishes on `websockets:ping` if anyone listens. */
export function publishPing(connection: DiagnosticsConnection, payload: Buffer): void {
  if (pingChannel.hasSubscribers)
    pingChannel.publish({ connection, payload } satisfies PingMessage);
}

/** Publishes on `websockets:pong` if anyone listens. */
export function publishPong(connection: DiagnosticsConnection, payload: Buffer): void {
  if (pongChannel.hasSubscribers)
    pongChannel.publish({ connection, payload } satisfies PongMessage);
}

/** Publishes on `websockets:slow_subscriber` if anyone listens. */
export function publishSlowSubscriber(
  connection: DiagnosticsConnection,
  topic: string,
  bufferedAmount: number,
  action: "skipped" | "closed",
): void {
  if (slowSubscriberChannel.hasSubscribers) {
    slowSubscriberChannel.publish({
      connection,
      topic,
      bufferedAmount,
      action,
    } satisfies SlowSubscriberMessage);
  }
}

// `TracingChannel.hasSubscribers` only exists since Node 20.13; the
// subchannels' flags work on every Node 20.
function handshakeTraced(): boolean {
  const c = handshakeChannel;
  return (
    c.start.hasSubscribers ||
    c.end.hasSubscribers ||
    c.asyncStart.hasSubscribers ||
    c.asyncEnd.hasSubscribers ||
    c.error.hasSubscribers
  );
}

/**
 * Runs the opening handshake `handshake` inside the `websockets:handshake`
 * tracing channel when anyone listens, else just runs it. The context is
 * built only when traced.
 *
 * @param target - Client: the URI; server: the client's address.
 */
export function traceHandshake<T extends DiagnosticsConnection>(
  side: "server" | "client",
  target: string,
  handshake: () => Promise<T>,
): Promise<T> {
  if (!handshakeTraced()) return handshake();
  const context: HandshakeContext =
    side === "client" ? { side, uri: redactURL(target) } : { side, remoteAddress: target };
  return handshakeChannel.tracePromise(handshake, context);
}
