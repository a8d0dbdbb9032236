/**
 * The non-standard second argument of `new WebSocket(url, init)` and the
 * options of `new WebSocketStream(url, options)`: the `connect()` options
 * that make sense for a browser-style socket; and opening the connection
 * with them, with the checks the Standard adds to RFC 6455.
 *
 * @module
 */

import { NegotiationError, SecurityError } from "../errors.ts";
import type { HeadersInit } from "../headers.ts";
import { logMessages, resolveLogger } from "../logging.ts";
import { type ClientConnection, type ConnectOptions, connect } from "../node/client.ts";
import { badPort } from "./url.ts";

/** Default of {@link WebSocketExtras.maxSize}: 100 MiB, as `ws`'s `maxPayload`. */
export const WEB_DEFAULT_MAX_SIZE = 100 * 1024 * 1024;

/**
 * Options of our client that `WebSocket` and `WebSocketStream` accept besides
 * the Standard's: each as documented on `ConnectOptions`, with the
 * defaults of `connect()` except `maxSize`.
 */
export interface WebSocketExtras
  extends Pick<
    ConnectOptions,
    | "origin"
    | "compression"
    | "extensions"
    | "userAgentHeader"
    | "openTimeout"
    | "closeTimeout"
    | "pingInterval"
    | "pingTimeout"
    | "logger"
    | "logContext"
    | "tls"
    | "path"
    | "proxy"
    | "proxyTls"
    | "followRedirects"
    | "maxRedirects"
  > {
  /** Headers added to the handshake request (undici's name for `additionalHeaders`). Default: none. */
  headers?: HeadersInit | null;
  /**
   * Largest incoming message in bytes (larger ones fail the connection:
   * `error`, then `close` with 1006); `null`: no limit, as in browsers.
   * Default: 100 MiB.
   */
  maxSize?: number | null;
}

/** The second argument of `new WebSocket(url, init)`, when it's a dictionary (as undici's). */
export interface WebSocketInit extends WebSocketExtras {
  /** Subprotocols to offer, as the Standard's second argument. Default: none. */
  protocols?: string | Iterable<string>;
}

/** The `connect()` options for a socket opened with `init` and `protocols`. */
export function connectOptions(
  init: WebSocketExtras,
  protocols: readonly string[],
  signal: AbortSignal,
  writeLimit?: number,
): ConnectOptions {
  return {
    origin: init.origin,
    compression: init.compression,
    extensions: init.extensions,
    userAgentHeader: init.userAgentHeader,
    openTimeout: init.openTimeout,
    closeTimeout: init.closeTimeout,
    pingInterval: init.pingInterval,
    pingTimeout: init.pingTimeout,
    logger: init.logger,
    logContext: init.logContext,
    tls: init.tls,
    path: init.path,
    proxy: init.proxy,
    proxyTls: init.proxyTls,
    additionalHeaders: init.headers,
    maxSize: init.maxSize === undefined ? WEB_DEFAULT_MAX_SIZE : init.maxSize,
    // Default: not followed, as the Standard says (a 3xx fails the connection).
    followRedirects: init.followRedirects,
    maxRedirects: init.maxRedirects,
    subprotocols: protocols.length === 0 ? null : protocols,
    writeLimit,
    signal,
  };
}

/**
 * Connects; resolves to `null` when the handshake fails, after logging why
 * at WARN (as a browser does on its console: the `error` event carries no
 * detail), unless `gaveUp()` says the application abandoned it on purpose.
 */
export async function openConnection(
  url: string,
  init: WebSocketExtras,
  options: ConnectOptions,
  gaveUp: () => boolean,
): Promise<ClientConnection | null> {
  let connection: ClientConnection;
  try {
    const blocked = badPort(new URL(url));
    if (blocked !== null) {
      throw new SecurityError(
        `port ${blocked} is blocked, as in browsers (Fetch "bad port"): ${url}`,
      );
    }
    connection = await connect(url, options);
    // WHATWG WebSockets §2 "establish a WebSocket connection": when
    // subprotocols were offered, the server must select one (RFC 6455 lets
    // it select none; the Standard doesn't).
    const offered = options.subprotocols ?? [];
    if (offered.length > 0 && connection.subprotocol === null) {
      connection.abort();
      throw new NegotiationError(`no subprotocol selected; offered: ${offered.join(", ")}`);
    }
  } catch (error) {
    if (!gaveUp()) {
      resolveLogger(init.logger, "websockets.client").warn(
        { err: error, url },
        logMessages.handshakeFailed,
      );
    }
    return null;
  }
  return connection;
}
