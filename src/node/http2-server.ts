/**
 * The HTTP/2 side of a {@link Server} (RFC 8441): sessions of node:http2
 * that advertise SETTINGS_ENABLE_CONNECT_PROTOCOL, and their streams
 * turned into connections. Malformed or foreign requests get their answer
 * here, before any hook; every other stream is handed to the server as a
 * `Request`, where `processRequest` and the handshake run as on HTTP/1.1.
 *
 * Either this module owns its node:http2 server (`serve({ http2: true })`:
 * the TLS or TCP listener hands it the sockets that speak h2), or it
 * attaches to the application's `http2.createSecureServer()` /
 * `http2.createServer()`.
 *
 * @module
 */

import {
  createServer as createHttp2Server,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type Settings,
} from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { EMPTY } from "../frames.ts";
import { Headers } from "../headers.ts";
import { type Request, reasonPhrase } from "../http11.ts";
import { isLevelEnabled, type LoggerLike, logMessages } from "../logging.ts";
import {
  PSEUDO_METHOD,
  PSEUDO_PATH,
  PSEUDO_PROTOCOL,
  requestFromHttp2,
  responseToHttp2,
  WEBSOCKET_PROTOCOL,
} from "./http2-common.ts";
import { noop } from "./promises.ts";
import { pathname } from "./server.ts";

/** An `http2.createServer()` or `http2.createSecureServer()` server. */
export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** What the HTTP/2 side asks of its {@link Server}. @internal */
export interface Http2Host {
  readonly logger: LoggerLike;
  /** Whether the server still accepts connections. */
  isServing(): boolean;
  /** Takes a well-formed request's stream: the handshake runs there. */
  acceptStream(stream: ServerHttp2Stream, request: Request): void;
  /** The `Server` header of answers, or `null`. */
  serverHeader(): string | null;
  /** Attached: only WebSockets for this path (query string ignored) are ours. */
  readonly httpPath?: string;
}

/** The SETTINGS our sessions send: RFC 8441 §3, extended CONNECT enabled. */
export const HTTP2_SETTINGS: Settings = { enableConnectProtocol: true };

/**
 * The SETTINGS of our own node:http2 server: extended CONNECT, and a bound
 * on each request's header list (RFC 9113 §10.5.1), whose excess gets
 * RST_STREAM ENHANCE_YOUR_CALM. node:http2 documents 64 KiB as the default
 * of `maxHeaderListSize` but applies it only when set: otherwise a stream
 * may carry 128 fields of nearly 64 KiB each. An attached server keeps the
 * application's settings.
 */
const OWN_SETTINGS: Settings = { ...HTTP2_SETTINGS, maxHeaderListSize: 64 * 1024 };

/**
 * Whether `server` is a node:http2 server, rather than an `http.Server`
 * or `https.Server`: only node:http2 servers have `updateSettings()`.
 */
export function isHttp2Server(server: object): server is AnyHttp2Server {
  return typeof (server as Partial<Http2Server>).updateSettings === "function";
}

/**
 * The HTTP/2 side of one server: its sessions, and what each stream gets.
 *
 * @internal
 */
export class Http2Side {
  readonly #host: Http2Host;
  readonly #server: AnyHttp2Server;
  // Our own node:http2 server: its sessions are ours to close.
  readonly #owned: boolean;
  readonly #sessions = new Set<ServerHttp2Session>();
  // Bound once, so that detaching removes exactly these listeners.
  readonly #onStream = this.#stream.bind(this);
  readonly #onSession = this.#session.bind(this);
  readonly #onConnect = this.#connect.bind(this);

