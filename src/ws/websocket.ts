/**
 * `WebSocket` of `websockets-ts/ws`: `ws` 8's event-driven socket, over a
 * core {@link Connection}. Frames reach it as they are parsed (through the
 * connection's event sink), so `message`, `ping` and `pong` are emitted in
 * the order they arrived, synchronously, as `ws` does; sends go through the
 * connection, which coalesces the writes of one event-loop turn.
 *
 * The server side gets its connection from `WebSocketServer`; the client
 * side opens one with the `ws` client options (see `client.ts`).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import { EMPTY, type Frame, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT } from "../frames.ts";
import type { Connection } from "../node/connection.ts";
import { type EventSink, kEventSink, sendFrame } from "../node/event-sink.ts";
import { PAUSED_BY_USER } from "../node/writer.ts";
import type { UpgradeRequest, WsClientOptions } from "./client.ts";
import { isSendableCloseCode, toWsError } from "./errors.ts";
import {
  type AddEventListenerOptions,
  addEventListener,
  type CloseEvent,
  type ErrorEvent,
  type Event,
  type EventListenerLike,
  getAttribute,
  type MessageEvent,
  removeEventListener,
  setAttribute,
} from "./events.ts";
import { controlPayload, toPayload } from "./payloads.ts";

/** How binary messages are delivered to `message` listeners. */
export type BinaryType = "nodebuffer" | "arraybuffer" | "fragments" | "blob";

/**
 * A message as `message` listeners get it, per {@link BinaryType}, as
 * `ws`'s types have it (binaryType `blob` delivers a `Blob`).
 */
export type RawData = Buffer | ArrayBuffer | Buffer[];

/**
 * What `send()` accepts: what `ws` does (its `BufferLike`). A `Blob` is
 * read first: later sends wait for it, so messages keep their order.
 * Objects whose `valueOf()` or `Symbol.toPrimitive` gives bytes or a
 * string are converted as `Buffer.from()` converts them.
 */
export type WsSendData =
  | string
  | Buffer
  | ArrayBuffer
  | ArrayBufferView
  | SharedArrayBuffer
  | Blob
  | readonly unknown[]
  | number
  | {
      /** Bytes or a string, which `Buffer.from()` reads from the object. */
      valueOf(): ArrayBuffer | SharedArrayBuffer | Uint8Array | readonly number[] | string;
    }
  | {
      /** A string, which `Buffer.from()` reads from the object. */
      [Symbol.toPrimitive](hint: string): string;
    }
  | null
  | undefined;

/** Options of {@link WebSocket.send}. */
export interface WsSendOptions {
  /** Send as binary; default: `true` unless `data` is a string. */
  binary?: boolean;
  /** Whether this is the last fragment of the message. Default: `true`. */
  fin?: boolean;
  /** Accepted for compatibility: every message is compressed when permessage-deflate was negotiated. */
  compress?: boolean;
  /** Accepted for compatibility: frames are masked by the client, never by the server, per RFC 6455. */
  mask?: boolean;
}

const READY_STATES = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"] as const;

/** Internal: attaches an open connection to a `WebSocket`. @internal */
export const kAttach: unique symbol = Symbol("websockets-ts.ws.attach");
/** Internal: the opening handshake failed or was aborted. @internal */
export const kFailOpen: unique symbol = Symbol("websockets-ts.ws.failOpen");
/** Internal: the client's opening handshake, to abort. @internal */
export const kOpening: unique symbol = Symbol("websockets-ts.ws.opening");
/** Internal: what close() and terminate() do before the connection exists. @internal */
export const kAbortOpen: unique symbol = Symbol("websockets-ts.ws.abortOpen");
/** Internal: see {@link ClientTracker}. @internal */
export const kClientClosed: unique symbol = Symbol("websockets-ts.ws.clientClosed");

/**
 * Internal: the server whose `clients` hold a `WebSocket`, told when it
 * closes, just before its `close` event (where `ws` removes it, with the
 * first `close` listener). A call, not a listener: no closure per client.
 * @internal
 */
