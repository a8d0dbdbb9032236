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
import { EMPTY } from "./frames.ts";
import { extensionOffers, failureText } from "./handshake-limits.ts";
import {
  acceptKey,
  buildExtension,
  checkUpgradeHeaders,
  decodedBase64Length,
  type ExtensionHeader,
  Headers,
  parseSubprotocol,
} from "./headers.ts";
import { accepted200, HTTP2_VERSION, isHttp2 } from "./http2-handshake.ts";
import {
  type HttpLimits,
  type Parsed,
  type ParserPhase,
  type Request,
  RequestParser,
  type Response,
  reasonPhrase,
  serializeResponse,
} from "./http11.ts";
import { checkParsedHeaders, checkParsedRequestLine } from "./http11-rules.ts";
import { formatRequestLines, formatResponseLines, isLevelEnabled, logMessages } from "./logging.ts";
import { CONNECTING, Protocol, type ProtocolOptions } from "./protocol.ts";
import { checkRequestFields } from "./request-checks.ts";
import {
  type OriginPattern,
  type SelectSubprotocol,
  ServerProtocolConfig,
  type ServerProtocolConfigOptions,
} from "./server-config.ts";
import { BROWSER_HINT, httpDate, items101, PROXY_HINT } from "./server-response.ts";

export {
  defaultServerHeader,
  type OriginPattern,
  type SelectSubprotocol,
  ServerProtocolConfig,
  type ServerProtocolConfigOptions,
} from "./server-config.ts";

/** Options of {@link ServerProtocol}. */
export interface ServerProtocolOptions extends ProtocolOptions, ServerProtocolConfigOptions {
  /**
   * The options shared by every connection of a server, prepared once.
   * With it, only `logger`, `state` and `selectSubprotocol` (which then
   * replaces the config's, for this connection; `null`: the default
   * selection) may be given: any other option throws a `TypeError`.
   * Default: a config built from the other options, for this connection
   * alone.
   */
  config?: ServerProtocolConfig;
}

// Options that belong to the config when one is given.
const CONFIG_OPTIONS = [
  "origins",
  "extensions",
  "subprotocols",
  "serverHeader",
  "httpLimits",
  "maxSize",
] as const;

// What a request without Sec-WebSocket-Protocol offers.
const NO_SUBPROTOCOLS: readonly string[] = Object.freeze([]);

/**
 * What a connection needs only until its handshake response is sent: one
 * object, dropped then, rather than fields kept for the connection's life.
 */
class HandshakeState {
  // Dropped once the request is parsed.
  parser: RequestParser | null;
  // Bytes received after the request, before the response: the first frames.
  pending: Buffer[] | null = null;
  pendingSize = 0;
  // The request couldn't be parsed, or too much followed it: no response can be sent.
  failed = false;
  readonly selectSubprotocol: SelectSubprotocol | null;
  readonly debug: boolean;
  // The record of what the last accept() built for `request`: a copy of its
  // header lines (the response is sent unchanged when its lines are these,
  // whatever was done to its Headers meanwhile), and what the rebuild needs
  // besides the request and the config.
  accepted: readonly string[] | null = null;
  date = "";
  extensionsHeader: string | null = null;
  subprotocol: string | null = null;

  constructor(limits: Readonly<HttpLimits>, select: SelectSubprotocol | null, debug: boolean) {
    this.parser = new RequestParser({ limits });
    this.selectSubprotocol = select;
    this.debug = debug;
  }
}

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
 * A server shares one {@link ServerProtocolConfig} between its connections:
 * `new ServerProtocol({ config, logger })`.
 *
 * A request that can't be parsed is answered without waiting for `accept`:
 * 400 when malformed, 414 when the request line exceeds the line limit, 431
 * when a header line or the number of headers exceeds its limit. Then
 * `handshakeExc` is set (`InvalidMessage` or `SecurityError`), EOF is sent
 * and `closeExpected()` is `true`.
 */
