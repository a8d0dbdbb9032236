/**
 * Incremental, sans-I/O HTTP/1.1 parsers for the opening handshake: feed
 * them bytes as they arrive, in chunks of any size, and they return the
 * message and the bytes that followed it once the message is complete. The
 * same {@link ResponseParser} reads a WebSocket handshake response and a
 * proxy's answer to `CONNECT`. Limits: `http-limits.ts`.
 *
 * The grammar is strict (RFC 7230 §3): lines end with CRLF (a bare LF is an
 * error, not a line ending: RFC 7230 §3.5 only allows accepting it, and being
 * lenient about line endings is how request smuggling starts), no obsolete
 * line folding, no whitespace before the colon of a header, tokens for
 * methods and header names, HTTP/1.1 only. Violations throw `InvalidMessage`.
 *
 * @module
 */

import { InvalidMessage, InvalidState, SecurityError } from "./errors.ts";
import { EMPTY } from "./frames.ts";
import { Headers, isFieldValueChar, isTchar } from "./headers.ts";
import { type HttpLimits, isComplete, resolveHttpLimits } from "./http-limits.ts";
import type { Request, Response } from "./http11.ts";
import {
  checkNoRequestBody,
  lineTooLong,
  parseContentLength,
  printable,
  tooManyHeaders,
} from "./http11-rules.ts";

const CLOSED_WHILE_READING = "connection closed while reading ";

/**
 * Whether `error` is the parser's: the stream ended while it was reading
 * `what` (`"HTTP status line"`, `"HTTP headers"`...). @internal
 */
export function closedWhileReading(error: unknown, what: string): error is InvalidMessage {
  return error instanceof InvalidMessage && error.message === CLOSED_WHILE_READING + what;
}

/** Options of {@link RequestParser} and {@link ResponseParser}. */
export interface ParserOptions {
  /** Overrides some limits; the others come from {@link httpLimitsFromEnv}. */
  limits?: Partial<HttpLimits>;
}

/** Options of {@link ResponseParser}. */
export interface ResponseParserOptions extends ParserOptions {
  /**
   * The method of the request this response answers. Default `GET`. With
   * `HEAD`, no response has a body; with `CONNECT`, a 2xx response has none
   * (RFC 7231 §4.3.6: the connection becomes a tunnel).
   */
  requestMethod?: string;
  /**
   * Accept `HTTP/1.0` status lines too. Default `false`: WebSocket servers
   * speak HTTP/1.1, but some proxies answer `CONNECT` in HTTP/1.0.
   */
  allowHttp10?: boolean;
}

/** A complete message and the bytes received after it. */
export interface Parsed<T> {
  /** The request or response parsed. */
  message: T;
  /** Bytes after the message: WebSocket frames after a 101, for example. */
  rest: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const HTTP_11 = Buffer.from("HTTP/1.1", "latin1");
const GET = Buffer.from("GET", "latin1");

enum Step {
  StartLine,
  Headers,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  BodyToEof,
  Done,
}

// What becomes of a header line once checked.
enum HeaderLine {
  /** Added to the headers; may join a header block when written as one. */
  Block,
  /** Added to the headers as a name and a value. */
  Pair,
  /** Dropped (a trailer). */
  Drop,
}

// A header block holds at most this many lines and characters; lines past
// either go in name/value pairs, which an index speeds up when there are many.
const MAX_BLOCK_LINES = 32;
const MAX_BLOCK_LENGTH = 4096;

/** Where a parser is in a message; see {@link RequestParser.phase}. */
export type ParserPhase = "start-line" | "headers" | "body" | "done";

/**
 * Common machinery: line reading with the length limit, header lines, bodies.
 * Subclasses interpret the start line and decide how the body is delimited.
 */
abstract class MessageParser<T> {
  protected readonly limits: Readonly<HttpLimits>;
  protected step: Step = Step.StartLine;
  protected headers = new Headers();
  // Parts of a line split across chunks; arrays are created when needed.
  #lineParts: Buffer[] | null = null;
  #lineLength = 0;
  #numHeaders = 0;
  #numTrailers = 0;
  #body: Buffer[] | null = null;
  #bodyLength = 0;
  #remaining = 0; // bytes left in the body (Content-Length) or in the current chunk
  #error: Error | null = null;
  // Header lines of the current chunk not added to `headers` yet: a run of
  // lines written as `Name: value` (one space, no trailing whitespace) at
  // [#blockStart, #blockEnd), added as one header block, one string rather
  // than two per line. -1 when there's none.
  #blockStart = -1;
  #blockEnd = 0;