export interface ClientTracker {
  [kClientClosed](ws: WebSocket): void;
}

/** Events a `WebSocket` emits, with their arguments, as in `ws`. */
export interface WebSocketEvents {
  /** The opening handshake completed: messages can be sent. */
  open: [];
  /** A message, as `binaryType` says for binary ones (text is a `Buffer`); `isBinary` tells which. */
  message: [data: RawData, isBinary: boolean];
  /** A ping from the peer, with its payload; the pong is sent automatically. */
  ping: [data: Buffer];
  /** A pong from the peer, with its payload. */
  pong: [data: Buffer];
  /** The connection closed: the close code (1005 without one, 1006 without a close frame) and reason. */
  close: [code: number, reason: Buffer];
  /** The connection failed; `close` follows. */
  error: [error: Error];
  /** Client only: the server's 101 response headers, before `open`. */
  upgrade: [response: IncomingMessage];
  /** Client only: the server answered the handshake with another status; a listener replaces the `error`. */
  "unexpected-response": [request: UpgradeRequest, response: IncomingMessage];
  /** Client only, with `followRedirects`: the handshake is retried at `url`. */
  redirect: [url: string, request: UpgradeRequest];
}

/** An event queued while paused: delivered in order on `resume()`. */
type Held = readonly ["message", RawData, boolean] | readonly ["ping" | "pong", Buffer];

/**
 * A WebSocket with `ws` 8's API: `import { WebSocket } from "websockets-ts/ws"`.
 *
 * ```ts
 * const ws = new WebSocket("ws://127.0.0.1:8080");
 * ws.on("open", () => ws.send("hello"));
 * ws.on("message", (data, isBinary) => console.log(isBinary ? data : data.toString()));
 * ```
 */
export class WebSocket extends EventEmitter<WebSocketEvents> {
  /** `WebSocketServer`, as `ws`'s default export carries it (set by index.ts). */
  declare static WebSocketServer: typeof import("./server.ts").WebSocketServer;
  /** Same as {@link WebSocket.WebSocketServer}. */
  declare static Server: typeof import("./server.ts").WebSocketServer;
  /** This class, as `ws`'s default export carries it. */
  declare static WebSocket: typeof WebSocket;
  /** `createWebSocketStream`, as `ws`'s default export carries it (set by index.ts). */
  declare static createWebSocketStream: typeof import("./stream.ts").createWebSocketStream;

  /** The connection is not yet open. */
  static readonly CONNECTING = 0;
  /** The connection is open and ready to communicate. */
  static readonly OPEN = 1;
  /** The connection is in the process of closing. */
  static readonly CLOSING = 2;
  /** The connection is closed. */
  static readonly CLOSED = 3;

  /** The connection is not yet open. */
  declare readonly CONNECTING: 0;
  /** The connection is open and ready to communicate. */
  declare readonly OPEN: 1;
  /** The connection is in the process of closing. */
  declare readonly CLOSING: 2;
  /** The connection is closed. */
  declare readonly CLOSED: 3;

  #connection: Connection | null = null;
  #tracker: ClientTracker | null = null;
  #readyState: 0 | 1 | 2 | 3 = 0;
  #binaryType: BinaryType = "nodebuffer";
  #url: string;
  #protocol = "";
  #extensions = "";

  // Message assembly: fragments received so far, and the first one's type.
  #parts: Buffer[] | null = null;
  #partsBinary = false;

  // pause(): events parsed meanwhile wait here.
  #paused = false;
  #held: Held[] | null = null;

  // Sends made after the connection closed count here, as in ws.
  #bufferedAfterClose = 0;
  // Sends wait for the Blobs being read before them (send() of a Blob).
  #blobs: Promise<void> | null = null;
  // A message sent with `fin: false` is being sent, fragment by fragment.
  #fragmenting = false;
  // Set by close()/terminate() before the transport closes.
  #closing = false;
  #wasClean = false;
  #errorEmitted = false;

