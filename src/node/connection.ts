/**
 * `Connection`: a WebSocket connection over any duplex byte stream (a TCP or
 * TLS socket today, an HTTP/2 stream tomorrow), driving a sans-I/O
 * `Protocol`. Both `ServerConnection` and `ClientConnection` extend it.
 *
 * The I/O loop: bytes read go to `protocol.receiveData()`; the events it
 * returns are frames, assembled into messages by a `MessageQueue`; the bytes
 * it wants written are gathered and written once per event-loop turn.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  ConcurrencyError,
  type ConnectionClosed,
  type ConnectionClosedOK,
  InvalidState,
} from "../errors.ts";
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_INVALID_DATA,
  Frame,
  OP_BINARY,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "../frames.ts";
import type { Request, Response } from "../http11.ts";
import {
  type ConnectionClosedFields,
  formatAddress,
  isLevelEnabled,
  type LoggerLike,
  logMessages,
  silentLogger,
} from "../logging.ts";
import { CLOSED, CLOSING, CONNECTING, OPEN, type Protocol, type State } from "../protocol.ts";
import {
  publishClose,
  publishOpen,
  publishPing,
  publishPong,
  publishSocketError,
} from "./diagnostics.ts";
import { type Data, kInvalidUtf8, kPause, kResume, MessageQueue, rejected } from "./messages.ts";

export type { Data } from "./messages.ts";

/** One piece of data `send()` accepts: a string (text) or bytes (binary). */
export type Sendable = string | ArrayBufferView | ArrayBuffer;

/** What `send()` accepts: a message, or an iterable of fragments of one message. */
export type SendData = Sendable | Iterable<Sendable> | AsyncIterable<Sendable>;

/** A TCP address: `{ host, port }`; or a Unix socket: `{ path }`. */
export type Address = { host: string; port: number } | { path: string };

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
   * is buffered, until the buffer drains to a quarter of it. Default: 32 KiB.
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

/**
 * Internal: writes an already serialized data frame, bypassing the
 * protocol's serializer. Used by `broadcast()` to frame a message once for
 * many connections. Not public API.
 *
 * @internal
 */
export const kWriteFrame: unique symbol = Symbol("websockets-ts.writeFrame");

/**
 * Internal: whether frames serialized once can be written to this
 * connection: unmasked (server side) and without extensions. @internal
 */
export const kSharesFrames: unique symbol = Symbol("websockets-ts.sharesFrames");

/** Internal: sends a whole message now, without flow control. @internal */
export const kSendNow: unique symbol = Symbol("websockets-ts.sendNow");

/** Internal: whether a fragmented message is being sent. @internal */
export const kSendingFragments: unique symbol = Symbol("websockets-ts.sendingFragments");

/**
 * Internal: where an event-driven API (`websockets-ts/ws`) gets the frames
 * a connection receives, as they are parsed. @internal
 */
export interface EventSink {
  /** A TEXT, BINARY or CONT frame, decoded by extensions. */
  data(frame: Frame): void;
  /** The payload of a ping (answered already). */
  ping(payload: Buffer): void;
  /** The payload of a pong. */
  pong(payload: Buffer): void;
  /** The transport closed; `error` tells how (its `cause`: why it failed, if it did). */
  closed(error: ConnectionClosed): void;
}

/** Internal: installs an {@link EventSink}. @internal */
export const kEventSink: unique symbol = Symbol("websockets-ts.eventSink");
/** Internal: sends one frame as given (see `Connection[kSendFrame]`). @internal */
export const kSendFrame: unique symbol = Symbol("websockets-ts.sendFrame");
/** Internal: the connection's byte stream. @internal */
export const kTransport: unique symbol = Symbol("websockets-ts.transport");

// Below this total, the buffers of one flush are concatenated into one
// write; above, they go out as one writev (cork/uncork) without copying.
const COALESCE_LIMIT = 65_536;

const EMPTY = Buffer.alloc(0);
const RESOLVED: Promise<void> = Promise.resolve();

interface PingWaiter {
  /** The payload, as a latin1 string. */
  key: string;
  sentAt: number;
  /** `null` for keepalive pings. */
  resolve: ((latency: number) => void) | null;
  reject: ((error: unknown) => void) | null;
}

// The connection a socket belongs to: the socket's listeners are shared
// functions rather than closures per connection.
const kConnection = Symbol("websockets-ts.connection");

// Bits of Connection's #flags.
const DEBUG = 1;
const INFO = 2;
const FLUSH_SCHEDULED = 4;
const IS_CLOSED = 8;
const CLOSE_DONE = 16;
// Data and control frames go to an EventSink (`websockets-ts/ws`).
const EVENT_SINK = 32;

/** What the server and client protocols record of the opening handshake. */
interface HandshakeRecord {
  request: Request | null;
  response: Response | null;
}

interface TaggedSocket extends Duplex {
  [kConnection]: Connection;
}

// Set in Connection's static block, where they can reach private methods.
let socketData: (this: Duplex, chunk: Buffer) => void;
let socketEnd: (this: Duplex) => void;
let socketError: (this: Duplex, error: Error) => void;
let socketClose: (this: Duplex) => void;

/** Connections due at one instant of a {@link TimerWheel}, and its timer. */
interface Slot {
  readonly at: number;
  readonly connections: Set<Connection>;
  timer: NodeJS.Timeout | null;
  readonly wheel: TimerWheel;
}

/**
 * Timers shared by connections: rather than a Timeout per connection (about
 * 150 bytes each, for 10,000 idle connections that mostly wait), deadlines
 * are rounded up to a grain of at most 1/16 of the delay (a power of two, at
 * most 1,024 ms) and connections due in the same grain share one timer.
 * Timers stay ref'ed, so a connection waiting for keepalive keeps the process
 * alive as its own timer did.
 */
class TimerWheel {
  readonly #slots = new Map<number, Slot>();
  readonly #fire: (connection: Connection) => void;

  constructor(fire: (connection: Connection) => void) {
    this.#fire = fire;
  }

  /** Calls `fire(connection)` in `delay` ms, or up to a grain later. */
  add(connection: Connection, delay: number): Slot {
    const grain = grainOf(delay);
    const now = performance.now();
    const at = Math.ceil((now + delay) / grain) * grain;
    let slot = this.#slots.get(at);
    if (slot === undefined) {
      slot = { at, connections: new Set(), timer: null, wheel: this };
      slot.timer = setTimeout(TimerWheel.#expire, at - now, this, slot);
      this.#slots.set(at, slot);
    }
    slot.connections.add(connection);
    return slot;
  }

  /** Cancels what `add()` scheduled, on whichever wheel. */
  static remove(slot: Slot, connection: Connection): void {
    const connections = slot.connections;
    connections.delete(connection);
    if (connections.size === 0 && slot.timer !== null) {
      clearTimeout(slot.timer);
      slot.timer = null;
      slot.wheel.#slots.delete(slot.at);
    }
  }

  static #expire(wheel: TimerWheel, slot: Slot): void {
    slot.timer = null;
    wheel.#slots.delete(slot.at);
    // Connections removed while we iterate (one closing another) are skipped.
    let failure: { error: unknown } | null = null;
    for (const connection of slot.connections) {
      try {
        wheel.#fire(connection);
      } catch (error) {
        // The others are still due; the first error surfaces afterwards, as
        // it would have from a timer of its own.
        failure ??= { error };
      }
    }
    slot.connections.clear();
    if (failure !== null) throw failure.error;
  }
}

