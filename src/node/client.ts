/**
 * The client: `connect()` opens a WebSocket connection to a `ws://` or
 * `wss://` URI, over TCP, TLS, a Unix socket or a stream you provide.
 *
 * @module
 */

import { isIP, type NetConnectOpts, connect as netConnect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  TLSSocket,
  type ConnectionOptions as TlsConnectionOptions,
  connect as tlsConnect,
} from "node:tls";
import { ClientProtocol } from "../client.ts";
import { InvalidHandshake } from "../errors.ts";
import type { ClientExtensionFactory } from "../extensions/base.ts";
import { enableClientPermessageDeflate } from "../extensions/permessage-deflate.ts";
import type { HeadersInit } from "../headers.ts";
import type { Request, Response } from "../http11.ts";
import { type LoggerLike, logMessages, resolveLogger } from "../logging.ts";
import { parseURI, type WebSocketURI } from "../uri.ts";
import { Connection, type ConnectionOptions, type LogFields } from "./connection.ts";
import { traceHandshake } from "./diagnostics.ts";
import { exchangeHttp2, type Http2Mode, Http2Unavailable, triesHttp2 } from "./http2-client.ts";
import { poolKey } from "./http2-client-pool.ts";
import { protocolLogger } from "./logger-proxy.ts";
import { explainHandshakeFailure } from "./mistakes.ts";
// Issue 6 (client resilience): proxies, redirects, reconnection.
import { openTunnel, type ProxyOptions, proxyFor } from "./proxy.ts";
import { Connecting, type ReconnectOptions } from "./reconnect.ts";
import { followRedirects, type RedirectCarry, type RedirectOptions } from "./redirect.ts";
import { waitForConnect } from "./sockets.ts";
import { connectSharingReads } from "./transport.ts";

/** Default of {@link ConnectOptions.openTimeout}. */
export const DEFAULT_OPEN_TIMEOUT = 10_000;

/** Options of {@link connect}, with their defaults. */
export interface ConnectOptions
  extends ConnectionOptions,
    ProxyOptions,
    ReconnectOptions,
    Omit<RedirectOptions, keyof RedirectCarry | "path" | "sock"> {
  /** `Origin` header, for servers that check it. Default: none. */
  origin?: string | null;
  /** Extension factories to offer, in order of preference. Default: none besides `compression`. */
  extensions?: readonly ClientExtensionFactory[] | null;
  /** Subprotocols to offer, in order of preference. Default: none. */
  subprotocols?: readonly string[] | null;
  /** `"deflate"` offers permessage-deflate (RFC 7692); `null` doesn't. Default: `"deflate"`. */
  compression?: "deflate" | null;
  /** Headers added to the request; they replace headers of the same name. Default: none. */
  additionalHeaders?: HeadersInit | null;
  /**
   * `User-Agent` header; `null` omits it. Default:
   * `websockets-ts/<version> Node/<version>` (or `WEBSOCKETS_USER_AGENT`).
   */
  userAgentHeader?: string | null;
  /**
   * Time allowed for the TCP connection, the TLS handshake and the opening
   * handshake together, in ms; `null` disables it. Default: 10_000.
   */
  openTimeout?: number | null;
  /** Largest incoming message in bytes (larger ones close with 1009); `null`: no limit. Default: 1 MiB. */
  maxSize?: number | null;
  /**
   * Any pino-compatible logger; `false` or `null` disables logging.
   * Default: the built-in `websockets.client` logger (WARN and ERROR to stderr).
   */
  logger?: LoggerLike | false | null;
  /** Called once the handshake completes; the fields it returns are added to the connection's logger. */
  logContext?: ((connection: ClientConnection) => LogFields | null | undefined) | null;
  /**
   * TLS options for `wss://` (`ca`, `rejectUnauthorized`, `servername`,
   * `cert`, `key`...). `servername` (SNI) defaults to the URI's host name,
   * none for an IP address. The server's certificate is checked against
   * `servername` when given, else the URI's host, IP addresses included,
   * whether the connection goes over TCP, `path`, `sock` or a proxy.
   */
  tls?: TlsConnectionOptions;
  /**
   * WebSockets over HTTP/2 (RFC 8441): `"auto"` tries it for `wss://`
   * (ALPN `h2`), sharing one session per origin and TLS options, and falls
   * back to HTTP/1.1 when the server can't (see docs/http2.md, "Fallback
   * rules"); `true` requires it, `ws://` included (h2c with prior
   * knowledge), and rejects when the server can't; `false` never tries it.
   * Default: `false`.
   */
  http2?: Http2Mode | null;
  /** Connect to this Unix socket instead of the URI's host and port (the URI still sets `Host` and the path). */
  path?: string;
  /**
   * A connected stream to run the connection over (e.g. a tunnel through a
   * proxy), instead of opening one. For `wss://`, TLS is negotiated over it
   * unless it's already a `TLSSocket`.
   */
  sock?: Duplex;
}