  /**
   * Opens a client connection. `protocols` is a subprotocol or a list;
   * `options` are `ws`'s client options (see `WsClientOptions`).
   *
   * @throws SyntaxError for an invalid URL or subprotocol, as `ws` does.
   */
  constructor(
    address: string | URL | null,
    protocols?: string | readonly string[] | WsClientOptions,
    options?: WsClientOptions,
  ) {
    super();
    this.#url = "";
    if (address !== null) {
      this.#url = startClient(this, address, protocols, options);
    }
  }

  // --- Properties ----------------------------------------------------------

  /**
   * `nodebuffer` (default), `arraybuffer`, `fragments` or `blob`; other
   * values are ignored. Read, it is typed as `@types/ws` types it (which
   * lacks `blob`), so that a `WebSocket` of ours is a `ws` one for the
   * libraries typed against `ws`.
   */
  get binaryType(): "nodebuffer" | "arraybuffer" | "fragments" {
    return this.#binaryType as "nodebuffer";
  }
  /** Applies from the next message. */
  set binaryType(type: BinaryType) {
    if (
      type === "nodebuffer" ||
      type === "arraybuffer" ||
      type === "fragments" ||
      type === "blob"
    ) {
      this.#binaryType = type;
    }
  }

  /** Bytes queued for the network and not yet written. */
  get bufferedAmount(): number {
    return this.#bufferedAfterClose + (this.#connection?.writer.buffered ?? 0);
  }

  /** The extensions negotiated, as in the `Sec-WebSocket-Extensions` response header. */
  get extensions(): string {
    return this.#extensions;
  }

  /** Whether `pause()` is in effect. */
  get isPaused(): boolean {
    return this.#paused;
  }

