/**
 * `ServerConnection`: a connection accepted by a {@link Server}, and its
 * side of the opening handshake (the request, the hooks, the 101 or the
 * rejection). {@link ServerHooks} is the seam with its server.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { InvalidHandshake } from "../errors.ts";
import { CLOSE_INTERNAL_ERROR } from "../frames.ts";
import type { Request, Response } from "../http11.ts";
import { isLevelEnabled, type LoggerLike, logMessages } from "../logging.ts";
import { CONNECTING } from "../protocol.ts";
import type { ServerProtocol, ServerProtocolConfig } from "../server.ts";
import { Connection } from "./connection.ts";
import type { ConnectionSettings } from "./options.ts";
import { noop } from "./promises.ts";
import type { ServeOptions, Server } from "./server.ts";
import type { Topics } from "./topics.ts";

/**
 * What a {@link ServerConnection} asks of its {@link Server}: the seam
 * between them, one record per server, shared by its connections.
 *
 * @internal
 */
export interface ServerHooks<Data = unknown> {
  readonly server: Server<Data>;
  /** Whether the server still accepts connections (else a 101 becomes a 503). */
  isServing(): boolean;
  /** The handshake is over; `opened`: the connection is OPEN and its handler may run. */
  handshakeDone(connection: ServerConnection<Data>, opened: boolean): void;
  /** The handler returned (`threw`: false) or threw `error`. */
  handlerSettled(connection: ServerConnection<Data>, error: unknown, threw: boolean): Promise<void>;
  /** The connection closed: the server forgets it (and it leaves its topics). */
  closed(connection: ServerConnection<Data>): void;
  /** The server's topics, for `subscribe()` and friends. */
  topics(): Topics;
}

// Per-connection `data`, for the connections that have any: a field would
// cost every idle connection 8 bytes (docs/performance.md, "Memory layout").
const connectionData = new WeakMap<object, unknown>();

const FAILED_HANDSHAKE_BODY =
  "Failed to open a WebSocket connection.\nSee server log for more information.\n";

/**
 * A WebSocket connection accepted by a {@link Server}. `Data` is the type
 * of {@link ServerConnection.data}, set by `serve<Data>()`.
 */
export class ServerConnection<Data = unknown> extends Connection<ServerProtocol> {
  readonly #hooks: ServerHooks<Data>;
  /** The user name authenticated by `basicAuth()`, else `null`. */
  username: string | null = null;

  // Where the request goes once parsed (`null` when it was taken, or
  // before the handshake starts): the resolve function of the promise
  // `handshake()` awaits when a hook may be async, or `#finishNow`, which
  // completes the handshake at once.
  #requestReceived: ((this: ServerConnection<Data>, request: Request | null) => void) | null = null;

  /** @internal */
  constructor(
    protocol: ServerProtocol,
    socket: Duplex,
    logger: LoggerLike,
    hooks: ServerHooks<Data>,
    settings: ConnectionSettings,
  ) {
    super(protocol, socket, logger, settings);
    this.#hooks = hooks;
  }

  /**
   * The server that accepted this connection: a handler reaches the other
   * connections through `ws.server.connections`, e.g. to broadcast.
   */
  get server(): Server<Data> {
    return this.#hooks.server;
  }

  /**
   * What the application attached to this connection, typically in
   * `processRequest` (the authenticated user...) or passed to
   * `handleUpgrade()`, for the handler to read; typed by `serve<Data>()`.
   * `undefined` until set.
   */
  get data(): Data {
    return connectionData.get(this) as Data;
  }

  /** Attaches a value to this connection, replacing the previous one. */
  set data(value: Data) {
    connectionData.set(this, value);
  }

  /**
   * The opening handshake's request. Never `null` where the application
   * sees the connection: in the hooks (`processRequest`...) and the handler,
   * the request has been received.
   */
  override get request(): Request {
    return this.protocol.request as Request;
  }

  /**
   * Subscribes to `topic`: messages `server.publish()`es to it reach this
   * connection, in publish order and in call order with `send()`.
   * Subscribing twice delivers once. Resolves once the subscription is
   * live on the server's backplane (at once without one); never rejects
   * for a backplane failure, which is logged and retried. A closed
   * connection can't subscribe (it's a no-op).
   *
   * ```ts
   * await ws.subscribe(`room:${room}`);
   * ```
   *
   * @throws TypeError unless `topic` is a string; RangeError when it's
   *   empty or over 1 KiB in UTF-8.
   */
  subscribe(topic: string): Promise<void> {
    return this.#hooks.topics().subscribe(this, topic);
  }

