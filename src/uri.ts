/**
 * WebSocket URIs (RFC 6455 §3): `ws://` and `wss://`.
 *
 * @module
 */

import { InvalidURI } from "./errors.ts";

/** A parsed `ws://` or `wss://` URI. */
export interface WebSocketURI {
  /** The URI as given. */
  readonly uri: string;
  /** `true` for `wss://`. */
  readonly secure: boolean;
  /**
   * The host: a lowercased name (IDNs in punycode), an IPv4 address, or an
   * IPv6 address without brackets (`::1`), ready for `net.connect`.
   */
  readonly host: string;
  /** The port: explicit, else 80 for `ws://` and 443 for `wss://`. */
  readonly port: number;
  /** The path, percent-encoded; `/` when the URI has none. */
  readonly path: string;
  /** The query without its `?`; `""` when the URI has none. */
  readonly query: string;
  /**
   * The request target of the handshake (RFC 6455 §3 "resource-name"): path
   * and query, e.g. `/chat?room=1`.
   */
  readonly resourceName: string;
  /** The user name, percent-decoded, for Basic auth; `null` without user info. */
  readonly username: string | null;
  /** The password, percent-decoded; `null` without user info. */
  readonly password: string | null;
}

/**
 * Parses and validates a WebSocket URI.
 *
 * The WHATWG URL parser does the heavy lifting (IDNA, IPv4 and IPv6 forms,
 * percent-encoding the path), but it's lenient in ways a WebSocket URI must
 * not be, so the string is checked first: scheme `ws` or `wss` followed by
 * `//` and a host, no whitespace or control characters, no backslashes, no
 * fragment (RFC 6455 §3: "Fragment identifiers ... MUST NOT be used").
 * User info needs a password (Basic auth without one makes no sense), and a
 * user name can't contain `:` once decoded (RFC 7617 §2).
 *
 * @example
 * ```ts
 * parseURI("wss://user:pa%20ss@[::1]:8443/chat?room=1");
 * // { secure: true, host: "::1", port: 8443, resourceName: "/chat?room=1",
 * //   username: "user", password: "pa ss", ... }
 * ```
 * @throws {@link InvalidURI} naming the URI and what's wrong with it.
 */
export function parseURI(uri: string): WebSocketURI {
  if (typeof uri !== "string") throw new InvalidURI(String(uri), "not a string");
  const colon = uri.indexOf(":");
  const scheme = colon === -1 ? "" : uri.slice(0, colon).toLowerCase();
  if (scheme !== "ws" && scheme !== "wss") {
    throw new InvalidURI(uri, "scheme isn't ws or wss");
  }
  if (!uri.startsWith("//", colon + 1)) throw new InvalidURI(uri, "expected // after the scheme");
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) {
      throw new InvalidURI(uri, "whitespace or control character in URI");
    }
    if (c === 0x5c) throw new InvalidURI(uri, "backslash in URI");
    if (c === 0x23) throw new InvalidURI(uri, "fragment in URI");
  }
  const authorityStart = colon + 3;
  let authorityEnd = authorityStart;
  while (authorityEnd < uri.length) {
    const c = uri.charCodeAt(authorityEnd);
    if (c === 0x2f || c === 0x3f) break;
    authorityEnd++;
  }
  const authority = uri.slice(authorityStart, authorityEnd);
  const at = authority.lastIndexOf("@");
  const userInfo = at === -1 ? null : authority.slice(0, at);
  if (authority.slice(at + 1).length === 0 || authority.slice(at + 1).startsWith(":")) {
    throw new InvalidURI(uri, "missing host");
  }
  if (userInfo !== null && !userInfo.includes(":")) {
    throw new InvalidURI(uri, "username provided without password");
  }

  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    // Not the URL parser's error as the cause: its `input` holds the password.
    throw new InvalidURI(uri, "not a valid URL");
  }
  const secure = scheme === "wss";
  let host = url.hostname;
  if (host === "") throw new InvalidURI(uri, "missing host");
  if (host.startsWith("[")) host = host.slice(1, -1);
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const path = url.pathname === "" ? "/" : url.pathname;
  const query = url.search.startsWith("?") ? url.search.slice(1) : url.search;

  let username: string | null = null;
  let password: string | null = null;
  if (userInfo !== null) {
    try {
      username = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch (error) {
      throw new InvalidURI(uri, "invalid percent-encoding in user info", { cause: error });
    }
    if (username.includes(":")) throw new InvalidURI(uri, "username contains a colon");
  }

  return {
    uri,
    secure,
    host,
    port,
    path,
    query,
    resourceName: query === "" ? path : `${path}?${query}`,
    username,
    password,
  };
}

/**
 * Whether `uri` is a `WebSocketURI` already, so that functions can accept a
 * string or a parsed URI.
 */
export function isWebSocketURI(uri: unknown): uri is WebSocketURI {
  return (
    typeof uri === "object" &&
    uri !== null &&
    typeof (uri as WebSocketURI).host === "string" &&
    typeof (uri as WebSocketURI).resourceName === "string" &&
    typeof (uri as WebSocketURI).secure === "boolean"
  );
}
