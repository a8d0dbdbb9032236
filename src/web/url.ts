/**
 * The constructor steps `WebSocket` and `WebSocketStream` share: the URL
 * record (WHATWG WebSockets §3.1 "get a URL record") and the list of
 * subprotocols (§3.1 constructor step 5), with the `SyntaxError`s the
 * Standard throws.
 *
 * @module
 */

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

/** Whether a value would be converted by WebIDL as a sequence. */
export function isIterableObject(value: unknown): value is Iterable<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function"
  );
}

function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || SEPARATORS.has(value[i])) return false;
  }
  return true;
}

/** WebIDL DOMString conversion: `String()`, except that a Symbol throws. */
export function toDOMString(value: unknown): string {
  if (typeof value === "symbol") throw new TypeError("cannot convert a Symbol to a string");
  return String(value);
}

/** WebIDL USVString conversion: lone surrogates become U+FFFD. */
export function toUSVString(value: unknown): string {
  // ES2024 String.prototype.toWellFormed: in Node 20, not in our ES2023 lib.
  return (toDOMString(value) as string & { toWellFormed(): string }).toWellFormed();
}
