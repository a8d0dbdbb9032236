/**
 * Parsers and builders for the header grammars of the WebSocket handshake:
 * `Connection`, `Upgrade`, `Sec-WebSocket-Protocol`,
 * `Sec-WebSocket-Extensions`, `Authorization: Basic`, `Host`.
 *
 * Every parser is a hand-written scanner that moves forward one character at
 * a time and never backtracks, so it runs in time linear in the length of the
 * header, whatever an attacker puts in it (no regular expressions: `ws` once
 * shipped a ReDoS in its `Sec-WebSocket-Protocol` parsing).
 *
 * The grammar is RFC 7230 §3.2.6 (`token`, `quoted-string`) and §7 (the `#`
 * list rule), with RFC 6455 §9.1 for `Sec-WebSocket-Extensions`.
 *
 * @module
 */

import { InvalidHeaderFormat, InvalidHeaderValue } from "./errors.ts";
import type { ExtensionParameter } from "./extensions/base.ts";

// RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
// / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Whether `code` is an RFC 7230 `tchar`. @internal */
export function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Whether `value` is a non-empty RFC 7230 `token`. */
export function isToken(value: string): boolean {
  if (typeof value !== "string" || value.length === 0) return false;
  for (let i = 0; i < value.length; i++) if (!isTchar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Whether `code` may appear in a field value (RFC 7230 §3.2): HTAB, SP,
 * VCHAR, obs-text. @internal
 */
export function isFieldValueChar(code: number): boolean {
  return code === 0x09 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff);
}

/** Whether every character of `value` may appear in a field value. @internal */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (!isFieldValueChar(value.charCodeAt(i))) return false;
  return true;
}

// Error messages quote the offending header, but an attacker controls it and
// it can be as long as the line limit: keep a window around the position.
const EXCERPT_CONTEXT = 40;

function formatError(headerName: string, error: string, header: string, pos: number): Error {
  let excerpt = header;
  if (header.length > 2 * EXCERPT_CONTEXT + 20) {
    const start = Math.max(0, pos - EXCERPT_CONTEXT);
    const end = Math.min(header.length, pos + EXCERPT_CONTEXT);
    excerpt = `${start > 0 ? "…" : ""}${header.slice(start, end)}${end < header.length ? "…" : ""}`;
    excerpt += ` (${header.length} chars)`;
  }
  return new InvalidHeaderFormat(headerName, error, excerpt, pos);
}

// RFC 7230 §3.2.3: OWS = *( SP / HTAB )
function parseOWS(header: string, pos: number): number {
  while (pos < header.length) {
    const c = header.charCodeAt(pos);
    if (c !== 0x20 && c !== 0x09) break;
    pos++;
  }
  return pos;
}

function parseToken(header: string, pos: number, headerName: string): [string, number] {
  const start = pos;
  while (pos < header.length && isTchar(header.charCodeAt(pos))) pos++;
  if (pos === start) throw formatError(headerName, "expected token", header, pos);
  return [header.slice(start, pos), pos];
}

// RFC 7230 §3.2.6:
// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
// qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
// quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text )
// Returns the unescaped content. `header[pos]` must be DQUOTE.
function parseQuotedString(header: string, pos: number, headerName: string): [string, number] {
  const open = pos;
  pos++;
  let out = "";
  let segment = pos;
  while (pos < header.length) {
    const c = header.charCodeAt(pos);
    if (c === 0x22) {
      return [out + header.slice(segment, pos), pos + 1];
    }
    if (c === 0x5c) {
      const next = pos + 1 < header.length ? header.charCodeAt(pos + 1) : -1;
      if (next === -1) break;
      if (!isFieldValueChar(next)) {
        throw formatError(headerName, "invalid quoted-pair", header, pos);
      }
      out += header.slice(segment, pos);
      segment = pos + 1; // keep the escaped character, drop the backslash
      pos += 2;
      continue;
    }
    if (!isFieldValueChar(c)) {
      throw formatError(headerName, "invalid character in quoted string", header, pos);
    }
    pos++;
  }
  throw formatError(headerName, "unterminated quoted string", header, open);
}

