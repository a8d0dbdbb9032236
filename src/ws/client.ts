/**
 * The client side of `websockets-ts/ws`'s `WebSocket`: `ws`'s constructor
 * arguments and client options, mapped onto the core's `connect()`.
 * Redirects are followed here, not by the core, so that `followRedirects`,
 * `maxRedirects` and the `redirect` event behave as in `ws`.
 *
 * @module
 */

import { IncomingMessage } from "node:http";
import { connect as netConnect, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { InvalidStatus } from "../errors.ts";
import { isToken } from "../headers.ts";
import type { Response } from "../http11.ts";
import type { LoggerLike } from "../logging.ts";
import { type ConnectOptions, connect } from "../node/client.ts";
import type { ProxyOptions } from "../node/proxy.ts";
import { followRedirect, isRedirect } from "../node/redirect.ts";
import { waitForConnect } from "../node/sockets.ts";
import { connectSharingReads } from "../node/transport.ts";
import { kAttach, kFailOpen, kOpening, setClientOpener, type WebSocket } from "./websocket.ts";

/** `ws`'s default `maxPayload`: 100 MiB. */
export const WS_DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

/** Options of `new WebSocket(address, protocols, options)`, as in `ws`, plus a few of ours. */
export interface WsClientOptions
  extends Pick<
      TlsConnectionOptions,
      | "ca"
      | "cert"
      | "key"
      | "pfx"
      | "passphrase"
      | "rejectUnauthorized"
      | "servername"
      | "checkServerIdentity"
      | "ciphers"
      | "minVersion"
      | "maxVersion"
    >,
    ProxyOptions {
  /** Time allowed for the whole opening handshake, in ms. Default: 10_000 (ws: none). */
  handshakeTimeout?: number;
  /** Follow 3xx redirects. Default: `false`. */
  followRedirects?: boolean;
  /** Redirects followed at most. Default: 10. */
  maxRedirects?: number;
  /** Headers added to the request. */
  headers?: Record<string, string | number | readonly string[]>;
  /** `Origin` header. */
  origin?: string;
  /** `Sec-WebSocket-Version`: only 13 is spoken; 8 is refused with a RangeError. Default: 13. */
  protocolVersion?: number;
  /** Offer permessage-deflate; its parameters are the core's. Default: `true`. */
  perMessageDeflate?: boolean | Record<string, unknown>;
  /** Largest message accepted, in bytes; `0`: no limit. Default: 100 MiB, as in ws. */
  maxPayload?: number;
  /** Creates the transport (`net.connect`-like), instead of connecting to the URL's host. */
  createConnection?: (options: { host: string; port: number; servername?: string }) => Duplex;
  /**
   * A proxy agent (`https-proxy-agent`, `http-proxy-agent`: an agent with
   * a `proxy` URL) is read for its proxy, used as the `proxy` option. Any
   * other agent is not used: the core opens its own connections
   * (`createConnection` makes the transport; see docs/migrating-from-ws.md).
   */
  agent?: unknown;
  /** Time allowed for the closing handshake, in ms. Default: 10_000 (ws: 30_000). */
  closeTimeout?: number;
  /** Interval between keepalive pings, in ms; `null` disables keepalive. Default: 20_000. */
  pingInterval?: number | null;
  /** Time allowed for a keepalive pong, in ms. Default: 20_000. */
  pingTimeout?: number | null;
  /** A pino-compatible logger. Default: none (ws logs nothing). */
  logger?: LoggerLike | false | null;
}

/**
 * The request of a handshake, as `unexpected-response` and `redirect`
 * listeners get it: `ws` passes a `ClientRequest`; this has the fields
 * such listeners read and the methods they call.
 */
export interface UpgradeRequest {
  /** Always `"GET"`, the method of an opening handshake. */
  readonly method: "GET";
  /** Path and query string. */
  readonly path: string;
  /** Host name. */
  readonly host: string;
  /** `"http:"` or `"https:"`, as a `ClientRequest` has it. */
  readonly protocol: string;
  /** A request header set by the options. */
  getHeader(name: string): string | number | readonly string[] | undefined;
  /** Aborts the handshake: the socket closes with 1006. */
  abort(): void;
  /** Same as `abort()`. */
  destroy(error?: Error): void;
}

const TLS_KEYS = [
  "ca",
  "cert",
  "key",
  "pfx",
  "passphrase",
  "rejectUnauthorized",
  "servername",
  "checkServerIdentity",
  "ciphers",
  "minVersion",
  "maxVersion",
] as const;

function startClient(
  ws: WebSocket,
  address: string | URL,
  protocols: string | readonly string[] | WsClientOptions | undefined,
  options: WsClientOptions | undefined,
): string {
  let list: readonly string[];
  if (protocols === undefined) list = [];
  else if (typeof protocols === "string") list = [protocols];
  else if (Array.isArray(protocols)) list = protocols as readonly string[];
  else {
    options = protocols as WsClientOptions;
    list = [];
  }
  const opts: WsClientOptions = options ?? {};
  const version = opts.protocolVersion ?? 13;
  if (version !== 13) {
    throw new RangeError(`Unsupported protocol version: ${version} (supported versions: 13)`);
  }
  const url = parseAddress(address);
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== "string" || !isToken(protocol) || seen.has(protocol)) {
      throw new SyntaxError("An invalid or duplicated subprotocol was specified");
    }
    seen.add(protocol);
  }
  const controller = new AbortController();
  ws[kOpening] = controller;
  open(ws, url, list, opts, controller.signal);
  return url.href;
}

