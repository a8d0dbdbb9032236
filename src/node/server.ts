/**
 * The server: `serve()` listens on TCP, TLS or a Unix socket, or attaches to
 * an existing `http.Server`, and runs a handler for each WebSocket
 * connection.
 *
 * @module
 */

import type { Server as HttpServer, IncomingMessage } from "node:http";
import type { ServerHttp2Stream } from "node:http2";
import type { Server as HttpsServer } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import { ConnectionClosed, InvalidState } from "../errors.ts";
import type { ServerExtensionFactory } from "../extensions/base.ts";
import { enableServerPermessageDeflate } from "../extensions/permessage-deflate.ts";
import { CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR } from "../frames.ts";
import { Headers } from "../headers.ts";
import type { Request, Response } from "../http11.ts";
import { isLevelEnabled, type LoggerLike, logMessages, resolveLogger } from "../logging.ts";
import { CLOSED } from "../protocol.ts";
import { ServerProtocol, ServerProtocolConfig } from "../server.ts";
import type { Backplane } from "./backplane.ts";
import type { Address, ConnectionOptions, LogFields } from "./connection.ts";
import { handshakeChannel, traceHandshake } from "./diagnostics.ts";
import { type AnyHttp2Server, Http2Side, isHttp2Server } from "./http2-server.ts";
import { Http2ServerConnection } from "./http2-server-connection.ts";
import { protocolLogger } from "./logger-proxy.ts";
import { ConnectionSettings } from "./options.ts";
import { noop } from "./promises.ts";
import { ServerConnection, type ServerHooks } from "./server-connection.ts";
import { type PublishOptions, type SlowSubscriberAction, Topics } from "./topics.ts";
import { describeAddress } from "./transport.ts";

/** A value of the `origins` option: an exact origin, a pattern, or `null` for no `Origin` header. */
export type OriginPattern = string | RegExp | null;

/** What `processRequest` and `processResponse` may return. */
// biome-ignore lint/suspicious/noConfusingVoidType: lets `async () => {}` proceed with the handshake.
export type MaybeResponse = Response | null | undefined | void;

/** Default of {@link ServeOptions.openTimeout}. */
export const DEFAULT_OPEN_TIMEOUT = 10_000;