  /** Unsubscribes from `topic`; a topic not subscribed to is a no-op. */
  unsubscribe(topic: string): void {
    this.#hooks.topics().unsubscribe(this, topic);
  }

  /** The topics this connection subscribes to; empty once it's closed. */
  get topics(): ReadonlySet<string> {
    return this.#hooks.topics().topicsOf(this);
  }

  /** @internal */
  protected override transportClosed(): void {
    this.#resolveRequest(null);
    this.#hooks.closed(this);
  }

  /**
   * A plain-text HTTP response, for `processRequest` or `processResponse`
   * to answer instead of upgrading; modify its headers as needed.
   */
  respond(status: number, text: string): Response {
    return this.protocol.reject(status, text);
  }

  /**
   * Gives this connection the protocol options of the route its request
   * matched, before the handshake response. @internal
   */
  useProtocolConfig(config: ServerProtocolConfig): void {
    this.protocol.useConfig(config);
  }

  /** @internal */
  protected override handshakeEvent(event: Request | Response): void {
    if ("path" in event) this.#resolveRequest(event);
  }

  #resolveRequest(request: Request | null): void {
    const received = this.#requestReceived;
    if (received === null) return;
    this.#requestReceived = null;
    received.call(this, request);
  }

  /**
   * Starts the handshake: the open timer, and how the request is handled.
   * Without hooks or tracing, nothing can be asynchronous: the response goes
   * out in the turn that parsed the request, then the server starts the
   * handler, with no promise or suspended function per connection in
   * between. @internal
   */
  startHandshake(openTimeout: number | null, synchronous: boolean): void {
    if (openTimeout !== null) this.startOpenTimer(openTimeout);
    // A private method is one function shared by all instances: no closure.
    if (synchronous) this.#requestReceived = this.#finishNow;
  }

  /** The handshake is over, whatever its outcome. @internal */
  endHandshake(): void {
    this.stopOpenTimer();
  }

  /** @internal */
  override openTimedOut(): void {
    if (this.state !== CONNECTING) return;
    if (this.debug) this.logger.debug(logMessages.openTimeout);
    this.close().catch(noop);
  }

  #finishNow(request: Request | null): void {
    let opened = false;
    try {
      const protocol = this.protocol;
      if (request === null || !protocol.awaitingResponse) opened = this.#noRequest();
      else opened = this.#respond(this.#acceptRequest(request), false);
    } catch (error) {
      // A bug: don't leak the connection.
      opened = false;
      this.logger.error({ err: error }, logMessages.internalError);
      this.close(CLOSE_INTERNAL_ERROR).catch(noop);
    }
    this.#hooks.handshakeDone(this, opened);
  }

  /**
   * Follows the handler's promise until it settles, then closes the
   * connection. Bound methods rather than an async function awaiting it:
   * the handler usually runs as long as the connection, and an awaiting
   * function keeps a generator, its registers and closures per connection.
   * (Methods, not plain functions: under tsx, binding a function whose name
   * was defined by the transpiler leaves V8's fast path.) @internal
   */
  followHandler(result: Promise<void>): void {
    result.then(this.#handlerReturned.bind(this), this.#handlerThrew.bind(this));
  }

  #handlerReturned(): Promise<void> {
    return this.#hooks.handlerSettled(this, undefined, false);
  }

  #handlerThrew(error: unknown): Promise<void> {
    return this.#hooks.handlerSettled(this, error, true);
  }

  /** Feeds bytes as if read from the socket (a request parsed elsewhere). @internal */
  feed(data: Buffer): void {
    this.receive(data);
  }

  /**
   * Hands the protocol a request another HTTP stack parsed: node:http's
   * (`rest`: the bytes read after it), or an HTTP/2 stream's (RFC 8441).
   * @internal
   */
  feedRequest(request: Request, rest?: Buffer): void {
    const protocol = this.protocol;
    protocol.receiveRequest(request);
    if (rest !== undefined && rest.length > 0) protocol.receiveData(rest);
    this.processEvents();
  }

  /**
   * Sends the response head where the protocol doesn't write it in its
   * bytes: an HTTP/2 stream's header block. Nothing on HTTP/1.1. `false`
   * when the transport can't carry the answer (it is being reset): the
   * client sees no response, so the connection mustn't open. @internal
   */
  protected sendResponseHead(_response: Response): boolean {
    // HTTP/1.1: the head is in the protocol's bytes.
    return true;
  }

  /** Why the handshake failed. @internal */
  handshakeFailure(): Error {
    return (
      this.transportError ??
      this.protocol.handshakeExc ??
      new InvalidHandshake("connection closed during the opening handshake")
    );
  }

  /**
   * Runs the opening handshake; resolves to whether the connection is OPEN.
   * @internal
   */
  async handshake(options: ServeOptions<Data>, incoming?: IncomingMessage): Promise<boolean> {
    const request = await new Promise<Request | null>((resolve) => {
      this.#requestReceived = resolve;
    });
    const protocol = this.protocol;
    // After each hook too: the client may have made the handshake fail
    // meanwhile (closed, or sent too much after its request).
    if (request === null || !protocol.awaitingResponse) return this.#noRequest();

    let response: Response | null = null;
    let fromProcessRequest = false;
    if (options.processRequest != null) {
      try {
        response = (await options.processRequest(this, request, incoming)) ?? null;
        fromProcessRequest = response !== null;
      } catch (error) {
        protocol.handshakeExc = error instanceof Error ? error : new Error(String(error));
        this.logger.error({ err: error }, logMessages.processRequestFailed);
        response = protocol.reject(500, FAILED_HANDSHAKE_BODY);
      }
      if (!protocol.awaitingResponse) return this.#noRequest();
    }
    if (response === null) response = this.#acceptRequest(request);
    if (options.processResponse != null) {
      try {
        const replacement = await options.processResponse(this, request, response);
        if (replacement != null) response = replacement;
      } catch (error) {
        protocol.handshakeExc = error instanceof Error ? error : new Error(String(error));
        this.logger.error({ err: error }, logMessages.processResponseFailed);
        response = protocol.reject(500, FAILED_HANDSHAKE_BODY);
        fromProcessRequest = false;
      }
      if (!protocol.awaitingResponse) return this.#noRequest();
    }
    return this.#respond(response, fromProcessRequest);
  }

  /**
   * No request to answer: the client left, sent a request the protocol
   * answered with an error status by itself (400, 414, 431), logged like
   * other rejections, or sent too much after its request.
   */
  #noRequest(): false {
    const answered = this.protocol.response;
    if (answered !== null && answered.status !== 101) this.#logAnswer(answered, false);
    this.checkCloseExpected();
    return false;
  }

  /** The protocol's answer to the request: a 101, or why not; a 500 if accepting failed. */
  #acceptRequest(request: Request): Response {
    const protocol = this.protocol;
    try {
      return protocol.accept(request);
    } catch (error) {
      protocol.handshakeExc = error instanceof Error ? error : new Error(String(error));
      this.logger.error({ err: error }, logMessages.handshakeFailed);
      return protocol.reject(500, FAILED_HANDSHAKE_BODY);
    }
  }

  /** Sends the response; resolves to whether the connection is OPEN. */
  #respond(response: Response, fromProcessRequest: boolean): boolean {
    const protocol = this.protocol;
    // Checked after the last await, so a server that started closing
    // meanwhile can't gain a connection.
    if (protocol.isAcceptance(response) && !this.#hooks.isServing()) {
      response = protocol.reject(503, "Server is shutting down.\n");
    }
    if (!this.sendResponseHead(response)) return false;
    protocol.sendResponse(response);
    if (protocol.isAcceptance(response)) {
      // Open even if frames that came with the request (a close...) were
      // parsed already: they're processed after `connection open`.
      this.opened();
      this.processEvents();
      return true;
    }
    this.sendData();
    this.#logAnswer(response, fromProcessRequest);
    this.flush();
    this.checkCloseExpected();
    return false;
  }

  /** INFO `HTTP response sent (…)` or `connection rejected (…)`, formatted only when INFO is on. */
  #logAnswer(response: Response, fromProcessRequest: boolean): void {
    const logger = this.logger;
    if (!isLevelEnabled(logger, "info")) return;
    const { status, reason } = response;
    logger.info(
      fromProcessRequest
        ? logMessages.httpResponseSent(status, reason)
        : logMessages.connectionRejected(status, reason),
    );
  }
}
