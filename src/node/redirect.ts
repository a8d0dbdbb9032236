/**
 * Rules for following HTTP redirects during the opening handshake: which
 * responses are redirects, where they lead, how many are allowed, and what
 * must not follow the client to another origin.
 *
 * @module
 */

import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { InvalidHandshake, InvalidStatus, InvalidURI, SecurityError } from "../errors.ts";
import type { HeadersInit } from "../headers.ts";
import type { Response } from "../http11.ts";
import { CREDENTIAL_HEADERS, redactURL } from "../redact.ts";
import { parseURI, type WebSocketURI } from "../uri.ts";

export { CREDENTIAL_HEADERS };

/** Statuses followed as redirects when the response has a `Location` header. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([300, 301, 302, 303, 307, 308]);

/** Default of {@link maxRedirects}. */
export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * How many redirects a handshake may follow: `WEBSOCKETS_MAX_REDIRECTS`, or
 * {@link DEFAULT_MAX_REDIRECTS}.
 *
 * @throws RangeError when the variable isn't a non-negative integer.
 */
export function maxRedirects(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WEBSOCKETS_MAX_REDIRECTS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_MAX_REDIRECTS;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `WEBSOCKETS_MAX_REDIRECTS must be a non-negative integer, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** Whether `response` is a redirect that the client follows. */
export function isRedirect(response: Response): boolean {
  return REDIRECT_STATUSES.has(response.status) && response.headers.get("Location") !== undefined;
}

/** Where a handshake was connecting when it got a redirect. */
export interface RedirectContext {
  /** Redirects already followed by this handshake. */
  redirects: number;
  /** Limit on redirects. Default: {@link maxRedirects}(). */
  maxRedirects?: number;
  /**
   * The transport: `"tcp"` (resolved from the URI, possibly through a proxy),
   * `"unix"` (a Unix socket path) or `"socket"` (a socket given by the
   * caller). Redirects are only followed over `"tcp"`. Default: `"tcp"`.
   */
  transport?: "tcp" | "unix" | "socket";
  /** Set as the `cause` of the error thrown when the redirect is refused. */
  cause?: unknown;
}

/** A redirect to follow. */
export interface Redirect {
  /** The `ws://` or `wss://` URI to connect to next. */
  uri: string;
  /** Whether it leads to another origin (scheme, host or port). */
  crossOrigin: boolean;
}

/**
 * Resolves the redirect `response` received while connecting to
 * `currentUri` and checks that it may be followed.
 *
 * The `Location` is resolved against `currentUri`; `http:` and `https:`
 * become `ws:` and `wss:`, and a fragment is dropped (RFC 6455 §3: WebSocket
 * URIs have none). On a same-origin redirect, user info of `currentUri` is
 * kept when the `Location` has none, since it is meant for that origin; it
 * never crosses to another origin.
 *
 * @throws SecurityError beyond `maxRedirects` redirects, or when a `wss://`
 *   URI redirects to `ws://`.
 * @throws InvalidURI when the `Location` isn't a valid URI or leads to
 *   another scheme.
 * @throws InvalidHandshake when connecting over a Unix socket or a given socket.
 */
export function followRedirect(
  currentUri: string,
  response: Response,
  context: RedirectContext,
): Redirect {
  const location = response.headers.get("Location");
  if (location === undefined) {
    throw new InvalidHandshake(`redirect ${response.status} without a Location header`, {
      cause: context.cause,
    });
  }

  const current = new URL(currentUri);
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    // Not the URL parser's error as the cause: its `input` holds any password.
    throw new InvalidURI(location, "redirect Location isn't a valid URI");
  }
  if (next.protocol === "http:") next.protocol = "ws:";
  else if (next.protocol === "https:") next.protocol = "wss:";
  if (next.protocol !== "ws:" && next.protocol !== "wss:") {
    throw new InvalidURI(next.href, "redirect leads to a scheme other than ws, wss, http or https");
  }
  next.hash = "";

  const crossOrigin =
    next.protocol !== current.protocol ||
    next.hostname !== current.hostname ||
    next.port !== current.port;
  if (!crossOrigin && next.username === "" && next.password === "") {
    next.username = current.username;
    next.password = current.password;
  }
  const uri = next.href;

  const limit = context.maxRedirects ?? maxRedirects();
  if (context.redirects >= limit) {
    throw new SecurityError(
      `more than ${limit} redirects; the last one leads to ${redactURL(uri)}`,
      {
        cause: context.cause,
      },
    );
  }
  if (current.protocol === "wss:" && next.protocol === "ws:") {
    throw new SecurityError(
      `cannot follow redirect from ${redactURL(currentUri)} to non-secure URI ${redactURL(uri)}`,
      {
        cause: context.cause,
      },
    );
  }
  const transport = context.transport ?? "tcp";
  if (transport === "unix") {
    throw new InvalidHandshake(
      `cannot follow redirect to ${redactURL(uri)} when connecting over a Unix socket`,
      {
        cause: context.cause,
      },
    );
  }
  if (transport === "socket") {
    throw new InvalidHandshake(
      `cannot follow redirect to ${redactURL(uri)} with a socket given to connect()`,
      {
        cause: context.cause,
      },
    );
  }
  return { uri, crossOrigin };
}

/**
 * Returns the headers without those that carry credentials (`Authorization`,
 * `Cookie`, `Proxy-Authorization`...), as
 * `[name, value]` pairs in their original order.
 */
export function withoutCredentials(headers: HeadersInit): [string, string][] {
  const pairs: [string, string][] = [];
  if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<readonly [string, string]>) {
      pairs.push([name, value]);
    }
  } else {
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value === "string") pairs.push([name, value]);
      else for (const item of value) pairs.push([name, item]);
    }
  }
  return pairs.filter(([name]) => !CREDENTIAL_HEADERS.includes(name.toLowerCase()));
}

