/**
 * `Connection`: a WebSocket connection over any duplex byte stream (a TCP or
 * TLS socket, an HTTP/2 stream), driving a sans-I/O `Protocol`. Both
 * `ServerConnection` and `ClientConnection` extend it.
 *
 * The connection is the pump and the public API. One way in: bytes read go
 * to `protocol.receiveDataTo()`, which hands back whole messages as it parses
 * them (`receiveMessage()`); the rest it made of them is processed in one
 * place (`process()`): the bytes it wants written, the close timer, the
 * other frames (assembled into messages by a `MessageQueue`), the handshake.
 * One way out: every send drives the protocol, then hands its bytes to the
 * {@link Writer}. Its collaborators each own their state: `writer.ts`
 * (coalescing, the write buffer's limit, pausing reads, fragmented sends),
 * `keepalive.ts` (pings, pongs, shared timers), `closing.ts` (`close()`,
 * the close timeout, `closed`, the close error and log line),
 * `transport.ts` (what only sockets can tell).
 *
 * @module
 */

import type { Duplex } from "node:stream";
import type { ConnectionClosed } from "../errors.ts";
import {
  CLOSE_INVALID_DATA,
  type DataOpcode,
  Frame,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
} from "../frames.ts";
import type { Request, Response } from "../http11.ts";
import { isLevelEnabled, type LoggerLike, logMessages, silentLogger } from "../logging.ts";
import { CLOSED, CLOSING, CONNECTING, OPEN, type Protocol, type State } from "../protocol.ts";
import {
  abortTransport,
  Closing,
  type ConnectionStats,
  closingStarted,
  halfClose,
  notOpen,
  startCloseTimer,
  startClosing,
  tearDown,
  transportFailed,
} from "./closing.ts";
import { publishOpen, publishPing, publishPong } from "./diagnostics.ts";
import {
  type EventSink,
  kEventSink,
  sinkFrame,
  sinkMessage,
  sinks,
  throwSinkFailure,
} from "./event-sink.ts";
import { watchIdle } from "./idle-release.ts";
import { Keepalive } from "./keepalive.ts";
import { childLogger, LoggerProxy, logContextFields } from "./logger-proxy.ts";
import {
  type Data,
  decodedMessages,
  exactArrayBuffer,
  kInvalidUtf8,
  kPause,
  kResume,
  MessageQueue,
  streamWithLimit,
} from "./messages.ts";
import { warnUnreadAfterLoop, watchDrained } from "./mistakes.ts";
import {
  type Address,
  type ConnectionInit,
  ConnectionSettings,
  type LogFields,
  type RecvOptions,
  type Sendable,
  type SendData,
  type SendOptions,
} from "./options.ts";
import { RESOLVED } from "./promises.ts";
import { AddressCache, describeAddress, disableNagle, listen } from "./transport.ts";
import { PAUSED_BY_QUEUE, sendMessage, sendPong, Writer } from "./writer.ts";

export type { Data } from "./messages.ts";
export * from "./options.ts";
export { describeType, toBuffer } from "./writer.ts";
export type { State };
export { CLOSED, CLOSING, CONNECTING, OPEN };

// Bits of Connection's #flags.
const DEBUG = 1;
const INFO = 2;
const IS_CLOSED = 4;
const CLOSE_DONE = 8;
// Frames go to an EventSink (`websockets-ts/ws`), found in `sinks`.
const EVENT_SINK = 16;

/** What the server and client protocols record of the opening handshake. */
interface HandshakeRecord {
  request: Request | null;
  response: Response | null;
  subprotocol: string | null;
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
export class Connection<P extends Protocol = Protocol> {
  /** The sans-I/O protocol this connection drives. @internal */
  readonly protocol: P;
  /** Writes to the transport and pauses reading from it. @internal */
  readonly writer: Writer;
  /** The options, checked once; shared by a server's connections. @internal */
  readonly settings: ConnectionSettings;

  // The connection's child logger, created on first use: most connections
  // of a server logging at WARN never log anything.
  #logger: LoggerLike | null;
  // `logContext` fields waiting for the logger to be created.
  #contextFields: LogFields | null = null;
  // Four booleans in one small integer (see docs/decisions.md, "Memory").
  #flags = 0;

  /** The queue of messages received. @internal */
  readonly queue: MessageQueue;
  // The transport's addresses, created on first read (see transport.ts).
  #addresses: AddressCache | null = null;

  /** Keepalive and pings, created on first need. @internal */
  keepalive: Keepalive | null = null;
  /** Closing state, created on first need. @internal */
  closing: Closing | null = null;

