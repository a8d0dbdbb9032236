/**
 * `WebSocketServer` of `websockets-ts/ws`: `ws` 8's server API over the
 * core's `Server`. The core runs the handshake (in its `noServer` mode);
 * this class adds what `ws` users rely on around it: the HTTP server it
 * creates for `port`, `shouldHandle`, the checks that raise
 * `wsClientError`, `verifyClient`, `handleProtocols`, the `headers` event,
 * `clients`, and `ws`'s way of closing.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import {
  type Server as HttpServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  STATUS_CODES,
} from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import { decodedBase64Length, type Headers, parseSubprotocol } from "../headers.ts";
import type { Request, Response } from "../http11.ts";
import type { LoggerLike } from "../logging.ts";
import {
  DEFAULT_OPEN_TIMEOUT,
  type MaybeResponse,
  pathname,
  requestFrom,
  type ServeOptions,
  Server,
  type ServerConnection,
} from "../node/server.ts";
import { WS_DEFAULT_MAX_PAYLOAD } from "./client.ts";
import { incomingMessage, PortListener } from "./listener.ts";
import { kAttach, kClientClosed, WebSocket } from "./websocket.ts";

/** What `verifyClient` gets. */
export interface VerifyClientInfo {
  /** The `Origin` header, if any. */
  origin: string | undefined;
  /** Whether the connection is TLS. */
  secure: boolean;
  /** The upgrade request. */
  req: IncomingMessage;
}

/** The callback of an asynchronous `verifyClient`. */
export type VerifyClientCallback = (
  verified: boolean,
  code?: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
) => void;

/** Options of `new WebSocketServer(options)`, as in `ws`, plus a few of ours. */
export interface WsServerOptions {
  /** Port to listen on, with an HTTP server created for it (0: any free port). */
  port?: number;
  /** Host to listen on, with `port`. */
  host?: string;
  /** `listen()` backlog, with `port`. */
  backlog?: number;
  /** An HTTP(S) server to take upgrade requests from. */
  server?: HttpServer | HttpsServer;
  /** Neither listen nor attach: call `handleUpgrade()` yourself. */
  noServer?: boolean;
  /** Only accept upgrades to this path (query string ignored). */
  path?: string;
  /** Accepts or refuses a client: synchronous `(info) => boolean`, or `(info, cb)`. */
  verifyClient?:
    | ((info: VerifyClientInfo) => boolean)
    | ((info: VerifyClientInfo, callback: VerifyClientCallback) => void);
  /** Picks a subprotocol among those offered (a Set); `false` for none. Default: the first offered. */
  handleProtocols?: (protocols: Set<string>, request: IncomingMessage) => string | false;
  /** Negotiate permessage-deflate (with the core's parameters). Default: `false`, as in ws. */
  perMessageDeflate?: boolean | Record<string, unknown>;
  /** Largest message accepted, in bytes; `0`: no limit. Default: 100 MiB, as in ws. */
  maxPayload?: number;
  /** Keep the open connections in `clients`. Default: `true`. */
  clientTracking?: boolean;
  /** Time allowed for the closing handshake, in ms. Default: 10_000 (ws: 30_000). */
  closeTimeout?: number;
  /** Interval between keepalive pings, in ms; `null` disables keepalive. Default: 20_000. */
  pingInterval?: number | null;
  /** Time allowed for a keepalive pong, in ms. Default: 20_000. */
  pingTimeout?: number | null;
  /** Time allowed for the opening handshake, in ms; `null`: none. Default: 10_000. */
  openTimeout?: number | null;
  /** A pino-compatible logger. Default: none (ws logs nothing). */
  logger?: LoggerLike | false | null;
}