  /**
   * @param server - The application's node:http2 server to attach to;
   *   default: our own, which never listens (sockets are handed to it).
   */
  constructor(host: Http2Host, server?: AnyHttp2Server) {
    this.#host = host;
    this.#owned = server === undefined;
    this.#server = server ?? createHttp2Server({ settings: OWN_SETTINGS });
    // RFC 8441 §3: sessions opened from now on advertise extended CONNECT.
    if (server !== undefined) server.updateSettings(HTTP2_SETTINGS);
    this.#server.on("stream", this.#onStream);
    this.#server.on("session", this.#onSession);
    if (!this.#owned) this.#server.on("connect", this.#onConnect);
  }

  /**
   * What a listener does with each socket: `h2` by ALPN to HTTP/2 (RFC
   * 9113 §3.2; clients without ALPN get HTTP/1.1); on cleartext
   * (`openTimeout` given; `false` for TLS), see {@link Http2Side.handleCleartext}.
   * Other sockets go to `http1`.
   */
  router(
    http1: (socket: Socket) => void,
    openTimeout: number | null | false,
  ): (socket: Socket) => void {
    if (openTimeout === false) {
      return (socket) => {
        if ((socket as TLSSocket).alpnProtocol === "h2") this.handleSocket(socket);
        else http1(socket);
      };
    }
    return (socket) => this.handleCleartext(socket, openTimeout, http1);
  }

  /** Serves HTTP/2 on a socket that negotiated `h2` (or sent its preface). */
  handleSocket(socket: Duplex): void {
    this.#server.emit("connection", socket);
  }

  /**
   * Serves a cleartext connection: HTTP/2 with prior knowledge (h2c) when
   * it opens with the client connection preface (RFC 9113 §3.4), else
   * `http1(socket)`. A socket silent for `openTimeout` ms is dropped.
   */
  handleCleartext(
    socket: Socket,
    openTimeout: number | null,
    http1: (socket: Socket) => void,
  ): void {
    const onTimeout = (): void => {
      socket.destroy();
    };
    if (openTimeout !== null) socket.setTimeout(openTimeout, onTimeout);
    socket.on("error", noop);
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      socket.setTimeout(0);
      socket.off("timeout", onTimeout);
      socket.off("error", noop);
      if (startsLikePreface(chunk)) {
        this.handleSocket(socket);
      } else {
        http1(socket);
        socket.resume();
      }
    });
  }

  /**
   * Stops: our own sessions get GOAWAY (RFC 9113 §6.8), which lets the
   * streams they carry finish (the server closes its WebSockets with 1001
   * meanwhile) and refuses new ones; an attached server is left as it is,
   * without our listeners.
   */
  close(): void {
    this.#server.off("stream", this.#onStream);
    this.#server.off("session", this.#onSession);
    this.#server.off("connect", this.#onConnect);
    for (const session of this.#sessions) {
      if (!session.closed && !session.destroyed) session.close();
    }
  }

  /** The number of HTTP/2 sessions open on our own server. */
  get sessions(): number {
    return this.#sessions.size;
  }

  // node:http2's compatibility API emits every CONNECT as `connect`, and
  // answers 405 itself when nobody listens: WebSockets are ours, other
  // CONNECTs get that same answer unless the application listens too.
  #connect(request: Http2ServerRequest, response: Http2ServerResponse): void {
    const headers = request.headers;
    if (this.#ours(headers[PSEUDO_METHOD], headers[PSEUDO_PROTOCOL], headers[PSEUDO_PATH])) return;
    if (this.#server.listenerCount("connect") > 1) return;
    response.statusCode = 405;
    response.end();
  }

  /** Attached: whether a stream is a WebSocket for us (`httpPath` as on HTTP/1.1). */
  #ours(method: unknown, protocol: unknown, path: unknown): boolean {
    if (method !== "CONNECT" || protocol !== WEBSOCKET_PROTOCOL) return false;
    const httpPath = this.#host.httpPath;
    return (
      httpPath === undefined || pathname(typeof path === "string" ? path : undefined) === httpPath
    );
  }

  #session(session: ServerHttp2Session): void {
    if (!this.#owned) return;
    this.#sessions.add(session);
    session.once("close", () => this.#sessions.delete(session));
    // A peer that breaks the protocol or resets the connection: the session
    // is destroyed, its streams close (1006). Not a server failure.
    session.on("error", (error: Error) => {
      const logger = this.#host.logger;
      if (isLevelEnabled(logger, "debug")) logger.debug({ err: error }, logMessages.receiveFailed);
    });
    if (!this.#host.isServing()) session.close();
  }

  #stream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    _flags: number,
    rawHeaders?: string[],
  ): void {
    // Attached: only WebSockets are ours; the application answers the rest.
    const method = headers[PSEUDO_METHOD];
    const protocol = headers[PSEUDO_PROTOCOL];
    if (!this.#owned && !this.#ours(method, protocol, headers[PSEUDO_PATH])) return;
    if (method === "CONNECT" && protocol !== WEBSOCKET_PROTOCOL) {
      this.#refuseConnect(stream, protocol);
      return;
    }
    let request: Request;
    try {
      request = requestFromHttp2(headers, rawHeaders);
    } catch (error) {
      this.#answer(
        stream,
        400,
        `Failed to open a WebSocket connection: ${(error as Error).message}.\n`,
      );
      return;
    }
    this.#host.acceptStream(stream, request);
  }

  // A CONNECT that isn't a WebSocket's: a proxy's (RFC 9113 §8.5), or
  // another protocol's extended CONNECT (RFC 8441 §4).
  #refuseConnect(stream: ServerHttp2Stream, protocol: string | string[] | undefined): void {
    if (protocol === undefined) {
      // We are not a proxy.
      this.#answer(stream, 405, "CONNECT without :protocol: this server is not a proxy.\n", [
        "Allow",
        "GET, CONNECT",
      ]);
    } else {
      this.#answer(
        stream,
        501,
        `Unsupported :protocol: ${JSON.stringify(String(protocol))}; this server speaks websocket (RFC 8441).\n`,
      );
    }
  }

  /** Answers a stream with a plain-text response, then ends it. */
  #answer(stream: ServerHttp2Stream, status: number, text: string, extra: string[] = []): void {
    // A reset while we answer must not crash the process.
    stream.on("error", noop);
    const body = Buffer.from(text, "utf8");
    const headers = new Headers();
    headers.append("Content-Type", "text/plain; charset=utf-8");
    headers.append("Content-Length", String(body.length));
    for (let i = 0; i + 1 < extra.length; i += 2) headers.append(extra[i], extra[i + 1]);
    const serverHeader = this.#host.serverHeader();
    if (serverHeader !== null) headers.append("Server", serverHeader);
    const logger = this.#host.logger;
    if (isLevelEnabled(logger, "info")) {
      logger.info(logMessages.connectionRejected(status, reasonPhrase(status)));
    }
    if (stream.destroyed) return;
    stream.respond(responseToHttp2({ status, reason: "", headers, body: EMPTY }));
    stream.end(body);
    // RFC 9113 §8.1: the response is complete; the rest of the request isn't needed.
    stream.once("finish", () => {
      if (!stream.closed) stream.close(0);
    });
  }
}

// RFC 9113 §3.4: what a client speaking HTTP/2 with prior knowledge sends first.
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Whether a connection's first bytes are (the start of) the HTTP/2 client
 * preface. No WebSocket handshake starts with `P`: a short first chunk
 * that matches so far can only be HTTP/2.
 */
function startsLikePreface(chunk: Buffer): boolean {
  const length = Math.min(chunk.length, PREFACE.length);
  return length > 0 && chunk.compare(PREFACE, 0, length, 0, length) === 0;
}