  constructor(options: ParserOptions | undefined) {
    const limits = options?.limits;
    // Frozen complete limits (ServerProtocolConfig's) are shared, not copied.
    this.limits =
      isComplete(limits) && Object.isFrozen(limits) ? limits : resolveHttpLimits(limits);
  }

  /** Whether the message is complete. */
  get done(): boolean {
    return this.step === Step.Done;
  }

  /**
   * The part of the message being read, or that was being read when the
   * parser failed (a server answers a too-long request line with 414 and
   * too-large headers with 431).
   */
  get phase(): ParserPhase {
    switch (this.step) {
      case Step.StartLine:
        return "start-line";
      case Step.Headers:
        return "headers";
      case Step.Done:
        return "done";
      default:
        return "body";
    }
  }

  /** The error the parser failed with, or `null`. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Feeds bytes. Returns the message and the bytes after it once the message
   * is complete, else `null` (feed more). After a message or an error, the
   * parser is spent: feeding it again throws `InvalidState`.
   *
   * @throws `InvalidMessage` for malformed HTTP, `SecurityError` when a limit
   *   is exceeded.
   */
  feed(chunk: Buffer): Parsed<T> | null {
    this.#checkUsable();
    try {
      const parsed = this.#run(chunk);
      // Header lines must not refer to the chunk once feed returns.
      this.#flushBlock(chunk);
      return parsed;
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Signals the end of the stream. Completes a body delimited by the end of
   * the stream (a response without `Content-Length` or chunked encoding).
   *
   * @throws `InvalidMessage` when the stream ended before the message did.
   */
  feedEof(): Parsed<T> {
    this.#checkUsable();
    try {
      if (this.step === Step.BodyToEof) return this.#complete(EMPTY, 0);
      throw new InvalidMessage(CLOSED_WHILE_READING + this.describeStep());
    } catch (error) {
      this.#fail(error);
    }
  }

  #checkUsable(): void {
    if (this.step === Step.Done) throw new InvalidState("HTTP parser already returned a message");
    if (this.#error !== null) {
      throw new InvalidState("HTTP parser already failed", { cause: this.#error });
    }
  }

  #fail(error: unknown): never {
    this.#error = error instanceof Error ? error : new Error(String(error));
    this.#lineParts = null;
    this.#body = null;
    throw error;
  }

  protected describeStep(): string {
    switch (this.step) {
      case Step.StartLine:
        return this.startLineName();
      case Step.Headers:
        return "HTTP headers";
      default:
        return "HTTP body";
    }
  }

  protected abstract startLineName(): string;
  /** Interprets the start line, `buf[start..end]` (without CRLF). */
  protected abstract parseStartLine(buf: Buffer, start: number, end: number): void;
  /** Called after the empty line ending the headers; sets the next step. */
  protected abstract endOfHeaders(): void;
  protected abstract buildMessage(body: Buffer): T;

  #run(chunk: Buffer): Parsed<T> | null {
    let pos = 0;
    while (pos < chunk.length || this.step === Step.BodyLength) {
      switch (this.step) {
        case Step.StartLine:
        case Step.Headers:
        case Step.ChunkSize:
        case Step.ChunkEnd:
        case Step.Trailers: {
          const lf = chunk.indexOf(LF, pos);
          if (lf === -1) {
            this.#bufferLine(chunk, pos);
            return null;
          }
          const parts = this.#lineParts;
          if (parts === null) {
            // Lines are read in place, as offsets in the chunk: no view each.
            this.#onLine(chunk, pos, lf, true);
          } else {
            this.#lineParts = null;
            parts.push(chunk.subarray(pos, lf));
            const line = Buffer.concat(parts);
            this.#onLine(line, 0, line.length, false);
          }
          pos = lf + 1;
          if (this.done) return this.#complete(chunk, pos);
          break;
        }
        case Step.BodyLength:
        case Step.ChunkData: {
          const take = Math.min(this.#remaining, chunk.length - pos);
          if (take > 0) this.#bodyParts().push(chunk.subarray(pos, pos + take));
          pos += take;
          this.#remaining -= take;
          if (this.#remaining > 0) return null;
          if (this.step === Step.BodyLength) return this.#complete(chunk, pos);
          this.step = Step.ChunkEnd;
          break;
        }
        case Step.BodyToEof: {
          this.#addBodyLength(chunk.length - pos, "over");
          this.#bodyParts().push(chunk.subarray(pos));
          return null;
        }
        default:
          throw new InvalidState("HTTP parser isn't expecting data");
      }
    }
    return null;
  }

  #complete(chunk: Buffer, pos: number): Parsed<T> {
    this.step = Step.Done;
    const parts = this.#body;
    const body =
      parts === null ? EMPTY : parts.length === 1 ? Buffer.from(parts[0]) : Buffer.concat(parts);
    this.#body = null;
    // Copy the rest: the caller's chunk may be a view on a buffer it reuses.
    const rest = pos < chunk.length ? Buffer.from(chunk.subarray(pos)) : EMPTY;
    return { message: this.buildMessage(body), rest };
  }

  // Keeps an incomplete line. The limit is checked now, not when the line
  // ends: a peer that never sends LF must not make us buffer without bound.
  // One extra byte is allowed because it may be the CR of the CRLF.
  #bufferLine(chunk: Buffer, pos: number): void {
    const length = chunk.length - pos;
    this.#lineLength += length;
    if (this.#lineLength > this.limits.maxLineLength + 1) {
      throw this.#lineTooLong(this.#lineLength);
    }
    // Copy: the chunk may be reused by the caller once feed returns.
    if (length === 0) return;
    this.#lineParts ??= [];
    this.#lineParts.push(Buffer.from(chunk.subarray(pos)));
  }

  #bodyParts(): Buffer[] {
    this.#body ??= [];
    return this.#body;
  }