/** A WebSocket connection opened by {@link connect}. */
export class ClientConnection extends Connection<ClientProtocol> {
  #responseReceived: ((response: Response | null) => void) | null = null;
  readonly #responsePromise: Promise<Response | null>;

  /** @internal */
  constructor(
    protocol: ClientProtocol,
    socket: Duplex,
    logger: LoggerLike,
    options: ConnectOptions,
  ) {
    super(protocol, socket, logger, options);
    this.#responsePromise = new Promise((resolve) => {
      this.#responseReceived = resolve;
    });
  }

  /** @internal */
  protected override transportClosed(): void {
    this.#resolveResponse(null);
  }

  /** @internal */
  protected override handshakeEvent(event: unknown): void {
    if (typeof event !== "object" || event === null || !("status" in event)) return;
    const protocol = this.protocol;
    // Open now, before frames that came with the response (a close...) are
    // processed: the handshake succeeded even if the server closes at once.
    if (protocol.handshakeExc === null) this.opened();
    this.#resolveResponse(event as Response);
  }

  #resolveResponse(response: Response | null): void {
    const resolve = this.#responseReceived;
    if (resolve === null) return;
    this.#responseReceived = null;
    resolve(response);
  }

  /**
   * Sends the request and waits for the response; resolves once the
   * handshake succeeded, rejects with why it failed (after closing the
   * transport).
   * @internal
   */
  async handshake(): Promise<void> {
    const protocol = this.protocol;
    protocol.sendRequest(protocol.connect());
    this.sendData();
    return this.#handshakeDone();
  }

  /**
   * Completes the handshake over HTTP/2 with the extended CONNECT sent and
   * the response it got (RFC 8441 §5); resolves or rejects as
   * {@link ClientConnection.handshake} does.
   * @internal
   */
  handshakeHttp2(request: Request, response: Response): Promise<void> {
    const protocol = this.protocol;
    protocol.sendHttp2Request(request);
    protocol.receiveHttp2Response(response);
    this.processEvents();
    return this.#handshakeDone();
  }

  async #handshakeDone(): Promise<void> {
    const protocol = this.protocol;
    const response = await this.#responsePromise;
    if (response !== null && protocol.handshakeExc === null) return;
    const error =
      protocol.handshakeExc ??
      this.transportError ??
      new InvalidHandshake("connection closed during the opening handshake");
    this.flush();
    this.abortTransport();
    await this.closed;
    throw error;
  }

  /** Destroys the transport, e.g. when the open timeout expires. @internal */
  abort(): void {
    this.abortTransport();
  }
}