/** Events of a `WebSocketServer`, with their arguments, as in `ws`. */
export interface WebSocketServerEvents {
  /** A handshake completed: the open `WebSocket` and the HTTP upgrade request. */
  connection: [socket: WebSocket, request: IncomingMessage];
  /** Before the 101 response is sent: its status line and headers, to which listeners may push lines. */
  headers: [headers: string[], request: IncomingMessage];
  /** The HTTP server this server listens with emitted an error. */
  error: [error: Error];
  /** The HTTP server this server listens with is listening. */
  listening: [];
  /** The server closed. */
  close: [];
  /** An invalid upgrade request: a listener answers on `socket` itself, instead of the automatic 400 or 405. */
  wsClientError: [error: Error, socket: Duplex, request: IncomingMessage];
  /** EventEmitter's own, named here because the map types every event. */
  newListener: [eventName: string | symbol, listener: (...args: unknown[]) => void];
  /** EventEmitter's own, named here because the map types every event. */
  removeListener: [eventName: string | symbol, listener: (...args: unknown[]) => void];
}

/** An upgrade in progress, found again by its socket when the core calls back. */
interface Upgrade {
  // node:http's request; or, from our own listener, built from `request`
  // when first needed (see #request()).
  req: IncomingMessage | null;
  // As the core takes it: parsed by our listener, or read from `req`.
  readonly request: Request;
  readonly cb: (ws: WebSocket, req: IncomingMessage) => void;
}

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