/**
 * TLS options that identify or name one server, dropped on a cross-origin
 * redirect: `servername` (the next server's certificate must match the next
 * host), and the client certificate, which tells who the user is.
 */
export const ORIGIN_TLS_OPTIONS: readonly (keyof TlsConnectionOptions)[] = [
  "servername",
  "cert",
  "key",
  "pfx",
  "passphrase",
];

/** What a handshake sends besides the URI: changed by a cross-origin redirect. */
export interface RedirectCarry {
  /** Headers added to the request. */
  additionalHeaders?: HeadersInit | null;
  /** Subprotocols offered. */
  subprotocols?: readonly string[] | null;
  /** TLS options for `wss://`. */
  tls?: TlsConnectionOptions;
}

/** A redirect about to be followed, as {@link RedirectOptions.checkRedirect} sees it. */
export interface RedirectHop extends Readonly<RedirectCarry> {
  /** The URI that answered with the redirect. */
  readonly from: string;
  /** The `ws://` or `wss://` URI it leads to. */
  readonly to: string;
  /** Whether `to` is another origin (scheme, host or port) than `from`. */
  readonly crossOrigin: boolean;
  /** The redirect response (status, `Location`...). */
  readonly response: Response;
  /** Redirects followed before this one. */
  readonly redirects: number;
}

/** What {@link followRedirects} needs from the options of `connect()`. */
export interface RedirectOptions extends RedirectCarry {
  /**
   * Follow redirects (300, 301, 302, 303, 307, 308 with a `Location`) during
   * the opening handshake. `false` rejects with the `InvalidStatus` of the
   * redirect, whose `response` has the `Location`. Default: `false`, as
   * browsers, `ws` and undici do: a redirect could lead a client that
   * connects to a URI its application vetted to any other host (an internal
   * service, a cloud metadata address).
   */
  followRedirects?: boolean;
  /**
   * Most redirects one handshake follows; one more rejects with
   * `SecurityError`. Default: `WEBSOCKETS_MAX_REDIRECTS`, else 10.
   */
  maxRedirects?: number | null;
  /**
   * Vets each redirect before it is followed (after the built-in rules:
   * `maxRedirects`, no `wss://` to `ws://`). Return `false` to refuse it
   * (rejects with `SecurityError`), `true` to follow it with what `hop`
   * shows, or what to send on this hop instead: on a cross-origin hop,
   * `hop` has no custom headers, subprotocols, credentials or
   * TLS options tied to the origin (`servername`, client `cert` and `key`...)
   * unless you return them. What you return
   * also applies to later hops. A throw rejects `connect()` with it.
   * Default: none.
   */
  checkRedirect?:
    | ((hop: RedirectHop) => boolean | RedirectCarry | Promise<boolean | RedirectCarry>)
    | null;
  /** Set when connecting over a Unix socket: redirects are refused. */
  path?: string;
  /** Set when connecting over a given socket: redirects are refused. */
  sock?: unknown;
}

/**
 * Runs `attempt` for `uri`, then, with `followRedirects`, again for each
 * redirect the server answers with (an `InvalidStatus` whose response
 * {@link isRedirect}), as {@link followRedirect} and `checkRedirect` allow.
 * A cross-origin hop goes without `additionalHeaders`, `subprotocols` and
 * the TLS options tied to the origin (`servername`, client `cert` and
 * `key`...) unless `checkRedirect` returns them. Time
 * limits are the caller's: `openTimeout` covers the whole chain.
 */
export async function followRedirects<C>(
  uri: WebSocketURI,
  options: RedirectOptions,
  attempt: (uri: WebSocketURI, carry: RedirectCarry) => Promise<C>,
): Promise<C> {
  const transport =
    options.sock !== undefined ? "socket" : options.path !== undefined ? "unix" : "tcp";
  const limit = options.followRedirects === true ? (options.maxRedirects ?? maxRedirects()) : 0;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`maxRedirects must be a non-negative integer, got ${limit}`);
  }
  let carry: RedirectCarry = {
    additionalHeaders: options.additionalHeaders,
    subprotocols: options.subprotocols,
    tls: options.tls,
  };
  for (let redirects = 0; ; redirects++) {
    try {
      return await attempt(uri, carry);
    } catch (error) {
      if (!(error instanceof InvalidStatus) || !isRedirect(error.response)) throw error;
      if (options.followRedirects !== true) throw error;
      const redirect = followRedirect(uri.uri, error.response, {
        redirects,
        maxRedirects: limit,
        transport,
        cause: error,
      });
      const next = parseURI(redirect.uri);
      if (redirect.crossOrigin) carry = crossOrigin(carry);
      const check = options.checkRedirect;
      if (check != null) {
        const verdict = await check({
          ...carry,
          from: uri.uri,
          to: redirect.uri,
          crossOrigin: redirect.crossOrigin,
          response: error.response,
          redirects,
        });
        if (verdict === false) {
          throw new SecurityError(
            `redirect from ${redactURL(uri.uri)} to ${redactURL(redirect.uri)} refused by checkRedirect`,
            { cause: error },
          );
        }
        if (verdict !== true) carry = { ...carry, ...verdict };
      }
      uri = next;
    }
  }
}

// What a hop to another origin sends: nothing meant for the first one.
function crossOrigin(carry: RedirectCarry): RedirectCarry {
  let tls = carry.tls;
  if (tls !== undefined) {
    tls = { ...tls };
    for (const name of ORIGIN_TLS_OPTIONS) delete tls[name];
  }
  return { additionalHeaders: null, subprotocols: null, tls };
}