  // When `connection open` was logged, in whole ms (0: never); then the
  // statistics of the `connection closed` line.
  #openedAt = 0;
  #messagesIn = 0;
  #messagesOut = 0;
  #bytesIn = 0;
  #bytesOut = 0;

  /**
   * @param protocol - A protocol in CONNECTING (a handshake follows) or OPEN.
   *   Construct it with `logger: protocolLogger(base)` so its records carry
   *   the connection's fields.
   * @param transport - A connected duplex stream.
   * @param logger - The server's or client's logger; the connection logs
   *   through a child bound with `connectionId` and `remoteAddress`.
   * @param init - The options, or settings built from them with the same
   *   logger and shared by many connections.
   * @internal
   */
  constructor(
    protocol: P,
    transport: Duplex,
    logger: LoggerLike,
    init: ConnectionInit | ConnectionSettings = {},
  ) {
    this.protocol = protocol;
    protocol.mergeFragments = true; // tiny fragments cost bytes, not objects: fragment-run.ts
    protocol.boundDecoding = true; // what one read inflates to waits for room: parseHeld()
    const settings =
      init instanceof ConnectionSettings ? init : new ConnectionSettings(init, logger);
    this.settings = settings;
    this.writer = new Writer(transport);
    const maxQueue = settings.maxQueue;

    this.#logger = logger === silentLogger ? logger : null;
    if (protocol.logger instanceof LoggerProxy) protocol.logger.connection = this;
    // Levels are checked once per connection.
    this.#flags =
      (isLevelEnabled(logger, "debug") ? DEBUG : 0) | (isLevelEnabled(logger, "info") ? INFO : 0);
    // The protocol doesn't log the state it starts in; logged here, it
    // carries the connection's fields like every later state change.
    if (this.debug && protocol.state === CONNECTING) {
      this.logger.debug(logMessages.state("CONNECTING"));
    }

    const lowWater = maxQueue === null ? null : Math.floor(maxQueue / 4);
    this.queue = new MessageQueue(maxQueue, lowWater, this);

    disableNagle(transport);
    listen(transport, this);
    if (transport.destroyed) queueMicrotask(() => this.onClose());
  }

  // --- Hooks of the message queue --------------------------------------------

  /** @internal */
  [kPause](): void {
    this.writer.pauseReading(PAUSED_BY_QUEUE);
    warnUnreadAfterLoop(this);
  }

  /** @internal */
  [kResume](): void {
    // Held bytes come before new reads; parsed outside the read that drained the queue.
    if (this.protocol.parsingPaused) queueMicrotask(() => this.parseHeld(true));
    else this.writer.resumeReading(PAUSED_BY_QUEUE);
  }

  /** @internal */
  [kInvalidUtf8](reason: string): void {
    this.failWith(CLOSE_INVALID_DATA, reason);
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
    return this.#logger ?? this.makeLogger();
  }

  private makeLogger(): LoggerLike {
    const fields = (): LogFields => {
      const remote = this.remoteAddress;
      return { connectionId: this.id, remoteAddress: remote && describeAddress(remote) };
    };
    this.#logger = childLogger(this.settings.baseLogger, fields, this.#contextFields);
    return this.#logger;
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
    return this.addresses().get(this.writer.transport, "remote");
  }

  /** Local address, or `null` when the transport doesn't tell; kept like {@link remoteAddress}. */
  get localAddress(): Address | null {
    return this.addresses().get(this.writer.transport, "local");
  }

  /** Reads the addresses while the socket still knows them: before it's ended or destroyed. @internal */
  keepAddresses(): void {
    this.addresses().keep(this.writer.transport);
  }

  private addresses(): AddressCache {
    this.#addresses ??= new AddressCache();
    return this.#addresses;
  }

  /** The subprotocol negotiated by the handshake, or `null`. */
  get subprotocol(): string | null {
    return (this.protocol as Partial<HandshakeRecord>).subprotocol ?? null;
  }

  /**
   * Round-trip time in ms measured by the last ping answered (keepalive or
   * {@link Connection.ping}); 0 before the first.
   */
  get latency(): number {
    const keepalive = this.keepalive;
    return keepalive === null ? 0 : keepalive.latency;
  }

  /** The close code received (1006 without a close frame); `null` until CLOSED. */
  get closeCode(): number | null {
    return this.protocol.closeCode;
  }

  /** The close reason received; `null` until CLOSED. */
  get closeReason(): string | null {
    return this.protocol.closeReason;
  }

  /**
   * Bytes queued to be written and not yet written: those produced this
   * turn plus the transport's write buffer (`ws`'s `bufferedAmount`). A
   * peer that reads slower than we send makes it grow; `send()` waits while
   * it exceeds `writeLimit`, `broadcast()` doesn't.
   */
  get bufferedAmount(): number {
    return this.writer.buffered;
  }