/**
 * A WebSocket server with `ws` 8's API: `import { WebSocketServer } from "websockets-ts/ws"`.
 *
 * ```ts
 * const wss = new WebSocketServer({ port: 8080 });
 * wss.on("connection", (ws, req) => {
 *   ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
 * });
 * ```
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** The open connections, unless `clientTracking` is false. */
  readonly clients: Set<WebSocket>;
  /** The options, with their defaults. */
  readonly options: Readonly<WsServerOptions>;
  /** The `path` option, or `""`: `@types/ws` declares it, though `ws` 8 never sets it. */
  readonly path: string;

  readonly #core: Server;
  // The server upgrade requests come from: the application's (`server`),
  // or our own listener's (`port`).
  #httpServer: HttpServer | HttpsServer | NetServer | null = null;
  #listener: PortListener | null = null;
  #removeListeners: (() => void) | null = null;
  #state = RUNNING;
  #emitCloseWhenEmpty = false;

  /**
   * @param callback - Called once listening, with `port`.
   * @throws TypeError unless exactly one of `port`, `server` and `noServer` is given.
   */
  constructor(options: WsServerOptions, callback?: () => void) {
    super();
    const opts: WsServerOptions = { clientTracking: true, ...options };
    const modes =
      Number(opts.port != null) + Number(opts.server != null) + Number(opts.noServer === true);
    if (modes !== 1) {
      throw new TypeError(
        'One and only one of the "port", "server", or "noServer" options must be specified',
      );
    }
    this.options = opts;
    this.path = opts.path ?? "";
    // A set even without tracking keeps `clients` typed as ws users read it;
    // ws leaves it undefined then, and so does this class.
    this.clients = (opts.clientTracking ? new Set() : undefined) as Set<WebSocket>;
    // Hooks make the core's handshake asynchronous (a promise or two per
    // connection): each is set only while it has work, `processResponse`
    // while `headers` has listeners (the core reads it per connection).
    const coreOptions: ServeOptions = {
      noServer: true,
      compression: opts.perMessageDeflate ? "deflate" : null,
      maxSize: opts.maxPayload === 0 ? null : (opts.maxPayload ?? WS_DEFAULT_MAX_PAYLOAD),
      serverHeader: null,
      logger: opts.logger ?? false,
      closeTimeout: opts.closeTimeout,
      pingInterval: opts.pingInterval,
      pingTimeout: opts.pingTimeout,
      openTimeout: opts.openTimeout,
      processRequest:
        opts.verifyClient === undefined ? null : (connection) => this.#verify(connection),
      selectSubprotocol: (connection, offered) => this.#selectSubprotocol(connection, offered),
    };
    const processResponse: ServeOptions["processResponse"] = (connection, _request, response) =>
      this.#headers(connection, response);
    // 'newListener' comes before the listener is added, 'removeListener'
    // after it is removed.
    this.on("newListener", (event: string | symbol) => {
      if (event === "headers") coreOptions.processResponse = processResponse;
    });
    this.on("removeListener", (event: string | symbol) => {
      if (event === "headers" && this.listenerCount("headers") === 0) {
        coreOptions.processResponse = null;
      }
    });
    this.#core = new Server((connection) => this.#opened(connection), coreOptions);

    const emitConnection = (ws: WebSocket, req: IncomingMessage): boolean =>
      this.emit("connection", ws, req);
    const onUpgrade = (
      req: IncomingMessage | null,
      socket: Duplex,
      head: Buffer,
      parsed?: Request,
    ): void => {
      this.#handleUpgrade(req, socket, head, emitConnection, parsed ?? null);
    };
    if (opts.port != null) {
      // Our own listener, as serve({ port }) has (see listener.ts).
      const listener = new PortListener({
        upgrade: onUpgrade,
        openTimeout: opts.openTimeout === undefined ? DEFAULT_OPEN_TIMEOUT : opts.openTimeout,
      });
      this.#listener = listener;
      this.#httpServer = listener.server;
      listener.server.listen(opts.port, opts.host, opts.backlog, callback);
    } else if (opts.server != null) {
      this.#httpServer = opts.server;
    }
    const server = this.#httpServer;
    if (server !== null) {
      const onListening = (): boolean => this.emit("listening");
      const onError = (error: Error): boolean => this.emit("error", error);
      server.on("listening", onListening);
      server.on("error", onError);
      if (this.#listener === null) server.on("upgrade", onUpgrade);
      this.#removeListeners = () => {
        server.removeListener("listening", onListening);
        server.removeListener("error", onError);
        server.removeListener("upgrade", onUpgrade);
      };
    }
  }

  /**
   * The address of the HTTP server: `AddressInfo`, a pipe name, or `null`.
   *
   * @throws Error in `noServer` mode.
   */
  address(): AddressInfo | string | null {
    if (this.options.noServer === true) {
      throw new Error('The server is operating in "noServer" mode');
    }
    return this.#httpServer === null ? null : this.#httpServer.address();
  }

  /**
   * Stops accepting connections; open ones are not closed (as in `ws` 8).
   * `close` is emitted once the server is closed and, without an internal
   * HTTP server, the last tracked client is gone.
   */
  close(cb?: (error?: Error) => void): void {
    if (this.#state === CLOSED) {
      if (cb !== undefined) this.once("close", () => cb(new Error("The server is not running")));
      process.nextTick(() => this.#emitClose());
      return;
    }
    if (cb !== undefined) this.once("close", cb);
    if (this.#state === CLOSING) return;
    this.#state = CLOSING;
    this.#removeListeners?.();
    this.#removeListeners = null;
    this.#httpServer = null;
    const listener = this.#listener;
    if (listener !== null) {
      this.#listener = null;
      listener.close(() => this.#emitClose());
    } else if (this.clients !== undefined && this.clients.size > 0) {
      this.#emitCloseWhenEmpty = true;
    } else {
      process.nextTick(() => this.#emitClose());
    }
  }

  #emitClose(): void {
    this.#state = CLOSED;
    this.#core.close({ closeConnections: false }).catch(noop);
    this.emit("close");
  }

  /** Whether this server takes `req`: its path matches the `path` option. */
  shouldHandle(req: IncomingMessage): boolean {
    return this.#handlesPath(req.url ?? "/");
  }

  #handlesPath(url: string): boolean {
    const path = this.options.path;
    if (path === undefined || path === "") return true;
    return pathname(url) === path;
  }

  /**
   * Runs the opening handshake of an upgrade request; `cb(ws, req)` once
   * the connection is open. A bad request is answered with 400 (405 for
   * a method other than GET), or given to `wsClientError` listeners.
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    this.#handleUpgrade(req, socket, head, cb, null);
  }

  /**
   * `handleUpgrade()`, or our own listener's request: `parsed`, and no
   * `req` (built when something needs it).
   */
  #handleUpgrade(
    req: IncomingMessage | null,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, req: IncomingMessage) => void,
    parsed: Request | null,
  ): void {
    const request = parsed ?? requestFrom(req!);
    const invalid = checkRequest(request);
    if (invalid !== null) {
      const [status, message, headers] = invalid;
      if (this.listenerCount("wsClientError") > 0) {
        // As ws leaves it: a reset before the listener answers destroys the socket.
        socket.on("error", destroySocket);
        req ??= incomingMessage(socket, request);
        this.emit("wsClientError", new Error(message), socket, req);
      } else {
        abortHandshake(socket, status, message, headers);
      }
      return;
    }
    // A subclass's shouldHandle() gets a `req`, as in ws.
    let handled: boolean;
    if (req === null && this.shouldHandle === WebSocketServer.prototype.shouldHandle) {
      handled = this.#handlesPath(request.path);
    } else {
      req ??= incomingMessage(socket, request);
      handled = this.shouldHandle(req);
    }
    if (!handled) {
      abortHandshake(socket, 400);
      return;
    }
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    if (this.#state !== RUNNING) {
      abortHandshake(socket, 503);
      return;
    }
    const upgrading = socket as UpgradingSocket;
    if (upgrading[kUpgrade] !== undefined) {
      socket.on("error", destroySocket);
      throw new Error(
        "server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration",
      );
    }
    // No 'error' listener for the success path (ws adds one, then removes
    // it once upgraded): nothing can emit between here and the core's own.
    upgrading[kUpgrade] = { req, request, cb };
    this.#core.handleRequest(request, socket, head, req ?? undefined);
  }

  /** A tracked client closed: it leaves `clients`. @internal */
  [kClientClosed](ws: WebSocket): void {
    const clients = this.clients;
    clients.delete(ws);
    if (this.#emitCloseWhenEmpty && clients.size === 0) {
      this.#emitCloseWhenEmpty = false;
      process.nextTick(() => this.#emitClose());
    }
  }

  /** The request of a core connection's upgrade, built now if our listener parsed it. */
  #request(connection: ServerConnection): IncomingMessage {
    const socket = connection.writer.transport as UpgradingSocket;
    const upgrade = socket[kUpgrade] as Upgrade;
    upgrade.req ??= incomingMessage(socket, upgrade.request);
    return upgrade.req;
  }

  /** `verifyClient`: a synchronous one answers without a promise of ours. */
  #verify(connection: ServerConnection): MaybeResponse | Promise<MaybeResponse> {
    const req = this.#request(connection);
    const verifyClient = this.options.verifyClient!;
    const socket = req.socket as { authorized?: boolean; encrypted?: boolean };
    const info: VerifyClientInfo = {
      origin: header(connection.request!.headers, "origin"),
      secure: Boolean(socket.authorized || socket.encrypted),
      req,
    };
    if (verifyClient.length === 2) return this.#verifyWithCallback(connection, info);
    if (!(verifyClient as (info: VerifyClientInfo) => boolean)(info)) {
      return refusal(connection, 401);
    }
    return this.#stillRunning(connection);
  }

  /** The server may have closed while the application verified the client. */
  #stillRunning(connection: ServerConnection): MaybeResponse {
    return this.#state === RUNNING ? undefined : refusal(connection, 503);
  }

  async #verifyWithCallback(
    connection: ServerConnection,
    info: VerifyClientInfo,
  ): Promise<MaybeResponse> {
    const verifyClient = this.options.verifyClient as (
      info: VerifyClientInfo,
      cb: VerifyClientCallback,
    ) => void;
    const [ok, code, message, headers] = await new Promise<Parameters<VerifyClientCallback>>(
      (resolve) => verifyClient(info, (...result) => resolve(result)),
    );
    if (!ok) return refusal(connection, code ?? 401, message, headers);
    return this.#stillRunning(connection);
  }

  #selectSubprotocol(connection: ServerConnection, offered: readonly string[]): string | null {
    if (offered.length === 0) return null;
    const handleProtocols = this.options.handleProtocols;
    if (handleProtocols === undefined) return offered[0];
    const selected = handleProtocols(new Set(offered), this.#request(connection));
    return typeof selected === "string" && selected !== "" ? selected : null;
  }

  /** `headers`: listeners may add lines to the 101 response before it's sent. */
  #headers(connection: ServerConnection, response: Response): Response | undefined {
    if (response.status !== 101 || this.listenerCount("headers") === 0) return undefined;
    const lines = [`HTTP/1.1 101 ${response.reason}`];
    for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
    const before = lines.length;
    this.emit("headers", lines, this.#request(connection));
    for (const line of lines.slice(before)) {
      const colon = line.indexOf(":");
      if (colon > 0)
        response.headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    return undefined;
  }

  #opened(connection: ServerConnection): Promise<void> {
    const socket = connection.writer.transport as UpgradingSocket;
    const upgrade = socket[kUpgrade] as Upgrade;
    // The request isn't kept as long as the connection.
    socket[kUpgrade] = UPGRADED;
    const ws = new WebSocket(null);
    const clients = this.clients;
    if (clients !== undefined) clients.add(ws);
    ws[kAttach](
      connection,
      () => {
        // From our own listener, `req` is built unless no listener can read it.
        let req = upgrade.req;
        if (req === null && this.listenerCount("connection") > 0) {
          req = incomingMessage(socket, upgrade.request);
        }
        upgrade.cb(ws, req as IncomingMessage);
      },
      clients === undefined ? null : this,
    );
    // The core closes a connection when its handler returns: this one
    // lives until the application closes it.
    return connection.closed;
  }
}

