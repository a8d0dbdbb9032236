/**
 * The client side of the opening handshake (RFC 6455 §4.1, §4.2.2), on top
 * of the sans-I/O {@link Protocol}.
 *
 * @module
 */

import {
  InvalidHeader,
  InvalidHeaderValue,
  InvalidState,
  InvalidStatus,
  NegotiationError,
} from "./errors.ts";
import type { ClientExtensionFactory, Extension } from "./extensions/base.ts";
import { EMPTY } from "./frames.ts";
import {
  acceptKey,
  buildAuthorizationBasic,
  buildExtension,
  buildHost,
  buildSubprotocol,
  checkUpgradeHeaders,
  type ExtensionHeader,
  generateKey,
  Headers,
  type HeadersInit,
  parseExtension,
  parseSubprotocol,
} from "./headers.ts";
import {
  type HttpLimits,
  type Parsed,
  type Request,
  type Response,
  ResponseParser,
  serializeRequest,
} from "./http11.ts";
import { formatRequestLines, formatResponseLines, isLevelEnabled } from "./logging.ts";
import { CONNECTING, Protocol, type ProtocolOptions } from "./protocol.ts";
import { parseURI, type WebSocketURI } from "./uri.ts";
import { VERSION } from "./version.ts";

/**
 * The default `User-Agent`: `WEBSOCKETS_USER_AGENT` when set, else
 * `websockets-ts/<version> Node/<version>`. Read each time, so that a change
 * to the environment applies to the next connection.
 */
export function defaultUserAgent(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return env.WEBSOCKETS_USER_AGENT ?? `websockets-ts/${VERSION} Node/${process.versions.node}`;
}

/** Options of {@link ClientProtocol}. */
export interface ClientProtocolOptions extends ProtocolOptions {
  /**
   * Value of the `Origin` header, for servers that check it to defend
   * against Cross-Site WebSocket Hijacking. Default: none.
   */
  origin?: string | null;
  /**
   * Extensions to offer, in order of preference; the server may accept
   * them. Default: none.
   */
  extensions?: readonly ClientExtensionFactory[] | null;
  /** Subprotocols to offer, in order of preference. Default: none. */
  subprotocols?: readonly string[] | null;
  /**
   * Headers to add to the request. A name given here replaces the header of
   * the same name the protocol would send (e.g. `Host`, `Origin`). Default: none.
   */
  additionalHeaders?: HeadersInit | null;
  /**
   * `User-Agent` header; `null` sends none. Default: {@link defaultUserAgent}.
   * A `User-Agent` in `additionalHeaders` takes precedence.
   */
  userAgentHeader?: string | null;
  /**
   * Limits of the HTTP response parser. Default: from the environment, see
   * `httpLimitsFromEnv` in `http11.ts`.
   */
  httpLimits?: Partial<HttpLimits>;
}

/**
 * Sans-I/O WebSocket client connection: builds the handshake request, checks
 * the server's response, then runs the protocol.
 *
 * ```ts
 * const client = new ClientProtocol("wss://example.com/chat", { subprotocols: ["chat"] });
 * client.sendRequest(client.connect());
 * write(client.dataToSend());             // the HTTP request
 * client.receiveData(bytesFromServer);
 * client.eventsReceived();                // [Response], then frames
 * if (client.handshakeExc !== null) throw client.handshakeExc;
 * client.subprotocol;                     // "chat"
 * ```
 *
 * When the handshake fails, `handshakeExc` is the precise error:
 * `InvalidStatus` for a status other than 101 (carrying the response and its
 * body; a 3xx's `Location` is in `response.headers`), `InvalidUpgrade`,
 * `InvalidHeader` and its subclasses, `NegotiationError`, `InvalidMessage`
 * for malformed HTTP, `SecurityError` when a limit is exceeded. The response
 * is still an event if it could be parsed. The protocol then sends EOF and
 * ignores any further input: the I/O layer should close the transport
 * (`closeExpected()` is `true`).
 */
