/**
 * What both roles of WebSockets over HTTP/2 (RFC 8441) share: the constants
 * of extended CONNECT, and the conversions between HTTP/2 header blocks
 * (pseudo-header fields included) and our {@link Request} / {@link Response}.
 * Nothing here opens a session or a stream.
 *
 * @module
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { InvalidHeader, InvalidHeaderValue, InvalidMessage } from "../errors.ts";
import { EMPTY } from "../frames.ts";
import { Headers } from "../headers.ts";
import { HTTP2_VERSION } from "../http2-handshake.ts";
import { type Request, type Response, reasonPhrase } from "../http11.ts";

export { HTTP2_VERSION } from "../http2-handshake.ts";

/** RFC 8441 §4: the `:protocol` of a WebSocket's extended CONNECT. */
export const WEBSOCKET_PROTOCOL = "websocket";

/** RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL, as node:http2 names it. */
export const ENABLE_CONNECT_PROTOCOL = "enableConnectProtocol";

// RFC 9113 §8.3 and RFC 8441 §4: the pseudo-header fields of a request.
export const PSEUDO_METHOD = ":method";
export const PSEUDO_PROTOCOL = ":protocol";
export const PSEUDO_SCHEME = ":scheme";
export const PSEUDO_AUTHORITY = ":authority";
export const PSEUDO_PATH = ":path";
export const PSEUDO_STATUS = ":status";

/**
 * RFC 9113 §8.2.2: connection-specific header fields, which HTTP/2 forbids
 * (node:http2 throws on them). Our HTTP/1.1 answers carry `Connection:
 * close`; on HTTP/2 they go without. `te` is allowed with `trailers` only,
 * which no WebSocket handshake needs: dropped as well.
 */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
]);

/** Whether a header field must not be sent on HTTP/2 (RFC 9113 §8.2.2, RFC 8441 §5). */
export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

/**
 * The `Request` an HTTP/2 stream's header block stands for: `method` from
 * `:method`, `path` from `:path`, `version` `"HTTP/2"`, and the regular
 * fields, with `:authority` as `host` (RFC 9113 §8.3.1) and no other
 * pseudo-header field.
 *
 * @param headers - The header block as node:http2 hands it over.
 * @param rawHeaders - The same fields as flat name/value pairs, in the
 *   order received (the `stream` event's fourth argument); preferred when
 *   given, as it keeps repeated fields apart.
 * @throws InvalidHeader when `:path` is missing (mandatory for extended
 *   CONNECT and every method but CONNECT) or `:authority` and `host` both are,
 *   InvalidHeaderValue when a field can't be represented (a value with a
 *   control character), InvalidMessage when `:method` is missing.
 */
export function requestFromHttp2(
  headers: IncomingHttpHeaders,
  rawHeaders?: readonly string[],
): Request {
  const method = single(headers, PSEUDO_METHOD);
  if (method === undefined) throw new InvalidMessage("HTTP/2 request without :method");
  const path = single(headers, PSEUDO_PATH);
  if (path === undefined) throw new InvalidHeader(PSEUDO_PATH);
  // RFC 9113 §8.3.1: without `:authority`, `host` says it.
  const authority = single(headers, PSEUDO_AUTHORITY) ?? single(headers, "host");
  if (authority === undefined) throw new InvalidHeader(PSEUDO_AUTHORITY);
  const fields = new Headers();
  try {
    fields.append("host", authority);
  } catch {
    throw new InvalidHeaderValue(PSEUDO_AUTHORITY, authority);
  }
  const pairs = rawHeaders ?? flatten(headers);
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i];
    // RFC 9113 §8.3.1: `host` and `:authority` must agree; the latter wins.
    if (name.startsWith(":") || name === "host") continue;
    try {
      fields.append(name, pairs[i + 1]);
    } catch {
      throw new InvalidHeaderValue(name, pairs[i + 1]);
    }
  }
  return { method, path, version: HTTP2_VERSION, headers: fields };
}

/**
 * The HTTP/2 header block of a response: `:status` and the regular fields
 * with lower-case names, without the connection-specific ones HTTP/2
 * forbids. A field repeated in `response.headers` becomes a list.
 */
export function responseToHttp2(response: Response): OutgoingHttpHeaders {
  const block: OutgoingHttpHeaders = { [PSEUDO_STATUS]: response.status };
  appendFields(block, response.headers);
  return block;
}

/**
 * The HTTP/2 header block of a request: `:method`, `:scheme`,
 * `:authority` (from the `host` field, which is not sent), `:path`, and,
 * for an extended CONNECT, `:protocol` (RFC 8441 §4); then the regular
 * fields, without the connection-specific ones.
 *
 * @param protocol - `:protocol`, e.g. {@link WEBSOCKET_PROTOCOL}; `null` for none.
 */
export function requestToHttp2(
  request: Request,
  scheme: "https" | "http",
  protocol: string | null,
): OutgoingHttpHeaders {
  const block: OutgoingHttpHeaders = { [PSEUDO_METHOD]: request.method ?? "GET" };
  if (protocol !== null) block[PSEUDO_PROTOCOL] = protocol;
  block[PSEUDO_SCHEME] = scheme;
  const host = request.headers.get("host");
  if (host !== undefined) block[PSEUDO_AUTHORITY] = host;
  block[PSEUDO_PATH] = request.path;
  appendFields(block, request.headers);
  return block;
}

/**
 * The `Response` an HTTP/2 response's header block stands for: `:status`
 * and the regular fields; `reason` is the standard phrase (HTTP/2 has
 * none). The body is left empty: the caller reads it from the stream.
 *
 * @throws InvalidMessage when `:status` is missing or not a 3-digit number.
 */
export function responseFromHttp2(headers: IncomingHttpHeaders): Response {
  const raw = headers[PSEUDO_STATUS] as unknown;
  const status = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new InvalidMessage(`HTTP/2 response with invalid :status: ${String(raw)}`);
  }
  const fields = new Headers();
  const pairs = flatten(headers);
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    if (!pairs[i].startsWith(":")) fields.append(pairs[i], pairs[i + 1]);
  }
  return { status, reason: reasonPhrase(status), headers: fields, body: EMPTY };
}

function appendFields(block: OutgoingHttpHeaders, headers: Headers): void {
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(key) || key === "host") continue;
    const previous = block[key];
    if (previous === undefined) block[key] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else block[key] = [String(previous), value];
  }
}

/** One field's value, or `undefined`; node:http2 joins nothing for pseudo-headers. */
function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : String(value);
}

function flatten(headers: IncomingHttpHeaders): string[] {
  const pairs: string[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) pairs.push(name, item);
    else pairs.push(name, String(value));
  }
  return pairs;
}
