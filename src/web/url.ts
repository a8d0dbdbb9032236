/**
 * The constructor steps `WebSocket` and `WebSocketStream` share: the URL
 * record (WHATWG WebSockets §3.1 "get a URL record") and the list of
 * subprotocols (§3.1 constructor step 5), with the `SyntaxError`s the
 * Standard throws.
 *
 * @module
 */

import { isIterableObject, toDOMString, toUSVString } from "./webidl.ts";

// Fetch §2.9 "bad port": ports of other protocols (SMTP, IRC...) that a
// WebSocket, like any fetch, must not reach, against cross-protocol attacks.
const BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
]);

// RFC 2616 §2.2 separators: a subprotocol (RFC 6455 §4.1) is a token, i.e.
// characters U+0021 to U+007E except these.
const SEPARATORS = new Set('()<>@,;:\\"/[]?={}');

/** A `SyntaxError` DOMException, as the Standard throws for a bad URL or protocol. */
export function syntaxError(message: string): DOMException {
  return new DOMException(message, "SyntaxError");
}

/**
 * WHATWG WebSockets §3.1 "get a URL record": parses `url` (a USVString, with
 * no base URL: Node has no document), maps `http:`/`https:` to
 * `ws:`/`wss:`, and rejects other schemes and fragments.
 *
 * @throws SyntaxError DOMException naming the bad URL.
 */
export function getURLRecord(url: unknown): URL {
  const text = toUSVString(url);
  let record: URL;
  try {
    record = new URL(text);
  } catch {
    throw syntaxError(`invalid URL: ${JSON.stringify(text)}`);
  }
  // Both schemes are special, so the scheme setter may switch between them.
  if (record.protocol === "http:") record.protocol = "ws:";
  else if (record.protocol === "https:") record.protocol = "wss:";
  if (record.protocol !== "ws:" && record.protocol !== "wss:") {
    throw syntaxError(
      `URL scheme must be ws, wss, http or https, got ${JSON.stringify(record.protocol.slice(0, -1))}: ${record.href}`,
    );
  }
  // A fragment, even an empty one ("ws://host/#"), has no meaning for a WebSocket.
  if (record.hash !== "" || record.href.endsWith("#")) {
    throw syntaxError(`URL must not have a fragment: ${record.href}`);
  }
  return record;
}

/**
 * Converts the `protocols` argument (WebIDL `(DOMString or
 * sequence<DOMString>)`) and validates it (§3.1 constructor steps 4-5):
 * every protocol a token, none repeated (compared ASCII
 * case-insensitively, as the Standard's tests require).
 *
 * @throws SyntaxError DOMException naming the bad or repeated protocol;
 *   TypeError when an element can't be converted to a string (a Symbol).
 */
export function checkProtocols(protocols: unknown): string[] {
  let list: string[];
  if (protocols === undefined) list = [];
  else if (isIterableObject(protocols)) list = Array.from(protocols, toDOMString);
  else list = [toDOMString(protocols)];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (!isToken(protocol)) {
      throw syntaxError(`invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    const key = protocol.toLowerCase();
    if (seen.has(key)) throw syntaxError(`subprotocol repeated: ${JSON.stringify(protocol)}`);
    seen.add(key);
  }
  return list;
}

function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || SEPARATORS.has(value[i])) return false;
  }
  return true;
}

/** The URL's port if Fetch blocks it (§2.9 "bad port"), else `null`. */
export function badPort(url: URL): number | null {
  // An empty port is the scheme's default (80 or 443): never bad.
  const port = url.port === "" ? null : Number(url.port);
  return port !== null && BAD_PORTS.has(port) ? port : null;
}