export class ClientProtocol extends Protocol {
  /** The URI connected to. */
  readonly uri: WebSocketURI;
  /** The `Origin` header sent, or `null`. */
  readonly origin: string | null;
  /** Extensions offered, or `null`. */
  readonly availableExtensions: readonly ClientExtensionFactory[] | null;
  /** Subprotocols offered, or `null`. */
  readonly availableSubprotocols: readonly string[] | null;
  /** The `Sec-WebSocket-Key` of the request (RFC 6455 §4.1). */
  readonly key: string;
  /** The subprotocol the server selected, or `null`; set by a successful handshake. */
  subprotocol: string | null = null;
  /** The request sent by {@link ClientProtocol.sendRequest}, or `null`. */
  request: Request | null = null;
  /** The response received, or `null`: set once it's parsed, even if the handshake then fails. */
  response: Response | null = null;

  readonly #additionalHeaders: Headers | null;
  readonly #userAgent: string | null;
  readonly #parser: ResponseParser;
  readonly #debug: boolean;

  /**
   * @param uri - The server's URI, parsed or not.
   * @throws InvalidURI when `uri` is a string that isn't a valid WebSocket URI.
   */
  constructor(uri: WebSocketURI | string, options: ClientProtocolOptions = {}) {
    super("client", options, CONNECTING);
    this.uri = typeof uri === "string" ? parseURI(uri) : uri;
    this.origin = options.origin ?? null;
    this.availableExtensions = options.extensions ?? null;
    this.availableSubprotocols = options.subprotocols ?? null;
    this.#additionalHeaders =
      options.additionalHeaders == null ? null : new Headers(options.additionalHeaders);
    this.#userAgent =
      options.userAgentHeader === undefined ? defaultUserAgent() : options.userAgentHeader;
    this.key = generateKey();
    this.#parser = new ResponseParser({ limits: options.httpLimits });
    this.#debug = isLevelEnabled(this.logger, "debug");
  }

