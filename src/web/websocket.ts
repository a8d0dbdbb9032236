/**
 * `WebSocket`, as the WHATWG WebSockets Standard defines it (§3), on our
 * client: `connect()` opens the connection, so compression, keepalive,
 * proxies from the environment, timeouts and logging all apply.
 *
 * @module
 */

import { types } from "node:util";
import type { ClientConnection, ConnectOptions } from "../node/client.ts";
import type { Data } from "../node/connection.ts";
import { CLOSED as PROTOCOL_CLOSED } from "../protocol.ts";
import { type CloseOutcome, closeOutcome, FAILED } from "./close-outcome.ts";
import { CloseEvent, type EventHandler, EventHandlers, MessageEvent } from "./events.ts";
import { connectOptions, openConnection, type WebSocketInit } from "./options.ts";
import { type Outgoing, SendQueue } from "./send-queue.ts";
import { checkProtocols, getURLRecord, syntaxError } from "./url.ts";
import { isIterableObject, toClampedUnsignedShort, toUSVString } from "./webidl.ts";

/** `binaryType`: how binary messages are exposed. */
export type BinaryType = "blob" | "arraybuffer";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// No send() waits for its bytes to drain: every send() resolves once its
// bytes are written, which is when bufferedAmount shrinks.
const WRITE_LIMIT = 0;

const noop = (): void => {};

/**
 * A WebSocket as in browsers (WHATWG WebSockets §3), on Node's own
 * `EventTarget`.
 *
 * ```ts
 * const ws = new WebSocket("wss://example.com/chat", ["chat"]);
 * ws.binaryType = "arraybuffer";
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (event) => console.log(event.data);
 * ws.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
 * ```
 *
 * The second argument may also be a {@link WebSocketInit} dictionary, as
 * with undici: `{ protocols, headers, proxy, compression, maxSize, logger, … }`.
 */
export class WebSocket extends EventTarget {
  /** The connection is being established. */
  static readonly CONNECTING = CONNECTING;
  /** The connection is open: messages can be sent. */
  static readonly OPEN = OPEN;
  /** The closing handshake started. */
  static readonly CLOSING = CLOSING;
  /** The connection is closed or couldn't be opened. */
  static readonly CLOSED = CLOSED;
  /** {@link WebSocket.CONNECTING}, on instances too. */
  declare readonly CONNECTING: 0;
  /** {@link WebSocket.OPEN}, on instances too. */
  declare readonly OPEN: 1;
  /** {@link WebSocket.CLOSING}, on instances too. */
  declare readonly CLOSING: 2;
  /** {@link WebSocket.CLOSED}, on instances too. */
  declare readonly CLOSED: 3;

  readonly #url: URL;
  #readyState: 0 | 1 | 2 | 3 = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  #connection: ClientConnection | null = null;
  readonly #abort = new AbortController();
  readonly #sends: SendQueue;
  readonly #handlers = new EventHandlers(this);
  // close() started the closing handshake (as opposed to the server, or a failure).
  #closeCalled = false;
  // §3.2 "fail the WebSocket connection" was required: `error` comes before `close`.
  #failed = false;

