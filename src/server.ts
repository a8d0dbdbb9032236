/**
 * The server side of the opening handshake (RFC 6455 §4.2), on top of the
 * sans-I/O {@link Protocol}.
 *
 * @module
 */

import {
  InvalidHandshake,
  InvalidHeader,
  InvalidHeaderValue,
  InvalidMessage,
  InvalidOrigin,
  InvalidState,
  InvalidStatus,
  InvalidUpgrade,
  NegotiationError,
  SecurityError,
} from "./errors.ts";
import type { Extension, ServerExtensionFactory } from "./extensions/base.ts";
import {
  acceptKey,
  buildExtension,
  checkUpgradeHeaders,
  decodeBase64,
  type ExtensionHeader,
  Headers,
  parseExtension,
  parseSubprotocol,
} from "./headers.ts";
import {
  type HttpLimits,
  httpLimitsFromEnv,
  type Parsed,
  type Request,
  RequestParser,
  type Response,
  reasonPhrase,
  serializeResponse,
} from "./http11.ts";
import { formatRequestLines, formatResponseLines, isLevelEnabled, logMessages } from "./logging.ts";
import { CONNECTING, Protocol, type ProtocolOptions } from "./protocol.ts";
import { VERSION } from "./version.ts";

/**
 * The default `Server` header: `WEBSOCKETS_SERVER` when set, else
 * `websockets-ts/<version>`. Read each time, so that a change to the
 * environment applies to the next connection.
 */
export function defaultServerHeader(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return env.WEBSOCKETS_SERVER ?? `websockets-ts/${VERSION}`;
}

/**
 * An acceptable `Origin`: a string compared exactly, a regular expression
 * that must match the whole origin, or `null` for requests without `Origin`
 * (non-browser clients).
 */
export type OriginPattern = string | RegExp | null;

/**
 * Picks the subprotocol among those the client offered (in the client's
 * order), or returns `null` to go on without one. Throwing a
 * `NegotiationError` rejects the handshake with 400; any other error
 * propagates to the caller of {@link ServerProtocol.accept}.
 */
export type SelectSubprotocol = (
  protocol: ServerProtocol,
  subprotocols: readonly string[],
) => string | null;

/** Options of {@link ServerProtocol}. */
export interface ServerProtocolOptions extends ProtocolOptions {
  /**
   * Acceptable values of the `Origin` header, to defend against Cross-Site
   * WebSocket Hijacking; include `null` to accept requests without one.
   * Default: any origin, or none.
   */
  origins?: readonly OriginPattern[] | null;
  /** Extensions supported, in order of preference. Default: none. */
  extensions?: readonly ServerExtensionFactory[] | null;
  /** Subprotocols supported, in order of preference. Default: none. */
  subprotocols?: readonly string[] | null;
  /**
   * Replaces the default subprotocol selection
   * ({@link ServerProtocol.selectSubprotocol}). Default: none.
   */
  selectSubprotocol?: SelectSubprotocol | null;
  /** `Server` header; `null` sends none. Default: {@link defaultServerHeader}. */
  serverHeader?: string | null;
  /**
   * Limits of the HTTP request parser. Default: from the environment, see
   * `httpLimitsFromEnv` in `http11.ts`. `maxBodySize` also bounds the bytes
   * a client may send after its request and before the response.
   */
  httpLimits?: Partial<HttpLimits>;
}

// Shared by every 101: a zero-length buffer can't be written to.
const EMPTY_BODY = Buffer.alloc(0);

// The Date header has a resolution of one second (RFC 9110 §5.6.7): format
// it once per second rather than once per response.
let dateSecond = -1;
let dateText = "";

function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const BROWSER_HINT =
  "\nYou cannot access a WebSocket server directly with a browser. You need a WebSocket client.\n";