  /**
   * Builds the handshake request (RFC 6455 §4.1). Send it with
   * {@link ClientProtocol.sendRequest}; it may be changed before, e.g. to
   * add headers.
   */
  connect(): Request {
    const uri = this.uri;
    const headers = new Headers();
    headers.append("Host", buildHost(uri.host, uri.port, uri.secure));
    if (uri.username !== null) {
      headers.append("Authorization", buildAuthorizationBasic(uri.username, uri.password ?? ""));
    }
    if (this.origin !== null) headers.append("Origin", this.origin);
    headers.append("Upgrade", "websocket");
    headers.append("Connection", "Upgrade");
    headers.append("Sec-WebSocket-Key", this.key);
    headers.append("Sec-WebSocket-Version", "13");
    const extensions = this.availableExtensions;
    if (extensions !== null && extensions.length > 0) {
      const offers: ExtensionHeader[] = extensions.map((factory) => [
        factory.name,
        factory.getRequestParams(),
      ]);
      headers.append("Sec-WebSocket-Extensions", buildExtension(offers));
    }
    const subprotocols = this.availableSubprotocols;
    if (subprotocols !== null && subprotocols.length > 0) {
      headers.append("Sec-WebSocket-Protocol", buildSubprotocol(subprotocols));
    }
    const additional = this.#additionalHeaders;
    if (additional !== null) {
      for (const name of additional.keys()) headers.delete(name);
      for (const [name, value] of additional) headers.append(name, value);
    }
    if (this.#userAgent !== null && !headers.has("User-Agent")) {
      headers.append("User-Agent", this.#userAgent);
    }
    // Method and version explicit: `ws.request.version` tells HTTP/1.1 from HTTP/2.
    return { path: uri.resourceName, headers, method: "GET", version: "HTTP/1.1" };
  }

  /**
   * Builds the extended CONNECT request of RFC 8441 §4, for a WebSocket
   * over an HTTP/2 stream: {@link ClientProtocol.connect}'s request with
   * method `CONNECT` and version `HTTP/2`, without `Upgrade` and
   * `Connection` (RFC 9113 §8.2.2 forbids connection-specific headers) nor
   * `Sec-WebSocket-Key` (RFC 8441 §5: the stream is the proof). `Host`
   * stays: the I/O layer sends it as `:authority`.
   */
  connectHttp2(): Request {
    const request = this.connect();
    const headers = request.headers;
    for (const name of HTTP2_DROPPED_HEADERS) headers.delete(name);
    return { path: request.path, headers, method: "CONNECT", version: "HTTP/2" };
  }

  /**
   * Records the request the I/O layer sent as an HTTP/2 extended CONNECT
   * (no bytes to write: the HTTP/2 session frames it); logs it at debug level.
   *
   * @throws InvalidState unless the connection is CONNECTING.
   */
  sendHttp2Request(request: Request): void {
    if (this.state !== CONNECTING) {
      throw new InvalidState("cannot send a handshake request: connection isn't connecting");
    }
    if (this.#debug) this.#debugLines(formatRequestLines(request, ">"));
    this.request = request;
  }

  /**
   * Completes the handshake with the response to an extended CONNECT
   * (RFC 8441 §5: a 2xx accepts it, and there's no `Sec-WebSocket-Accept`
   * to check), negotiating extensions and subprotocol as over HTTP/1.1.
   * The response is an event, as over HTTP/1.1; on success the protocol
   * is OPEN, else `handshakeExc` says why (`InvalidStatus` for another
   * status) and the I/O layer should reset the stream.
   */
  receiveHttp2Response(response: Response): void {
    if (this.#debug) this.#debugLines(formatResponseLines(response, "<", "HTTP/2"));
    this.#complete(response, this.processHttp2Response, EMPTY);
  }

  /**
   * Checks the response to an extended CONNECT (RFC 8441 §5) and
   * negotiates extensions and subprotocol, as
   * {@link ClientProtocol.processResponse} does over HTTP/1.1.
   *
   * @throws InvalidStatus unless the status is 2xx; NegotiationError.
   */
  processHttp2Response(response: Response): [extensions: Extension[], subprotocol: string | null] {
    // RFC 9113 §8.5: a successful CONNECT is any 2xx; RFC 8441 servers send 200.
    if (response.status < 200 || response.status > 299) throw new InvalidStatus(response);
    return [this.#processExtensions(response.headers), this.#processSubprotocol(response.headers)];
  }

  /**
   * Queues the handshake request for sending; logs it at debug level, line
   * by line (`> GET /chat HTTP/1.1`, `> Host: ...`).
   *
   * @throws InvalidState unless the connection is CONNECTING.
   */
  sendRequest(request: Request): void {
    if (this.state !== CONNECTING) {
      throw new InvalidState("cannot send a handshake request: connection isn't connecting");
    }
    if (this.#debug) this.#debugLines(formatRequestLines(request, ">"));
    this.request = request;
    this.sendBytes(serializeRequest(request));
  }

  /**
   * Checks the handshake response (RFC 6455 §4.2.2 "the client MUST
   * validate the server's response") and negotiates extensions and
   * subprotocol.
   *
   * @returns the extensions accepted and the subprotocol selected.
   * @throws InvalidHandshake (a subclass) when the response is unacceptable.
   */
  processResponse(response: Response): [extensions: Extension[], subprotocol: string | null] {
    if (response.status !== 101) throw new InvalidStatus(response);
    const headers = response.headers;

    // RFC 6455 §4.1 items 2 and 3 of the response checks.
    checkUpgradeHeaders(headers);

    const accept = headers.getOne("Sec-WebSocket-Accept");
    if (accept === undefined) throw new InvalidHeader("Sec-WebSocket-Accept");
    if (accept !== acceptKey(this.key))
      throw new InvalidHeaderValue("Sec-WebSocket-Accept", accept);

    return [this.#processExtensions(headers), this.#processSubprotocol(headers)];
  }

  // RFC 6455 §4.1: "If the response includes a |Sec-WebSocket-Extensions|
  // header field and this header field indicates the use of an extension
  // that was not present in the client's handshake ... the client MUST Fail
  // the WebSocket Connection." Each accepted extension must be taken by a
  // factory with that name; factories check parameters and combinations.
  #processExtensions(headers: Headers): Extension[] {
    const values = headers.getAll("Sec-WebSocket-Extensions");
    if (values.length === 0) return [];
    const factories = this.availableExtensions ?? [];
    if (factories.length === 0) {
      throw new NegotiationError(`no extensions offered; server accepted: ${values.join(", ")}`);
    }
    const accepted: Extension[] = [];
    for (const [name, params] of values.flatMap(parseExtension)) {
      let extension: Extension | null = null;
      let refusal: NegotiationError | null = null;
      for (const factory of factories) {
        if (factory.name !== name) continue;
        try {
          extension = factory.processResponseParams(params, accepted);
          break;
        } catch (error) {
          if (!(error instanceof NegotiationError)) throw error;
          refusal = error;
        }
      }
      if (extension === null) {
        if (refusal !== null) throw refusal;
        throw new NegotiationError(`unsupported extension: ${buildDisplay(name, params)}`);
      }
      accepted.push(extension);
    }
    return accepted;
  }

  // RFC 6455 §4.1: the subprotocol must be one the client offered.
  #processSubprotocol(headers: Headers): string | null {
    const values = headers.getAll("Sec-WebSocket-Protocol");
    if (values.length === 0) return null;
    const offered = this.availableSubprotocols ?? [];
    const selected = values.flatMap(parseSubprotocol);
    if (offered.length === 0) {
      throw new NegotiationError(
        `no subprotocols offered; server selected: ${selected.join(", ")}`,
      );
    }
    if (selected.length > 1) {
      throw new NegotiationError(`multiple subprotocols: ${selected.join(", ")}`);
    }
    if (!offered.includes(selected[0])) {
      throw new NegotiationError(`unsupported subprotocol: ${selected[0]}`);
    }
    return selected[0];
  }

  #debugLines(lines: string[]): void {
    for (const line of lines) this.logger!.debug(line);
  }

  protected override receiveHandshakeData(data: Buffer): void {
    let parsed: Parsed<Response> | null;
    try {
      parsed = this.#parser.feed(data);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (parsed !== null) this.#receiveResponse(parsed);
  }

  // A response whose body runs to the end of the stream completes here.
  protected override receiveHandshakeEof(): void {
    try {
      this.#receiveResponse(this.#parser.feedEof());
    } catch (error) {
      this.handshakeExc ??= toError(error);
    }
  }

  #receiveResponse({ message: response, rest }: Parsed<Response>): void {
    if (this.#debug) this.#debugLines(formatResponseLines(response, "<"));
    this.#complete(response, this.processResponse, rest);
  }

  // The response is an event either way; `check` says whether it opens the
  // connection, then `rest` is parsed as frames.
  #complete(
    response: Response,
    check: (this: ClientProtocol, response: Response) => [Extension[], string | null],
    rest: Buffer,
  ): void {
    this.response = response;
    let extensions: Extension[];
    let subprotocol: string | null;
    try {
      [extensions, subprotocol] = check.call(this, response);
    } catch (error) {
      this.pushEvent(response);
      this.#fail(error);
      return;
    }
    this.extensions = extensions;
    this.subprotocol = subprotocol;
    this.pushEvent(response);
    this.openWith(rest);
  }

  // The handshake failed: nothing more to read; the transport should close.
  #fail(error: unknown): void {
    this.handshakeExc = toError(error);
    this.sendEof();
    this.discardInput();
  }
}

// Headers of the HTTP/1.1 upgrade that an extended CONNECT doesn't send.
const HTTP2_DROPPED_HEADERS = ["Upgrade", "Connection", "Sec-WebSocket-Key"] as const;

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function buildDisplay(name: string, params: ExtensionHeader[1]): string {
  return [name, ...params.map(([key, value]) => (value === null ? key : `${key}=${value}`))].join(
    "; ",
  );
}