/** Options of {@link serve}, with their defaults. */
export interface ServeOptions<Data = unknown> extends ConnectionOptions {
  /**
   * Host to listen on; default: all interfaces (`::` or `0.0.0.0`, as
   * `net.Server.listen` does).
   */
  host?: string;
  /** TCP port to listen on; `0` picks a free port (see `server.address`). */
  port?: number;
  /** Unix socket path to listen on, instead of `host`/`port`. */
  path?: string;
  /** Serve TLS (`wss://`) with these options (`key`, `cert`, `ca`...). */
  tls?: TlsOptions;
  /**
   * Also serve WebSockets over HTTP/2 (RFC 8441) on this port: to clients
   * that pick `h2` by ALPN (with `tls`) or open with the HTTP/2 preface
   * (h2c, without). See docs/http2.md. Default: false.
   */
  http2?: boolean;
  /**
   * Attach to this existing `http.Server` or `https.Server` instead of
   * listening: WebSocket upgrade requests go to the handler, other requests
   * to the HTTP app. `server.close()` then detaches without closing it.
   * A node:http2 server works too (docs/http2.md): its extended CONNECTs
   * with `:protocol` websocket come here.
   */
  server?: HttpServer | HttpsServer | AnyHttp2Server;
  /**
   * With `server`: only handle upgrade requests for this path (query string
   * ignored), e.g. `"/ws"`; others are left to other `upgrade` listeners,
   * or answered with 404 when there are none. Default: every path.
   */
  httpPath?: string;
  /**
   * Neither listen nor attach: call `server.handleUpgrade(req, socket,
   * head)` from your own `upgrade` listener. Default: false.
   */
  noServer?: boolean;
  /**
   * Time allowed to complete the opening handshake after the TCP connection
   * is accepted (TLS included), in ms; `null` disables it. A client that
   * doesn't finish in time (slowloris) is dropped. Default: 10_000.
   */
  openTimeout?: number | null;
  /** Largest incoming message in bytes (larger ones close with 1009); `null`: no limit. Default: 1 MiB. */
  maxSize?: number | null;
  /** `"deflate"` enables permessage-deflate (RFC 7692); `null` disables it. Default: `"deflate"`. */
  compression?: "deflate" | null;
  /**
   * Accepted `Origin` header values (`null` in the list accepts requests
   * without one); others get 403. `origins: null` accepts any origin.
   * Default: any origin, with a WARN hint, once, when a browser's request
   * carries `Cookie` or `Authorization` (cross-site WebSocket hijacking).
   */
  origins?: readonly OriginPattern[] | null;
  /** Extension factories, tried in order. Default: none besides `compression`. */
  extensions?: readonly ServerExtensionFactory[] | null;
  /** Subprotocols supported, in order of preference. Default: none. */
  subprotocols?: readonly string[] | null;
  /**
   * Picks a subprotocol among those the client offered (in its order);
   * `null` for none. Default: the first of `subprotocols` the client offers.
   * A throw answers 500 and logs `opening handshake failed`.
   */
  selectSubprotocol?:
    | ((connection: ServerConnection<Data>, subprotocols: readonly string[]) => string | null)
    | null;
  /**
   * Runs when the request arrives, before the handshake. Return a response
   * (e.g. `connection.respond(401, "...")`) to answer it instead of
   * upgrading; return nothing to proceed. May be async. A throw answers 500
   * and logs `processRequest failed`. Set `connection.data` here to hand the
   * handler what you learnt (the authenticated user...).
   *
   * `incoming`: node:http's request, when the server is attached to an
   * `http.Server` (`server` option) or the request came through
   * `handleUpgrade()`; `undefined` when the server listens itself.
   */
  processRequest?:
    | ((
        connection: ServerConnection<Data>,
        request: Request,
        incoming?: IncomingMessage,
      ) => MaybeResponse | Promise<MaybeResponse>)
    | null;
  /**
   * Runs before the response is sent: modify it, or return another one.
   * May be async. A throw answers 500 and logs `processResponse failed`.
   */
  processResponse?:
    | ((
        connection: ServerConnection<Data>,
        request: Request,
        response: Response,
      ) => MaybeResponse | Promise<MaybeResponse>)
    | null;
  /**
   * Value of the `Server` response header; `null` omits it. Default:
   * `websockets-ts/<version>` (or `WEBSOCKETS_SERVER`).
   */
  serverHeader?: string | null;
  /**
   * Any pino-compatible logger; `false` or `null` disables logging.
   * Default: the built-in `websockets.server` logger (WARN and ERROR to stderr).
   */
  logger?: LoggerLike | false | null;
  /**
   * Called once a connection's handshake completes; the fields it returns
   * are added to the connection's logger (e.g. the client IP from
   * `X-Forwarded-For`).
   */
  logContext?: ((connection: ServerConnection<Data>) => LogFields | null | undefined) | null;
  /**
   * Carries topics to other processes: `clusterBackplane()` (workers of
   * `node:cluster`), `redisBackplane()` from `websockets-ts/redis`, or your
   * own {@link Backplane}. `serve()` connects it first and rejects if it
   * can't. Default: none, topics span this server only.
   */
  backplane?: Backplane | null;
  /**
   * Bytes waiting to be written to a subscriber above which `publish()`
   * doesn't write to it but applies `slowSubscriber`. Default: 1 MiB.
   */
  slowSubscriberLimit?: number;
  /**
   * What `publish()` does to a subscriber over `slowSubscriberLimit`:
   * `"close"` closes it with 1008 (it reconnects and catches up its own
   * way), `"skip"` drops the message for it. Either logs a WARN and
   * publishes on `websockets:slow_subscriber`. Default: `"close"`.
   */
  slowSubscriber?: SlowSubscriberAction;
}

/** The handler `serve()` runs for each connection. */
export type Handler<Data = unknown> = (connection: ServerConnection<Data>) => Promise<void> | void;

export { ServerConnection };

