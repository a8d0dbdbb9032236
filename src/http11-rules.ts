/**
 * The rules a handshake request must follow whoever parsed it, and the
 * errors that name a broken one. The parsers of `http11-parser.ts` apply
 * them to bytes as they read; {@link checkParsedRequestLine} and
 * {@link checkParsedHeaders} apply them to a request another HTTP/1.1
 * stack parsed (node:http's, before its `upgrade` event), so that a server
 * attached to an `http.Server` refuses what its own listener refuses, with
 * the same error, status and log line.
 *
 * @module
 */

import { InvalidMessage, SecurityError } from "./errors.ts";
import { Headers, isFieldValue, isToken } from "./headers.ts";
import type { HttpLimits } from "./http-limits.ts";
import type { Request } from "./http11.ts";

/**
 * Renders bytes from the peer (or a string another parser decoded from
 * them) for an error message: bounded, no control characters, so that
 * logging the error can't forge log lines. @internal
 */
export function printable(bytes: Buffer | string): string {
  const max = 200;
  const end = Math.min(bytes.length, max);
  let out = "";
  for (let i = 0; i < end; i++) {
    const code = typeof bytes === "string" ? bytes.charCodeAt(i) : bytes[i];
    out +=
      code >= 0x20 && code <= 0x7e
        ? String.fromCharCode(code)
        : `\\x${code.toString(16).padStart(2, "0")}`;
  }
  if (bytes.length > max)
    out += `… (${bytes.length} ${typeof bytes === "string" ? "characters" : "bytes"})`;
  return out;
}

/** A line of `length` bytes in `what` ("HTTP headers"...) is over the limit. @internal */
export function lineTooLong(what: string, length: number, limit: number): SecurityError {
  return new SecurityError(
    `line too long in ${what}: ${length} bytes or more exceeds ` +
      `limit of ${limit} bytes (WEBSOCKETS_MAX_LINE_LENGTH)`,
  );
}

/** More header (or trailer) lines than the limit. @internal */
export function tooManyHeaders(what: string, limit: number): SecurityError {
  return new SecurityError(
    `too many HTTP ${what}: more than ${limit} exceeds limit of ${limit} ` +
      "(WEBSOCKETS_MAX_NUM_HEADERS)",
  );
}

/**
 * RFC 7230 §3.3.2: Content-Length = 1*DIGIT. One value only: a list, even of
 * equal values, is refused (strict, and never needed by a handshake). @internal
 */
export function parseContentLength(headers: Headers): number | null {
  const values = headers.getAll("Content-Length");
  if (values.length === 0) return null;
  if (values.length > 1) {
    throw new InvalidMessage(`multiple Content-Length headers: ${values.join(", ")}`);
  }
  const value = values[0];
  if (value.length === 0 || value.length > 15) {
    throw new InvalidMessage(`invalid Content-Length: ${JSON.stringify(value)}`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) {
      throw new InvalidMessage(`invalid Content-Length: ${JSON.stringify(value)}`);
    }
  }
  return Number(value);
}

/**
 * RFC 7230 §3.3.3: a request's body is delimited by Transfer-Encoding or
 * Content-Length; a handshake has no body, so either (but Content-Length: 0)
 * is an error. @internal
 *
 * @throws InvalidMessage naming the field.
 */
export function checkNoRequestBody(headers: Headers): void {
  if (headers.has("Transfer-Encoding")) {
    throw new InvalidMessage("unsupported Transfer-Encoding in HTTP request");
  }
  const length = parseContentLength(headers);
  if (length !== null && length !== 0) {
    throw new InvalidMessage(`unsupported HTTP request body: Content-Length ${length}`);
  }
}

const REQUEST_LINE = "HTTP request line";
const HEADERS = "HTTP headers";

/**
 * Checks the request line of a request parsed elsewhere as the parser checks
 * the one it reads: its length (`METHOD target HTTP/1.1`, CRLF excluded), a
 * token for the method, visible ASCII for the target, HTTP/1.1. @internal
 *
 * @throws SecurityError when the line is over `maxLineLength` (a server
 *   answers 414), InvalidMessage for the rest (400).
 */
export function checkParsedRequestLine(request: Request, limits: Readonly<HttpLimits>): void {
  const method = request.method ?? "GET";
  const { path } = request;
  const version = request.version ?? "HTTP/1.1";
  const length = method.length + path.length + version.length + 2;
  if (length > limits.maxLineLength) throw lineTooLong(REQUEST_LINE, length, limits.maxLineLength);
  if (!isToken(method)) {
    throw new InvalidMessage(`invalid HTTP method: ${shown(method, path, version)}`);
  }
  let valid = path.length > 0;
  for (let i = 0; valid && i < path.length; i++) {
    const c = path.charCodeAt(i);
    valid = c >= 0x21 && c <= 0x7e;
  }
  if (!valid) {
    throw new InvalidMessage(`invalid HTTP request target: ${shown(method, path, version)}`);
  }
  if (version !== "HTTP/1.1") {
    throw new InvalidMessage(`unsupported HTTP version: ${printable(version)}`);
  }
}

/**
 * Checks the header lines of a request parsed elsewhere as the parser checks
 * those it reads, each as `Name: value`: their number, their length, a token
 * for each name, field characters for each value; then that no body follows.
 * @internal
 *
 * @throws SecurityError over `maxNumHeaders` or `maxLineLength` (a server
 *   answers 431), InvalidMessage for the rest (400).
 */
export function checkParsedHeaders(headers: Headers, limits: Readonly<HttpLimits>): void {
  const items = Headers.itemsOf(headers);
  // A header block comes from a parser that checked it.
  if (typeof items !== "string") {
    const { maxLineLength, maxNumHeaders } = limits;
    for (let i = 0; i < items.length; i += 2) {
      const name = items[i];
      const value = items[i + 1];
      const length = name.length + value.length + 2;
      if (length > maxLineLength) throw lineTooLong(HEADERS, length, maxLineLength);
      if (i >> 1 >= maxNumHeaders) throw tooManyHeaders("headers", maxNumHeaders);
      if (!isToken(name)) {
        const what = name.length === 0 ? "empty HTTP header name" : "invalid HTTP header line";
        throw new InvalidMessage(`${what}: ${printable(`${name}: ${value}`)}`);
      }
      if (!isFieldValue(value)) {
        throw new InvalidMessage(`invalid HTTP header value: ${printable(`${name}: ${value}`)}`);
      }
    }
  }
  checkNoRequestBody(headers);
}

function shown(method: string, path: string, version: string): string {
  return printable(`${method} ${path} ${version}`);
}