  /** Resolves once the transport is closed. Never rejects. */
  get closed(): Promise<void> {
    const done = (this.#flags & CLOSE_DONE) !== 0;
    if (this.closing === null && done) return RESOLVED;
    return this.closingState().closed(done);
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
  recv(options: RecvOptions & { decode: false; binaryType: "arraybuffer" }): Promise<ArrayBuffer>;
  recv(options: RecvOptions & { decode: false }): Promise<Buffer>;
  recv(options: RecvOptions & { binaryType: "arraybuffer" }): Promise<string | ArrayBuffer>;
  recv(options?: RecvOptions): Promise<Data>;
  recv(options?: RecvOptions): Promise<Data | ArrayBuffer> {
    const received = this.queue.get(options?.decode, options?.signal);
    return options?.binaryType === "arraybuffer" ? received.then(exactArrayBuffer) : received;
  }

  /**
   * Iterates over incoming messages like `for await (const m of ws)`, with
   * {@link recv}'s `decode`: `ws.messages({ decode: true })` yields strings.
   * Ends when the connection closes normally; throws `ConnectionClosedError`
   * otherwise.
   */
  messages(options: { decode: true }): AsyncIterableIterator<string>;
  messages(options: { decode: false }): AsyncIterableIterator<Buffer>;
  messages(options?: { decode?: boolean }): AsyncIterableIterator<Data>;
  messages(options?: { decode?: boolean }): AsyncIterableIterator<Data> {
    return decodedMessages(this.queue, options?.decode);
  }

  /**
   * Receives the next message fragment by fragment, as they arrive: for
   * large messages that shouldn't be buffered whole. Leaving the loop early
   * discards the rest of the message.
   *
   * ```ts
   * for await (const fragment of ws.recvStreaming()) file.write(fragment);
   * ```
   *
   * `maxSize`: the limit for this message instead of the connection's
   * `maxSize` (which is meant for messages held whole), in bytes; `null`:
   * none. It applies from the first `next()` to the end of the message, to
   * the bytes read meanwhile: call it before the peer sends the message
   * (frames read earlier were checked against `maxSize`). A larger message
   * closes the connection with 1009.
   */
  recvStreaming(options?: {
    decode?: boolean;
    maxSize?: number | null;
  }): AsyncIterableIterator<Data> {
    const stream = this.queue.stream(options?.decode);
    const maxSize = options?.maxSize;
    return maxSize === undefined ? stream : streamWithLimit(this.protocol, stream, maxSize);
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
    return this.queue;
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
    return sendMessage(this, data, options);
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
    return this.keepaliveState().ping(this, data);
  }

  /** Sends an unsolicited pong, e.g. as a one-way heartbeat. */
  pong(data?: Sendable): Promise<void> {
    return sendPong(this, data);
  }

  // --- Closing -------------------------------------------------------------

  /**
   * Performs the closing handshake, then waits for the transport to close,
   * at most `closeTimeout` (then the socket is destroyed). Idempotent;
   * never throws because the connection is already closed.
   *
   * @param code - Close code; `null` sends a close frame without a code
   *   (the peer sees 1005), as the browser's `close()` does. Default: 1000.
   * @param reason - Close reason, up to 123 bytes of UTF-8. Default: `""`.
   * @throws ProtocolError for a code that can't be sent or a reason too long.
   */
  async close(code: number | null = 1000, reason = ""): Promise<void> {
    startClosing(this, code, reason);
    return this.closed;
  }

  /**
   * Destroys the transport at once, without a closing handshake (`ws`'s
   * `terminate()`): for a peer that stopped answering, or a deadline. The
   * close code is 1006; `closed` resolves once the transport is closed;
   * pending `recv()` and `send()` reject with `ConnectionClosedError`.
   * Idempotent.
   */
  terminate(): Promise<void> {
    this.abortTransport();
    return this.closed;
  }

  /** Closes the connection (code 1000) and waits for it: `await using ws = await connect(url)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // --- For subclasses ------------------------------------------------------

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
    const logContext = this.settings.logContext;
    const fields =
      logContext === null ? null : logContextFields(logContext, this, () => this.logger);
    if (fields !== null) {
      const logger = this.#logger;
      if (logger === null) this.#contextFields = fields;
      else if (typeof logger.child === "function") this.#logger = logger.child(fields);
    }
    if ((this.#flags & INFO) !== 0) this.logger.info(logMessages.connectionOpen);
    publishOpen(this);
    const pingInterval = this.settings.pingInterval;
    if (pingInterval !== null) this.keepaliveState().schedule(this, pingInterval);
    watchIdle(this, this.protocol.extensions);
  }

  /** Processes bytes as if read from the transport. @internal */
  protected receive(data: Buffer): void {
    this.dataReceived(data);
  }

  /**
   * Processes events the protocol produced outside of a read, e.g. frames
   * that arrived with the handshake request, parsed once the response is
   * sent. @internal
   */
  protected processEvents(): void {
    this.process();
  }

  /** Called once the transport is closed, before `closed` resolves. @internal */
  protected transportClosed(): void {
    // For subclasses.
  }

  /** Writes pending bytes now instead of at the end of the turn. @internal */
  protected flush(): void {
    this.writer.flush();
  }

  /** Starts the close timer if the protocol expects the transport to close. @internal */
  protected checkCloseExpected(): void {
    if (this.protocol.closeExpected()) startCloseTimer(this);
  }

  /** Destroys the transport at once. @internal */
  protected abortTransport(): void {
    abortTransport(this);
  }

  /** The error a failed transport reported, if any. @internal */
  protected get transportError(): Error | null {
    return this.closing === null ? null : this.closing.transportError;
  }

  /** Whether `connection open` was logged. @internal */
  get wasOpen(): boolean {
    return this.#openedAt !== 0;
  }

  /**
   * Calls {@link Connection.openTimedOut} if the handshake isn't over in
   * `delay` ms (or up to a grain of a shared timer later). @internal
   */
  protected startOpenTimer(delay: number): void {
    this.keepaliveState().startOpenTimer(this, delay);
  }

  /** Cancels {@link Connection.startOpenTimer}. @internal */
  protected stopOpenTimer(): void {
    this.keepalive?.stopOpenTimer(this);
  }

  // --- The seam with the collaborators (writer, keepalive, closing) --------

  /** Whether DEBUG logging is on. @internal */
  get debug(): boolean {
    return (this.#flags & DEBUG) !== 0;
  }

  /** Whether INFO logging is on. @internal */
  get info(): boolean {
    return (this.#flags & INFO) !== 0;
  }

  /** Whether the transport closed. @internal */
  get isClosed(): boolean {
    return (this.#flags & IS_CLOSED) !== 0;
  }

  /** Messages received and sent so far: unchanged means idle. @internal */
  get activity(): number {
    return this.#messagesIn + this.#messagesOut;
  }

  /** Lets extensions free what they can rebuild (zlib streams). @internal */
  releaseIdle(): void {
    for (const extension of this.protocol.extensions) extension.release?.();
  }

  /** The handshake took longer than the open timeout. @internal */
  openTimedOut(): void {
    // For subclasses.
  }

  /** Counts a message sent, for the `connection closed` line. @internal */
  countSent(bytes: number, messages = 1): void {
    this.#messagesOut += messages;
    this.#bytesOut += bytes;
  }

  /**
   * The one way out: moves the bytes the protocol produced to the writer,
   * for the end of this turn; an empty chunk (EOF) half-closes the
   * transport once everything before it is written. @internal
   */
  sendData(): void {
    const chunks = this.protocol.dataToSend();
    const writer = this.writer;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (chunk.length === 0) {
        writer.flush();
        halfClose(this);
      } else {
        writer.queue(chunk);
      }
    }
    writer.schedule();
  }

  /**
   * A send's flow control: writes what the protocol queued, or the `frame`
   * it returned (`Protocol.frameMessage()`), and resolves once the write
   * buffer is below `writeLimit`. @internal
   */
  afterWrite(frame: Buffer | null = null): Promise<void> {
    const writer = this.writer;
    if (frame === null) {
      this.sendData();
    } else {
      writer.queue(frame);
      writer.schedule();
    }
    return watchDrained(this, writer.drained(this.settings));
  }

  /** What send() and friends return when the connection isn't OPEN. @internal */
  notOpen(): Promise<never> {
    return notOpen(this);
  }

  /** Fails the connection (RFC 6455 §7.1.7) with `code` and starts closing. @internal */
  failWith(code: number, reason: string): void {
    this.protocol.fail(code, reason);
    closingStarted(this);
  }

  /** The error for using the closed connection. @internal */
  closeError(): ConnectionClosed {
    return this.closingState().error(this.protocol);
  }

  /** The closing state, created if needed. @internal */
  closingState(): Closing {
    this.closing ??= new Closing();
    return this.closing;
  }

  /** What the `connection closed` line counts. @internal */
  stats(): ConnectionStats {
    return {
      openedAt: this.#openedAt,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
    };
  }

  // --- Hooks of the event-driven API (websockets-ts/ws) ----------------------

  /**
   * Routes received frames to `sink` from now on instead of the message
   * queue, and returns the data frames queued before, in order, for the
   * caller to deliver first, before `sink.closed()` if the transport closed
   * already. @internal
   */
  [kEventSink](sink: EventSink): Frame[] {
    sinks.set(this, sink);
    this.#flags |= EVENT_SINK;
    // Closed already (the peer left before the sink was installed): the
    // sink hears it after the caller delivered the frames returned.
    if ((this.#flags & CLOSE_DONE) !== 0) queueMicrotask(() => sink.closed());
    return this.queue.takeAll();
  }

  // --- The pump --------------------------------------------------------------
  // Methods are TypeScript-private, not #private: a class with #private
  // methods gives each instance a brand, 8 bytes (docs/decisions.md).

  /**
   * The one way in: bytes read from the transport; `lent` when the chunk
   * is a read buffer reused after this call. @internal
   */
  dataReceived(chunk: Buffer, lent?: boolean): void {
    this.protocol.receiveDataTo(chunk, this, lent);
    this.process();
    if (this.protocol.parsingPaused) this.parseHeld(false);
  }

  /**
   * Parses what the decoding budget held (docs/decisions.md, "Compression")
   * while the queue has room, else when it drains ([kResume]).
   */
  private parseHeld(resume: boolean): void {
    const protocol = this.protocol;
    const queue = this.queue;
    while (protocol.parsingPaused && !queue.paused && !this.isClosed) {
      protocol.resumeParsing();
      this.process();
    }
    if (resume && !queue.paused) this.writer.resumeReading(PAUSED_BY_QUEUE);
  }

  /**
   * Acts on what the protocol made of the bytes it received: writes its
   * answers (pongs, close frames), stops reading while they exceed the
   * write buffer's limit, arms the close timer when the transport should
   * close, then delivers frames and handshake events.
   */
  private process(): void {
    const protocol = this.protocol;
    const events = protocol.eventsReceived();
    this.sendData();
    this.writer.limitReading(this.settings);
    if (protocol.closeExpected()) startCloseTimer(this);
    if ((this.#flags & EVENT_SINK) !== 0) throwSinkFailure(this);
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event instanceof Frame) this.processFrame(event);
      else this.handshakeEvent(event);
    }
  }

  /**
   * A whole message, straight from the parser (docs/performance.md, "Hot
   * paths"): what processFrame() does for its frame.
   * @internal
   */
  receiveMessage(opcode: DataOpcode, data: Buffer): void {
    this.#bytesIn += data.length;
    this.#messagesIn += 1;
    if ((this.#flags & EVENT_SINK) === 0) this.queue.putMessage(opcode, data);
    else sinkMessage(this, opcode, data);
  }

  private processFrame(frame: Frame): void {
    const opcode = frame.opcode;
    if (opcode === OP_PING) {
      publishPing(this, frame.data);
    } else if (opcode === OP_PONG) {
      publishPong(this, frame.data);
      this.keepalive?.pongReceived(this, frame.data);
    } else if (opcode === OP_CLOSE) {
      return; // The protocol handled it; the transport closes next.
    } else {
      this.#bytesIn += frame.data.length;
      if (frame.fin) this.#messagesIn += 1;
    }
    if ((this.#flags & EVENT_SINK) !== 0) sinkFrame(this, frame);
    else if (opcode !== OP_PING && opcode !== OP_PONG) this.queue.put(frame);
  }

  /** The peer half-closed: our answer is written now, before net.Socket ends the transport. @internal */
  onEnd(): void {
    this.keepAddresses();
    const writer = this.writer;
    writer.flush();
    this.protocol.receiveEof();
    this.process();
    writer.flush();
  }

  /** @internal */
  onError(error: Error): void {
    transportFailed(this, error);
  }

  /** The transport closed: every collaborator stops, then `closed` resolves. @internal */
  onClose(): void {
    if (this.isClosed) return;
    this.#flags |= IS_CLOSED;
    const protocol = this.protocol;
    // Idempotent; makes sure the state is CLOSED.
    protocol.receiveEof();
    const events = protocol.eventsReceived();
    protocol.dataToSend();
    for (const event of events) {
      if (!(event instanceof Frame)) this.handshakeEvent(event);
    }
    tearDown(this);
    this.transportClosed();
    if ((this.#flags & EVENT_SINK) !== 0) sinks.get(this)!.closed();
    this.#flags |= CLOSE_DONE;
    this.closing?.finish();
  }

  private keepaliveState(): Keepalive {
    this.keepalive ??= new Keepalive();
    return this.keepalive;
  }
}
