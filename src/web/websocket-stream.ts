/**
 * `WebSocketStream` (WICG proposal, as Chromium ships it): a WebSocket whose
 * messages are read from a `ReadableStream` and written to a
 * `WritableStream`, with backpressure both ways, on our client.
 *
 * @module
 */

import type { ClientConnection, ConnectOptions } from "../node/client.ts";
import { OPEN } from "../protocol.ts";
import { closeOutcome } from "./close-outcome.ts";
import { connectOptions, openConnection, type WebSocketExtras } from "./options.ts";
import { checkProtocols, getURLRecord } from "./url.ts";
import { isIterableObject } from "./webidl.ts";
import { validateClose, type WebSocketCloseInfo, WebSocketError } from "./websocket-error.ts";

/** Options of {@link WebSocketStream}: the proposal's, and our extras. */
export interface WebSocketStreamOptions extends WebSocketExtras {
  /** Subprotocols to offer. Default: none. */
  protocols?: Iterable<string>;
  /** Aborts the opening handshake: `opened` and `closed` reject with its reason. */
  signal?: AbortSignal;
}

/** What `opened` resolves to. */
export interface WebSocketOpenInfo {
  /** Messages received: strings for text, ArrayBuffers for binary. */
  readable: ReadableStream<string | ArrayBuffer>;
  /** Messages to send: strings as text, ArrayBuffers and views as binary. */
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  /** The extensions the server selected, or `""`. */
  extensions: string;
  /** The subprotocol the server selected, or `""`. */
  protocol: string;
}

/** What `closed` resolves to after a clean close. */
export interface WebSocketCloseResult {
  /** The close code the server sent, 1005 if none. */
  closeCode: number;
  /** The close reason the server sent, or `""`. */
  reason: string;
}

const noop = (): void => {};

/**
 * A WebSocket as streams.
 *
 * ```ts
 * const wss = new WebSocketStream("wss://example.com/chat");
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) console.log(message);
 * ```
 */
export class WebSocketStream {
  readonly #url: URL;
  readonly #opened: Promise<WebSocketOpenInfo>;
  readonly #closed: Promise<WebSocketCloseResult>;
  #resolveOpened!: (info: WebSocketOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed!: (result: WebSocketCloseResult) => void;
  #rejectClosed!: (error: unknown) => void;
  #connection: ClientConnection | null = null;
  readonly #abort = new AbortController();
  // close() (or the writable's close/abort, the readable's cancel) started the closing handshake.
  #closeCalled = false;
  // The handshake was given up: close() while connecting, or the signal.
  #failed = false;