// A socket handed to handleUpgrade(), which ws refuses twice: its upgrade
// until the connection opens (a property, not a WeakMap: no ephemeron per
// handshake), then UPGRADED.
const kUpgrade = Symbol("websockets-ts.ws.upgrade");
const UPGRADED = Object.freeze({});

interface UpgradingSocket extends Duplex {
  [kUpgrade]?: Upgrade | typeof UPGRADED;
}

function noop(): void {}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * A request header as `req.headers[name]` gives it (`name` in lower case;
 * repeated lines joined with ", ", as node:http joins these), read from the
 * request's lines: node:http builds `req.headers` when it's first read, a
 * cost per handshake that nothing else here needs.
 */
function header(headers: Headers, name: string): string | undefined {
  const sole = headers.soleValue(name);
  if (sole !== undefined || !headers.has(name)) return sole;
  return headers.getAll(name).join(", ");
}

/** `ws`'s checks of an upgrade request: the status and message of the first that fails. */
function checkRequest(
  request: Request,
): [status: number, message: string, headers?: Record<string, string>] | null {
  if (request.method !== "GET") return [405, "Invalid HTTP method"];
  const headers = request.headers;
  const upgrade = header(headers, "upgrade");
  if (upgrade === undefined || upgrade.toLowerCase() !== "websocket") {
    return [400, "Invalid Upgrade header"];
  }
  const key = header(headers, "sec-websocket-key");
  if (key === undefined || decodedBase64Length(key) !== 16) {
    return [400, "Missing or invalid Sec-WebSocket-Key header"];
  }
  const version = Number(header(headers, "sec-websocket-version"));
  if (version !== 13) {
    return [
      400,
      "Missing or invalid Sec-WebSocket-Version header",
      { "Sec-WebSocket-Version": "13" },
    ];
  }
  const protocols = header(headers, "sec-websocket-protocol");
  if (protocols !== undefined) {
    try {
      const list = parseSubprotocol(protocols);
      if (new Set(list).size !== list.length) throw new Error("duplicated subprotocol");
    } catch {
      return [400, "Invalid Sec-WebSocket-Protocol header"];
    }
  }
  return null;
}

/** A refusal built by the core, with `ws`'s default message and extra headers. */
function refusal(
  connection: ServerConnection,
  status: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
): Response {
  const response = connection.respond(status, message || STATUS_CODES[status] || String(status));
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) response.headers.append(name, String(item));
    else response.headers.set(name, String(value));
  }
  return response;
}

/** Answers a request the core never sees, then closes the socket, as `ws` does. */
function abortHandshake(
  socket: Duplex,
  status: number,
  message?: string,
  headers?: Record<string, string>,
): void {
  const body = message || STATUS_CODES[status] || String(status);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
    "Connection: close",
    "Content-Type: text/html",
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  for (const [name, value] of Object.entries(headers ?? {})) lines.push(`${name}: ${value}`);
  socket.on("error", destroySocket);
  socket.once("finish", () => socket.destroy());
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
}