/** Builds a quoted-string, escaping `"` and `\`. */
function buildQuotedString(value: string): string {
  if (!isFieldValue(value)) {
    throw new TypeError(`invalid character in quoted string: ${JSON.stringify(value)}`);
  }
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    out += ch === '"' || ch === "\\" ? `\\${ch}` : ch;
  }
  return `${out}"`;
}

// RFC 7230 §7: #element => [ ( "," / element ) *( OWS "," [ OWS element ] ) ]
// "a recipient MUST parse and ignore a reasonable number of empty list
// elements": runs of commas are skipped, whatever their length, in one pass.
// Like Python websockets, an empty list (empty header) is an error: every
// header parsed here requires at least one element.
function parseList<T>(
  parseItem: (header: string, pos: number, headerName: string) => [T, number],
  header: string,
  pos: number,
  headerName: string,
): T[] {
  pos = skipEmptyElements(header, parseOWS(header, pos));
  const items: T[] = [];
  for (;;) {
    const [item, next] = parseItem(header, pos, headerName);
    items.push(item);
    pos = parseOWS(header, next);
    if (pos === header.length) return items;
    if (header.charCodeAt(pos) !== 0x2c) {
      throw formatError(headerName, "expected comma", header, pos);
    }
    pos = skipEmptyElements(header, pos);
    if (pos === header.length) return items;
  }
}

function skipEmptyElements(header: string, pos: number): number {
  while (pos < header.length && header.charCodeAt(pos) === 0x2c) pos = parseOWS(header, pos + 1);
  return pos;
}

function parseTokenItem(header: string, pos: number, headerName: string): [string, number] {
  return parseToken(header, pos, headerName);
}

/**
 * Parses a `Connection` header (RFC 7230 §6.1): a list of tokens.
 *
 * @throws {@link InvalidHeaderFormat} naming the position of the error.
 */
export function parseConnection(header: string): string[] {
  return parseList(parseTokenItem, header, 0, "Connection");
}

// RFC 7230 §6.7: protocol = protocol-name ["/" protocol-version]
function parseUpgradeItem(header: string, pos: number, headerName: string): [string, number] {
  const start = pos;
  [, pos] = parseToken(header, pos, headerName);
  if (pos < header.length && header.charCodeAt(pos) === 0x2f) {
    [, pos] = parseToken(header, pos + 1, headerName);
  }
  return [header.slice(start, pos), pos];
}

/**
 * Parses an `Upgrade` header (RFC 7230 §6.7): a list of `name[/version]`.
 *
 * @throws {@link InvalidHeaderFormat} naming the position of the error.
 */
export function parseUpgrade(header: string): string[] {
  return parseList(parseUpgradeItem, header, 0, "Upgrade");
}

/**
 * Parses a `Sec-WebSocket-Protocol` header (RFC 6455 §11.3.4): a list of
 * tokens.
 *
 * @throws {@link InvalidHeaderFormat} naming the position of the error.
 */
export function parseSubprotocol(header: string): string[] {
  return parseList(parseTokenItem, header, 0, "Sec-WebSocket-Protocol");
}

/**
 * Builds a `Sec-WebSocket-Protocol` header.
 *
 * @throws TypeError when a subprotocol isn't a token.
 */
export function buildSubprotocol(subprotocols: readonly string[]): string {
  for (const subprotocol of subprotocols) {
    if (!isToken(subprotocol)) {
      throw new TypeError(`invalid subprotocol: ${JSON.stringify(subprotocol)}`);
    }
  }
  return subprotocols.join(", ");
}

/** One extension in `Sec-WebSocket-Extensions`: its name and parameters. */
export type ExtensionHeader = readonly [name: string, params: ExtensionParameter[]];