/** Rounding of a {@link TimerWheel} deadline: a power of two <= delay / 16, at most 1,024 ms. */
function grainOf(delay: number): number {
  let grain = 1;
  while (grain < 1024 && grain * 32 <= delay) grain *= 2;
  return grain;
}

// Set in Connection's static block, where they can reach private methods.
let keepaliveWheel: TimerWheel;
let pongWheel: TimerWheel;
let openWheel: TimerWheel;

/**
 * Forwards log calls to the connection's logger: the protocol gets its
 * logger at construction, before the connection, its id and the
 * `logContext` fields exist, and its records must carry them.
 */
class LoggerProxy implements LoggerLike {
  readonly #base: LoggerLike;
  connection: Connection | null = null;

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

/** Internal settings a subclass passes to the base class. @internal */
export interface ConnectionInit extends ConnectionOptions {
  /** Called once the handshake completes; its fields are added to the logger. */
  logContext?: ((connection: never) => LogFields | null | undefined) | null;
}

/**
 * A connection's state that most idle connections never need: six fields
 * in an object of their own rather than 48 bytes in every connection.
 */
class RareState {
  contextFields: LogFields | null = null;
  closeTimer: NodeJS.Timeout | null = null;
  closed: Promise<void> | null = null;
  resolveClosed: (() => void) | null = null;
  closeError: ConnectionClosed | null = null;
  transportError: Error | null = null;
  drainWaiters: (() => void)[] | null = null;
  onWritten: (() => void) | undefined = undefined;
  fragmented: Promise<void> | null = null;
  sink: EventSink | null = null;
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

/**
 * A WebSocket connection, shared by both sides. You get a `ServerConnection`
 * from `serve()` and a `ClientConnection` from `connect()`.
 *
 * ```ts
 * for await (const message of ws) await ws.send(message);
 * ```
 *
 * Errors: after the connection closes, `send()`, `recv()` and `ping()`
 * reject with `ConnectionClosedOK` (both sides closed with 1000 or 1001) or
 * `ConnectionClosedError`. Promises this class returns never count as
 * unhandled rejections, so a `send()` you don't await can't crash the
 * process; await it to learn about failures.
 */
export class Connection {
  /** The sans-I/O protocol this connection drives. @internal */
  protected readonly protocol: Protocol;
  /** The byte stream. @internal */
  protected readonly socket: Duplex;

  // Read from the options once per server: rarely used, shared.
  readonly #settings: ConnectionSettings;
  // The connection's child logger, created on first use: most connections
  // of a server logging at WARN never log anything.
  #logger: LoggerLike | null;
  // Five booleans in one small integer (a field each would cost 8 bytes
  // per connection): read through the accessors below, or tested directly
  // where a path runs per message.
  #flags = 0;

  readonly #messages: MessageQueue;
  // Looked up on first use (a net.Socket keeps a copy of each address it
  // was asked for, ~150 bytes per connection), and at the latest before the
  // socket is ended or destroyed: it forgets them then. `undefined`: not yet.
  #remoteAddress: Address | null | undefined = undefined;
  #localAddress: Address | null | undefined = undefined;

  // Write path: buffers produced during this event-loop turn, flushed once.
  // One buffer, or several, or none: most turns write one frame, and an
  // idle connection keeps no array.
  #pending: Buffer | Buffer[] | null = null;
  #pendingBytes = 0;

  // Keepalive and user pings awaiting their pong, in the order they were sent.
  #pings: PingWaiter[] | null = null;
  #latency = 0;
  // Slots of the shared keepalive and pong-timeout wheels this connection waits in.
  #keepaliveTimer: Slot | null = null;
  #pongTimer: Slot | null = null;

  // Lifecycle.
  #openedAt = 0;
  // What only closing connections (and a few others) need, created on
  // first need: see the accessors below.
  #rare: RareState | null = null;

  // Statistics for the `connection closed` log record.
  #messagesIn = 0;
  #messagesOut = 0;
  #activityAtLastPing = -1;
  #bytesIn = 0;
  #bytesOut = 0;

  get #debug(): boolean {
    return (this.#flags & DEBUG) !== 0;
  }

  get #infoEnabled(): boolean {
    return (this.#flags & INFO) !== 0;
  }

  // The transport closed: #onClose ran.
  get #isClosed(): boolean {
    return (this.#flags & IS_CLOSED) !== 0;
  }

  // Everything #onClose does is done: `closed` may resolve.
  get #closeDone(): boolean {
    return (this.#flags & CLOSE_DONE) !== 0;
  }

  // Accessors of the fields kept in #rare: reading one doesn't create it.

  // Senders waiting for the write buffer to drain, and the write callback
  // that wakes them (created on first need).
  get #drainWaiters(): (() => void)[] | null {
    return this.#rare === null ? null : this.#rare.drainWaiters;
  }
  set #drainWaiters(value: (() => void)[] | null) {
    if (value !== null || this.#rare !== null) this.#rareState().drainWaiters = value;
  }

  get #onWritten(): (() => void) | undefined {
    return this.#rare === null ? undefined : this.#rare.onWritten;
  }
  set #onWritten(value: (() => void) | undefined) {
    if (value !== undefined || this.#rare !== null) this.#rareState().onWritten = value;
  }