/**
 * Sans-I/O WebSocket server connection: receives the handshake request,
 * builds the response, then runs the protocol.
 *
 * ```ts
 * const server = new ServerProtocol({ subprotocols: ["chat"] });
 * server.receiveData(bytesFromClient);
 * const [request] = server.eventsReceived();   // a Request, once complete
 * const response = server.accept(request);     // 101, or 400/403/426 with a text body
 * server.sendResponse(response);
 * write(server.dataToSend());                  // the response (then EOF if rejected)
 * ```
 *
 * A request that can't be parsed is answered without waiting for `accept`:
 * 400 when malformed, 414 when the request line exceeds the line limit, 431
 * when a header line or the number of headers exceeds its limit. Then
 * `handshakeExc` is set (`InvalidMessage` or `SecurityError`), EOF is sent
 * and `closeExpected()` is `true`.
 */
export class ServerProtocol extends Protocol {
  /** Acceptable origins, or `null` for any. */
  readonly origins: readonly OriginPattern[] | null;
  /** Extensions supported, or `null`. */
  readonly availableExtensions: readonly ServerExtensionFactory[] | null;
  /** Subprotocols supported, or `null`. */
  readonly availableSubprotocols: readonly string[] | null;
  /** The `Origin` of the request, or `null`; set by a successful {@link ServerProtocol.accept}. */
  origin: string | null = null;
  /** The subprotocol selected, or `null`; set by a successful {@link ServerProtocol.accept}. */
  subprotocol: string | null = null;
  /** The request received, or `null`. */
  request: Request | null = null;
  /**
   * The response sent, or `null`: by {@link ServerProtocol.sendResponse}, or
   * by the protocol itself when it answered a request it couldn't parse.
   */
  response: Response | null = null;

  readonly #originMatchers: readonly ((origin: string | undefined) => boolean)[] | null;
  readonly #selectSubprotocol: SelectSubprotocol | null;
  readonly #serverHeader: string | null;
  // Dropped once the request is parsed: a connection lives long after it.
  #parser: RequestParser | null;
  readonly #maxPending: number;
  readonly #debug: boolean;
  // Bytes received after the request, before the response: the first frames.
  #pending: Buffer[] | null = null;
  #pendingSize = 0;
  // The request couldn't be parsed, or too much followed it: no response can be sent.
  #requestFailed = false;

  constructor(options: ServerProtocolOptions = {}) {
    super("server", { ...options, state: options.state ?? CONNECTING });
    this.origins = options.origins ?? null;
    this.#originMatchers = this.origins === null ? null : this.origins.map(originMatcher);
    this.availableExtensions = options.extensions ?? null;
    this.availableSubprotocols = options.subprotocols ?? null;
    this.#selectSubprotocol = options.selectSubprotocol ?? null;
    this.#serverHeader =
      options.serverHeader === undefined ? defaultServerHeader() : options.serverHeader;
    const limits = { ...httpLimitsFromEnv(), ...options.httpLimits };
    this.#parser = new RequestParser({ limits });
    this.#maxPending = limits.maxBodySize;
    this.#debug = isLevelEnabled(this.logger, "debug");
  }

