/**
 * HTTP/1.1 requests and responses for the opening handshake: the shapes,
 * and serializing them. The incremental parsers are in `http11-parser.ts`,
 * their limits in `http-limits.ts`; both are re-exported here.
 *
 * CONTRACT: `Request` and `Response` are the shapes the rest of the library uses.
 *
 * @module
 */

import { EMPTY } from "./frames.ts";
import { Headers, isFieldValueChar, isTchar } from "./headers.ts";

export {
  DEFAULT_HTTP_LIMITS,
  type HttpLimits,
  httpLimitsFromEnv,
  resolveHttpLimits,
} from "./http-limits.ts";
export {
  type Parsed,
  type ParserOptions,
  type ParserPhase,
  RequestParser,
  ResponseParser,
  type ResponseParserOptions,
} from "./http11-parser.ts";

/** An HTTP request, as received by a server or sent by a client. */
export interface Request {
  /** The request target: path with its query string, e.g. `/chat?room=1`. */
  path: string;
  /** The header fields, case-insensitive and multi-valued. */
  headers: Headers;
  /**
   * The method; absent means `GET`, the only method of a WebSocket handshake
   * over HTTP/1.1 (a proxy client sends `CONNECT`; a WebSocket over HTTP/2
   * is an extended `CONNECT`, RFC 8441). Set by the request parser.
   */
  method?: string;
  /**
   * The HTTP version as on the request line, e.g. `HTTP/1.1`; absent means
   * `HTTP/1.1`. The request parser only accepts `HTTP/1.1`; an I/O layer
   * building a `Request` from another HTTP stack sets what it received, so
   * that `ServerProtocol.accept` can reject anything else. `HTTP/2` for a
   * request from an HTTP/2 stream (see `ServerProtocol.receiveRequest`).
   */
  version?: string;
}

/** An HTTP response, as received by a client or sent by a server. */
export interface Response {
  /** The status code: 101 for a WebSocket, anything else refuses it. */
  status: number;
  /** The reason phrase, e.g. `Switching Protocols`. */
  reason: string;
  /** The header fields, case-insensitive and multi-valued. */
  headers: Headers;
  /** The body; empty for a 101. */
  body: Buffer;
}

function checkRequestLinePart(what: string, value: string, allowed: (c: number) => boolean): void {
  if (value.length === 0) throw new TypeError(`empty HTTP ${what}`);
  for (let i = 0; i < value.length; i++) {
    if (!allowed(value.charCodeAt(i))) {
      throw new TypeError(`invalid HTTP ${what}: ${JSON.stringify(value)}`);
    }
  }
}

/**
 * Serializes a request: request line, headers, empty line. Headers are
 * written as given (validated when they were added to `Headers`).
 *
 * @throws TypeError when the method isn't a token or the path isn't visible ASCII.
 */
export function serializeRequest(request: Request): Buffer {
  const method = request.method ?? "GET";
  checkRequestLinePart("method", method, isTchar);
  checkRequestLinePart("request target", request.path, (c) => c >= 0x21 && c <= 0x7e);
  const version = request.version ?? "HTTP/1.1";
  return serializeHead(`${method} ${request.path} ${version}\r\n`, request.headers, EMPTY);
}

// Start line, headers and body in one buffer, written in place: no string
// for the whole head. Every character is one latin1 byte.
function serializeHead(startLine: string, headers: Headers, body: Buffer): Buffer {
  if (!(headers instanceof Headers)) {
    // Something else that prints as a header block (a Headers of another
    // copy of this module).
    const head = Buffer.from(`${startLine}${headers}`, "latin1");
    return body.length === 0 ? head : Buffer.concat([head, body]);
  }
  const headLength = startLine.length + headers.wireLength();
  const buf = Buffer.allocUnsafe(headLength + body.length);
  const offset = headers.writeTo(buf, buf.write(startLine, 0, "latin1"));
  if (body.length > 0) body.copy(buf, offset);
  return buf;
}

/**
 * Serializes a response: status line, headers, empty line, body. The body is
 * written as is: set `Content-Length` (as `ServerProtocol.reject` does).
 *
 * @throws TypeError for a status outside 100-999 or a reason with control characters.
 */
export function serializeResponse(response: Response): Buffer {
  const { status, reason } = response;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new TypeError(`invalid HTTP status code: ${status}`);
  }
  for (let i = 0; i < reason.length; i++) {
    if (!isFieldValueChar(reason.charCodeAt(i))) {
      throw new TypeError(`invalid HTTP reason phrase: ${JSON.stringify(reason)}`);
    }
  }
  const statusLine =
    reason === STATUS_REASONS[status] ? STATUS_LINES[status] : `HTTP/1.1 ${status} ${reason}\r\n`;
  return serializeHead(statusLine, response.headers, response.body);
}

/** Reason phrases of the statuses a WebSocket server commonly sends (RFC 9110 §15). */
export const STATUS_REASONS: Readonly<Record<number, string>> = {
  101: "Switching Protocols",
  200: "OK",
  204: "No Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  414: "URI Too Long",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

// "HTTP/1.1 101 Switching Protocols\r\n"...: one string per status, not per response.
const STATUS_LINES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(STATUS_REASONS).map(([status, reason]) => [
    status,
    `HTTP/1.1 ${status} ${reason}\r\n`,
  ]),
);

/** The reason phrase of `status`, or `""` for a status this library doesn't name. */
export function reasonPhrase(status: number): string {
  return STATUS_REASONS[status] ?? "";
}