/** Options of {@link Server.close}. */
export interface CloseServerOptions {
  /**
   * Close open connections (with `code`, `reason`) and reject connections
   * still in their handshake with 503. When false, wait for handlers to
   * finish on their own. Default: true.
   */
  closeConnections?: boolean;
  /** Close code for open connections. Default: 1001 (going away). */
  code?: number;
  /** Close reason. Default: `""`. */
  reason?: string;
  /**
   * Deadline in ms for the whole shutdown: once it passes, connections
   * still open are terminated (no closing handshake, code 1006) and
   * `close()` resolves when their transports are closed, without waiting
   * for handlers that are still running (WARN `server close timed out`).
   * Default: `null`, wait for every handler, however long.
   */
  timeout?: number | null;
}

/**
 * A WebSocket server, returned by {@link serve}.
 *
 * ```ts
 * const server = await serve(handler, { host: "127.0.0.1", port: 0 });
 * console.log(server.address);  // { host: "127.0.0.1", port: 43567 }
 * await server.close();
 * ```
 */
export class Server<Data = unknown> {
  readonly #handler: Handler<Data>;
  readonly #options: ServeOptions<Data>;
  readonly #logger: LoggerLike;
  readonly #openTimeout: number | null;
  // What every connection's protocol shares, prepared once.
  readonly #protocolConfig: ServerProtocolConfig;
  // Shared by all connections (validated here, so serve() rejects bad options).
  readonly #connectionSettings: ConnectionSettings;
  // Who subscribes to what, and the backplane.
  readonly #topics: Topics;

  #netServer: NetServer | null = null;
  #httpServer: HttpServer | HttpsServer | AnyHttp2Server | null = null;
  // HTTP/2 sessions and streams, with `http2` or an attached node:http2 server.
  #http2: Http2Side | null = null;
  #address: Address | null = null;

  // Only open connections are tracked: one in its handshake is counted in
  // #running, and gets a 503 if the server closes meanwhile.
  readonly #open = new Set<ServerConnection<Data>>();
  // Connection handlers running, and what resolves when none is left.
  #running = 0;
  #idle: (() => void) | null = null;