/** The URL as `ws` accepts it: `ws:`, `wss:`, `ws+unix:`, or `http(s):` turned into `ws(s):`. */
function parseAddress(address: string | URL): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SyntaxError(`Invalid URL: ${String(address)}`);
  }
  if (url.protocol === "http:" || url.protocol === "https:") {
    url = new URL(url);
    url.protocol = url.protocol === "http:" ? "ws:" : "wss:";
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:" && url.protocol !== "ws+unix:") {
    throw new SyntaxError(
      'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"',
    );
  }
  if (url.protocol === "ws+unix:" && url.pathname === "") {
    throw new SyntaxError("The URL's pathname is empty");
  }
  if (url.hash !== "") throw new SyntaxError("The URL contains a fragment identifier");
  return url;
}

/** Opens the connection, following redirects as the options allow; reports through events. */
async function open(
  ws: WebSocket,
  url: URL,
  protocols: readonly string[],
  opts: WsClientOptions,
  signal: AbortSignal,
): Promise<void> {
  const maxRedirects = opts.maxRedirects ?? 10;
  let headers = headerPairs(opts.headers);
  for (let redirects = 0; ; redirects++) {
    const request = upgradeRequest(url, opts.headers, ws);
    try {
      const options = coreOptions(url, protocols, opts, headers, signal);
      // Our own TCP socket: a refused connection reports as itself
      // (ECONNREFUSED), as in ws, rather than as a failed handshake.
      if (options.sock instanceof Socket && opts.createConnection === undefined) {
        await waitForConnect(options.sock, "connect", signal);
      }
      const connection = await connect(target(url), options);
      if (signal.aborted) {
        connection.close().catch(noop);
        return;
      }
      if (protocols.length > 0 && connection.subprotocol === null) {
        // ws is stricter than RFC 6455 §4.1 here, and so are we, as ws.
        connection.writer.transport.destroy();
        ws[kFailOpen](new Error("Server sent no subprotocol"));
        return;
      }
      if (ws.listenerCount("upgrade") > 0) {
        ws.emit("upgrade", incomingMessage(connection.response!));
      }
      if (signal.aborted) {
        // close() or terminate() in an upgrade listener.
        connection.close().catch(noop);
        return;
      }
      ws[kAttach](connection);
      return;
    } catch (error) {
      if (signal.aborted) return;
      const status = invalidStatus(error);
      if (status === null) {
        ws[kFailOpen](handshakeError(error));
        return;
      }
      const response = status.response;
      if (opts.followRedirects === true && isRedirect(response)) {
        if (redirects >= maxRedirects) {
          ws[kFailOpen](new Error("Maximum redirects exceeded"));
          return;
        }
        let next: string;
        try {
          next = followRedirect(url.href, response, { redirects, maxRedirects }).uri;
        } catch (refused) {
          ws[kFailOpen](refused as Error);
          return;
        }
        const nextUrl = new URL(next);
        if (nextUrl.host !== url.host) {
          // Credentials stay with the origin they were meant for.
          headers = headers.filter(([name]) => !/^(authorization|cookie)$/i.test(name));
        }
        url = nextUrl;
        ws.emit("redirect", url.href, upgradeRequest(url, opts.headers, ws));
        continue;
      }
      if (ws.listenerCount("unexpected-response") > 0) {
        ws.emit("unexpected-response", request, incomingMessage(response));
        // Unless a listener aborted (which reports as ws does), just close.
        if (ws.readyState === 0) ws[kFailOpen](null);
      } else {
        ws[kFailOpen](new Error(`Unexpected server response: ${response.status}`));
      }
      return;
    }
  }
}

/** The URI the core connects to: `ws+unix:` becomes `ws://localhost` with its request path. */
function target(url: URL): string {
  if (url.protocol !== "ws+unix:") return url.href;
  const [, path = "/"] = splitUnix(url);
  return `ws://localhost${path}`;
}