  /**
   * Checks a handshake request and builds the response (RFC 6455 §4.2.2):
   * a 101 that accepts it, or a 400, 403 or 426 with a short plain-text body
   * saying what was wrong — then `handshakeExc` is that error. On success,
   * sets `extensions`, `subprotocol` and `origin`. The response may be
   * changed before {@link ServerProtocol.sendResponse}, e.g. to add headers.
   *
   * @throws whatever `selectSubprotocol` or an extension factory throws,
   *   except `NegotiationError` (400), and an `Error` when `selectSubprotocol`
   *   returns a subprotocol the client didn't offer: that's a bug in the
   *   application, not in the request; the I/O layer logs it ("opening
   *   handshake failed") and answers 500.
   */
  accept(request: Request): Response {
    let accept: string;
    let extensionsHeader: string | null;
    let extensions: Extension[];
    let subprotocol: string | null;
    let origin: string | null;
    try {
      [accept, origin] = this.#checkRequest(request);
      [extensionsHeader, extensions] = this.#processExtensions(request.headers);
      subprotocol = this.#processSubprotocol(request.headers);
    } catch (error) {
      if (!(error instanceof InvalidHandshake)) throw error;
      return this.#rejectHandshake(error);
    }

    const headers = new Headers();
    headers.append("Date", httpDate());
    headers.append("Upgrade", "websocket");
    headers.append("Connection", "Upgrade");
    headers.append("Sec-WebSocket-Accept", accept);
    if (extensionsHeader !== null) headers.append("Sec-WebSocket-Extensions", extensionsHeader);
    if (subprotocol !== null) headers.append("Sec-WebSocket-Protocol", subprotocol);
    if (this.#serverHeader !== null) headers.append("Server", this.#serverHeader);
    this.extensions = extensions;
    this.subprotocol = subprotocol;
    this.origin = origin;
    return { status: 101, reason: reasonPhrase(101), headers, body: EMPTY_BODY };
  }

  #rejectHandshake(error: InvalidHandshake): Response {
    this.handshakeExc = error;
    const text = `Failed to open a WebSocket connection: ${error.message}.\n`;
    if (error instanceof InvalidOrigin) {
      if (this.#debug) this.logger!.debug({ err: error }, logMessages.invalidOrigin);
      return this.reject(403, text);
    }
    if (error instanceof InvalidUpgrade) {
      if (this.#debug) this.logger!.debug({ err: error }, logMessages.invalidUpgrade);
      const response = this.reject(426, text + BROWSER_HINT);
      // RFC 9110 §15.5.22: a 426 says which protocol to upgrade to.
      response.headers.append("Upgrade", "websocket");
      return response;
    }
    if (this.#debug) this.logger!.debug({ err: error }, "! invalid handshake");
    if (error instanceof InvalidHeader && error.header === "Sec-WebSocket-Version") {
      // RFC 6455 §4.4: answer with the versions supported.
      const response = this.reject(426, text);
      response.headers.append("Sec-WebSocket-Version", "13");
      return response;
    }
    return this.reject(400, text);
  }

  // RFC 6455 §4.2.1: what the server checks in the client's handshake.
  #checkRequest(request: Request): [accept: string, origin: string | null] {
    const method = request.method ?? "GET";
    if (method !== "GET") throw new InvalidMessage(`unsupported HTTP method: ${method}`);
    const version = request.version ?? "HTTP/1.1";
    if (version !== "HTTP/1.1") throw new InvalidMessage(`unsupported HTTP version: ${version}`);
    const headers = request.headers;

    checkUpgradeHeaders(headers);

    const key = headers.getOne("Sec-WebSocket-Key");
    if (key === undefined) throw new InvalidHeader("Sec-WebSocket-Key");
    // RFC 6455 §4.1: "a randomly selected 16-byte value that has been base64-encoded".
    if (decodeBase64(key)?.length !== 16) throw new InvalidHeaderValue("Sec-WebSocket-Key", key);

    const version13 = headers.getOne("Sec-WebSocket-Version");
    if (version13 === undefined) throw new InvalidHeader("Sec-WebSocket-Version");
    if (version13 !== "13") throw new InvalidHeaderValue("Sec-WebSocket-Version", version13);

    // RFC 6454 §7.3: "The user agent MUST NOT include more than one Origin
    // header field"; getOne refuses two.
    const origin = headers.getOne("Origin");
    const matchers = this.#originMatchers;
    if (matchers !== null && !matchers.some((matches) => matches(origin))) {
      throw new InvalidOrigin(origin ?? null);
    }
    return [acceptKey(key), origin ?? null];
  }

  // RFC 6455 §9.1: the server accepts some of the extensions offered, in the
  // client's order. The first factory with the name that accepts an offer
  // wins; a factory accepts at most one offer (several offers of the same
  // extension are alternatives, RFC 7692 §5), and a NegotiationError
  // declines an offer.
  #processExtensions(headers: Headers): [header: string | null, extensions: Extension[]] {
    const values = headers.getAll("Sec-WebSocket-Extensions");
    const factories = this.availableExtensions;
    if (values.length === 0 || factories === null || factories.length === 0) return [null, []];
    const responseHeader: ExtensionHeader[] = [];
    const accepted: Extension[] = [];
    const used = new Set<ServerExtensionFactory>();
    for (const [name, params] of values.flatMap(parseExtension)) {
      for (const factory of factories) {
        if (factory.name !== name || used.has(factory)) continue;
        let result: [ExtensionHeader[1], Extension];
        try {
          result = factory.processRequestParams(params, accepted);
        } catch (error) {
          if (error instanceof NegotiationError) continue;
          throw error;
        }
        responseHeader.push([name, result[0]]);
        accepted.push(result[1]);
        used.add(factory);
        break;
      }
    }
    return [responseHeader.length > 0 ? buildExtension(responseHeader) : null, accepted];
  }

  #processSubprotocol(headers: Headers): string | null {
    const offered = headers.getAll("Sec-WebSocket-Protocol").flatMap(parseSubprotocol);
    const select = this.#selectSubprotocol;
    const subprotocol = select === null ? this.selectSubprotocol(offered) : select(this, offered);
    // RFC 6455 §4.2.2: the server selects "one or none of the acceptable
    // protocols" the client listed; anything else breaks the client.
    if (subprotocol !== null && !offered.includes(subprotocol)) {
      throw new Error(`selectSubprotocol returned ${subprotocol}, which the client didn't offer`);
    }
    return subprotocol;
  }