  // What its connections may ask of the server.
  readonly #hooks: ServerHooks<Data> = {
    server: this,
    isServing: () => this.#serving,
    handshakeDone: (connection, opened) => this.#afterHandshake(connection, opened),
    handlerSettled: (connection, error, threw) => this.#afterHandler(connection, error, threw),
    closed: (connection) => {
      this.#open.delete(connection);
      this.#topics.leaveAll(connection);
    },
    topics: () => this.#topics,
  };

  #serving = true;
  #closing: Promise<void> | null = null;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const httpPath = this.#options.httpPath;
    if (httpPath !== undefined && pathname(req.url) !== httpPath) {
      // Someone else's upgrade; if nobody else listens, nobody will answer.
      if (this.#httpServer !== null && this.#httpServer.listenerCount("upgrade") <= 1) {
        refuse(socket, "404 Not Found");
      }
      return;
    }
    this.handleUpgrade(req, socket, head);
  };

  /** @internal Use {@link serve}. */
  constructor(handler: Handler<Data>, options: ServeOptions<Data>) {
    if (typeof handler !== "function") {
      throw new TypeError(`serve() expects a handler function; got ${typeof handler}`);
    }
    this.#handler = handler;
    this.#options = options;
    this.#logger = resolveLogger(options.logger, "websockets.server");
    this.#connectionSettings = new ConnectionSettings(options, this.#logger);
    this.#topics = new Topics(options, this.#logger);
    this.#openTimeout =
      options.openTimeout === undefined ? DEFAULT_OPEN_TIMEOUT : options.openTimeout;
    this.#protocolConfig = serverProtocolConfig(options as ServeOptions);
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /**
   * The address the server listens on: `{ host, port }` (the actual port
   * when `port` was 0) or `{ path }` for a Unix socket; for an attached
   * `http.Server`, its address; `null` with `noServer`.
   */
  get address(): Address | null {
    if (this.#httpServer !== null) return toAddress(this.#httpServer.address());
    return this.#address;
  }

  /**
   * The TCP port the server listens on (the one picked when `port` was 0):
   * `server.address.port` without narrowing, for the common case.
   *
   * ```ts
   * const server = await serve(handler, { host: "127.0.0.1", port: 0 });
   * const ws = await connect(`ws://127.0.0.1:${server.port}/`);
   * ```
   *
   * @throws {InvalidState} when there is no port: on a Unix socket, with
   *   `noServer`, or with an attached `http.Server` that isn't listening
   *   (read {@link Server.address} there).
   */
  get port(): number {
    const address = this.address;
    if (address !== null && "port" in address) return address.port;
    throw new InvalidState(
      `server.port: the server has no TCP port (address: ${address === null ? "none" : `Unix socket ${address.path}`}); read server.address instead`,
    );
  }

  /**
   * Connections that completed the opening handshake and aren't closed yet.
   * A live set: copy it before awaiting in a loop over it.
   */
  get connections(): ReadonlySet<ServerConnection<Data>> {
    return this.#open;
  }

  /** Resolves once the server is closed and every handler returned. Never rejects. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** The server's logger. */
  get logger(): LoggerLike {
    return this.#logger;
  }

  /**
   * Sends a message to every subscriber of `topic`: a string as text,
   * bytes as binary. Returns at once, without waiting for flow control:
   * the message is framed once and written to local subscribers now (see
   * `slowSubscriber` for those that don't keep up), then handed to the
   * backplane for other processes. Never throws for a backplane failure.
   *
   * ```ts
   * for await (const message of ws) server.publish(`room:${room}`, message, { except: ws });
   * ```
   *
   * @throws TypeError or RangeError for a bad topic, message or `except`.
   */
  publish(
    topic: string,
    data: string | ArrayBufferView | ArrayBuffer,
    options?: PublishOptions,
  ): void {
    this.#topics.publish(topic, data, options);
  }

  /** Number of this server's connections subscribed to `topic` (other processes not counted). */
  subscribers(topic: string): number {
    return this.#topics.subscribers(topic);
  }

  /** Resolves when the server is closed: `await server.serveForever()`. */
  serveForever(): Promise<void> {
    return this.#closed;
  }

  /**
   * Takes over an HTTP upgrade request from an `http.Server` you run:
   * call it from your `upgrade` listener (Express, Fastify, Koa or plain
   * `http.createServer` apps share their port this way).
   *
   * ```ts
   * httpServer.on("upgrade", (req, socket, head) => wsServer.handleUpgrade(req, socket, head));
   * ```
   *
   * `data`: the connection's initial {@link ServerConnection.data}, e.g. the
   * session your app authenticated from `req` before handing it over.
   * `processRequest` gets `req` too.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, data?: Data): void {
    this.handleRequest(requestFrom(req), socket, head, req, data);
  }

  /** {@link Server.handleUpgrade} of a request already in the protocol's form (websockets-ts/ws). @internal */
  handleRequest(parsed: Request, socket: Duplex, head: Buffer, req?: IncomingMessage, data?: Data) {
    if (!this.#serving) {
      refuse(socket, "503 Service Unavailable");
      return;
    }
    const s = socket as Partial<Socket>;
    // node:http may have set an idle timeout for HTTP; WebSocket has keepalive.
    s.setTimeout?.(0);
    const connection = this.#accept(socket, req, ServerConnection, true);
    if (data !== undefined) connection.data = data;
    connection.feedRequest(parsed, head);
    if (socket.isPaused()) socket.resume();
  }

  /**
   * Closes the server: stops accepting connections; unless
   * `closeConnections` is false, closes open connections with 1001 and
   * answers handshakes in progress with 503; waits for every handler to
   * return, or until `timeout` (then terminates what is left). Idempotent.
   * Logs `server closing` and `server closed`.
   */
  close(options: CloseServerOptions = {}): Promise<void> {
    const timeout = options.timeout;
    if (timeout != null && !(timeout >= 0 && timeout < 2 ** 31)) {
      return Promise.reject(
        new RangeError(`timeout must be a number of ms >= 0 or null; got ${String(timeout)}`),
      );
    }
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  /** `await using server = await serve(...)` closes it on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Starts listening or attaches, per the options. @internal */
  async start(): Promise<void> {
    await this.#topics.start();
    try {
      await this.#listen();
    } catch (error) {
      await this.#topics.close();
      throw error;
    }
  }

  async #listen(): Promise<void> {
    const options = this.#options;
    if (options.http2 === true && (options.noServer === true || options.server !== undefined)) {
      throw new TypeError(
        "http2: true applies to the port serve() listens on; to attach, pass a node:http2 server as server",
      );
    }
    if (options.noServer === true) return;
    if (options.server !== undefined) {
      this.#httpServer = options.server;
      options.server.on("upgrade", this.#onUpgrade);
      if (isHttp2Server(options.server)) this.#http2 = this.#http2Side(options.server);
      return;
    }
    if (options.port === undefined && options.path === undefined) {
      throw new TypeError("serve() needs a port, a Unix socket path, a server, or noServer: true");
    }
    let onSocket = (socket: Socket): void => {
      this.#accept(socket);
    };
    let netServer: NetServer;
    const http2 = options.http2 === true ? this.#http2Side() : null;
    this.#http2 = http2;
    if (options.tls !== undefined) {
      const tlsOptions: TlsOptions = { ...options.tls };
      if (http2 !== null) {
        tlsOptions.ALPNProtocols = ["h2", "http/1.1"];
        onSocket = http2.router(onSocket, false);
      }
      if (this.#openTimeout !== null && tlsOptions.handshakeTimeout === undefined) {
        tlsOptions.handshakeTimeout = this.#openTimeout;
      }
      netServer = createTlsServer(tlsOptions, onSocket);
      netServer.on("tlsClientError", (error: Error) => {
        if (isLevelEnabled(this.#logger, "debug")) {
          this.#logger.debug({ err: error }, logMessages.tlsHandshakeFailed);
        }
      });
    } else {
      if (http2 !== null) onSocket = http2.router(onSocket, this.#openTimeout);
      netServer = createNetServer({ noDelay: true }, onSocket);
    }
    this.#netServer = netServer;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      netServer.once("error", onError);
      const ready = (): void => {
        netServer.off("error", onError);
        resolve();
      };
      if (options.path !== undefined) netServer.listen(options.path, ready);
      else netServer.listen({ host: options.host, port: options.port }, ready);
    });
    // Errors after listening (EMFILE...) must not crash the process.
    netServer.on("error", (error: Error) => {
      this.#logger.error({ err: error }, logMessages.internalError);
    });
    this.#address = toAddress(netServer.address());
    const bound = netServer.address();
    if (isLevelEnabled(this.#logger, "info")) {
      this.#logger.info(
        logMessages.serverListening(
          typeof bound === "string" || bound === null
            ? bound
            : { address: bound.address, port: bound.port },
        ),
      );
    }
  }

  /** The HTTP/2 side: attached to `server`, or on our own node:http2 server. */
  #http2Side(server?: AnyHttp2Server): Http2Side {
    return new Http2Side(
      {
        logger: this.#logger,
        isServing: () => this.#serving,
        acceptStream: (stream, request) => this.#acceptStream(stream, request),
        serverHeader: () => this.#protocolConfig.serverHeader,
        httpPath: this.#options.httpPath,
      },
      server,
    );
  }

  /** An HTTP/2 stream with a well-formed request: its handshake runs as on HTTP/1.1. */
  #acceptStream(stream: ServerHttp2Stream, request: Request): void {
    this.#accept(stream, undefined, Http2ServerConnection, true).feedRequest(request);
  }

  #accept(
    socket: Duplex,
    incoming?: IncomingMessage,
    Kind: typeof ServerConnection = ServerConnection,
    parsed = false,
  ): ServerConnection<Data> {
    const options = this.#options;
    const select = options.selectSubprotocol;
    let connection: ServerConnection<Data> | null = null;
    const protocol = new ServerProtocol({
      config: this.#protocolConfig,
      logger: protocolLogger(this.#logger),
      selectSubprotocol:
        select == null ? undefined : (_protocol, subprotocols) => select(connection!, subprotocols),
    });
    connection = new Kind<Data>(
      protocol,
      socket,
      this.#logger,
      this.#hooks,
      this.#connectionSettings,
    );
    this.#running++;
    const synchronous =
      options.processRequest == null && options.processResponse == null && !handshakeTraced();
    // A request another stack parsed (`parsed`, fed right after this) is
    // answered in that call when nothing is asynchronous: an open timer
    // would be armed and cleared for nothing (a rejection that must wait
    // for the client to close has the close timer).
    connection.startHandshake(parsed && synchronous ? null : this.#openTimeout, synchronous);
    if (!synchronous) this.#run(connection, incoming);
    return connection;
  }

  /** The handshake when a hook may be asynchronous, or traced. */
  async #run(connection: ServerConnection<Data>, incoming?: IncomingMessage): Promise<void> {
    let opened = false;
    try {
      if (handshakeTraced()) {
        try {
          await traceHandshake("server", describeAddress(connection.remoteAddress), async () => {
            opened = await connection.handshake(this.#options, incoming);
            if (!opened) throw connection.handshakeFailure();
            return connection;
          });
        } catch {
          // Logged where it happened; the transport is closing.
        }
      } else {
        opened = await connection.handshake(this.#options, incoming);
      }
    } catch (error) {
      // A bug: don't leak the connection.
      opened = false;
      connection.logger.error({ err: error }, logMessages.internalError);
      connection.close(CLOSE_INTERNAL_ERROR).catch(noop);
    }
    this.#afterHandshake(connection, opened);
  }

  #afterHandshake(connection: ServerConnection<Data>, opened: boolean): void {
    connection.endHandshake();
    if (!opened) {
      this.#finish(connection);
      return;
    }
    if (connection.state !== CLOSED) this.#open.add(connection);
    let result: Promise<void> | void;
    try {
      result = this.#handler(connection);
    } catch (error) {
      this.#afterHandler(connection, error, true);
      return;
    }
    connection.followHandler(Promise.resolve(result));
  }

  async #afterHandler(
    connection: ServerConnection<Data>,
    error: unknown,
    threw: boolean,
  ): Promise<void> {
    try {
      // The connection closed under the handler (e.g. a send() after the
      // peer's close): not a failure of the handler; `connection closed`
      // tells how it closed.
      if (threw && !(error instanceof ConnectionClosed)) {
        connection.logger.error({ err: error }, logMessages.handlerFailed);
        await connection.close(CLOSE_INTERNAL_ERROR).catch(noop);
      } else {
        await connection.close().catch(noop);
      }
    } catch (bug) {
      // A bug: don't leak the connection.
      connection.logger.error({ err: bug }, logMessages.internalError);
      connection.close(CLOSE_INTERNAL_ERROR).catch(noop);
    }
    await this.#finish(connection);
  }

  async #finish(connection: ServerConnection<Data>): Promise<void> {
    await connection.closed;
    this.#running--;
    if (this.#running === 0 && this.#idle !== null) this.#idle();
  }

  /** Closes open connections unless asked not to, then waits for every handler. */
  async #settle(closeConnections: boolean, code: number, reason: string): Promise<false> {
    if (closeConnections) {
      // Connections in their handshake get a 503 when it completes (see
      // handshake()); open ones are closed.
      const closing: Promise<void>[] = [];
      for (const connection of this.#open) {
        closing.push(connection.close(code, reason).catch(noop));
      }
      await Promise.all(closing);
    }
    if (this.#running > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    return false;
  }

  async #close(options: CloseServerOptions): Promise<void> {
    const { closeConnections = true, code = CLOSE_GOING_AWAY, reason = "" } = options;
    const timeout = options.timeout ?? null;
    this.#logger.info(logMessages.serverClosing);
    this.#serving = false;
    let listenerClosed: Promise<void> = Promise.resolve();
    const netServer = this.#netServer;
    if (netServer !== null) {
      listenerClosed = new Promise((resolve) => netServer.close(() => resolve()));
    }
    if (this.#httpServer !== null) this.#httpServer.off("upgrade", this.#onUpgrade);
    this.#http2?.close();

    const settled = this.#settle(closeConnections, code, reason);
    if (timeout === null) {
      await settled;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<true>((resolve) => {
        timer = setTimeout(resolve, timeout, true);
      });
      const timedOut = await Promise.race([settled, expired]);
      clearTimeout(timer);
      if (timedOut === true) {
        const open = [...this.#open];
        this.#logger.warn(logMessages.serverCloseTimeout(open.length, this.#running));
        await Promise.all(open.map((connection) => connection.terminate()));
      }
    }
    await listenerClosed;
    await this.#topics.close();
    this.#logger.info(logMessages.serverClosed);
    this.#resolveClosed();
  }
}

/**
 * What every connection's protocol shares, from the options of `serve()`
 * (or of a route). @internal
 *
 * @throws TypeError for an unsupported `compression`.
 */
export function serverProtocolConfig(options: ServeOptions): ServerProtocolConfig {
  const extensions =
    options.compression === undefined || options.compression === "deflate"
      ? enableServerPermessageDeflate(options.extensions)
      : [...(options.extensions ?? [])];
  if (
    options.compression !== undefined &&
    options.compression !== null &&
    options.compression !== "deflate"
  ) {
    throw new TypeError(`unsupported compression: ${String(options.compression)}`);
  }
  return new ServerProtocolConfig({
    // undefined, not null: the config hints at an unset `origins`.
    origins: options.origins,
    extensions,
    subprotocols: options.subprotocols ?? null,
    maxSize: options.maxSize,
    // The config resolves the default (and the environment) once, here.
    serverHeader: options.serverHeader,
  });
}

/**
 * Chooses the handler of each connection from its request, before the
 * upgrade: what `route()` returns. `serve()` gives it the options, and
 * runs the handler and options it returns.
 */
export interface RequestRouter {
  /** Called by `serve()`: the handler and options to run in place of the router and `options`. */
  mount(options: ServeOptions): {
    /** The handler `serve()` runs for each connection, in place of the router. */
    handler: Handler;
    /** The options `serve()` uses in place of `options`. */
    options: ServeOptions;
  };
}

/**
 * Starts a WebSocket server and resolves once it listens.
 *
 * ```ts
 * const server = await serve(async (ws) => {
 *   for await (const message of ws) await ws.send(message);
 * }, { host: "127.0.0.1", port: 8765 });
 * ```
 *
 * The handler runs once per connection, after the handshake. Pass
 * `route({ ... })` instead of a handler to pick one by the request path. When it
 * returns, the connection is closed with 1000; when it throws, the error is
 * logged (`connection handler failed`) and the connection is closed with 1011.
 */
export async function serve<Data = unknown>(
  handler: Handler<Data> | RequestRouter,
  options: ServeOptions<Data> = {},
): Promise<Server<Data>> {
  // A router (see `route()`) matches each request before the upgrade.
  if (typeof handler === "object" && handler !== null && typeof handler.mount === "function") {
    const mounted = handler.mount(options as ServeOptions) as unknown as {
      handler: Handler<Data>;
      options: ServeOptions<Data>;
    };
    ({ handler, options } = mounted);
  }
  const server = new Server<Data>(handler as Handler<Data>, options);
  await server.start();
  return server;
}

/** Whether anyone listens to the handshake tracing channel (it costs a closure and a promise). */
function handshakeTraced(): boolean {
  const channel = handshakeChannel;
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  );
}

/** node:http's request as the protocol takes it, which checks it as its own parse. @internal */
export function requestFrom(req: IncomingMessage): Request {
  const version = req.httpVersion === "1.1" ? "HTTP/1.1" : `HTTP/${req.httpVersion}`;
  // A copy of the lines: the request outlives `req`, whose array the application owns.
  const headers = Headers.fromValidated(req.rawHeaders.slice());
  return { method: req.method, path: req.url ?? "/", version, headers };
}

/** Answers an upgrade request we don't take, then closes. */
function refuse(socket: Duplex, status: string): void {
  // node:http removed its error listener when it emitted 'upgrade': a reset
  // now must not crash the process.
  socket.on("error", noop);
  socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
}

/** The path of a request target, without its query string. @internal */
export function pathname(url: string | undefined): string {
  if (url === undefined) return "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

function toAddress(address: ReturnType<NetServer["address"]>): Address | null {
  if (address === null) return null;
  if (typeof address === "string") return { path: address };
  return { host: address.address, port: address.port };
}