  /** The subprotocol negotiated, or `""`. */
  get protocol(): string {
    return this.#protocol;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): 0 | 1 | 2 | 3 {
    const state = this.#readyState;
    if (state === 1 && (this.#closing || this.#connection!.state >= 2)) return 2;
    return state;
  }

  /** The URL of a client connection; `""` on the server side. */
  get url(): string {
    return this.#url;
  }

  /** Whether both close frames were exchanged (`CloseEvent.wasClean`). */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** The core connection, once open: every feature of `websockets-ts` is there. */
  get connection(): Connection | null {
    return this.#connection;
  }

  // --- Sending -------------------------------------------------------------

  /**
   * Sends a message: a string as text, bytes as binary (or as `options`
   * say). `cb(error?)` is called once the message is handed to the network,
   * or with the error that prevented it.
   *
   * @throws Error while CONNECTING, as `ws` does.
   */
  send(data: WsSendData, cb?: (error?: Error) => void): void;
  send(data: WsSendData, options: WsSendOptions, cb?: (error?: Error) => void): void;
  send(
    data: WsSendData,
    options?: WsSendOptions | ((error?: Error) => void),
    cb?: (error?: Error) => void,
  ): void {
    if (typeof options === "function") {
      cb = options;
      options = undefined;
    }
    if (this.#blobs !== null || data instanceof Blob) {
      this.#sendAfterBlobs(data, options, cb);
      return;
    }
    this.#sendNow(toPayload(data, "send"), options, cb);
  }

  /**
   * A `Blob`, or any send while one is read: waits for the blobs before it,
   * as `ws` does. While CONNECTING it throws at once, like any send.
   */
  #sendAfterBlobs(
    data: WsSendData,
    options: WsSendOptions | undefined,
    cb: ((error?: Error) => void) | undefined,
  ): void {
    if (this.readyState === 0) this.#usable(EMPTY, cb);
    const payload = data instanceof Blob ? null : toPayload(data, "send");
    const previous = this.#blobs ?? Promise.resolve();
    const sent = previous.then(async () => {
      const bytes = payload ?? Buffer.from(await (data as Blob).arrayBuffer());
      this.#sendNow(bytes, options, cb);
    });
    this.#blobs = sent;
    sent
      .catch((error: unknown) => {
        // Reading the Blob failed: as ws, the callback gets the error.
        if (cb !== undefined) cb(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => {
        if (this.#blobs === sent) this.#blobs = null;
      });
  }

  #sendNow(
    payload: string | Buffer,
    options: WsSendOptions | undefined,
    cb: ((error?: Error) => void) | undefined,
  ): void {
    if (!this.#usable(payload, cb)) return;
    const connection = this.#connection!;
    const binary = options?.binary ?? typeof payload !== "string";
    if (options?.fin === false || this.#fragmenting) {
      this.#sendFragment(payload, binary, options?.fin !== false, cb);
      return;
    }
    // Options only when the type differs from the data's: most sends pass none.
    const promise =
      binary === (typeof payload !== "string")
        ? connection.send(payload)
        : connection.send(payload, { text: !binary });
    if (cb !== undefined) promise.then(() => cb(), cb);
  }

  /** One frame of a message sent with `fin: false`; the first one sets its type. */
  #sendFragment(
    payload: string | Buffer,
    binary: boolean,
    fin: boolean,
    cb: ((error?: Error) => void) | undefined,
  ): void {
    const opcode = this.#fragmenting ? OP_CONT : binary ? OP_BINARY : OP_TEXT;
    this.#fragmenting = !fin;
    this.#writeFrame(opcode, typeof payload === "string" ? Buffer.from(payload) : payload, fin, cb);
  }

  /**
   * Sends a ping; `data` up to 125 bytes (default: empty). `mask` is
   * ignored (see {@link WsSendOptions.mask}); `cb(error?)` as for `send()`.
   */
  ping(data?: WsSendData, mask?: boolean, cb?: (error?: Error) => void): void;
  /** `ws`'s optional arguments: the callback in place of `mask`. */
  ping(data: WsSendData, cb: (error?: Error) => void): void;
  /** As `@types/ws` types it (the callback's error is `undefined` on success). */
  ping(data: unknown, mask: boolean | undefined, cb: (error: Error) => void): void;
  ping(data?: unknown, mask?: unknown, cb?: unknown): void {
    this.#sendControl(OP_PING, data as WsSendData, mask as boolean, cb as (error?: Error) => void);
  }

  /**
   * Sends a pong; `data` up to 125 bytes (default: empty). `mask` is
   * ignored (see {@link WsSendOptions.mask}); `cb(error?)` as for `send()`.
   */
  pong(data?: WsSendData, mask?: boolean, cb?: (error?: Error) => void): void;
  /** `ws`'s optional arguments: the callback in place of `mask`. */
  pong(data: WsSendData, cb: (error?: Error) => void): void;
  /** As `@types/ws` types it (the callback's error is `undefined` on success). */
  pong(data: unknown, mask: boolean | undefined, cb: (error: Error) => void): void;
  pong(data?: unknown, mask?: unknown, cb?: unknown): void {
    this.#sendControl(OP_PONG, data as WsSendData, mask as boolean, cb as (error?: Error) => void);
  }

  /** ping() and pong(): `ws`'s optional arguments, then one frame. */
  #sendControl(
    opcode: typeof OP_PING | typeof OP_PONG,
    data: WsSendData | ((error?: Error) => void),
    mask: boolean | ((error?: Error) => void) | undefined,
    cb: ((error?: Error) => void) | undefined,
  ): void {
    if (typeof data === "function") {
      cb = data;
      data = undefined;
    } else if (typeof mask === "function") {
      cb = mask;
    }
    const payload = controlPayload(data);
    if (this.#usable(payload, cb)) this.#writeFrame(opcode, payload, true, cb);
  }

  /** Writes one frame; `cb` on the next tick, with the error if it couldn't be. */
  #writeFrame(
    opcode: typeof OP_TEXT | typeof OP_BINARY | typeof OP_CONT | typeof OP_PING | typeof OP_PONG,
    payload: Buffer,
    fin: boolean,
    cb: ((error?: Error) => void) | undefined,
  ): void {
    try {
      sendFrame(this.#connection!, opcode, payload, fin);
    } catch (error) {
      if (cb === undefined) throw error;
      process.nextTick(cb, error);
      return;
    }
    if (cb !== undefined) process.nextTick(cb);
  }

  /**
   * Whether a send may proceed; if not, reports why as `ws` does: a throw
   * while CONNECTING, the callback's error once closing or closed.
   */
  #usable(payload: string | Buffer, cb: ((error?: Error) => void) | undefined): boolean {
    const state = this.readyState;
    if (state === 1) return true;
    if (state === 0) throw new Error("WebSocket is not open: readyState 0 (CONNECTING)");
    this.#bufferedAfterClose +=
      typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
    if (cb !== undefined) {
      process.nextTick(
        cb,
        new Error(`WebSocket is not open: readyState ${state} (${READY_STATES[state]})`),
      );
    }
    return false;
  }

  // --- Closing -------------------------------------------------------------

  /**
   * Starts the closing handshake. Without `code`, the close frame has no
   * code (the peer sees 1005), as in `ws`.
   *
   * @throws TypeError for a code that can't be sent; RangeError for a
   *   reason over 123 bytes.
   */
  close(code?: number, reason?: string | Buffer): void {
    const state = this.readyState;
    if (state === 3) return;
    if (state === 0) {
      this[kAbortOpen]("WebSocket was closed before the connection was established");
      return;
    }
    if (state === 2) return;
    if (code !== undefined && !isSendableCloseCode(code)) {
      throw new TypeError("First argument must be a valid error code number");
    }
    const text = reason === undefined ? "" : String(reason);
    if (Buffer.byteLength(text) > 123) {
      throw new RangeError("The message must not be greater than 123 bytes");
    }
    this.#closing = true;
    this.#connection!.close(code ?? null, code === undefined ? "" : text).catch(noop);
  }

  /** Destroys the connection at once, without a closing handshake. */
  terminate(): void {
    const state = this.readyState;
    if (state === 3) return;
    if (state === 0) {
      this[kAbortOpen]("WebSocket was closed before the connection was established");
      return;
    }
    this.#closing = true;
    this.#connection?.writer.transport.destroy();
  }

  /** Stops reading from the network; events already parsed wait for `resume()`. */
  pause(): void {
    if (this.#readyState === 0 || this.#readyState === 3) return;
    this.#paused = true;
    this.#connection?.writer.pauseReading(PAUSED_BY_USER);
  }

  /** Reads from the network again, after delivering the events that waited. */
  resume(): void {
    if (this.#readyState === 0 || this.#readyState === 3) return;
    this.#paused = false;
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      for (let i = 0; i < held.length; i++) {
        if (this.#paused) {
          // Paused again by a listener: the rest keeps waiting.
          this.#held = held.slice(i);
          return;
        }
        this.#dispatch(held[i]);
      }
    }
    this.#connection?.writer.resumeReading(PAUSED_BY_USER);
  }

  // --- Browser-style events --------------------------------------------------

  /** Adds a listener for `open`, `message`, `close` or `error`, called with an event object. */
  addEventListener(
    type: "message",
    listener: EventListenerLike<MessageEvent>,
    options?: AddEventListenerOptions,
  ): void;
  addEventListener(
    type: "close",
    listener: EventListenerLike<CloseEvent>,
    options?: AddEventListenerOptions,
  ): void;
  addEventListener(
    type: "error",
    listener: EventListenerLike<ErrorEvent>,
    options?: AddEventListenerOptions,
  ): void;
  addEventListener(
    type: "open",
    listener: EventListenerLike<Event>,
    options?: AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerLike<never>,
    options?: AddEventListenerOptions,
  ): void {
    addEventListener(this, type, listener, options);
  }

  /** Removes a listener added by `addEventListener`. */
  removeEventListener(type: string, listener: EventListenerLike<never>): void {
    removeEventListener(this, type, listener);
  }

  /** The `open` attribute listener. */
  get onopen(): ((event: Event) => void) | null {
    return getAttribute(this, "open") as ((event: Event) => void) | null;
  }
  /** Replaces the previous `open` attribute listener; `null` removes it. */
  set onopen(listener: ((event: Event) => void) | null) {
    setAttribute(this, "open", listener);
  }

  /** The `message` attribute listener. */
  get onmessage(): ((event: MessageEvent) => void) | null {
    return getAttribute(this, "message") as ((event: MessageEvent) => void) | null;
  }
  /** Replaces the previous `message` attribute listener; `null` removes it. */
  set onmessage(listener: ((event: MessageEvent) => void) | null) {
    setAttribute(this, "message", listener);
  }

  /** The `close` attribute listener. */
  get onclose(): ((event: CloseEvent) => void) | null {
    return getAttribute(this, "close") as ((event: CloseEvent) => void) | null;
  }
  /** Replaces the previous `close` attribute listener; `null` removes it. */
  set onclose(listener: ((event: CloseEvent) => void) | null) {
    setAttribute(this, "close", listener);
  }

  /** The `error` attribute listener. */
  get onerror(): ((event: ErrorEvent) => void) | null {
    return getAttribute(this, "error") as ((event: ErrorEvent) => void) | null;
  }
  /** Replaces the previous `error` attribute listener; `null` removes it. */
  set onerror(listener: ((event: ErrorEvent) => void) | null) {
    setAttribute(this, "error", listener);
  }

  // --- Frames from the connection (its EventSink) ---------------------------

  // The connection's sink: one object per connection whose methods are on
  // its prototype, rather than four closures (a cost per handshake). Nested,
  // to reach the private methods of the WebSocket it serves.
  static readonly #Sink = class implements EventSink {
    readonly #ws: WebSocket;
    constructor(ws: WebSocket) {
      this.#ws = ws;
    }
    data(frame: Frame): void {
      this.#ws.#onFrame(frame);
    }
    message(data: Buffer, binary: boolean): void {
      this.#ws.#onMessage(data, binary);
    }
    ping(payload: Buffer): void {
      this.#ws.#control("ping", payload);
    }
    pong(payload: Buffer): void {
      this.#ws.#control("pong", payload);
    }
    closed(): void {
      this.#ws.#transportClosed();
    }
  };

  #onFrame(frame: Frame): void {
    if (frame.opcode !== OP_CONT) this.#partsBinary = frame.opcode === OP_BINARY;
    if (!frame.fin) {
      if (this.#parts === null) this.#parts = [frame.data];
      else this.#parts.push(frame.data);
      return;
    }
    let parts: Buffer[];
    const previous = this.#parts;
    if (previous === null) parts = [frame.data];
    else {
      previous.push(frame.data);
      parts = previous;
      this.#parts = null;
    }
    const isBinary = this.#partsBinary;
    this.#message(isBinary ? this.#binary(parts) : concat(parts), isBinary);
  }

  /**
   * A whole message: what #onFrame() does with one frame with FIN set. The
   * parser hands these only outside a fragmented message, so no parts wait.
   */
  #onMessage(payload: Buffer, isBinary: boolean): void {
    const data = isBinary && this.#binaryType !== "nodebuffer" ? this.#binary([payload]) : payload;
    this.#message(data, isBinary);
  }

  #message(data: RawData, isBinary: boolean): void {
    if (this.#paused) this.#hold(["message", data, isBinary]);
    else this.emit("message", data, isBinary);
  }

  #binary(parts: Buffer[]): RawData {
    const type = this.#binaryType;
    if (type === "fragments") return parts;
    if (type === "blob") return new Blob(parts) as unknown as RawData;
    const data = concat(parts);
    if (type === "nodebuffer") return data;
    return data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer;
  }