/** `ws+unix:///tmp/sock:/path?q` → socket path and request path. */
function splitUnix(url: URL): [socketPath: string, requestPath: string] {
  const full = decodeURIComponent(url.pathname) + url.search;
  const colon = full.indexOf(":");
  if (colon === -1) return [full, "/"];
  return [full.slice(0, colon), full.slice(colon + 1) || "/"];
}

function coreOptions(
  url: URL,
  protocols: readonly string[],
  opts: WsClientOptions,
  headers: [string, string][],
  signal: AbortSignal,
): ConnectOptions {
  const proxy = opts.proxy ?? agentProxy(opts.agent);
  const tls: TlsConnectionOptions = {};
  for (const key of TLS_KEYS) {
    if (opts[key] !== undefined) (tls as Record<string, unknown>)[key] = opts[key];
  }
  const options: ConnectOptions = {
    subprotocols: protocols.length > 0 ? protocols : null,
    origin: opts.origin ?? null,
    additionalHeaders: headers,
    userAgentHeader: null,
    compression: opts.perMessageDeflate === false ? null : "deflate",
    maxSize: opts.maxPayload === 0 ? null : (opts.maxPayload ?? WS_DEFAULT_MAX_PAYLOAD),
    openTimeout: opts.handshakeTimeout,
    closeTimeout: opts.closeTimeout,
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    logger: opts.logger ?? false,
    tls,
    signal,
    proxy,
  };
  if (url.protocol === "ws+unix:") {
    options.path = splitUnix(url)[0];
  } else if (proxy === undefined || proxy === null) {
    // A transport of our own: the core then follows no redirect itself.
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port || (url.protocol === "wss:" ? 443 : 80));
    options.sock =
      opts.createConnection !== undefined
        ? opts.createConnection({ host, port, servername: opts.servername ?? host })
        : url.protocol === "ws:"
          ? connectSharingReads({ host, port, noDelay: true })
          : netConnect({ host, port, noDelay: true });
  }
  return options;
}

/**
 * The proxy of a proxy agent as `ws` users pass one (`agent: new
 * HttpsProxyAgent(url)`): https-proxy-agent and http-proxy-agent keep it
 * as `proxy`, a URL. `undefined` for any other agent.
 */
function agentProxy(agent: unknown): string | undefined {
  const proxy = (agent as { proxy?: unknown } | null | undefined)?.proxy;
  if (proxy instanceof URL) return proxy.href;
  return typeof proxy === "string" && PROXY_URL.test(proxy) ? proxy : undefined;
}

const PROXY_URL = /^(https?|socks[45]a?h?):\/\//i;

function headerPairs(headers: WsClientOptions["headers"]): [string, string][] {
  const pairs: [string, string][] = [];
  if (headers === undefined) return pairs;
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const item of value) pairs.push([name, String(item)]);
    else pairs.push([name, String(value)]);
  }
  return pairs;
}

function upgradeRequest(
  url: URL,
  headers: WsClientOptions["headers"],
  ws: WebSocket,
): UpgradeRequest {
  const abort = (): void => ws.terminate();
  return {
    method: "GET",
    path: url.pathname + url.search,
    host: url.hostname,
    protocol: url.protocol === "wss:" ? "https:" : "http:",
    getHeader(name: string) {
      if (headers === undefined) return undefined;
      const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
      return key === undefined ? undefined : headers[key];
    },
    abort,
    destroy: abort,
  };
}

/** The core's handshake response as the `http.IncomingMessage` `ws` listeners expect. */
function incomingMessage(response: Response): IncomingMessage {
  // An IncomingMessage reads from its socket only through an HTTP parser,
  // which this one never gets: it is filled in here.
  const message = new IncomingMessage(null as never);
  message.statusCode = response.status;
  message.statusMessage = response.reason;
  message.httpVersion = "1.1";
  message.httpVersionMajor = 1;
  message.httpVersionMinor = 1;
  const raw: string[] = [];
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    raw.push(name, value);
    const key = name.toLowerCase();
    const previous = headers[key];
    if (key === "set-cookie") headers[key] = [...((previous as string[]) ?? []), value];
    else headers[key] = previous === undefined ? value : `${previous as string}, ${value}`;
  }
  message.rawHeaders = raw;
  message.headers = headers;
  if (response.body.length > 0) message.push(response.body);
  message.push(null);
  return message;
}

function invalidStatus(error: unknown): InvalidStatus | null {
  if (error instanceof InvalidStatus) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof InvalidStatus ? cause : null;
}

/** The error `ws` would report: its wording for a timeout; others as the core has them. */
function handshakeError(error: unknown): Error {
  if ((error as { name?: unknown } | null)?.name === "TimeoutError") {
    return new Error("Opening handshake has timed out", { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

function noop(): void {}

setClientOpener(startClient);