  // Fragmented send in progress: other sends wait for it.
  get #fragmented(): Promise<void> | null {
    return this.#rare === null ? null : this.#rare.fragmented;
  }
  set #fragmented(value: Promise<void> | null) {
    if (value !== null || this.#rare !== null) this.#rareState().fragmented = value;
  }

  // `logContext` fields waiting for the logger to be created.
  get #contextFields(): LogFields | null {
    return this.#rare === null ? null : this.#rare.contextFields;
  }
  set #contextFields(value: LogFields | null) {
    if (value !== null || this.#rare !== null) this.#rareState().contextFields = value;
  }

  get #closeTimer(): NodeJS.Timeout | null {
    return this.#rare === null ? null : this.#rare.closeTimer;
  }
  set #closeTimer(value: NodeJS.Timeout | null) {
    if (value !== null || this.#rare !== null) this.#rareState().closeTimer = value;
  }

  // The `closed` promise, created on first use.
  get #closed(): Promise<void> | null {
    return this.#rare === null ? null : this.#rare.closed;
  }
  set #closed(value: Promise<void> | null) {
    if (value !== null || this.#rare !== null) this.#rareState().closed = value;
  }

  get #resolveClosed(): (() => void) | null {
    return this.#rare === null ? null : this.#rare.resolveClosed;
  }
  set #resolveClosed(value: (() => void) | null) {
    if (value !== null || this.#rare !== null) this.#rareState().resolveClosed = value;
  }

  get #closeError(): ConnectionClosed | null {
    return this.#rare === null ? null : this.#rare.closeError;
  }
  set #closeError(value: ConnectionClosed | null) {
    if (value !== null || this.#rare !== null) this.#rareState().closeError = value;
  }

  // Why the transport closed, if it failed: the cause of closeError.
  get #transportError(): Error | null {
    return this.#rare === null ? null : this.#rare.transportError;
  }
  set #transportError(value: Error | null) {
    if (value !== null || this.#rare !== null) this.#rareState().transportError = value;
  }

  #rareState(): RareState {
    this.#rare ??= new RareState();
    return this.#rare;
  }

  /**
   * @param protocol - A protocol in CONNECTING (a handshake follows) or OPEN.
   *   Construct it with `logger: protocolLogger(base)` so its records carry
   *   the connection's fields.
   * @param socket - A connected duplex stream.
   * @param logger - The server's or client's logger; the connection logs
   *   through a child bound with `connectionId` and `remoteAddress`.
   * @param init - The options, or settings built from them with the same
   *   logger and shared by many connections.
   * @internal
   */
  constructor(
    protocol: Protocol,
    socket: Duplex,
    logger: LoggerLike,
    init: ConnectionInit | ConnectionSettings = {},
  ) {
    this.protocol = protocol;
    this.socket = socket;
    const settings =
      init instanceof ConnectionSettings ? init : new ConnectionSettings(init, logger);
    this.#settings = settings;
    const maxQueue = settings.maxQueue;

    this.#logger = logger === silentLogger ? logger : null;
    if (protocol.logger instanceof LoggerProxy) protocol.logger.connection = this;
    // Levels are checked once per connection.
    this.#flags =
      (isLevelEnabled(logger, "debug") ? DEBUG : 0) | (isLevelEnabled(logger, "info") ? INFO : 0);
    // The protocol doesn't log the state it starts in; logged here, it
    // carries the connection's fields like every later state change.
    if (this.#debug && protocol.state === CONNECTING) {
      this.logger.debug(logMessages.state("CONNECTING"));
    }

    this.#messages = new MessageQueue(
      maxQueue,
      maxQueue === null ? null : Math.floor(maxQueue / 4),
      this,
    );

    // Small messages must not wait for Nagle's algorithm: writes are
    // already coalesced per event-loop turn.
    (socket as Partial<Socket>).setNoDelay?.(true);

    (socket as TaggedSocket)[kConnection] = this;
    // Our 'end' listener must run before net.Socket's own, which makes
    // writes fail once the peer half-closed: pending bytes go out first.
    socket.prependListener("end", socketEnd);
    socket.on("data", socketData);
    socket.on("error", socketError);
    socket.on("close", socketClose);
    if (socket.destroyed) queueMicrotask(() => this.#onClose());
  }

  static {
    // Shared listeners: `this` is the socket, tagged with its connection.
    socketData = function (this: Duplex, chunk: Buffer): void {
      (this as TaggedSocket)[kConnection].#onData(chunk);
    };
    socketEnd = function (this: Duplex): void {
      (this as TaggedSocket)[kConnection].#onEnd();
    };
    socketError = function (this: Duplex, error: Error): void {
      (this as TaggedSocket)[kConnection].#onError(error);
    };
    socketClose = function (this: Duplex): void {
      (this as TaggedSocket)[kConnection].#onClose();
    };
    keepaliveWheel = new TimerWheel((connection) => connection.#onKeepalive());
    pongWheel = new TimerWheel((connection) => connection.#onPongTimeout());
    openWheel = new TimerWheel((connection) => connection.#onOpenTimeout());
  }

  /** @internal */
  [kPause](): void {
    this.socket.pause();
  }

  /** @internal */
  [kResume](): void {
    this.socket.resume();
  }

  /** @internal */
  [kInvalidUtf8](reason: string): void {
    this.#failWith(CLOSE_INVALID_DATA, reason);
  }

  // --- Properties ----------------------------------------------------------

  /** Unique id of the connection (a UUID), as in the `connectionId` log field. */
  get id(): string {
    return this.protocol.id;
  }

  /**
   * The connection's logger: a child of the configured logger bound with
   * `connectionId`, `remoteAddress`, and the fields `logContext` returned.
   */
  get logger(): LoggerLike {
    return this.#logger ?? this.#makeLogger();
  }

  #makeLogger(): LoggerLike {
    const base = this.#settings.baseLogger;
    let logger = base;
    if (typeof base.child === "function") {
      logger = base.child({
        connectionId: this.protocol.id,
        remoteAddress: formatConnectionAddress(this.remoteAddress),
      });
      if (this.#contextFields !== null && typeof logger.child === "function") {
        logger = logger.child(this.#contextFields);
      }
    }
    this.#logger = logger;
    return logger;
  }

  /** State: `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get state(): State {
    return this.protocol.state;
  }

  /** The opening handshake's request, once known. */
  get request(): Request | null {
    // The protocol keeps it: no copy of the reference per connection.
    return (this.protocol as Partial<HandshakeRecord>).request ?? null;
  }

  /** The opening handshake's response, once known. */
  get response(): Response | null {
    return (this.protocol as Partial<HandshakeRecord>).response ?? null;
  }

  /**
   * Address of the peer, or `null` when the transport doesn't tell. Known
   * after the connection closes, except when the transport failed (e.g. the
   * peer reset it) before it was ever read: read it while the connection is
   * open to be sure to have it.
   */
  get remoteAddress(): Address | null {
    const address = this.#remoteAddress;
    return address === undefined ? this.#readAddress("remote") : address;
  }

  /**
   * Local address, or `null` when the transport doesn't tell. Known after
   * the connection closes, with the same exception as {@link remoteAddress}.
   */
  get localAddress(): Address | null {
    const address = this.#localAddress;
    return address === undefined ? this.#readAddress("local") : address;
  }

  #readAddress(which: "remote" | "local"): Address | null {
    const address = addressOf(this.socket, which);
    // A socket that isn't connected yet may tell later; a destroyed one never.
    if (address !== null || this.socket.destroyed) {
      if (which === "remote") this.#remoteAddress = address;
      else this.#localAddress = address;
    }
    return address;
  }

  /** Reads the addresses while the socket still knows them: before it's ended or destroyed. */
  #keepAddresses(): void {
    if (this.#remoteAddress === undefined) this.#readAddress("remote");
    if (this.#localAddress === undefined) this.#readAddress("local");
  }

  /** The subprotocol negotiated by the handshake, or `null`. */
  get subprotocol(): string | null {
    return (this.protocol as { subprotocol?: string | null }).subprotocol ?? null;
  }

  /**
   * Round-trip time in ms measured by the last ping answered (keepalive or
   * {@link Connection.ping}); 0 before the first.
   */
  get latency(): number {
    return this.#latency;
  }

  /** The close code received (1006 without a close frame); `null` until CLOSED. */
  get closeCode(): number | null {
    return this.protocol.closeCode;
  }

  /** The close reason received; `null` until CLOSED. */
  get closeReason(): string | null {
    return this.protocol.closeReason;
  }

  /** Resolves once the transport is closed. Never rejects. */
  get closed(): Promise<void> {
    if (this.#closed === null) {
      if (this.#closeDone) return RESOLVED;
      this.#closed = new Promise<void>((resolve) => {
        this.#resolveClosed = resolve;
      });
    }
    return this.#closed;
  }

  // --- Receiving -----------------------------------------------------------

  /**
   * Receives the next message: a string for text, a Buffer for binary (see
   * {@link RecvOptions.decode}). A fragmented message is returned whole.
   *
   * @throws ConnectionClosedOK / ConnectionClosedError once the connection
   *   is closed and no message is left; ConcurrencyError when another
   *   `recv()` or `recvStreaming()` is in progress; the signal's reason when
   *   it aborts (no message is lost).
   */
  recv(options: RecvOptions & { decode: true }): Promise<string>;
  recv(options: RecvOptions & { decode: false }): Promise<Buffer>;
  recv(options?: RecvOptions): Promise<Data>;
  recv(options?: RecvOptions): Promise<Data> {
    return this.#messages.get(options?.decode, options?.signal);
  }

  /**
   * Receives the next message fragment by fragment, as they arrive: for
   * large messages that shouldn't be buffered whole. Leaving the loop early
   * discards the rest of the message.
   *
   * ```ts
   * for await (const fragment of ws.recvStreaming()) file.write(fragment);
   * ```
   */
  recvStreaming(options?: { decode?: boolean }): AsyncIterableIterator<Data> {
    return this.#messages.stream(options?.decode);
  }

  /**
   * Iterates over incoming messages. Ends when the connection closes
   * normally (1000 or 1001 both ways); throws `ConnectionClosedError`
   * otherwise.
   */
  [Symbol.asyncIterator](): AsyncIterator<Data> {
    // The queue is its own iterator: a loop over an idle connection costs
    // no object of its own. Leaving a loop doesn't close the connection,
    // and a new loop goes on with the next message.
    return this.#messages;
  }

  // --- Sending -------------------------------------------------------------

  /**
   * Sends a message: a string as text, bytes (Buffer, any typed array,
   * DataView, ArrayBuffer) as binary; an iterable or async iterable of
   * strings or of bytes as one fragmented message, one frame per item.
   *
   * Resolves at once unless more than `writeLimit` bytes wait to be written;
   * then it waits for the buffer to drain. While a fragmented message is
   * being sent, other sends wait for it to finish.
   *
   * If a fragmented message can't be completed (the iterable throws, or
   * mixes strings and bytes), the connection is closed with 1011, as it
   * can't be used any more, and the error is thrown.
   *
   * @throws TypeError for an unsupported type; ConnectionClosed when the
   *   connection is closed.
   */
  send(data: SendData, options?: SendOptions): Promise<void> {
    // #rare read directly: this runs per message, and the accessor would
    // cost a brand check.
    const rare = this.#rare;
    if (rare !== null && rare.fragmented !== null) return this.#sendLater(data, options);
    const text = options?.text;
    const protocol = this.protocol;
    if (typeof data === "string") {
      if (protocol.state !== OPEN) return this.#notOpen();
      if (text === false) protocol.sendBinary(Buffer.from(data));
      else protocol.sendText(data);
      this.#messagesOut += 1;
      this.#bytesOut += data.length;
      return this.#afterWrite();
    }
    const bytes = toBuffer(data);
    if (bytes !== null) {
      if (protocol.state !== OPEN) return this.#notOpen();
      if (text === true) protocol.sendText(bytes);
      else protocol.sendBinary(bytes);
      this.#messagesOut += 1;
      this.#bytesOut += bytes.length;
      return this.#afterWrite();
    }
    if (data !== null && typeof data === "object") {
      if (typeof (data as AsyncIterable<Sendable>)[Symbol.asyncIterator] === "function") {
        return this.#sendFragments((data as AsyncIterable<Sendable>)[Symbol.asyncIterator](), text);
      }
      if (typeof (data as Iterable<Sendable>)[Symbol.iterator] === "function") {
        return this.#sendFragments((data as Iterable<Sendable>)[Symbol.iterator](), text);
      }
    }
    return rejected(
      new TypeError(
        `send() expects a string, bytes, or an iterable of them; got ${describeType(data)}`,
      ),
    );
  }

  async #sendLater(data: SendData, options: SendOptions | undefined): Promise<void> {
    while (this.#fragmented !== null) await this.#fragmented;
    return this.send(data, options);
  }

  async #sendFragments(
    iterator: Iterator<Sendable> | AsyncIterator<Sendable>,
    text: boolean | undefined,
  ): Promise<void> {
    const first = await iterator.next();
    if (first.done) return;
    const isString = typeof first.value === "string";
    const firstBytes = isString ? null : toBuffer(first.value);
    if (!isString && firstBytes === null) {
      closeIterator(iterator);
      throw new TypeError(
        `send() expects fragments to be strings or bytes; got ${describeType(first.value)}`,
      );
    }
    // Another fragmented message may have started while we awaited.
    while (this.#fragmented !== null) await this.#fragmented;
    if (this.protocol.state !== OPEN) {
      closeIterator(iterator);
      return this.#notOpen();
    }

    let done!: () => void;
    this.#fragmented = new Promise<void>((resolve) => {
      done = resolve;
    });
    let finished = false;
    try {
      let size = 0;
      const protocol = this.protocol;
      if (isString) {
        const chunk = first.value as string;
        size += chunk.length;
        if (text === false) protocol.sendBinary(Buffer.from(chunk), false);
        else protocol.sendText(chunk, false);
      } else {
        size += firstBytes!.length;
        if (text === true) protocol.sendText(firstBytes!, false);
        else protocol.sendBinary(firstBytes!, false);
      }
      await this.#afterWrite();
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        const chunk = next.value;
        let bytes: Buffer | null;
        if (isString) {
          if (typeof chunk !== "string") {
            throw new TypeError(
              `send() expects all fragments to be strings like the first one; got ${describeType(chunk)}`,
            );
          }
          bytes = Buffer.from(chunk);
        } else {
          bytes = typeof chunk === "string" ? null : toBuffer(chunk);
          if (bytes === null) {
            throw new TypeError(
              `send() expects all fragments to be bytes like the first one; got ${describeType(chunk)}`,
            );
          }
        }
        if (protocol.state !== OPEN) return await this.#notOpen();
        size += bytes.length;
        protocol.sendContinuation(bytes, false);
        await this.#afterWrite();
      }
      finished = true;
      if (protocol.state !== OPEN) return await this.#notOpen();
      protocol.sendContinuation(EMPTY, true);
      this.#messagesOut += 1;
      this.#bytesOut += size;
      await this.#afterWrite();
    } catch (error) {
      if (!finished) closeIterator(iterator);
      if (this.protocol.state === OPEN) {
        // Half a message was sent and the rest can't be: the connection is
        // unusable (RFC 6455 §5.4 forbids interleaving another message).
        this.#failWith(CLOSE_INTERNAL_ERROR, "error in fragmented message");
      }
      throw error;
    } finally {
      this.#fragmented = null;
      done();
    }
  }

  /**
   * Sends a ping. Resolves to the round-trip time in ms when the matching
   * pong arrives (a pong also acknowledges all earlier pings, as RFC 6455
   * §5.5.3 allows answering only the latest).
   *
   * @param data - Payload, up to 125 bytes; default: 4 random bytes.
   * @throws ConcurrencyError when a ping with the same payload awaits its
   *   pong; ConnectionClosed when the connection closes first.
   */
  ping(data?: Sendable): Promise<number> {
    const payload = data === undefined ? this.#uniquePingPayload() : controlPayload(data, "ping");
    if (payload instanceof TypeError) return rejected(payload);
    if (this.protocol.state !== OPEN) return this.#notOpen();
    const key = payload.toString("latin1");
    if (this.#findPing(key) !== -1) {
      return rejected(
        new ConcurrencyError(
          `already waiting for a pong with the same data: ${payload.toString("hex")}`,
        ),
      );
    }
    try {
      this.protocol.sendPing(payload);
    } catch (error) {
      return rejected(error);
    }
    this.#pings ??= [];
    const pings = this.#pings;
    const promise = new Promise<number>((resolve, reject) => {
      pings.push({ key, sentAt: performance.now(), resolve, reject });
    });
    promise.catch(noop);
    this.#sendData();
    return promise;
  }

  /** Sends an unsolicited pong, e.g. as a one-way heartbeat. */
  pong(data?: Sendable): Promise<void> {
    const payload = data === undefined ? EMPTY : controlPayload(data, "pong");
    if (payload instanceof TypeError) return rejected(payload);
    if (this.protocol.state !== OPEN) return this.#notOpen();
    try {
      this.protocol.sendPong(payload);
    } catch (error) {
      return rejected(error);
    }
    return this.#afterWrite();
  }

  // --- Closing -------------------------------------------------------------

  /**
   * Performs the closing handshake, then waits for the transport to close,
   * at most `closeTimeout` (then the socket is destroyed). Idempotent;
   * never throws because the connection is already closed.
   *
   * @param code - Close code; `null` sends a close frame without one (the
   *   peer sees 1005). Default: 1000.
   * @param reason - Close reason, up to 123 bytes of UTF-8. Default: `""`.
   * @throws ProtocolError for a code that can't be sent or a reason too long.
   */
  async close(code: number | null = 1000, reason = ""): Promise<void> {
    const protocol = this.protocol;
    if (protocol.state === OPEN) {
      if (this.#fragmented !== null) {
        this.#failWith(CLOSE_INTERNAL_ERROR, "close during fragmented message");
      } else {
        protocol.sendClose(code ?? undefined, reason);
        this.#afterClosingStarted();
      }
    } else if (protocol.state === CONNECTING) {
      // No WebSocket connection yet: nothing to negotiate.
      this.abortTransport();
    } else {
      this.#startCloseTimer();
    }
    return this.closed;
  }

  /** Closes the connection (code 1000) and waits for it: `await using ws = await connect(url)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // --- For subclasses and broadcast() ---------------------------------------

  /**
   * Handles a handshake event (the request on a server, the response on a
   * client). Subclasses override it. @internal
   */
  protected handshakeEvent(_event: Request | Response): void {
    // Only ServerConnection and ClientConnection receive handshakes.
  }

  /**
   * The handshake succeeded: applies `logContext`, starts keepalive, logs
   * `connection open`. @internal
   */
  protected opened(): void {
    this.stopOpenTimer();
    // Whole milliseconds: a small integer is stored in the object, a
    // fraction would take a heap number per connection.
    this.#openedAt = Math.max(1, Math.round(performance.now()));
    const logContext = this.#settings.logContext;
    if (logContext !== null) {
      let fields: LogFields | null | undefined;
      try {
        fields = logContext(this as never);
      } catch (error) {
        this.logger.error({ err: error }, logMessages.internalError);
      }
      if (fields != null) {
        const logger = this.#logger;
        if (logger === null) this.#contextFields = fields;
        else if (typeof logger.child === "function") this.#logger = logger.child(fields);
      }
    }
    if (this.#infoEnabled) this.logger.info(logMessages.connectionOpen);
    publishOpen(this);
    this.#scheduleKeepalive(this.#settings.pingInterval);
  }

  /** Processes bytes as if read from the transport. @internal */
  protected receive(data: Buffer): void {
    this.#onData(data);
  }

  /**
   * Processes events the protocol produced outside of a read, e.g. frames
   * that arrived with the handshake request, parsed once the response is
   * sent. @internal
   */
  protected processEvents(): void {
    const protocol = this.protocol;
    const events = protocol.eventsReceived();
    this.#sendData();
    if (protocol.closeExpected()) this.#startCloseTimer();
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event instanceof Frame) this.#processFrame(event);
      else this.handshakeEvent(event);
    }
  }

  /** Called once the transport is closed, before `closed` resolves. @internal */
  protected transportClosed(): void {
    // For subclasses.
  }

  /** Moves bytes the protocol produced to the write buffer. @internal */
  protected sendData(): void {
    this.#sendData();
  }

  /** Writes pending bytes now instead of at the end of the turn. @internal */
  protected flush(): void {
    this.#flush();
  }

  /** Starts the close timer if the protocol expects the transport to close. @internal */
  protected checkCloseExpected(): void {
    if (this.protocol.closeExpected()) this.#startCloseTimer();
  }

  /** Destroys the transport at once. @internal */
  protected abortTransport(): void {
    if (this.socket.destroyed) return;
    this.#keepAddresses();
    if (this.#debug) this.logger.debug(logMessages.closingTcp);
    this.socket.destroy();
  }

  /** The error a failed transport reported, if any. @internal */
  protected get transportError(): Error | null {
    return this.#transportError;
  }

  /** Whether `connection open` was logged. @internal */
  protected get wasOpen(): boolean {
    return this.#openedAt !== 0;
  }

  /** @internal */
  [kSendingFragments](): boolean {
    return this.#fragmented !== null;
  }

  /** @internal */
  [kSharesFrames](): boolean {
    return this.protocol.side === "server" && this.protocol.extensions.length === 0;
  }

  /**
   * Writes one serialized, unmasked data frame (see `broadcast()`), with no
   * extension: the protocol's state doesn't change for a whole data frame,
   * so it needn't see it. The caller checked that the connection is OPEN
   * and not sending a fragmented message.
   *
   * @throws Error when the transport is already gone.
   * @internal
   */
  [kWriteFrame](
    bytes: readonly Buffer[],
    opcode: typeof OP_TEXT | typeof OP_BINARY,
    payload: Buffer,
  ): void {
    this.#checkTransport();
    if ((this.#flags & DEBUG) !== 0) {
      this.logger.debug(logMessages.frameSent(new Frame(opcode, payload, true)));
    }
    for (const buf of bytes) this.#queue(buf);
    this.#messagesOut += 1;
    this.#bytesOut += payload.length;
    this.#scheduleFlush();
  }

  /**
   * Sends a whole message through the protocol, without waiting for the
   * write buffer to drain (see `broadcast()`).
   *
   * @throws Error when the transport is already gone; InvalidState unless OPEN.
   * @internal
   */
  [kSendNow](opcode: typeof OP_TEXT | typeof OP_BINARY, payload: Buffer): void {
    this.#checkTransport();
    if (opcode === OP_TEXT) this.protocol.sendText(payload);
    else this.protocol.sendBinary(payload);
    this.#messagesOut += 1;
    this.#bytesOut += payload.length;
    this.#sendData();
  }

  #checkTransport(): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      throw new Error("transport is closed: the connection is being torn down");
    }
  }

  // --- Hooks of the event-driven API (websockets-ts/ws) ----------------------

  /**
   * Routes received frames to `sink` from now on instead of the message
   * queue, and returns the data frames queued before, in order, for the
   * caller to deliver first, before `sink.closed()` if the transport closed
   * already. @internal
   */
  [kEventSink](sink: EventSink): Frame[] {
    this.#rareState().sink = sink;
    this.#flags |= EVENT_SINK;
    // Closed already (the peer left before the sink was installed): the
    // sink hears it after the caller delivered the frames returned.
    if (this.#closeDone) queueMicrotask(() => sink.closed(this.#getCloseError()));
    return this.#messages.takeAll();
  }

  /**
   * Sends one frame as given: a ping awaiting no pong, a pong, or a data frame of a
   * message the caller fragments itself (`OP_TEXT`/`OP_BINARY` first, then
   * `OP_CONT`). No flow control: `bufferedAmount` tells. @internal
   */
  [kSendFrame](
    opcode: typeof OP_TEXT | typeof OP_BINARY | typeof OP_CONT | typeof OP_PING | typeof OP_PONG,
    payload: Buffer,
    fin: boolean,
  ): void {
    const protocol = this.protocol;
    if (opcode === OP_PING) protocol.sendPing(payload);
    else if (opcode === OP_PONG) protocol.sendPong(payload);
    else if (opcode === OP_TEXT) protocol.sendText(payload, fin);
    else if (opcode === OP_BINARY) protocol.sendBinary(payload, fin);
    else protocol.sendContinuation(payload, fin);
    if (opcode !== OP_PING && opcode !== OP_PONG) {
      if (fin) this.#messagesOut += 1;
      this.#bytesOut += payload.length;
    }
    this.#sendData();
  }

  /** The byte stream, for pausing, buffered bytes and termination. @internal */
  [kTransport](): Duplex {
    return this.socket;
  }

  // --- The I/O loop ----------------------------------------------------------

  #onData(chunk: Buffer): void {
    const protocol = this.protocol;
    protocol.receiveData(chunk);
    const events = protocol.eventsReceived();
    this.#sendData();
    if (protocol.closeExpected()) this.#startCloseTimer();
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event instanceof Frame) this.#processFrame(event);
      else this.handshakeEvent(event);
    }
  }

  #processFrame(frame: Frame): void {
    switch (frame.opcode) {
      case OP_TEXT:
      case OP_BINARY:
      case OP_CONT:
        this.#bytesIn += frame.data.length;
        if (frame.fin) this.#messagesIn += 1;
        if ((this.#flags & EVENT_SINK) !== 0) this.#rare!.sink!.data(frame);
        else this.#messages.put(frame);
        break;
      case OP_PING:
        publishPing(this, frame.data);
        if ((this.#flags & EVENT_SINK) !== 0) this.#rare!.sink!.ping(frame.data);
        break;
      case OP_PONG:
        publishPong(this, frame.data);
        this.#acknowledgePings(frame.data);
        if ((this.#flags & EVENT_SINK) !== 0) this.#rare!.sink!.pong(frame.data);
        break;
      // Close frames are handled by the protocol; the transport closes next.
    }
  }

  #onEnd(): void {
    this.#keepAddresses();
    this.#flush();
    const protocol = this.protocol;
    protocol.receiveEof();
    const events = protocol.eventsReceived();
    this.#sendData();
    this.#flush();
    for (const event of events) {
      if (event instanceof Frame) this.#processFrame(event);
      else this.handshakeEvent(event);
    }
  }

  #onError(error: Error): void {
    this.#transportError ??= error;
    if (this.#debug) {
      const syscall = (error as NodeJS.ErrnoException).syscall;
      const message =
        syscall === "write" || (error as NodeJS.ErrnoException).code === "EPIPE"
          ? logMessages.sendFailed
          : "! error while receiving data";
      this.logger.debug({ err: error }, message);
    }
    publishSocketError(this, error);
    // Node destroys the stream after an error: 'close' follows.
  }

  #onClose(): void {
    if (this.#isClosed) return;
    this.#flags |= IS_CLOSED;
    const protocol = this.protocol;
    // Idempotent; makes sure the state is CLOSED.
    protocol.receiveEof();
    const events = protocol.eventsReceived();
    protocol.dataToSend();
    for (const event of events) {
      if (!(event instanceof Frame)) this.handshakeEvent(event);
    }
    this.#clearTimers();
    this.#pending = null;
    this.#pendingBytes = 0;
    // Free extension resources (zlib streams) now rather than at GC.
    for (const extension of protocol.extensions) extension.release?.();

    this.#messages.close(() => this.#getCloseError(), closedNormally(protocol));
    const pings = this.#pings;
    if (pings !== null && pings.length > 0) {
      this.#pings = null;
      const error = this.#getCloseError();
      for (const waiter of pings) waiter.reject?.(error);
    }
    this.#wakeDrainWaiters();

    if (this.#openedAt !== 0) {
      const code = protocol.closeCode ?? 1006;
      const reason = protocol.closeReason ?? "";
      // Checked once per connection: no record is built when INFO is off.
      if (this.#infoEnabled) this.#logClosed(code, reason);
      publishClose(this, code, reason);
    } else if (this.#debug) {
      this.logger.debug(logMessages.connectionClosed);
    }
    this.transportClosed();
    if ((this.#flags & EVENT_SINK) !== 0) this.#rare!.sink!.closed(this.#getCloseError());
    this.#flags |= CLOSE_DONE;
    this.#resolveClosed?.();
  }

  #logClosed(code: number, reason: string): void {
    const protocol = this.protocol;
    const fields: ConnectionClosedFields = {
      code,
      reason,
      rcvdCode: protocol.closeRcvd?.code ?? null,
      rcvdReason: protocol.closeRcvd?.reason ?? null,
      sentCode: protocol.closeSent?.code ?? null,
      sentReason: protocol.closeSent?.reason ?? null,
      durationMs: Math.round(performance.now() - this.#openedAt),
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
    };
    this.logger.info(fields, logMessages.connectionClosed);
  }

  #sendData(): void {
    const chunks = this.protocol.dataToSend();
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (chunk.length === 0) {
        // EOF: half-close once everything before it is written.
        this.#flush();
        this.#halfClose();
      } else {
        this.#queue(chunk);
      }
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    // One write per event-loop turn: a tick scheduled now runs after the
    // current microtask chain (e.g. a handler echoing every message of a
    // chunk), so all its frames leave together.
    // Bit operations rather than the accessor: this runs per message, and
    // a private accessor call costs a brand check there.
    if (this.#pendingBytes > 0 && (this.#flags & FLUSH_SCHEDULED) === 0) {
      this.#flags |= FLUSH_SCHEDULED;
      process.nextTick(Connection.#flushTick, this);
    }
  }

  static #flushTick(connection: Connection): void {
    connection.#flags &= ~FLUSH_SCHEDULED;
    connection.#flush();
  }

  #queue(buf: Buffer): void {
    const pending = this.#pending;
    if (pending === null) this.#pending = buf;
    else if (Array.isArray(pending)) pending.push(buf);
    else this.#pending = [pending, buf];
    this.#pendingBytes += buf.length;
  }

  #flush(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    const size = this.#pendingBytes;
    this.#pendingBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    // A callback only while senders wait for the buffer to drain.
    const rare = this.#rare;
    const onWritten = rare === null || rare.drainWaiters === null ? undefined : rare.onWritten;
    if (!Array.isArray(pending)) {
      socket.write(pending, onWritten);
    } else if (size <= COALESCE_LIMIT) {
      socket.write(Buffer.concat(pending, size), onWritten);
    } else {
      socket.cork();
      for (let i = 0; i < pending.length; i++) socket.write(pending[i], onWritten);
      socket.uncork();
    }
  }

  #halfClose(): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    this.#keepAddresses();
    if (this.#debug) this.logger.debug(logMessages.halfClosing);
    socket.end();
  }

  /** Flow control after writing: resolves once the write buffer is below `writeLimit`. */
  #afterWrite(): Promise<void> {
    this.#sendData();
    const socket = this.socket;
    if (this.#pendingBytes + socket.writableLength <= this.#settings.writeLimit) return RESOLVED;
    // Writes from now on carry the callback that wakes waiters.
    this.#drainWaiters ??= [];
    this.#onWritten ??= () => {
      if (this.#drainWaiters !== null && socket.writableLength <= this.#settings.writeLowWater) {
        this.#wakeDrainWaiters();
      }
    };
    this.#flush();
    if (socket.writableLength <= this.#settings.writeLimit || socket.destroyed) {
      if (this.#drainWaiters!.length === 0) this.#drainWaiters = null;
      return RESOLVED;
    }
    const waiters = this.#drainWaiters;
    return new Promise<void>((resolve) => {
      waiters.push(resolve);
    });
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters === null) return;
    this.#drainWaiters = null;
    for (const wake of waiters) wake();
  }

  /** What send() and friends return when the connection isn't OPEN. */
  #notOpen(): Promise<never> {
    const state = this.protocol.state;
    if (state === CONNECTING) {
      return rejected(new InvalidState("cannot send before the opening handshake completes"));
    }
    if (this.#isClosed) return rejected(this.#getCloseError());
    // CLOSING: wait for the transport to close, then report how it closed.
    this.#startCloseTimer();
    const promise = this.closed.then(() => {
      throw this.#getCloseError();
    });
    promise.catch(noop);
    return promise;
  }

  /**
   * The error for using the closed connection, built once: the protocol's,
   * with the transport's error as cause when it failed.
   */
  #getCloseError(): ConnectionClosed {
    if (this.#closeError !== null) return this.#closeError;
    let error = this.protocol.closeExc;
    // The transport's error (ECONNRESET...) says more than the protocol's
    // "unexpected end of stream".
    if (this.#transportError !== null) {
      const Class = error.constructor as new (
        ...args: ConstructorParameters<typeof ConnectionClosedOK>
      ) => ConnectionClosed;
      error = new Class(error.rcvd, error.sent, error.rcvdThenSent, {
        cause: this.#transportError,
      });
    }
    this.#closeError = error;
    return error;
  }

  /** Fails the connection (RFC 6455 §7.1.7) with `code` and starts closing. */
  #failWith(code: number, reason: string): void {
    this.protocol.fail(code, reason);
    this.#afterClosingStarted();
  }

  #afterClosingStarted(): void {
    // The peer's close frame must be read even if the application stopped
    // reading messages.
    this.#messages.drain();
    this.#sendData();
    this.#flush();
    if (this.protocol.closeExpected()) this.#startCloseTimer();
  }

  #startCloseTimer(): void {
    const closeTimeout = this.#settings.closeTimeout;
    if (this.#closeTimer !== null || this.#isClosed || closeTimeout === null) return;
    this.#closeTimer = setTimeout(() => this.#onCloseTimeout(), closeTimeout);
  }

  #onCloseTimeout(): void {
    this.#closeTimer = null;
    if (this.#debug) this.logger.debug("- timed out waiting for TCP close");
    this.abortTransport();
  }

  // --- Open timeout ----------------------------------------------------------

  /**
   * Calls {@link Connection.openTimedOut} if the handshake isn't over in
   * `delay` ms (or up to a grain of a shared timer later). The handshake
   * and keepalive never overlap, so they share the slot field. @internal
   */
  protected startOpenTimer(delay: number): void {
    if (this.#keepaliveTimer !== null || this.#isClosed) return;
    this.#keepaliveTimer = openWheel.add(this, delay);
  }

  /** Cancels {@link Connection.startOpenTimer}. @internal */
  protected stopOpenTimer(): void {
    const slot = this.#keepaliveTimer;
    if (slot === null || slot.wheel !== openWheel) return;
    this.#keepaliveTimer = null;
    TimerWheel.remove(slot, this);
  }

  /** The handshake took longer than the open timeout. @internal */
  protected openTimedOut(): void {
    // For subclasses.
  }

  #onOpenTimeout(): void {
    this.#keepaliveTimer = null;
    this.openTimedOut();
  }

  // --- Keepalive -------------------------------------------------------------

  #scheduleKeepalive(delay: number | null): void {
    if (delay === null || this.#keepaliveTimer !== null || this.#isClosed) return;
    this.#keepaliveTimer = keepaliveWheel.add(this, Math.max(0, delay));
  }

  #onKeepalive(): void {
    this.#keepaliveTimer = null;
    if (this.protocol.state !== OPEN) return;
    // Idle since the last ping: let extensions free what they can rebuild
    // (permessage-deflate's zlib streams, ~100 KiB per connection).
    const activity = this.#messagesIn + this.#messagesOut;
    if (activity === this.#activityAtLastPing) {
      for (const extension of this.protocol.extensions) extension.release?.();
    }
    this.#activityAtLastPing = activity;
    const payload = this.#uniquePingPayload();
    try {
      this.protocol.sendPing(payload);
    } catch (error) {
      this.logger.error({ err: error }, logMessages.keepaliveFailed);
      return;
    }
    this.#pings ??= [];
    this.#pings.push({
      key: payload.toString("latin1"),
      sentAt: performance.now(),
      resolve: null,
      reject: null,
    });
    this.#sendData();
    if (this.#debug) this.logger.debug(logMessages.keepalivePingSent);
    const pingTimeout = this.#settings.pingTimeout;
    if (pingTimeout !== null) {
      this.#pongTimer = pongWheel.add(this, pingTimeout);
    } else {
      this.#scheduleKeepalive(this.#settings.pingInterval);
    }
  }

  #onKeepalivePong(latency: number): void {
    if (this.#debug) this.logger.debug(logMessages.keepalivePongReceived);
    if (this.#pongTimer === null) return;
    TimerWheel.remove(this.#pongTimer, this);
    this.#pongTimer = null;
    // Pings are sent every pingInterval, measured from ping to ping.
    this.#scheduleKeepalive(this.#settings.pingInterval! - latency);
  }

  #onPongTimeout(): void {
    this.#pongTimer = null;
    if (this.protocol.state !== OPEN) return;
    if (this.#debug) this.logger.debug(logMessages.keepaliveTimeout);
    this.#failWith(CLOSE_INTERNAL_ERROR, "keepalive ping timeout");
  }

  #uniquePingPayload(): Buffer {
    for (;;) {
      const payload = randomBytes(4);
      if (this.#findPing(payload.toString("latin1")) === -1) return payload;
    }
  }

  #findPing(key: string): number {
    const pings = this.#pings;
    if (pings === null) return -1;
    for (let i = 0; i < pings.length; i++) if (pings[i].key === key) return i;
    return -1;
  }

  #acknowledgePings(data: Buffer): void {
    const pings = this.#pings;
    if (pings === null || pings.length === 0) return;
    // Unsolicited pongs are allowed (RFC 6455 §5.5.3) and ignored.
    const index = this.#findPing(data.toString("latin1"));
    if (index === -1) return;
    const now = performance.now();
    // RFC 6455 §5.5.3: a pong may answer only the latest ping; it
    // acknowledges all earlier ones too.
    const acknowledged = pings.splice(0, index + 1);
    // An idle connection keeps no empty array (and its spare capacity) between pings.
    if (pings.length === 0) this.#pings = null;
    this.#latency = now - acknowledged[index].sentAt;
    for (const waiter of acknowledged) {
      const latency = now - waiter.sentAt;
      if (waiter.resolve === null) this.#onKeepalivePong(latency);
      else waiter.resolve(latency);
    }
  }

  #clearTimers(): void {
    if (this.#keepaliveTimer !== null) TimerWheel.remove(this.#keepaliveTimer, this);
    if (this.#pongTimer !== null) TimerWheel.remove(this.#pongTimer, this);
    if (this.#closeTimer !== null) clearTimeout(this.#closeTimer);
    this.#keepaliveTimer = null;
    this.#pongTimer = null;
    this.#closeTimer = null;
  }
}

// --- Helpers -------------------------------------------------------------------

function noop(): void {}

/**
 * Whether `protocol.closeExc` is a `ConnectionClosedOK`, without building it
 * (an error captures a stack): both close frames exist with 1000, 1001 or
 * no code (1005).
 */
function closedNormally(protocol: Protocol): boolean {
  const rcvd = protocol.closeRcvd;
  const sent = protocol.closeSent;
  return rcvd !== null && sent !== null && isNormalCode(rcvd.code) && isNormalCode(sent.code);
}

function isNormalCode(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1005;
}

/** A Buffer view of bytes-like `data`, without copying; `null` if it isn't bytes. */
export function toBuffer(data: unknown): Buffer | null {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return Buffer.from(data);
  return null;
}

/** Names the type of a value for TypeError messages: `number`, `Map`, `null`. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = (value as object).constructor?.name;
  return name === undefined || name === "" ? "object" : name;
}

function closeIterator(iterator: Iterator<unknown> | AsyncIterator<unknown>): void {
  try {
    const result = iterator.return?.();
    if (result instanceof Promise) result.catch(noop);
  } catch {
    // The iterator's cleanup failed; the error that stopped the send matters more.
  }
}

function addressOf(socket: Duplex, which: "remote" | "local"): Address | null {
  const s = socket as Partial<Socket>;
  const host = which === "remote" ? s.remoteAddress : s.localAddress;
  const port = which === "remote" ? s.remotePort : s.localPort;
  if (typeof host === "string" && host !== "" && typeof port === "number") return { host, port };
  // Unix sockets: the server's end has the path; the client's is unnamed.
  const server = (socket as { server?: { address?(): unknown } }).server;
  if (which === "local" && server != null && typeof server.address === "function") {
    const address = server.address();
    if (typeof address === "string") return { path: address };
  }
  return null;
}

function formatConnectionAddress(address: Address | null): string | null {
  if (address === null) return null;
  if ("path" in address) return address.path;
  return formatAddress({ address: address.host, port: address.port });
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

export type { State };
export { CLOSED, CLOSING, CONNECTING, OPEN };

/**
 * The payload of a ping or pong: a string as UTF-8, bytes as they are; a
 * TypeError naming the type otherwise (returned, so the caller rejects).
 */
function controlPayload(data: Sendable, method: "ping" | "pong"): Buffer | TypeError {
  const bytes = typeof data === "string" ? Buffer.from(data) : toBuffer(data);
  return bytes ?? new TypeError(`${method}() expects a string or bytes; got ${describeType(data)}`);
}