  #hold(event: Held): void {
    if (this.#held === null) this.#held = [event];
    else this.#held.push(event);
  }

  #dispatch(event: Held): void {
    if (event[0] === "message") this.emit("message", event[1], event[2]);
    else this.emit(event[0], event[1]);
  }

  /** Receives a control frame's payload. @internal */
  #control(type: "ping" | "pong", payload: Buffer): void {
    if (this.#paused) this.#hold([type, payload]);
    else this.emit(type, payload);
  }

  // --- Lifecycle -------------------------------------------------------------

  /**
   * Takes an open connection: emits `open` (or calls `opened`, on the
   * server side, where `connection` listeners add theirs), then the
   * messages that arrived with the handshake. @internal
   */
  [kAttach](
    connection: Connection,
    opened?: () => void,
    tracker: ClientTracker | null = null,
  ): void {
    this.#connection = connection;
    this.#tracker = tracker;
    this.#protocol = connection.subprotocol ?? "";
    this.#extensions = extensionNames(connection);
    this.#readyState = 1;
    this[kOpening] = null;
    const early = connection[kEventSink](new WebSocket.#Sink(this));
    if (opened === undefined) this.emit("open");
    else opened();
    for (const frame of early) this.#onFrame(frame);
  }

  #transportClosed(): void {
    const connection = this.#connection!;
    const protocol = connection.protocol;
    // Why the core failed the connection, if the peer broke a rule.
    const failure = protocol.parserExc;
    const wsError = failure == null ? null : toWsError(failure);
    let code = connection.closeCode ?? 1006;
    if (wsError !== null) {
      this.#emitError(wsError);
      // ws stops reading once it fails a connection: it never sees the
      // peer's close frame, and reports 1006.
      code = 1006;
    }
    this.#wasClean = protocol.closeRcvd !== null && protocol.closeSent !== null;
    this.#readyState = 3;
    this.#held = null;
    this.#parts = null;
    this.#fragmenting = false;
    this.#tracker?.[kClientClosed](this);
    // ws passes one shared empty Buffer when there is no reason.
    const reason = connection.closeReason;
    this.emit("close", code, reason ? Buffer.from(reason) : EMPTY);
  }

  /** Emits `error` once, as `ws` does for one connection. */
  #emitError(error: Error): void {
    if (this.#errorEmitted) return;
    this.#errorEmitted = true;
    this.emit("error", error);
  }

  /**
   * The opening handshake failed: `error` (unless `null`), then `close`
   * with 1006. @internal
   */
  [kFailOpen](error: Error | null): void {
    if (this.#readyState === 3) return;
    this[kOpening] = null;
    this.#readyState = 2;
    if (error !== null) this.#emitError(error);
    this.#readyState = 3;
    this.emit("close", 1006, EMPTY);
  }

  /**
   * close() or terminate() during the handshake: aborts it, then `error`
   * and `close` on the next tick, as in `ws`. @internal
   */
  [kAbortOpen](message: string): void {
    this.#readyState = 2;
    this[kOpening]?.abort();
    process.nextTick(() => this[kFailOpen](new Error(message)));
  }

  /** Aborts the client's opening handshake. @internal */
  [kOpening]: AbortController | null = null;
}

for (const [index, name] of READY_STATES.entries()) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value: index });
}

function noop(): void {}

/**
 * `ws.extensions`: the names of the extensions negotiated, comma-separated,
 * from the protocol (both roles), not by parsing the handshake response again.
 */
function extensionNames(connection: Connection): string {
  const extensions = connection.protocol.extensions;
  return extensions.length === 0 ? "" : extensions.map((extension) => extension.name).join(",");
}

function concat(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

// Set by client.ts: opens a client connection for the constructor.
let startClient: (
  ws: WebSocket,
  address: string | URL,
  protocols: string | readonly string[] | WsClientOptions | undefined,
  options: WsClientOptions | undefined,
) => string = () => {
  throw new Error("websockets-ts/ws: the client isn't loaded");
};

/** Registers the client opener (client.ts imports this module; not the other way). @internal */
export function setClientOpener(opener: typeof startClient): void {
  startClient = opener;
}