  #lineTooLong(length: number): SecurityError {
    return lineTooLong(this.describeStep(), length, this.limits.maxLineLength);
  }

  // A complete line, buf[start..lf] with lf the position of its LF; checks
  // CRLF and the limit, then interprets it. `inChunk`: buf is the chunk
  // being fed, not a line assembled from several.
  #onLine(buf: Buffer, start: number, lf: number, inChunk: boolean): void {
    this.#lineLength = 0;
    // The limit first, as #bufferLine checks it before the LF arrives: the
    // verdict on a line mustn't depend on whether it came in one chunk or
    // several. The CR of the CRLF doesn't count.
    const length = lf > start && buf[lf - 1] === CR ? lf - 1 - start : lf - start;
    if (length > this.limits.maxLineLength) throw this.#lineTooLong(length);
    if (lf === start || buf[lf - 1] !== CR) {
      throw new InvalidMessage(`bare LF in ${this.describeStep()}: lines must end with CRLF`);
    }
    const end = lf - 1;
    // A CR anywhere else isn't a line ending either (RFC 7230 §3.5). The
    // first CR from `start` is at `end` at the latest.
    if (buf.indexOf(CR, start) !== end) {
      throw new InvalidMessage(
        `bare CR in ${this.describeStep()}: ${printable(buf.subarray(start, end))}`,
      );
    }
    switch (this.step) {
      case Step.StartLine:
        this.parseStartLine(buf, start, end);
        this.step = Step.Headers;
        return;
      case Step.Headers:
        if (end === start) {
          this.#flushBlock(buf);
          this.endOfHeaders();
          return;
        }
        this.#numHeaders++;
        if (this.#numHeaders > this.limits.maxNumHeaders) {
          throw this.#tooManyHeaders("headers");
        }
        this.#parseHeaderLine(buf, start, end, inChunk ? HeaderLine.Block : HeaderLine.Pair);
        return;
      case Step.ChunkSize:
        this.#parseChunkSize(buf, start, end);
        return;
      case Step.ChunkEnd:
        // RFC 7230 §4.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        if (end !== start) throw new InvalidMessage("expected CRLF after chunk data");
        this.step = Step.ChunkSize;
        return;
      case Step.Trailers:
        if (end === start) {
          this.step = Step.Done;
          return;
        }
        this.#numTrailers++;
        if (this.#numTrailers > this.limits.maxNumHeaders) {
          throw this.#tooManyHeaders("trailers");
        }
        // Trailers are validated like headers, then dropped: nothing in a
        // handshake needs them and merging them is a known smuggling vector.
        this.#parseHeaderLine(buf, start, end, HeaderLine.Drop);
        return;
      default:
        throw new InvalidState("HTTP parser isn't expecting a line");
    }
  }

  // Adds the pending header block (see #blockStart) to the headers.
  #flushBlock(chunk: Buffer): void {
    if (this.#blockStart === -1) return;
    this.headers.appendBlock(chunk.toString("latin1", this.#blockStart, this.#blockEnd));
    this.#blockStart = -1;
  }

  #tooManyHeaders(what: string): SecurityError {
    return tooManyHeaders(what, this.limits.maxNumHeaders);
  }

  // RFC 7230 §3.2: header-field = field-name ":" OWS field-value OWS
  #parseHeaderLine(buf: Buffer, lineStart: number, lineEnd: number, kind: HeaderLine): void {
    const first = buf[lineStart];
    if (first === 0x20 || first === 0x09) {
      // RFC 7230 §3.2.4: obs-fold; a server may reject it with 400.
      throw new InvalidMessage(
        `obsolete line folding in HTTP header: ${printable(buf.subarray(lineStart, lineEnd))}`,
      );
    }
    let colon = lineStart;
    while (colon < lineEnd && isTchar(buf[colon])) colon++;
    if (colon === lineEnd || buf[colon] !== 0x3a) {
      // RFC 7230 §3.2.4: no whitespace between field-name and colon.
      throw new InvalidMessage(
        `invalid HTTP header line: ${printable(buf.subarray(lineStart, lineEnd))}`,
      );
    }
    if (colon === lineStart) {
      throw new InvalidMessage(
        `empty HTTP header name: ${printable(buf.subarray(lineStart, lineEnd))}`,
      );
    }
    let start = colon + 1;
    let end = lineEnd;
    while (start < end && (buf[start] === 0x20 || buf[start] === 0x09)) start++;
    while (end > start && (buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
    for (let i = start; i < end; i++) {
      if (!isFieldValueChar(buf[i])) {
        throw new InvalidMessage(
          `invalid HTTP header value: ${printable(buf.subarray(lineStart, lineEnd))}`,
        );
      }
    }
    if (kind === HeaderLine.Drop) return;
    if (
      kind === HeaderLine.Block &&
      buf[colon + 1] === 0x20 &&
      start === colon + 2 &&
      end === lineEnd &&
      this.#numHeaders <= MAX_BLOCK_LINES &&
      (this.#blockStart === -1 ? 0 : this.#blockEnd - this.#blockStart) + lineEnd + 2 - lineStart <=
        MAX_BLOCK_LENGTH
    ) {
      // Written as the block form writes it: joins the pending block.
      if (this.#blockStart === -1) this.#blockStart = lineStart;
      this.#blockEnd = lineEnd + 2;
      return;
    }
    this.#flushBlock(buf);
    // latin1 maps each byte to one character: values round-trip unchanged.
    this.headers.appendValidated(
      intern(buf.toString("latin1", lineStart, colon)),
      intern(buf.toString("latin1", start, end)),
    );
  }

  // RFC 7230 §4.1: chunk-size = 1*HEXDIG; chunk-ext = *( ";" chunk-ext-name [ "=" ... ] )
  #parseChunkSize(buf: Buffer, start: number, end: number): void {
    let i = start;
    let size = 0;
    for (let digit = hexValue(buf, i, end); digit !== -1; digit = hexValue(buf, ++i, end)) {
      // Once past the body limit the size only needs to stay past it: stop
      // growing it so that a long run of digits can't overflow it.
      if (size <= this.limits.maxBodySize) size = size * 16 + digit;
    }
    // Digits end the line or a chunk extension starts, optionally after BWS
    // (RFC 7230 errata 4667); extensions are ignored (§4.1.1).
    let j = i;
    while (j < end && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
    if (i === start || (j < end && buf[j] !== 0x3b)) {
      throw new InvalidMessage(`invalid chunk size: ${printable(buf.subarray(start, end))}`);
    }
    if (size === 0) {
      this.step = Step.Trailers;
      return;
    }
    this.#addBodyLength(size, "");
    this.#remaining = size;
    this.step = Step.ChunkData;
  }

  // Body limit, checked before the bytes are buffered.
  #addBodyLength(length: number, qualifier: string): void {
    this.#bodyLength += length;
    if (this.#bodyLength > this.limits.maxBodySize) {
      const prefix = qualifier === "" ? "" : `${qualifier} `;
      throw new SecurityError(
        `body too large: ${prefix}${this.#bodyLength} bytes exceeds limit of ` +
          `${this.limits.maxBodySize} bytes (WEBSOCKETS_MAX_BODY_SIZE)`,
      );
    }
  }

  /** Sets up reading a body of `length` bytes. */
  protected expectBodyLength(length: number): void {
    this.#addBodyLength(length, "");
    this.#remaining = length;
    this.step = Step.BodyLength;
  }

  protected expectChunked(): void {
    this.step = Step.ChunkSize;
  }

  protected expectBodyToEof(): void {
    this.step = Step.BodyToEof;
  }

  protected expectNoBody(): void {
    this.step = Step.Done;
  }
}

// Names and values that most handshakes carry, spelled as clients send them.
// A server keeps each connection's request: sharing these strings instead of
// one copy per connection saves memory. Fixed, so a peer can't grow it.
const COMMON = new Map<string, string>();
for (const text of [
  "GET",
  "Host",
  "Upgrade",
  "Connection",
  "Sec-WebSocket-Key",
  "Sec-WebSocket-Version",
  "Sec-WebSocket-Extensions",
  "Sec-WebSocket-Protocol",
  "Sec-WebSocket-Accept",
  "Origin",
  "User-Agent",
  "Pragma",
  "Cache-Control",
  "Accept-Encoding",
  "Accept-Language",
  "Cookie",
  "Authorization",
  "Date",
  "Server",
  "Content-Length",
  "Content-Type",
  "X-Forwarded-For",
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "sec-websocket-accept",
  "origin",
  "user-agent",
  "websocket",
  "keep-alive, Upgrade",
  "13",
  "no-cache",
  "permessage-deflate; client_max_window_bits",
  "gzip, deflate, br, zstd",
  "gzip, deflate, br",
  "gzip, deflate",
]) {
  COMMON.set(text, text);
}

function intern(text: string): string {
  return COMMON.get(text) ?? text;
}

function hexValue(buf: Buffer, i: number, end: number): number {
  if (i >= end) return -1;
  const c = buf[i];
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Incremental parser of an HTTP/1.1 request, as a WebSocket server receives
 * it: request line and headers. A request with a body (`Content-Length`
 * other than 0, or `Transfer-Encoding`) is refused, as a handshake has none.
 *
 * @example
 * ```ts
 * const parser = new RequestParser();
 * const parsed = parser.feed(chunk); // null until the empty line arrives
 * if (parsed !== null) handle(parsed.message, parsed.rest);
 * ```
 */
export class RequestParser extends MessageParser<Request> {
  #method = "";
  #path = "";

  /** @param options - limits overriding the environment and defaults. */
  constructor(options?: ParserOptions) {
    super(options);
  }

  protected startLineName(): string {
    return "HTTP request line";
  }

  // RFC 7230 §3.1.1: request-line = method SP request-target SP HTTP-version
  protected parseStartLine(buf: Buffer, start: number, end: number): void {
    let firstSpace = start;
    while (firstSpace < end && buf[firstSpace] !== 0x20) firstSpace++;
    let secondSpace = firstSpace + 1;
    while (secondSpace < end && buf[secondSpace] !== 0x20) secondSpace++;
    if (secondSpace >= end) {
      throw new InvalidMessage(`invalid HTTP request line: ${printable(buf.subarray(start, end))}`);
    }
    for (let i = start; i < firstSpace; i++) {
      if (!isTchar(buf[i])) {
        throw new InvalidMessage(`invalid HTTP method: ${printable(buf.subarray(start, end))}`);
      }
    }
    if (firstSpace === start) {
      throw new InvalidMessage(`invalid HTTP method: ${printable(buf.subarray(start, end))}`);
    }
    // The target isn't decoded; it must be visible ASCII (RFC 7230 §3.1.1
    // origin-form, absolute-form, authority-form and asterisk-form all are).
    if (secondSpace === firstSpace + 1) {
      throw new InvalidMessage(
        `invalid HTTP request target: ${printable(buf.subarray(start, end))}`,
      );
    }
    for (let i = firstSpace + 1; i < secondSpace; i++) {
      if (buf[i] < 0x21 || buf[i] > 0x7e) {
        throw new InvalidMessage(
          `invalid HTTP request target: ${printable(buf.subarray(start, end))}`,
        );
      }
    }
    // Compared in place: no string for the version.
    if (HTTP_11.compare(buf, secondSpace + 1, end) !== 0) {
      throw new InvalidMessage(
        `unsupported HTTP version: ${printable(buf.subarray(secondSpace + 1, end))}`,
      );
    }
    this.#method =
      firstSpace - start === 3 && GET.compare(buf, start, firstSpace) === 0
        ? "GET"
        : intern(buf.toString("latin1", start, firstSpace));
    this.#path = buf.toString("latin1", firstSpace + 1, secondSpace);
  }

  protected endOfHeaders(): void {
    checkNoRequestBody(this.headers);
    this.expectNoBody();
  }

  protected buildMessage(): Request {
    this.headers.compact();
    return { method: this.#method, path: this.#path, version: "HTTP/1.1", headers: this.headers };
  }
}

/**
 * Incremental parser of an HTTP/1.1 response, as a WebSocket client (or a
 * client of a proxy) receives it: status line, headers and, except for 1xx,
 * 204 and 304 responses, a body delimited by `Content-Length`, by chunked
 * transfer coding, or by the end of the stream (call
 * {@link ResponseParser.feedEof | feedEof}), so that a client can show the
 * error a server sent. A 101 has no body: the bytes after it are WebSocket
 * frames, returned as `rest`.
 */
export class ResponseParser extends MessageParser<Response> {
  readonly #requestMethod: string;
  readonly #allowHttp10: boolean;
  #status = 0;
  #reason = "";

  /** @param options - limits, and the method of the request answered. */
  constructor(options?: ResponseParserOptions) {
    super(options);
    this.#requestMethod = options?.requestMethod ?? "GET";
    this.#allowHttp10 = options?.allowHttp10 ?? false;
  }

  protected startLineName(): string {
    return "HTTP status line";
  }

  // RFC 7230 §3.1.2: status-line = HTTP-version SP status-code SP reason-phrase
  // RFC 9112 §4 makes the reason optional; "HTTP/1.1 200" is accepted.
  protected parseStartLine(buf: Buffer, start: number, end: number): void {
    const line = buf.subarray(start, end);
    const version = line.toString("latin1", 0, 9);
    const versionOk = version === "HTTP/1.1 " || (this.#allowHttp10 && version === "HTTP/1.0 ");
    if (line.length < 12 || !versionOk) {
      if (line.length >= 8 && line.toString("latin1", 0, 5) === "HTTP/") {
        const space = line.indexOf(0x20);
        const version = line.subarray(0, space === -1 ? line.length : space);
        throw new InvalidMessage(`unsupported HTTP version: ${printable(version)}`);
      }
      throw new InvalidMessage(`invalid HTTP status line: ${printable(line)}`);
    }
    let status = 0;
    for (let i = 9; i < 12; i++) {
      const c = line[i];
      if (c < 0x30 || c > 0x39) {
        throw new InvalidMessage(`invalid HTTP status code: ${printable(line.subarray(9))}`);
      }
      status = status * 10 + (c - 0x30);
    }
    if (status < 100) {
      throw new InvalidMessage(`invalid HTTP status code: ${printable(line.subarray(9, 12))}`);
    }
    if (line.length > 12 && line[12] !== 0x20) {
      throw new InvalidMessage(`invalid HTTP status code: ${printable(line.subarray(9))}`);
    }
    for (let i = 13; i < line.length; i++) {
      if (!isFieldValueChar(line[i])) {
        throw new InvalidMessage(`invalid HTTP reason phrase: ${printable(line.subarray(13))}`);
      }
    }
    this.#status = status;
    this.#reason = line.length > 13 ? line.toString("latin1", 13) : "";
  }

  // RFC 7230 §3.3.3: how the length of a response body is determined.
  protected endOfHeaders(): void {
    const status = this.#status;
    const method = this.#requestMethod;
    if (
      (status >= 100 && status < 200) ||
      status === 204 ||
      status === 304 ||
      method === "HEAD" ||
      (method === "CONNECT" && status >= 200 && status < 300)
    ) {
      this.expectNoBody();
      return;
    }
    const transferEncoding = this.headers.getAll("Transfer-Encoding");
    if (transferEncoding.length > 0) {
      // Both headers at once "ought to be handled as an error" (§3.3.3 item 3).
      if (this.headers.has("Content-Length")) {
        throw new InvalidMessage("both Transfer-Encoding and Content-Length in HTTP response");
      }
      const codings = transferEncoding.join(",").trim().toLowerCase();
      if (codings !== "chunked") {
        throw new InvalidMessage(`unsupported Transfer-Encoding: ${transferEncoding.join(", ")}`);
      }
      this.expectChunked();
      return;
    }
    const length = parseContentLength(this.headers);
    if (length === null) this.expectBodyToEof();
    else this.expectBodyLength(length);
  }

  protected buildMessage(body: Buffer): Response {
    this.headers.compact();
    return { status: this.#status, reason: this.#reason, headers: this.headers, body };
  }
}