// RFC 6455 §9.1: extension-param = token [ "=" (token | quoted-string) ]
// "When using the quoted-string syntax variant, the value after
// quoted-string unescaping MUST conform to the 'token' ABNF."
// OWS around "=" is tolerated, as Python websockets does.
function parseExtensionParam(
  header: string,
  pos: number,
  headerName: string,
): [ExtensionParameter, number] {
  let name: string;
  [name, pos] = parseToken(header, pos, headerName);
  pos = parseOWS(header, pos);
  let value: string | null = null;
  if (pos < header.length && header.charCodeAt(pos) === 0x3d) {
    pos = parseOWS(header, pos + 1);
    if (pos < header.length && header.charCodeAt(pos) === 0x22) {
      const open = pos;
      [value, pos] = parseQuotedString(header, pos, headerName);
      if (!isToken(value)) {
        throw formatError(headerName, "invalid quoted header content", header, open);
      }
    } else {
      [value, pos] = parseToken(header, pos, headerName);
    }
    pos = parseOWS(header, pos);
  }
  return [[name, value], pos];
}

// RFC 6455 §9.1: extension = extension-token *( ";" extension-param )
function parseExtensionItem(
  header: string,
  pos: number,
  headerName: string,
): [ExtensionHeader, number] {
  let name: string;
  [name, pos] = parseToken(header, pos, headerName);
  pos = parseOWS(header, pos);
  const params: ExtensionParameter[] = [];
  while (pos < header.length && header.charCodeAt(pos) === 0x3b) {
    let param: ExtensionParameter;
    [param, pos] = parseExtensionParam(header, parseOWS(header, pos + 1), headerName);
    params.push(param);
  }
  return [[name, params], pos];
}

/**
 * Parses a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1) into a list of
 * extensions with their parameters. Quoted values are unquoted.
 *
 * @example
 * ```ts
 * parseExtension('permessage-deflate; client_max_window_bits="10", x-foo');
 * // [["permessage-deflate", [["client_max_window_bits", "10"]]], ["x-foo", []]]
 * ```
 * @throws {@link InvalidHeaderFormat} naming the position of the error.
 */
export function parseExtension(header: string): ExtensionHeader[] {
  return parseList(parseExtensionItem, header, 0, "Sec-WebSocket-Extensions");
}

/**
 * Builds a `Sec-WebSocket-Extensions` header: `name; param; param=value, ...`.
 *
 * @throws TypeError when a name or a value isn't a token (RFC 6455 §9.1).
 */
export function buildExtension(extensions: readonly ExtensionHeader[]): string {
  const parts: string[] = [];
  for (const [name, params] of extensions) {
    if (!isToken(name)) throw new TypeError(`invalid extension name: ${JSON.stringify(name)}`);
    let part = name;
    for (const [paramName, value] of params) {
      if (!isToken(paramName)) {
        throw new TypeError(`invalid extension parameter name: ${JSON.stringify(paramName)}`);
      }
      if (value === null) {
        part += `; ${paramName}`;
      } else {
        if (!isToken(value)) {
          throw new TypeError(
            `invalid value for extension parameter ${paramName}: ${JSON.stringify(value)}`,
          );
        }
        part += `; ${paramName}=${value}`;
      }
    }
    parts.push(part);
  }
  return parts.join(", ");
}

// RFC 7235 §2.1: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
function parseToken68(header: string, pos: number, headerName: string): [string, number] {
  const start = pos;
  while (pos < header.length) {
    const c = header.charCodeAt(pos);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x2e ||
      c === 0x5f ||
      c === 0x7e ||
      c === 0x2b ||
      c === 0x2f;
    if (!ok) break;
    pos++;
  }
  if (pos === start) throw formatError(headerName, "expected token68", header, pos);
  while (pos < header.length && header.charCodeAt(pos) === 0x3d) pos++;
  return [header.slice(start, pos), pos];
}

/**
 * Decodes strict base64 (RFC 4648 §4): the standard alphabet, padded to a
 * multiple of 4 characters, `=` only at the end. `Buffer.from(s, "base64")`
 * silently skips invalid characters, which is no way to check a key.
 *
 * @returns the bytes, or `null` when `value` isn't strict base64.
 * @internal
 */
