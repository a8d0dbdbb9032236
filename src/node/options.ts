/**
 * What a connection is configured with: the options both sides share, their
 * defaults, and {@link ConnectionSettings}, the options checked once.
 *
 * @module
 */

import type { LoggerLike } from "../logging.ts";

/** One piece of data `send()` accepts: a string (text) or bytes (binary). */
export type Sendable = string | ArrayBufferView | ArrayBuffer;

/** What `send()` accepts: a message, or an iterable of fragments of one message. */
export type SendData = Sendable | Iterable<Sendable> | AsyncIterable<Sendable>;

/** A TCP address: `{ host, port }`; or a Unix socket: `{ path }`. */
export type Address =
  | {
      /** The IP address, e.g. `127.0.0.1` or `::1`. */
      host: string;
      /** The TCP port. */
      port: number;
    }
  | {
      /** The Unix socket's path. */
      path: string;
    };

/** Fields added to a connection's log records. */
export type LogFields = Record<string, unknown>;

/** Options shared by both sides, with their defaults. */
export interface ConnectionOptions {
  /**
   * Interval between keepalive pings, in ms; `null` disables keepalive.
   * Default: 20_000. Keepalive timers are shared by connections due at
   * about the same time: a ping goes out up to 1/16 of the interval late
   * (at most ~1 s), never early.
   */
  pingInterval?: number | null;
  /**
   * How long to wait for the pong of a keepalive ping, in ms, before
   * closing the connection with 1011; `null` waits forever. Default: 20_000.
   * Like pings, the timeout may expire up to 1/16 of it late (at most ~1 s).
   */
  pingTimeout?: number | null;
  /**
   * How long to wait for the closing handshake and then for the transport to
   * close, in ms, before destroying the socket; `null` waits forever.
   * Default: 10_000.
   */
  closeTimeout?: number | null;
  /**
   * High-water mark of the queue of received frames (messages, when they
   * aren't fragmented): reading from the network pauses above it and
   * resumes at a quarter of it. `null` disables flow control. Default: 16.
   */
  maxQueue?: number | null;
  /**
   * High-water mark of the write buffer, in bytes: `send()` waits while more
   * is buffered, until the buffer drains to a quarter of it. Frames the
   * connection writes on its own (pongs, close frames) obey it too: while
   * what a read made it write exceeds it, reading pauses, so a peer that
   * pings and never reads can't make the buffer grow. Default: 32 KiB.
   */
  writeLimit?: number;
}

/** Default of {@link ConnectionOptions.pingInterval}. */
export const DEFAULT_PING_INTERVAL = 20_000;
/** Default of {@link ConnectionOptions.pingTimeout}. */
export const DEFAULT_PING_TIMEOUT = 20_000;
/** Default of {@link ConnectionOptions.closeTimeout}. */
export const DEFAULT_CLOSE_TIMEOUT = 10_000;
/** Default of {@link ConnectionOptions.maxQueue}. */
export const DEFAULT_MAX_QUEUE = 16;
/** Default of {@link ConnectionOptions.writeLimit}. */
export const DEFAULT_WRITE_LIMIT = 32_768;

/** Options of {@link Connection.recv}. */
export interface RecvOptions {
  /**
   * `undefined` (default): a string for a text message, a Buffer for a
   * binary one. `true`: always a string (a binary message must be UTF-8,
   * else the connection fails with 1007). `false`: always a Buffer.
   */
  decode?: boolean;
  /** Cancels the wait. A message arriving later stays queued for the next `recv()`. */
  signal?: AbortSignal;
  /**
   * `"arraybuffer"`: a binary message comes as an `ArrayBuffer` holding
   * exactly its bytes. Default (`"nodebuffer"`): a `Buffer`, which may be a
   * view of a larger pooled buffer: its `.buffer` isn't the message (use
   * `buf.byteOffset` and `buf.length`, or this option).
   */
  binaryType?: "nodebuffer" | "arraybuffer";
}

/** Options of {@link Connection.send}. */
export interface SendOptions {
  /**
   * Overrides the frame type: `true` sends bytes as text (they must be
   * UTF-8), `false` sends a string as binary. Default: text for strings,
   * binary for bytes.
   */
  text?: boolean;
}

/** Internal settings a subclass passes to the base class. @internal */
export interface ConnectionInit extends ConnectionOptions {
  /** Called once the handshake completes; its fields are added to the logger. */
  logContext?: ((connection: never) => LogFields | null | undefined) | null;
}

/**
 * What a connection reads from its options, checked once: a server builds
 * one for all its connections. @internal
 */
export class ConnectionSettings {
  readonly pingInterval: number | null;
  readonly pingTimeout: number | null;
  readonly closeTimeout: number | null;
  readonly writeLimit: number;
  readonly writeLowWater: number;
  readonly maxQueue: number | null;
  readonly logContext: ((connection: never) => LogFields | null | undefined) | null;
  readonly baseLogger: LoggerLike;

  /** @throws TypeError naming an invalid option. */
  constructor(init: ConnectionInit, logger: LoggerLike) {
    this.pingInterval = checkDuration(init.pingInterval, DEFAULT_PING_INTERVAL, "pingInterval");
    this.pingTimeout = checkDuration(init.pingTimeout, DEFAULT_PING_TIMEOUT, "pingTimeout");
    this.closeTimeout = checkDuration(init.closeTimeout, DEFAULT_CLOSE_TIMEOUT, "closeTimeout");
    this.writeLimit = checkSize(init.writeLimit, DEFAULT_WRITE_LIMIT, "writeLimit");
    this.writeLowWater = Math.floor(this.writeLimit / 4);
    this.maxQueue =
      init.maxQueue === undefined
        ? DEFAULT_MAX_QUEUE
        : init.maxQueue === null
          ? null
          : checkSize(init.maxQueue, DEFAULT_MAX_QUEUE, "maxQueue");
    this.logContext = init.logContext ?? null;
    this.baseLogger = logger;
  }
}

function checkDuration(
  value: number | null | undefined,
  fallback: number,
  name: string,
): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new TypeError(
      `${name} must be a number of milliseconds >= 0 or null; got ${String(value)}`,
    );
  }
  return value;
}

function checkSize(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${name} must be an integer >= 0; got ${String(value)}`);
  }
  return value;
}