  /**
   * Parses `url` and starts connecting (§3.1).
   *
   * @param url - `ws:`, `wss:`, `http:` or `https:` URL, without fragment.
   * @param protocols - A subprotocol, a list of them, or a {@link WebSocketInit}.
   * @throws SyntaxError DOMException for an invalid URL or subprotocol, or a
   *   repeated subprotocol.
   */
  constructor(url: string | URL, protocols: string | Iterable<string> | WebSocketInit = []) {
    super();
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments given, undefined included.
    if (arguments.length === 0) {
      throw new TypeError("WebSocket constructor: 1 argument required, but only 0 present");
    }
    const record = getURLRecord(url);
    let init: WebSocketInit = {};
    let list: string[];
    if (typeof protocols === "object" && protocols !== null && !isIterableObject(protocols)) {
      init = protocols as WebSocketInit;
      list = checkProtocols(init.protocols);
    } else {
      list = checkProtocols(protocols);
    }
    this.#url = record;
    this.#sends = new SendQueue({
      send: (data) => this.#connection!.send(data),
      transportOpen: () => this.#connection!.state !== PROTOCOL_CLOSED,
      fail: () => this.#fail(),
    });
    void this.#run(init, connectOptions(init, list, this.#abort.signal, WRITE_LIMIT));
  }

  /** The URL, serialized, after `http:`/`https:` became `ws:`/`wss:`. */
  get url(): string {
    return this.#url.href;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#readyState;
  }

  /** Bytes given to `send()` and not yet written; it never shrinks once the connection is closed. */
  get bufferedAmount(): number {
    return this.#sends.buffered;
  }

  /** The extensions the server selected (its `Sec-WebSocket-Extensions`), `""` until open. */
  get extensions(): string {
    return this.#extensions;
  }

  /** The subprotocol the server selected, `""` until open or if none. */
  get protocol(): string {
    return this.#protocol;
  }

  /** How binary messages are exposed in `message` events: `"blob"` (default) or `"arraybuffer"`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  /** Other values are ignored, as for any WebIDL enumeration attribute. */
  set binaryType(value: BinaryType) {
    // WebIDL enumeration attribute: other strings are ignored.
    const type = toUSVString(value);
    if (type === "blob" || type === "arraybuffer") this.#binaryType = type;
  }

  /** `open` event handler. */
  get onopen(): EventHandler {
    return this.#handlers.get("open");
  }

  /** `null` or a non-object removes the `open` handler; a new function keeps its listener's place. */
  set onopen(value: EventHandler) {
    this.#handlers.set("open", value);
  }

  /** `message` event handler. */
  get onmessage(): EventHandler<MessageEvent> {
    return this.#handlers.get("message");
  }

  /** `null` or a non-object removes the `message` handler; a new function keeps its listener's place. */
  set onmessage(value: EventHandler<MessageEvent>) {
    this.#handlers.set("message", value);
  }

  /** `error` event handler. */
  get onerror(): EventHandler {
    return this.#handlers.get("error");
  }

  /** `null` or a non-object removes the `error` handler; a new function keeps its listener's place. */
  set onerror(value: EventHandler) {
    this.#handlers.set("error", value);
  }

  /** `close` event handler. */
  get onclose(): EventHandler<CloseEvent> {
    return this.#handlers.get("close");
  }

  /** `null` or a non-object removes the `close` handler; a new function keeps its listener's place. */
  set onclose(value: EventHandler<CloseEvent>) {
    this.#handlers.set("close", value);
  }

  /**
   * Sends a message (§3.3): a string as text; an ArrayBuffer, a view or a
   * Blob as binary. Messages go out in order, even after a Blob that must
   * be read first. Once the closing handshake started, nothing is sent but
   * `bufferedAmount` still grows.
   *
   * @throws InvalidStateError DOMException while CONNECTING.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments given, undefined included.
    if (arguments.length === 0) {
      throw new TypeError("WebSocket.send: 1 argument required, but only 0 present");
    }
    // WebIDL union (BufferSource or Blob or USVString), converted before step 1.
    let payload: Outgoing | Blob;
    let size: number;
    if (types.isArrayBuffer(data)) {
      // A copy: the message is what the buffer held at the time of the call.
      payload = Buffer.from(new Uint8Array(data));
      size = payload.length;
    } else if (ArrayBuffer.isView(data)) {
      if (types.isSharedArrayBuffer(data.buffer)) {
        throw new TypeError("WebSocket.send: a view on a SharedArrayBuffer is not allowed");
      }
      payload = Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      size = payload.length;
    } else if (data instanceof Blob) {
      payload = data;
      size = data.size;
    } else {
      payload = toUSVString(data);
      size = Buffer.byteLength(payload);
    }
    if (this.#readyState === CONNECTING) {
      throw new DOMException(
        "WebSocket.send: still CONNECTING; wait for the open event",
        "InvalidStateError",
      );
    }
    if (this.#readyState === OPEN) this.#sends.push(payload, size);
    else this.#sends.count(size);
  }

  /**
   * Starts the closing handshake (§3.2), after the messages already sent;
   * while CONNECTING, fails the connection (`error`, then `close` with 1006).
   *
   * @param code - 1000 or 3000-4999. Without it, the close frame has no code
   *   (the server sees 1005), or 1000 if there's a reason.
   * @param reason - Up to 123 bytes of UTF-8.
   * @throws InvalidAccessError DOMException for another code; SyntaxError
   *   DOMException for a longer reason.
   */
  close(code: number | undefined = undefined, reason: string | undefined = undefined): void {
    let closeCode = code === undefined ? null : toClampedUnsignedShort(code, "WebSocket.close");
    const closeReason = reason === undefined ? null : toUSVString(reason);
    if (closeCode !== null && closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
      throw new DOMException(
        `WebSocket.close: the code must be 1000 or in 3000-4999, got ${closeCode}`,
        "InvalidAccessError",
      );
    }
    if (closeReason !== null) {
      const length = Buffer.byteLength(closeReason);
      if (length > 123) {
        throw syntaxError(`WebSocket.close: the reason must be at most 123 bytes, got ${length}`);
      }
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#fail();
      return;
    }
    this.#readyState = CLOSING;
    this.#closeCalled = true;
    if (closeCode === null && closeReason !== null) closeCode = 1000;
    const connection = this.#connection!;
    this.#sends.after(() => {
      connection.close(closeCode, closeReason ?? "").catch(noop);
    });
  }

  /** §3.2 "fail the WebSocket connection": `error`, then `close` with 1006. */
  #fail(): void {
    this.#failed = true;
    if (!this.#abort.signal.aborted) {
      this.#abort.abort(new DOMException("the WebSocket connection failed", "AbortError"));
    }
    this.#connection?.abort();
  }

  async #run(init: WebSocketInit, options: ConnectOptions): Promise<void> {
    const connection = await openConnection(this.#url.href, init, options, () => this.#failed);
    if (connection === null) {
      // §3.2: the connection couldn't be established: fail it.
      this.#failed = true;
      queueTask(() => this.#closed(FAILED));
      return;
    }
    this.#connection = connection;
    // close() ran while connect() was resolving.
    if (this.#failed) connection.abort();
    else queueTask(() => this.#opened(connection));

    let closedBy: unknown;
    for (;;) {
      try {
        const data = await connection.recv();
        queueTask(() => this.#message(data));
      } catch (error) {
        closedBy = error;
        break;
      }
    }
    await connection.closed;
    const outcome = this.#failed ? FAILED : closeOutcome(closedBy, this.#closeCalled);
    queueTask(() => this.#closed(outcome));
  }

  /** §3.4 "when the WebSocket connection is established". */
  #opened(connection: ClientConnection): void {
    if (this.#readyState !== CONNECTING) return;
    this.#readyState = OPEN;
    const headers = connection.response?.headers;
    this.#extensions = headers?.getAll("Sec-WebSocket-Extensions").join(", ") ?? "";
    this.#protocol = connection.subprotocol ?? "";
    this.dispatchEvent(new Event("open"));
  }

  /** §3.4 "when a WebSocket message has been received". */
  #message(data: Data): void {
    if (this.#readyState !== OPEN) return;
    let value: string | Blob | ArrayBuffer;
    if (typeof data === "string") value = data;
    else if (this.#binaryType === "blob") value = new Blob([data]);
    else value = new Uint8Array(data).buffer;
    this.dispatchEvent(new MessageEvent("message", { data: value, origin: this.#url.origin }));
  }

  /** §3.4 "when the WebSocket connection is closed, possibly cleanly". */
  #closed(outcome: CloseOutcome): void {
    this.#readyState = CLOSED;
    if (outcome.failed || this.#failed) {
      this.dispatchEvent(new Event("error"));
      this.dispatchEvent(new CloseEvent("close", { wasClean: false, code: 1006, reason: "" }));
      return;
    }
    const { wasClean, code, reason } = outcome;
    this.dispatchEvent(new CloseEvent("close", { wasClean, code, reason }));
  }
}

// WebIDL: constants are read-only and enumerable on the interface and its
// prototype; attributes are enumerable accessors.
const constants = { CONNECTING, OPEN, CLOSING, CLOSED };
for (const [name, value] of Object.entries(constants)) {
  const descriptor = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(WebSocket, name, descriptor);
  Object.defineProperty(WebSocket.prototype, name, descriptor);
}
for (const name of Object.getOwnPropertyNames(WebSocket.prototype)) {
  if (name !== "constructor")
    Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, {
  value: "WebSocket",
  configurable: true,
});

/** A task (HTML event loop): the events of one socket fire in order, each in its own task. */
function queueTask(task: () => void): void {
  setImmediate(task);
}