export function decodeBase64(value: string): Buffer | null {
  return decodedBase64Length(value) === -1 ? null : Buffer.from(value, "base64");
}

/**
 * The number of bytes strict base64 `value` decodes to (see
 * {@link decodeBase64}), or -1 when it isn't strict base64: checks a
 * `Sec-WebSocket-Key` without decoding it.
 *
 * @internal
 */
export function decodedBase64Length(value: string): number {
  const length = value.length;
  if (length % 4 !== 0) return -1;
  let end = length;
  if (end > 0 && value.charCodeAt(end - 1) === 0x3d) end--;
  if (end > 0 && value.charCodeAt(end - 1) === 0x3d) end--;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2b ||
      c === 0x2f;
    if (!ok) return -1;
  }
  return (length / 4) * 3 - (length - end);
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses an `Authorization: Basic` header (RFC 7617 §2).
 *
 * @returns `[username, password]`, decoded as UTF-8.
 * @throws {@link InvalidHeaderFormat} when the header doesn't follow the
 *   grammar, {@link InvalidHeaderValue} for another scheme or credentials that
 *   aren't base64 of `username:password`.
 */
export function parseAuthorizationBasic(header: string): [username: string, password: string] {
  const headerName = "Authorization";
  // RFC 7235 §2.1: credentials = auth-scheme [ 1*SP ( token68 / ... ) ]
  const [scheme, afterScheme] = parseToken(header, 0, headerName);
  if (scheme.toLowerCase() !== "basic") {
    throw new InvalidHeaderValue(headerName, `unsupported scheme: ${scheme}`);
  }
  if (afterScheme >= header.length || header.charCodeAt(afterScheme) !== 0x20) {
    throw formatError(headerName, "expected space after scheme", header, afterScheme);
  }
  let pos = afterScheme;
  while (pos < header.length && header.charCodeAt(pos) === 0x20) pos++;
  const [credentials, afterCredentials] = parseToken68(header, pos, headerName);
  pos = parseOWS(header, afterCredentials);
  if (pos !== header.length) throw formatError(headerName, "expected end of header", header, pos);
  const bytes = decodeBase64(credentials);
  if (bytes === null) {
    throw new InvalidHeaderValue(headerName, "expected base64-encoded credentials");
  }
  let userPass: string;
  try {
    userPass = utf8Decoder.decode(bytes);
  } catch {
    throw new InvalidHeaderValue(headerName, "expected UTF-8 credentials");
  }
  const colon = userPass.indexOf(":");
  if (colon === -1) {
    throw new InvalidHeaderValue(headerName, "expected username:password credentials");
  }
  return [userPass.slice(0, colon), userPass.slice(colon + 1)];
}

/**
 * Builds an `Authorization: Basic` header (RFC 7617 §2), encoding the
 * credentials as UTF-8.
 *
 * @throws TypeError when `username` contains a colon (RFC 7617 §2 forbids it).
 */
export function buildAuthorizationBasic(username: string, password: string): string {
  if (username.includes(":")) {
    throw new TypeError(`username must not contain a colon: ${JSON.stringify(username)}`);
  }
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

/**
 * Builds a `WWW-Authenticate` header for Basic auth (RFC 7617 §2), with
 * `charset="UTF-8"` (RFC 7617 §2.1).
 *
 * @example
 * ```ts
 * buildWwwAuthenticateBasic("chat"); // 'Basic realm="chat", charset="UTF-8"'
 * ```
 */
export function buildWwwAuthenticateBasic(realm: string): string {
  return `Basic realm=${buildQuotedString(realm)}, charset="UTF-8"`;
}

/**
 * Builds a `Host` header (RFC 7230 §5.4): IPv6 literals go in brackets, the
 * port is omitted when it's the default one (80 for `ws`, 443 for `wss`).
 */
export function buildHost(host: string, port: number, secure: boolean): string {
  const address = host.includes(":") ? `[${host}]` : host;
  return port === (secure ? 443 : 80) ? address : `${address}:${port}`;
}
