/**
 * Rules for following HTTP redirects during the opening handshake: which
 * responses are redirects, where they lead, how many are allowed, and what
 * must not follow the client to another origin.
 *
 * @module
 */

import { InvalidHandshake, InvalidStatus, InvalidURI, SecurityError } from "../errors.ts";
import type { HeadersInit } from "../headers.ts";
import type { Response } from "../http11.ts";
import { parseURI, type WebSocketURI } from "../uri.ts";

/** Statuses followed as redirects when the response has a `Location` header. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([300, 301, 302, 303, 307, 308]);

/** Default of {@link maxRedirects}. */
export const DEFAULT_MAX_REDIRECTS = 10;

/**
 * Request headers that carry credentials, dropped on a cross-origin
 * redirect so a server can't collect another origin's secrets by redirecting
 * to itself (the rule of the Fetch standard, RFC 9110 §15.4).
 */
export const CREDENTIAL_HEADERS: readonly string[] = [
  "authorization",
  "cookie",
  "proxy-authorization",
];

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
  } catch (error) {
    throw new InvalidURI(location, "redirect Location isn't a valid URI", { cause: error });
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
    throw new SecurityError(`more than ${limit} redirects; the last one leads to ${uri}`, {
      cause: context.cause,
    });
  }
  if (current.protocol === "wss:" && next.protocol === "ws:") {
    throw new SecurityError(`cannot follow redirect from ${currentUri} to non-secure URI ${uri}`, {
      cause: context.cause,
    });
  }
  const transport = context.transport ?? "tcp";
  if (transport === "unix") {
    throw new InvalidHandshake(
      `cannot follow redirect to ${uri} when connecting over a Unix socket`,
      {
        cause: context.cause,
      },
    );
  }
  if (transport === "socket") {
    throw new InvalidHandshake(
      `cannot follow redirect to ${uri} with a socket given to connect()`,
      {
        cause: context.cause,
      },
    );
  }
  return { uri, crossOrigin };
}

/**
 * Returns the headers without those in {@link CREDENTIAL_HEADERS}, as
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

/** What {@link followRedirects} needs from the options of `connect()`. */
export interface RedirectOptions {
  additionalHeaders?: HeadersInit | null;
  /** Set when connecting over a Unix socket: redirects are refused. */
  path?: string;
  /** Set when connecting over a given socket: redirects are refused. */
  sock?: unknown;
  /** Most redirects to follow; default: `WEBSOCKETS_MAX_REDIRECTS` or its default. */
  maxRedirects?: number;
}

/**
 * Runs `attempt` for `uri`, then again for each redirect the server answers
 * with (an `InvalidStatus` whose response {@link isRedirect}), as
 * {@link followRedirect} allows. After a cross-origin redirect, attempts get
 * `additionalHeaders` without credentials. Time limits are the caller's:
 * `openTimeout` covers the whole chain.
 */
export async function followRedirects<C>(
  uri: WebSocketURI,
  options: RedirectOptions,
  attempt: (uri: WebSocketURI, additionalHeaders: HeadersInit | null | undefined) => Promise<C>,
): Promise<C> {
  const transport =
    options.sock !== undefined ? "socket" : options.path !== undefined ? "unix" : "tcp";
  const limit = options.maxRedirects ?? maxRedirects();
  let headers = options.additionalHeaders;
  for (let redirects = 0; ; redirects++) {
    try {
      return await attempt(uri, headers);
    } catch (error) {
      if (!(error instanceof InvalidStatus) || !isRedirect(error.response)) throw error;
      const redirect = followRedirect(uri.uri, error.response, {
        redirects,
        maxRedirects: limit,
        transport,
        cause: error,
      });
      uri = parseURI(redirect.uri);
      if (redirect.crossOrigin && headers != null) headers = withoutCredentials(headers);
    }
  }
}