/**
 * Opens a WebSocket connection; resolves once the opening handshake
 * succeeded, following redirects. Iterated with `for await`, yields a new
 * connection each time the previous one is lost (see docs/reconnection.md).
 * Nothing happens until it's awaited or iterated.
 *
 * ```ts
 * await using ws = await connect("ws://127.0.0.1:8765");
 * await ws.send("hello");
 * console.log(await ws.recv());
 *
 * for await (const ws of connect("ws://127.0.0.1:8765")) {
 *   // use ws; on ConnectionClosed, `continue` to reconnect
 * }
 * ```
 *
 * @throws InvalidURI for a bad URI; InvalidStatus when the server answers
 *   with another status than 101 (its `response` has the status, headers
 *   and body); other InvalidHandshake errors for a bad response; a
 *   `TimeoutError` (DOMException) when `openTimeout` expires; network errors
 *   (`ECONNREFUSED`, `ENOTFOUND`, TLS errors) as Node reports them.
 */
export function connect(
  uri: string,
  options: ConnectOptions = {},
): Promise<ClientConnection> & AsyncIterable<ClientConnection> {
  const open = (signal: AbortSignal | null): Promise<ClientConnection> => {
    let wsuri: WebSocketURI;
    try {
      wsuri = parseURI(uri);
    } catch (error) {
      return Promise.reject(error);
    }
    return traceHandshake("client", uri, () => openConnection(wsuri, options, signal));
  };
  return new Connecting(open, options, () => resolveLogger(options.logger, "websockets.client"));
}

async function openConnection(
  uri: WebSocketURI,
  options: ConnectOptions,
  signal: AbortSignal | null,
): Promise<ClientConnection> {
  const logger = resolveLogger(options.logger, "websockets.client");
  if (
    options.compression !== undefined &&
    options.compression !== null &&
    options.compression !== "deflate"
  ) {
    throw new TypeError(`unsupported compression: ${String(options.compression)}`);
  }
  const extensions =
    options.compression === null
      ? [...(options.extensions ?? [])]
      : enableClientPermessageDeflate(options.extensions);
  const openTimeout =
    options.openTimeout === undefined ? DEFAULT_OPEN_TIMEOUT : options.openTimeout;

  const controller = new AbortController();
  const timer =
    openTimeout === null
      ? null
      : setTimeout(() => {
          controller.abort(
            new DOMException(
              `timed out during opening handshake after ${openTimeout} ms`,
              "TimeoutError",
            ),
          );
        }, openTimeout);
  const onSignal = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onSignal();
  else signal?.addEventListener("abort", onSignal, { once: true });
  try {
    // openTimeout and signal cover every redirect.
    return await followRedirects(uri, options, async (uri, carry) => {
      controller.signal.throwIfAborted();
      const hop: ConnectOptions = { ...options, tls: carry.tls };
      const newProtocol = (): ClientProtocol =>
        new ClientProtocol(uri, {
          origin: options.origin,
          extensions,
          subprotocols: carry.subprotocols,
          additionalHeaders: carry.additionalHeaders,
          userAgentHeader: options.userAgentHeader,
          maxSize: options.maxSize,
          logger: protocolLogger(logger),
        });
      let socket: Duplex | null = null;
      if (triesHttp2(uri, options.http2, options.sock !== undefined)) {
        try {
          return await openHttp2Connection(uri, hop, newProtocol(), logger, controller.signal);
        } catch (error) {
          if (!(error instanceof Http2Unavailable)) throw error;
          if (options.http2 !== "auto") {
            error.socket?.destroy();
            throw new InvalidHandshake(`HTTP/2 required (http2: true) but ${error.message}`, {
              cause: error,
            });
          }
          logger.debug({ reason: error.reason }, logMessages.http2Fallback(error.message));
          // A TLS connection ALPN gave to HTTP/1.1 serves as is.
          socket = error.socket;
        }
      }
      socket ??= await openSocket(uri, hop, controller.signal, logger);
      const protocol = newProtocol();
      const connection = new ClientConnection(protocol, socket, logger, options);
      // A tunnel through a proxy comes back paused; reading starts now that
      // the connection listens.
      socket.resume();
      const onAbort = (): void => connection.abort();
      controller.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await connection.handshake();
      } catch (error) {
        if (controller.signal.aborted) throw controller.signal.reason;
        throw explainHandshakeFailure(error, uri);
      } finally {
        controller.signal.removeEventListener("abort", onAbort);
      }
      return connection;
    });
  } finally {
    if (timer !== null) clearTimeout(timer);
    signal?.removeEventListener("abort", onSignal);
  }
}