  /**
   * The default subprotocol selection: the first of the server's
   * subprotocols, in its order of preference, that the client offered.
   * Without server subprotocols, none, whatever the client offered. When the
   * server has subprotocols and the client offered none, or none in common,
   * the handshake fails with 400 (as in Python websockets: a server that
   * speaks subprotocols generally can't talk without one).
   *
   * @throws NegotiationError when there's no acceptable subprotocol.
   */
  selectSubprotocol(subprotocols: readonly string[]): string | null {
    const available = this.availableSubprotocols;
    if (available === null || available.length === 0) return null;
    if (subprotocols.length === 0) throw new NegotiationError("missing subprotocol");
    for (const subprotocol of available) if (subprotocols.includes(subprotocol)) return subprotocol;
    throw new NegotiationError(
      `invalid subprotocol ${subprotocols.join(", ")}; expected one of ${available.join(", ")}`,
    );
  }

  /**
   * Builds a response that refuses the connection: `status` with `text` as a
   * plain-text UTF-8 body, and `Connection: close`. Use it to answer from
   * `processRequest` (401, 404, a health check's 200…). Sets `handshakeExc`
   * to `InvalidStatus` unless a handshake error is already there.
   */
  reject(status: number, text: string): Response {
    const body = Buffer.from(text, "utf8");
    const headers = new Headers();
    headers.append("Date", httpDate());
    headers.append("Connection", "close");
    headers.append("Content-Length", String(body.length));
    headers.append("Content-Type", "text/plain; charset=utf-8");
    if (this.#serverHeader !== null) headers.append("Server", this.#serverHeader);
    const response: Response = { status, reason: reasonPhrase(status), headers, body };
    this.handshakeExc ??= new InvalidStatus(response);
    return response;
  }

  /**
   * Queues the response for sending; logs it at debug level, line by line
   * (`> HTTP/1.1 101 Switching Protocols`, headers, `> [body] (N bytes)`).
   * A 101 opens the connection, and any bytes received after the request
   * are parsed as frames. Any other status sends EOF after the response:
   * the I/O layer should close the transport (`closeExpected()` is `true`),
   * and `handshakeExc` is set if it wasn't.
   *
   * @throws InvalidState unless the connection is CONNECTING and the
   *   handshake didn't already fail for lack of a valid request.
   */
  sendResponse(response: Response): void {
    if (this.state !== CONNECTING) {
      throw new InvalidState("cannot send a handshake response: connection isn't connecting");
    }
    if (this.#requestFailed) {
      throw new InvalidState("cannot send a handshake response: the handshake already failed", {
        cause: this.handshakeExc,
      });
    }
    if (this.#debug) this.#debugLines(formatResponseLines(response, ">"));
    this.sendBytes(serializeResponse(response));
    if (response.headers instanceof Headers) response.headers.compact();
    this.response = response;
    if (response.status === 101) {
      const pending = this.#pending;
      const rest =
        pending === null ? EMPTY_BODY : pending.length === 1 ? pending[0] : Buffer.concat(pending);
      this.#pending = null;
      this.#pendingSize = 0;
      this.openWith(rest);
    } else {
      this.handshakeExc ??= new InvalidStatus(response);
      this.sendEof();
      this.discardInput();
    }
  }

  #debugLines(lines: string[]): void {
    for (const line of lines) this.logger!.debug(line);
  }

  protected override receiveHandshakeData(data: Buffer): void {
    const parser = this.#parser;
    if (parser === null) {
      this.#keepPending(data);
      return;
    }
    let parsed: Parsed<Request> | null;
    try {
      parsed = parser.feed(data);
    } catch (error) {
      this.#invalidRequest(error, parser);
      return;
    }
    if (parsed === null) return;
    this.#parser = null;
    const request = parsed.message;
    if (this.#debug) this.#debugLines(formatRequestLines(request, "<"));
    this.request = request;
    this.pushEvent(request);
    if (parsed.rest.length > 0) this.#keepPending(parsed.rest);
  }

  protected override receiveHandshakeEof(): void {
    if (this.#parser === null) {
      // The client half-closed after its request: the response can't matter.
      this.handshakeExc ??= new InvalidMessage("connection closed before the handshake response");
      return;
    }
    try {
      this.#parser.feedEof();
    } catch (error) {
      this.handshakeExc ??= error instanceof Error ? error : new Error(String(error));
    }
  }

  // RFC 6455 §4.1: a client waits for the response before sending frames,
  // so these bytes are unusual; keep them for the frame parser, within a bound.
  #keepPending(data: Buffer): void {
    this.#pendingSize += data.length;
    if (this.#pendingSize > this.#maxPending) {
      this.handshakeExc = new SecurityError(
        `${this.#pendingSize} bytes received before the handshake response exceeds limit of ` +
          `${this.#maxPending} bytes (WEBSOCKETS_MAX_BODY_SIZE)`,
      );
      this.#pending = null;
      this.#requestFailed = true;
      this.sendEof();
      this.discardInput();
      return;
    }
    // Copy: the caller may reuse its buffer once receiveData returns.
    this.#pending ??= [];
    this.#pending.push(Buffer.from(data));
  }

  // The request can't be parsed: answer at once, then close.
  #invalidRequest(error: unknown, parser: RequestParser): void {
    const exc = error instanceof Error ? error : new Error(String(error));
    this.handshakeExc = exc;
    this.#requestFailed = true;
    let status = 400;
    if (exc instanceof SecurityError) {
      const inRequestLine = parser.phase === "start-line";
      status = inRequestLine ? 414 : 431;
      if (this.#debug) {
        const message = inRequestLine
          ? logMessages.requestLineTooLong
          : logMessages.headerFieldsTooLarge;
        this.logger!.debug({ err: exc }, message);
      }
    } else if (this.#debug) {
      this.logger!.debug({ err: exc }, "! invalid handshake");
    }
    const response = this.reject(
      status,
      `Failed to open a WebSocket connection: ${exc.message}.\n`,
    );
    if (this.#debug) this.#debugLines(formatResponseLines(response, ">"));
    this.sendBytes(serializeResponse(response));
    this.response = response;
    this.sendEof();
    this.discardInput();
  }
}

// A string matches exactly; a RegExp must match the whole origin, like
// Python's re.fullmatch: a search would let "https://evil.example/?https://good.example" in.
function originMatcher(pattern: OriginPattern): (origin: string | undefined) => boolean {
  if (pattern === null) return (origin) => origin === undefined;
  if (typeof pattern === "string") return (origin) => origin === pattern;
  const full = new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, ""));
  return (origin) => origin !== undefined && full.test(origin);
}