export class ServerProtocol extends Protocol {
  /** The `Origin` of the request, or `null`; set by a successful {@link ServerProtocol.accept}. */
  origin: string | null = null;
  /** The subprotocol selected, or `null`; set by a successful {@link ServerProtocol.accept}. */
  subprotocol: string | null = null;
  /** The request received, or `null`. */
  request: Request | null = null;
  // The response sent. When it is the 101 accept() built for `request`,
  // unchanged, only what can't be derived again is kept (its Date, and its
  // extensions header), and `response` rebuilds it on first use, its Accept
  // from the request's key: a server keeps every connection's response, and
  // most are never read.
  #response: Response | null = null;
  #responseDate: string | null = null;
  #responseExtensions: string | null = null;

  // Replaced only before the response, by useConfig().
  #config: ServerProtocolConfig;
  // Null once the response is sent: a connection lives long after its handshake.
  #handshake: HandshakeState | null;

  /**
   * @throws TypeError when `config` is given with an option that belongs
   *   to it; see {@link ServerProtocolConfig} for the others.
   */
  constructor(options: ServerProtocolOptions = {}) {
    super("server", options, CONNECTING);
    let config = options.config;
    if (config === undefined) {
      config = new ServerProtocolConfig(options);
    } else {
      for (const name of CONFIG_OPTIONS) {
        if (options[name] !== undefined) {
          throw new TypeError(`${name} belongs to the ServerProtocolConfig when one is given`);
        }
      }
      this.maxSize = config.maxSize;
    }
    this.#config = config;
    const select =
      options.selectSubprotocol === undefined
        ? config.selectSubprotocol
        : options.selectSubprotocol;
    this.#handshake = new HandshakeState(
      config.httpLimits,
      select,
      isLevelEnabled(this.logger, "debug"),
    );
  }

  /**
   * The response sent, or `null`: by {@link ServerProtocol.sendResponse}, or
   * by the protocol itself when it answered a request it couldn't parse.
   */
  get response(): Response | null {
    if (this.#response === null && this.#responseDate !== null) {
      this.#response = {
        status: 101,
        reason: reasonPhrase(101),
        headers: Headers.fromValidated(
          items101(
            this.#responseDate,
            acceptKey(this.request!.headers.getOne("Sec-WebSocket-Key")!),
            this.#responseExtensions,
            this.subprotocol,
            this.#config.serverHeader,
          ),
        ),
        body: EMPTY,
      };
      this.#responseDate = null;
      this.#responseExtensions = null;
    }
    return this.#response;
  }
  /** Replaces the response to send (e.g. a 101 with an added header, or a rejection). */
  set response(response: Response | null) {
    this.#response = response;
    this.#responseDate = null;
    this.#responseExtensions = null;
  }

  /** The options shared with other connections of the server. */
  get config(): ServerProtocolConfig {
    return this.#config;
  }

  /**
   * Replaces the shared options once the request is known, before
   * {@link ServerProtocol.accept}: a router gives each route its own
   * origins, extensions, subprotocols and `maxSize` (set from the config).
   * The request was parsed with the former config's HTTP limits.
   *
   * @throws InvalidState once a response was sent.
   */
  useConfig(config: ServerProtocolConfig): void {
    if (this.state !== CONNECTING || this.#handshake === null) {
      throw new InvalidState("cannot change the config: a handshake response was sent");
    }
    this.#config = config;
    this.maxSize = config.maxSize;
  }

  /** Acceptable origins, or `null` for any. */
  get origins(): readonly OriginPattern[] | null {
    return this.#config.origins;
  }

  /** Extensions supported, or `null`. */
  get availableExtensions(): readonly ServerExtensionFactory[] | null {
    return this.#config.extensions;
  }

  /** Subprotocols supported, or `null`. */
  get availableSubprotocols(): readonly string[] | null {
    return this.#config.subprotocols;
  }

  // Whether to log at debug level: asked once per connection; after the
  // handshake nothing here logs.
  get #debug(): boolean {
    return this.#handshake?.debug ?? false;
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
    const config = this.#config;
    let accept: string;
    let origin: string | undefined;
    let negotiated: [header: string, extensions: Extension[]] | null;
    let subprotocol: string | null;
    try {
      const headers = request.headers;
      if (isHttp2(request)) {
        // RFC 8441 §5: an extended CONNECT, without Upgrade or key; the I/O
        // layer checked `:protocol`.
        if (request.method !== "CONNECT") {
          throw new InvalidMessage(
            `HTTP/2 ${request.method} is not a WebSocket request (RFC 8441: extended CONNECT)`,
          );
        }
        accept = "";
      } else {
        // RFC 6455 §4.2.1: what the server checks in the client's handshake.
        const method = request.method ?? "GET";
        if (method !== "GET") throw new InvalidMessage(`unsupported HTTP method: ${method}`);
        const version = request.version ?? "HTTP/1.1";
        if (version !== "HTTP/1.1") {
          throw new InvalidMessage(`unsupported HTTP version: ${version}`);
        }

        checkUpgradeHeaders(headers);

        const key = headers.getOne("Sec-WebSocket-Key");
        if (key === undefined) throw new InvalidHeader("Sec-WebSocket-Key");
        // RFC 6455 §4.1: "a randomly selected 16-byte value that has been base64-encoded".
        if (decodedBase64Length(key) !== 16) {
          throw new InvalidHeaderValue("Sec-WebSocket-Key", key);
        }
        accept = acceptKey(key);
      }

      const version13 = headers.getOne("Sec-WebSocket-Version");
      if (version13 === undefined) throw new InvalidHeader("Sec-WebSocket-Version");
      if (version13 !== "13") throw new InvalidHeaderValue("Sec-WebSocket-Version", version13);

      // RFC 6454 §7.3: "The user agent MUST NOT include more than one Origin
      // header field"; getOne refuses two.
      origin = headers.getOne("Origin");
      const matchers = config.originMatchers;
      if (matchers !== null && !matchers.some((matches) => matches(origin))) {
        throw new InvalidOrigin(origin ?? null);
      }
      // A browser sends Origin, and with it the user's cookies or cached
      // credentials: any site may open this connection as the user.
      if (
        config.originHintPending &&
        origin !== undefined &&
        (headers.has("Cookie") || headers.has("Authorization"))
      ) {
        config.originHintPending = false;
        this.logger?.warn(logMessages.originsUnset);
      }
      negotiated = this.#processExtensions(headers);
      subprotocol = this.#processSubprotocol(headers);
    } catch (error) {
      if (!(error instanceof InvalidHandshake)) throw error;
      return this.#rejectHandshake(error, request);
    }

    const date = httpDate();
    const extensionsHeader = negotiated === null ? null : negotiated[0];
    if (accept === "") {
      if (negotiated !== null) this.extensions = negotiated[1];
      this.subprotocol = subprotocol;
      this.origin = origin ?? null;
      return accepted200(date, extensionsHeader, subprotocol, config.serverHeader);
    }
    const items = items101(date, accept, extensionsHeader, subprotocol, config.serverHeader);
    const handshake = this.#handshake;
    // Rebuilding the 101 later takes the key from `this.request`: only a
    // response to that request can be rebuilt.
    if (handshake !== null) {
      handshake.accepted = request === this.request ? items.slice() : null;
      handshake.date = date;
      handshake.extensionsHeader = extensionsHeader;
      handshake.subprotocol = subprotocol;
    }
    if (negotiated !== null) this.extensions = negotiated[1];
    this.subprotocol = subprotocol;
    this.origin = origin ?? null;
    return {
      status: 101,
      reason: reasonPhrase(101),
      headers: Headers.fromValidated(items),
      body: EMPTY,
    };
  }

  #rejectHandshake(error: InvalidHandshake, request: Request): Response {
    const headers = request.headers;
    this.handshakeExc = error;
    const text = failureText(error);
    if (error instanceof InvalidOrigin) {
      if (this.#debug) this.logger!.debug({ err: error }, logMessages.invalidOrigin);
      return this.reject(403, text);
    }
    if (error instanceof InvalidUpgrade) {
      if (this.#debug) this.logger!.debug({ err: error }, logMessages.invalidUpgrade);
      // A browser opening the URL sends no key; a WebSocket client always
      // does, so a key without an Upgrade header means a proxy ate it (nginx
      // unconfigured drops Upgrade and sends Connection: close).
      const proxied = headers.has("Sec-WebSocket-Key") && !headers.has("Upgrade");
      if (proxied) this.logger?.warn(logMessages.upgradeStripped);
      const response = this.reject(426, text + (proxied ? PROXY_HINT : BROWSER_HINT));
      // RFC 9110 §15.5.22: a 426 says which protocol to upgrade to.
      response.headers.append("Upgrade", "websocket");
      return response;
    }
    if (this.#debug) this.logger!.debug({ err: error }, logMessages.invalidHandshake);
    if (error instanceof InvalidHeader && error.header === "Sec-WebSocket-Version") {
      // RFC 6455 §4.4: answer with the versions supported; on HTTP/2, 400
      // (426 asks for an Upgrade, which HTTP/2 doesn't have).
      const response = this.reject(isHttp2(request) ? 400 : 426, text);
      response.headers.append("Sec-WebSocket-Version", "13");
      return response;
    }
    // HTTP/2 has no 426 for a browser that opens the URL: a 400 that says why.
    return this.reject(
      400,
      isHttp2(request) && request.method === "GET" ? text + BROWSER_HINT : text,
    );
  }

  // RFC 6455 §9.1: the server accepts some of the extensions offered, in the
  // client's order. The first factory with the name that accepts an offer
  // wins; a factory accepts at most one offer (several offers of the same
  // extension are alternatives, RFC 7692 §5), and a NegotiationError
  // declines an offer. Null when none is accepted.
  #processExtensions(headers: Headers): [header: string, extensions: Extension[]] | null {
    const factories = this.#config.extensions;
    if (factories === null || factories.length === 0) return null;
    if (!headers.has("Sec-WebSocket-Extensions")) return null;
    const responseHeader: ExtensionHeader[] = [];
    const accepted: Extension[] = [];
    const used = new Set<ServerExtensionFactory>();
    for (const [name, params] of extensionOffers(headers)) {
      for (const factory of factories) {
        if (factory.name !== name || used.has(factory)) continue;
        let result: [ExtensionHeader[1], Extension] | null;
        try {
          result = factory.processRequestParams(params, accepted);
        } catch (error) {
          if (error instanceof NegotiationError) continue;
          throw error;
        }
        if (result === null) continue;
        responseHeader.push([name, result[0]]);
        accepted.push(result[1]);
        used.add(factory);
        break;
      }
    }
    return responseHeader.length > 0 ? [buildExtension(responseHeader), accepted] : null;
  }

  #processSubprotocol(headers: Headers): string | null {
    const select = this.#handshake?.selectSubprotocol ?? this.#config.selectSubprotocol;
    let offered = NO_SUBPROTOCOLS;
    if (headers.has("Sec-WebSocket-Protocol")) {
      // A loop rather than flatMap, several times slower on long lists.
      const all: string[] = [];
      for (const value of headers.getAll("Sec-WebSocket-Protocol")) {
        for (const token of parseSubprotocol(value)) all.push(token);
      }
      offered = all;
    }
    const subprotocol = select === null ? this.selectSubprotocol(offered) : select(this, offered);
    // RFC 6455 §4.2.2: the server selects "one or none of the acceptable
    // protocols" the client listed; anything else breaks the client.
    if (subprotocol !== null && !offered.includes(subprotocol)) {
      throw new Error(`selectSubprotocol returned ${subprotocol}, which the client didn't offer`);
    }
    // Legal, but browsers then fail the connection after the 101 with an
    // obscure message, and the server only sees a close without a frame:
    // only here is the cause known.
    if (subprotocol === null && offered.length > 0) {
      this.logger?.warn(logMessages.subprotocolIgnored(offered));
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
    const available = this.#config.subprotocols;
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
    const items = [
      "Date",
      httpDate(),
      "Connection",
      "close",
      "Content-Length",
      String(body.length),
      "Content-Type",
      "text/plain; charset=utf-8",
    ];
    const serverHeader = this.#config.serverHeader;
    if (serverHeader !== null) items.push("Server", serverHeader);
    const response: Response = {
      status,
      reason: reasonPhrase(status),
      headers: Headers.fromValidated(items),
      body,
    };
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
   * @throws InvalidState unless the connection is CONNECTING, no response
   *   was sent, and the handshake didn't already fail for lack of a valid
   *   request.
   */
  /** Whether `response` is the 101 accept() built, unchanged: then it can be rebuilt. */
  #isAccepted(response: Response, handshake: HandshakeState): boolean {
    const accepted = handshake.accepted;
    return (
      accepted !== null &&
      response.status === 101 &&
      response.reason === reasonPhrase(101) &&
      response.body.length === 0 &&
      response.headers instanceof Headers &&
      sameLines(Headers.itemsOf(response.headers), accepted) &&
      // The rebuild reads it from the protocol.
      this.subprotocol === handshake.subprotocol
    );
  }

  /**
   * Whether {@link ServerProtocol.sendResponse} may be called: the
   * connection is CONNECTING, no response was sent, and the protocol didn't
   * fail the handshake by itself (a request it couldn't parse, too many
   * bytes after it). An I/O layer that awaits hooks checks it when they
   * return: a client can make it false meanwhile.
   */
  get awaitingResponse(): boolean {
    return this.state === CONNECTING && this.#handshake !== null && !this.#handshake.failed;
  }

  /**
   * Sends the handshake response: `response` from {@link ServerProtocol.accept}
   * or {@link ServerProtocol.reject}, possibly modified. A 101 opens the
   * connection; anything else leaves it to close once the bytes are written.
   *
   * @throws {InvalidState} unless the connection is CONNECTING.
   */
  sendResponse(response: Response): void {
    if (this.state !== CONNECTING) {
      throw new InvalidState("cannot send a handshake response: connection isn't connecting");
    }
    const handshake = this.#handshake;
    if (handshake === null) {
      // A rejection was sent: the connection stays CONNECTING until it closes.
      throw new InvalidState("cannot send a handshake response: a response was already sent");
    }
    if (handshake.failed) {
      throw new InvalidState("cannot send a handshake response: the handshake already failed", {
        cause: this.handshakeExc,
      });
    }
    // HTTP/2: the I/O layer sends the head as a header block.
    const http2 = this.request !== null && isHttp2(this.request);
    if (handshake.debug) {
      this.#debugLines(formatResponseLines(response, ">", http2 ? HTTP2_VERSION : undefined));
    }
    if (!http2) this.sendBytes(serializeResponse(response));
    if (this.#isAccepted(response, handshake)) {
      this.#response = null;
      this.#responseDate = handshake.date;
      this.#responseExtensions = handshake.extensionsHeader;
    } else {
      if (response.headers instanceof Headers) response.headers.compact();
      this.response = response;
    }
    this.#handshake = null;
    if (this.isAcceptance(response)) {
      const pending = handshake.pending;
      const rest =
        pending === null ? EMPTY : pending.length === 1 ? pending[0] : Buffer.concat(pending);
      this.openWith(rest);
    } else {
      this.handshakeExc ??= new InvalidStatus(response);
      if (http2 && response.body.length > 0) this.sendBytes(response.body);
      this.sendEof();
      this.discardInput();
    }
  }

  /**
   * Whether sending `response` opens the connection: a 101 on HTTP/1.1, a
   * 2xx to an HTTP/2 extended CONNECT (RFC 8441 §5); a 2xx to an HTTP/2
   * `GET` is a page.
   */
  isAcceptance(response: Response): boolean {
    const request = this.request;
    if (request !== null && isHttp2(request)) {
      return request.method === "CONNECT" && response.status >= 200 && response.status < 300;
    }
    return response.status === 101;
  }

  /**
   * Takes a request that another HTTP stack parsed, in place of the bytes
   * {@link Protocol.receiveData} would parse; bytes received after it go
   * to {@link Protocol.receiveData} as usual.
   *
   * - An HTTP/1.1 request (node:http's, handed over by its `upgrade`
   *   event): checked as if this protocol had parsed it (the line and
   *   header limits, the grammar of each line, no body, one `Host`...),
   *   and a bad one is answered at once with 400, 414 or 431, as a request
   *   that can't be parsed is.
   * - An HTTP/2 stream's extended CONNECT (RFC 8441), with `version`
   *   `"HTTP/2"`: then the response head travels as a header block that
   *   the I/O layer sends, and {@link ServerProtocol.sendResponse} queues
   *   only a rejection's body before EOF (the end of the stream); a 2xx
   *   opens the connection.
   *
   * @throws InvalidState unless the connection awaits its request.
   */
  receiveRequest(request: Request): void {
    const handshake = this.#handshake;
    if (this.state !== CONNECTING || handshake === null || handshake.parser === null) {
      throw new InvalidState("cannot receive a request: the handshake request was received");
    }
    handshake.parser = null;
    if (!isHttp2(request)) {
      let phase: ParserPhase = "start-line";
      try {
        checkParsedRequestLine(request, this.#config.httpLimits);
        phase = "headers";
        checkParsedHeaders(request.headers, this.#config.httpLimits);
        checkRequestFields(request.headers);
      } catch (error) {
        this.#invalidRequest(handshake, error, phase);
        return;
      }
    }
    if (handshake.debug) this.#debugLines(formatRequestLines(request, "<"));
    this.request = request;
    this.pushEvent(request);
  }

  #debugLines(lines: string[]): void {
    for (const line of lines) this.logger!.debug(line);
  }

  protected override receiveHandshakeData(data: Buffer): void {
    const handshake = this.#handshake!;
    const parser = handshake.parser;
    if (parser === null) {
      this.#keepPending(handshake, data);
      return;
    }
    let parsed: Parsed<Request> | null;
    try {
      parsed = parser.feed(data);
      if (parsed !== null) checkRequestFields(parsed.message.headers);
    } catch (error) {
      this.#invalidRequest(handshake, error, parser.phase);
      return;
    }
    if (parsed === null) return;
    handshake.parser = null;
    const request = parsed.message;
    if (handshake.debug) this.#debugLines(formatRequestLines(request, "<"));
    this.request = request;
    this.pushEvent(request);
    if (parsed.rest.length > 0) this.#keepPending(handshake, parsed.rest);
  }

  protected override receiveHandshakeEof(): void {
    const parser = this.#handshake?.parser ?? null;
    if (parser === null) {
      // The client half-closed after its request: the response can't matter.
      this.handshakeExc ??= new InvalidMessage("connection closed before the handshake response");
      return;
    }
    try {
      parser.feedEof();
    } catch (error) {
      this.handshakeExc ??= error instanceof Error ? error : new Error(String(error));
    }
  }

  // RFC 6455 §4.1: a client waits for the response before sending frames,
  // so these bytes are unusual; keep them for the frame parser, within a bound.
  #keepPending(handshake: HandshakeState, data: Buffer): void {
    handshake.pendingSize += data.length;
    const maxPending = this.#config.httpLimits.maxBodySize;
    if (handshake.pendingSize > maxPending) {
      this.handshakeExc = new SecurityError(
        `${handshake.pendingSize} bytes received before the handshake response exceeds limit of ` +
          `${maxPending} bytes (WEBSOCKETS_MAX_BODY_SIZE)`,
      );
      handshake.pending = null;
      handshake.failed = true;
      if (handshake.debug)
        this.logger!.debug({ err: this.handshakeExc }, logMessages.invalidHandshake);
      this.sendEof();
      this.discardInput();
      return;
    }
    // Copy: the caller may reuse its buffer once receiveData returns.
    handshake.pending ??= [];
    handshake.pending.push(Buffer.from(data));
  }

  // The request can't be parsed: answer at once, then close.
  #invalidRequest(handshake: HandshakeState, error: unknown, phase: ParserPhase): void {
    const exc = error instanceof Error ? error : new Error(String(error));
    this.handshakeExc = exc;
    handshake.failed = true;
    let status = 400;
    if (exc instanceof SecurityError) {
      const inRequestLine = phase === "start-line";
      status = inRequestLine ? 414 : 431;
      if (handshake.debug) {
        const message = inRequestLine
          ? logMessages.requestLineTooLong
          : logMessages.headerFieldsTooLarge;
        this.logger!.debug({ err: exc }, message);
      }
    } else if (handshake.debug) {
      this.logger!.debug({ err: exc }, logMessages.invalidHandshake);
    }
    const response = this.reject(status, failureText(exc));
    // HTTP/2: the I/O layer sends the head as a header block.
    const http2 = this.request !== null && isHttp2(this.request);
    if (handshake.debug) {
      this.#debugLines(formatResponseLines(response, ">", http2 ? HTTP2_VERSION : undefined));
    }
    if (!http2) this.sendBytes(serializeResponse(response));
    this.response = response;
    this.sendEof();
    this.discardInput();
  }
}

/** Whether header lines are the same, line by line. */
function sameLines(items: readonly string[] | string, expected: readonly string[]): boolean {
  if (typeof items === "string" || items.length !== expected.length) return false;
  for (let i = 0; i < items.length; i++) if (items[i] !== expected[i]) return false;
  return true;
}