/**
 * Opens the connection as an extended CONNECT stream of a pooled HTTP/2
 * session (RFC 8441).
 *
 * @throws Http2Unavailable when HTTP/2 can't carry it and HTTP/1.1 may;
 *   with `http2: true`, its message says why the server can't.
 */
async function openHttp2Connection(
  uri: WebSocketURI,
  options: ConnectOptions,
  protocol: ClientProtocol,
  logger: LoggerLike,
  signal: AbortSignal,
): Promise<ClientConnection> {
  const request = protocol.connectHttp2();
  // ALPN offers h2 first (RFC 7301); the server picks.
  const socketOptions: ConnectOptions = {
    ...options,
    tls: { ...options.tls, ALPNProtocols: ["h2", "http/1.1"] },
  };
  const { stream, response } = await exchangeHttp2(
    uri,
    poolKey(uri, options),
    request,
    (setupSignal) => openSocket(uri, socketOptions, setupSignal, logger, false),
    signal,
  );
  const connection = new ClientConnection(protocol, stream, logger, options);
  try {
    await connection.handshakeHttp2(request, response);
  } catch (error) {
    throw explainHandshakeFailure(error, uri);
  }
  return connection;
}

/**
 * Opens the transport: TCP, TLS, Unix socket, TLS over `sock`, or a proxy's
 * tunnel (its DEBUG lines to `logger`). `shareReads`: a plain TCP or Unix
 * socket reads into the shared buffer (connectSharingReads), for a
 * connection's own use only; an HTTP/2 session reads its socket itself.
 */
async function openSocket(
  uri: WebSocketURI,
  options: ConnectOptions,
  signal: AbortSignal,
  logger: LoggerLike,
  shareReads = true,
): Promise<Duplex> {
  const sock = options.sock;
  if (sock !== undefined && (!uri.secure || sock instanceof TLSSocket)) return sock;
  if (sock === undefined && options.path === undefined) {
    const proxy = proxyFor(uri, options.proxy);
    if (proxy !== null) return openTunnel(proxy, uri, options, signal, logger);
  }
  let socket: Socket;
  let event: "connect" | "secureConnect";
  if (uri.secure) {
    const tlsOptions: TlsConnectionOptions = {
      ALPNProtocols: ["http/1.1"],
      ...options.tls,
      // RFC 2818 §3.1, RFC 6125 §6: the certificate is checked against the
      // URI's host (or `servername` when given), an IP address included.
      // Node checks against `servername`, else `host`, else the socket's
      // host or "localhost": over `sock` or `path`, `host` isn't used to
      // connect, only for this check.
      host: uri.host,
    };
    // RFC 6066 §3: SNI takes a host name, never an IP address.
    if (tlsOptions.servername === undefined && isIP(uri.host) === 0)
      tlsOptions.servername = uri.host;
    if (sock !== undefined) tlsOptions.socket = sock;
    else if (options.path !== undefined) tlsOptions.path = options.path;
    else tlsOptions.port = uri.port;
    socket = tlsConnect(tlsOptions);
    event = "secureConnect";
  } else {
    const connectTo: NetConnectOpts =
      options.path !== undefined
        ? { path: options.path }
        : { host: uri.host, port: uri.port, noDelay: true };
    socket = shareReads ? connectSharingReads(connectTo) : netConnect(connectTo);
    event = "connect";
  }
  try {
    return await waitForConnect(socket, event, signal);
  } catch (error) {
    throw explainHandshakeFailure(error, uri);
  }
}