  /**
   * Parses `url` and starts connecting.
   *
   * @throws SyntaxError DOMException for an invalid URL or subprotocol, or a
   *   repeated subprotocol.
   */
  constructor(url: string | URL, init: WebSocketStreamOptions | null = {}) {
    // biome-ignore lint/complexity/noArguments: WebIDL counts the arguments given, undefined included.
    if (arguments.length === 0) {
      throw new TypeError("WebSocketStream constructor: 1 argument required, but only 0 present");
    }
    // WebIDL dictionary: null is an empty one.
    const options = init ?? {};
    this.#url = getURLRecord(url);
    // sequence<USVString>: a string isn't one.
    if (options.protocols !== undefined && !isIterableObject(options.protocols)) {
      throw new TypeError("WebSocketStream: protocols must be a sequence of strings");
    }
    const protocols = checkProtocols(options.protocols ?? []);
    this.#opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Like a browser's: a rejection nobody awaits isn't an error.
    this.#opened.catch(noop);
    this.#closed.catch(noop);
    const signal = options.signal;
    if (signal?.aborted) {
      this.#giveUp(signal.reason);
      return;
    }
    const onAbort = (): void => this.#giveUp(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    void this.#run(options, connectOptions(options, protocols, this.#abort.signal)).finally(() =>
      signal?.removeEventListener("abort", onAbort),
    );
  }

  /** The URL, serialized, after `http:`/`https:` became `ws:`/`wss:`. */
  get url(): string {
    return this.#url.href;
  }

  /** Resolves once the connection is open; rejects if it can't be. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened;
  }

  /**
   * Resolves with the server's close code and reason after a clean close;
   * rejects with a {@link WebSocketError} (code 1006) otherwise.
   */
  get closed(): Promise<WebSocketCloseResult> {
    return this.#closed;
  }

  /**
   * Closes the connection (or gives up opening it).
   *
   * @throws InvalidAccessError DOMException for a code other than 1000 or
   *   3000-4999; SyntaxError DOMException for a reason over 123 bytes.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    // WebIDL dictionary: null is an empty one.
    const info = closeInfo ?? {};
    const close = validateClose(info.closeCode, info.reason, "WebSocketStream.close");
    if (this.#connection === null) {
      this.#giveUp(null);
      return;
    }
    this.#startClosing(close.code, close.reason);
  }

  /**
   * Gives up opening: `opened` and `closed` reject with `reason`, or, for
   * a failure (`null`), as Chromium does: `opened` with a WebSocketError
   * without code, `closed` with one with 1006.
   */
  #giveUp(reason: unknown): void {
    if (this.#failed || this.#connection !== null) return;
    this.#failed = true;
    if (reason === null) {
      this.#rejectOpened(new WebSocketError("the WebSocket connection could not be established"));
      this.#rejectClosed(WebSocketError.closedWith("the WebSocket connection failed", 1006, ""));
    } else {
      this.#rejectOpened(reason);
      this.#rejectClosed(reason);
    }
    this.#abort.abort(reason ?? new DOMException("closed while connecting", "AbortError"));
  }

  #startClosing(code: number | null, reason: string): void {
    const connection = this.#connection;
    if (connection === null || this.#closeCalled) return;
    this.#closeCalled = true;
    connection.close(code, reason).catch(noop);
  }

  /** Closes with the code of a WebSocketError given to abort() or cancel(), else without one. */
  #closeWith(reason: unknown): void {
    if (reason instanceof WebSocketError) this.#startClosing(reason.closeCode, reason.reason);
    else this.#startClosing(null, "");
  }

  async #run(init: WebSocketExtras, options: ConnectOptions): Promise<void> {
    // Not logged when close() or the signal gave up on purpose.
    const connection = await openConnection(this.#url.href, init, options, () => this.#failed);
    if (connection === null) {
      this.#giveUp(null);
      return;
    }
    if (this.#failed) {
      connection.abort();
      return;
    }
    this.#connection = connection;
    this.#resolveOpened({
      readable: this.#readable(connection),
      writable: this.#writable(connection),
      extensions: connection.response?.headers.getAll("Sec-WebSocket-Extensions").join(", ") ?? "",
      protocol: connection.subprotocol ?? "",
    });
    await connection.closed;
    // After the transport closed, any call that needs an open connection
    // rejects with how it closed (frames sent and received); pong sends nothing.
    const closedBy = await connection.pong().then(
      () => null,
      (error: unknown) => error,
    );
    const outcome = closeOutcome(closedBy, this.#closeCalled);
    if (outcome.wasClean) {
      this.#resolveClosed({ closeCode: outcome.code, reason: outcome.reason });
    } else {
      this.#rejectClosed(
        WebSocketError.closedWith(
          "the WebSocket connection closed uncleanly",
          outcome.failed ? 1006 : outcome.code,
          "",
        ),
      );
    }
  }

  #readable(connection: ClientConnection): ReadableStream<string | ArrayBuffer> {
    // Pulled one message at a time: while the stream's queue is full,
    // nobody receives, the connection's queue fills, and it stops reading
    // from the network.
    return new ReadableStream<string | ArrayBuffer>({
      pull: async (controller) => {
        let data: string | Buffer;
        try {
          data = await connection.recv();
        } catch {
          await this.#closed.then(
            () => controller.close(),
            (error: unknown) => controller.error(error),
          );
          return;
        }
        controller.enqueue(typeof data === "string" ? data : new Uint8Array(data).buffer);
      },
      cancel: (reason) => this.#closeWith(reason),
    });
  }

  #writable(connection: ClientConnection): WritableStream<string | ArrayBuffer | ArrayBufferView> {
    return new WritableStream<string | ArrayBuffer | ArrayBufferView>({
      // Resolves once the connection's write buffer is under writeLimit.
      write: async (chunk) => {
        const data = toMessage(chunk);
        if (connection.state !== OPEN) throw closedForWriting();
        try {
          await connection.send(data);
        } catch {
          // The connection closed while the message waited for the buffer to drain.
          throw closedForWriting();
        }
      },
      close: () => this.#closeWith(undefined),
      abort: (reason) => this.#closeWith(reason),
    });
  }
}

function closedForWriting(): DOMException {
  return new DOMException("Cannot write to a closed WebSocketStream", "InvalidStateError");
}

/** A chunk of the writable as a message: a string, or a copy of the bytes. */
function toMessage(chunk: unknown): string | Buffer {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof ArrayBuffer) return Buffer.from(new Uint8Array(chunk));
  if (ArrayBuffer.isView(chunk)) {
    return Buffer.from(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  throw new TypeError(
    `WebSocketStream: a chunk must be a string, an ArrayBuffer or a view, got ${Object.prototype.toString.call(chunk)}`,
  );
}
