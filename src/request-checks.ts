/**
 * Checks a server makes on every handshake request as soon as it is
 * parsed, before `processRequest` or any other hook sees it: fields whose
 * absence, repetition or form makes the request itself invalid, whatever
 * the server does with it.
 *
 * @module
 */

import { InvalidHeader, InvalidHeaderValue } from "./errors.ts";
import type { Headers } from "./headers.ts";

/**
 * Fields that carry credentials and may appear once: with two, a proxy
 * and the application could each pick a different one (the first wins in
 * some code, the last in other code) and disagree on who the user is.
 */
const SINGLE_CREDENTIALS: readonly string[] = ["Authorization", "Proxy-Authorization"];

/**
 * Checks the request's header fields:
 *
 * - exactly one `Host`, of valid form (RFC 9112 §3.2: "A server MUST
 *   respond with a 400 (Bad Request) status code to any HTTP/1.1 request
 *   message that lacks a Host header field and to any request message that
 *   contains more than one Host header field line or a Host header field
 *   with an invalid field value"; RFC 6455 §4.2.1 requires it too);
 * - at most one `Authorization` and one `Proxy-Authorization`.
 *
 * @throws {@link InvalidHeader} naming the field and what's wrong.
 */
export function checkRequestFields(headers: Headers): void {
  const host = headers.getOne("Host");
  if (host === undefined) throw new InvalidHeader("Host");
  if (!isValidHost(host)) throw new InvalidHeaderValue("Host", host);
  for (const name of SINGLE_CREDENTIALS) headers.getOne(name);
}

// RFC 3986 §2.3 unreserved and §2.2 sub-delims, as allowed in a reg-name.
function isRegNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    "-._~!$&'()*+,;=".includes(String.fromCharCode(c))
  );
}

// The characters of an IPv6 address (its exact grammar is the resolver's
// business), and RFC 3986 §3.2.2 IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
const IPV6_SHAPE = /^[0-9A-Fa-f:.]+$/;
const IPV_FUTURE = /^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/;

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * Whether `value` is a valid `Host` field value (RFC 9112 §3.2): `uri-host
 * [ ":" port ]` (RFC 3986 §3.2.2, §3.2.3). The host is a reg-name
 * (letters, digits, `-._~!$&'()*+,;=` and `%XX`; IPv4 addresses are
 * among them, and so is the empty name), or an IP literal in brackets, of
 * hex digits, `:` and `.` (IPv6, IPv4 tail included), or `v...` (IPvFuture);
 * the port is digits.
 */
export function isValidHost(value: string): boolean {
  let pos = 0;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 2) return false;
    const literal = value.slice(1, close);
    if (!IPV6_SHAPE.test(literal) && !IPV_FUTURE.test(literal)) return false;
    pos = close + 1;
  } else {
    while (pos < value.length && value.charCodeAt(pos) !== 0x3a) {
      const c = value.charCodeAt(pos);
      if (c === 0x25) {
        if (!isHexDigit(value.charCodeAt(pos + 1)) || !isHexDigit(value.charCodeAt(pos + 2))) {
          return false;
        }
        pos += 3;
        continue;
      }
      if (!isRegNameChar(c)) return false;
      pos++;
    }
  }
  if (pos === value.length) return true;
  if (value.charCodeAt(pos) !== 0x3a) return false;
  for (let i = pos + 1; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
