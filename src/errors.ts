/**
 * The error hierarchy of websockets-ts.
 *
 * Every error is a {@link WebSocketError} with a stable `code` (like `ws`'s
 * `WS_ERR_*` codes) that callers can match on, and a message that names the
 * offending value.
 *
 * ```
 * WebSocketError
 * ├── ConnectionClosed
 * │   ├── ConnectionClosedOK
 * │   └── ConnectionClosedError
 * ├── InvalidURI
 * ├── InvalidProxy
 * ├── InvalidHandshake
 * │   ├── SecurityError
 * │   ├── ProxyError
 * │   │   ├── InvalidProxyMessage
 * │   │   ├── InvalidProxyStatus
 * │   │   └── SocksProxyError
 * │   ├── InvalidMessage
 * │   ├── InvalidStatus
 * │   ├── InvalidHeader
 * │   │   ├── InvalidHeaderFormat
 * │   │   ├── InvalidHeaderValue
 * │   │   ├── InvalidOrigin
 * │   │   └── InvalidUpgrade
 * │   └── NegotiationError
 * │       ├── DuplicateParameter
 * │       ├── InvalidParameterName
 * │       └── InvalidParameterValue
 * ├── ProtocolError
 * ├── PayloadTooBig
 * ├── InvalidState
 * └── ConcurrencyError
 * ```
 *
 * @module
 */

import type { Close } from "./frames.ts";
import type { Response } from "./http11.ts";
import { redactURL } from "./redact.ts";

/** Options accepted by every error constructor. */
export interface ErrorOptions {
  /** The error that caused this one. */
  cause?: unknown;
}

/** Base class of every error raised by websockets-ts. */
export class WebSocketError extends Error {
  /** A stable identifier, e.g. `"WS_ERR_PROTOCOL"`. */
  readonly code: string = "WS_ERR";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The connection is closed: raised by `send`, `recv` and iteration once the
 * closing handshake completed or the connection was lost.
 *
 * Carries the close frames received and sent, if any.
 */
export class ConnectionClosed extends WebSocketError {
  override readonly code: string = "WS_ERR_CONNECTION_CLOSED";
  /** The close frame received from the peer, or `null`. */
  readonly rcvd: Close | null;
  /** The close frame sent to the peer, or `null`. */
  readonly sent: Close | null;
  /**
   * Whether the close frame was received before one was sent; `null` when
   * one of them is missing.
   */
  readonly rcvdThenSent: boolean | null;

  constructor(
    rcvd: Close | null,
    sent: Close | null,
    rcvdThenSent: boolean | null = null,
    options?: ErrorOptions,
  ) {
    super(describeClose(rcvd, sent, rcvdThenSent), options);
    this.rcvd = rcvd;
    this.sent = sent;
    this.rcvdThenSent = rcvdThenSent;
  }

  /** The close code received, or 1006 when no close frame was received. */
  get closeCode(): number {
    return this.rcvd === null ? 1006 : this.rcvd.code;
  }

  /** The close reason received, or `""`. */
  get closeReason(): string {
    return this.rcvd === null ? "" : this.rcvd.reason;
  }
}

function describeClose(
  rcvd: Close | null,
  sent: Close | null,
  rcvdThenSent: boolean | null,
): string {
  if (rcvd === null && sent === null) return "no close frame received or sent";
  if (rcvd === null) return `sent ${sent}; no close frame received`;
  if (sent === null) return `received ${rcvd}; no close frame sent`;
  return rcvdThenSent
    ? `received ${rcvd}; then sent ${sent}`
    : `sent ${sent}; then received ${rcvd}`;
}

/** The connection closed normally: both sides sent close code 1000 or 1001. */
export class ConnectionClosedOK extends ConnectionClosed {
  override readonly code: string = "WS_ERR_CONNECTION_CLOSED_OK";
}

/** The connection closed with an error, or without a closing handshake. */
export class ConnectionClosedError extends ConnectionClosed {
  override readonly code: string = "WS_ERR_CONNECTION_CLOSED_ERROR";
}

/** A string is not a valid `ws://` or `wss://` URI. */
export class InvalidURI extends WebSocketError {
  override readonly code: string = "WS_ERR_INVALID_URI";
  /** The URI that was rejected, its password redacted (`user:xxxxx@`). */
  readonly uri: string;

  constructor(uri: string, reason: string, options?: ErrorOptions) {
    const redacted = redactURL(uri);
    super(`${redacted} isn't a valid URI: ${reason}`, options);
    this.uri = redacted;
  }
}

/** A string is not a valid proxy URL. */
export class InvalidProxy extends WebSocketError {
  override readonly code: string = "WS_ERR_INVALID_PROXY";
  /** The proxy URL that was rejected, its password redacted (`user:xxxxx@`). */
  readonly proxy: string;

  constructor(proxy: string, reason: string, options?: ErrorOptions) {
    const redacted = redactURL(proxy);
    super(`${redacted} isn't a valid proxy: ${reason}`, options);
    this.proxy = redacted;
  }
}

/** The opening handshake failed. */
export class InvalidHandshake extends WebSocketError {
  override readonly code: string = "WS_ERR_INVALID_HANDSHAKE";
}

/** The handshake exceeded a security limit (line length, header count, body size, redirects). */
export class SecurityError extends InvalidHandshake {
  override readonly code: string = "WS_ERR_SECURITY";
}

/** Connecting through a proxy failed. */
export class ProxyError extends InvalidHandshake {
  override readonly code: string = "WS_ERR_PROXY";
}

/** The proxy's answer was malformed. */
export class InvalidProxyMessage extends ProxyError {
  override readonly code: string = "WS_ERR_INVALID_PROXY_MESSAGE";
}

/** The proxy refused the CONNECT request. */
export class InvalidProxyStatus extends ProxyError {
  override readonly code: string = "WS_ERR_INVALID_PROXY_STATUS";
  /** The proxy's response, body included. */
  readonly response: Response;

  constructor(response: Response, options?: ErrorOptions) {
    super(`proxy rejected connection: HTTP ${response.status}`, options);
    this.response = response;
  }
}

/** A SOCKS proxy couldn't open the tunnel to the server. */
export class SocksProxyError extends ProxyError {
  override readonly code: string = "WS_ERR_SOCKS_PROXY";
  /** The SOCKS version spoken: 4 (SOCKS4 and 4a) or 5. */
  readonly socksVersion: 4 | 5;
  /** The proxy's reply code, e.g. 5 for "connection refused" in SOCKS5, 91 in SOCKS4. */
  readonly reply: number;

  constructor(message: string, socksVersion: 4 | 5, reply: number, options?: ErrorOptions) {
    super(message, options);
    this.socksVersion = socksVersion;
    this.reply = reply;
  }
}

/** An HTTP request or response was malformed. */
export class InvalidMessage extends InvalidHandshake {
  override readonly code: string = "WS_ERR_INVALID_MESSAGE";
}

/** The server answered the handshake with a status other than 101. */
export class InvalidStatus extends InvalidHandshake {
  override readonly code: string = "WS_ERR_INVALID_STATUS";
  /** The server's response, body included. */
  readonly response: Response;

  constructor(response: Response, options?: ErrorOptions) {
    super(`server rejected WebSocket connection: HTTP ${response.status}`, options);
    this.response = response;
  }
}

/** An HTTP header is missing or has an invalid value. */
export class InvalidHeader extends InvalidHandshake {
  override readonly code: string = "WS_ERR_INVALID_HEADER";
  /** The header's name. */
  readonly header: string;
  /** The header's value, or `null` when it was missing. */
  readonly value: string | null;

  constructor(header: string, value: string | null = null, options?: ErrorOptions) {
    super(InvalidHeader.describe(header, value), options);
    this.header = header;
    this.value = value;
  }

  private static describe(header: string, value: string | null): string {
    if (value === null) return `missing ${header} header`;
    if (value === "") return `empty ${header} header`;
    return `invalid ${header} header: ${value}`;
  }
}

/** An HTTP header doesn't follow its grammar. */
export class InvalidHeaderFormat extends InvalidHeader {
  override readonly code: string = "WS_ERR_INVALID_HEADER_FORMAT";

  constructor(header: string, error: string, value: string, pos: number, options?: ErrorOptions) {
    super(header, `${error} at ${pos} in ${value}`, options);
  }
}

/** An HTTP header has a well-formed but unacceptable value. */
export class InvalidHeaderValue extends InvalidHeader {
  override readonly code: string = "WS_ERR_INVALID_HEADER_VALUE";
}

/** The `Origin` header is missing or not allowed. */
export class InvalidOrigin extends InvalidHeader {
  override readonly code: string = "WS_ERR_INVALID_ORIGIN";

  constructor(origin: string | null, options?: ErrorOptions) {
    super("Origin", origin, options);
  }
}

/** The `Upgrade` or `Connection` header is missing or invalid. */
export class InvalidUpgrade extends InvalidHeader {
  override readonly code: string = "WS_ERR_INVALID_UPGRADE";
}

/** Extension or subprotocol negotiation failed. */
export class NegotiationError extends InvalidHandshake {
  override readonly code: string = "WS_ERR_NEGOTIATION";
}

/** An extension parameter appears twice. */
export class DuplicateParameter extends NegotiationError {
  override readonly code: string = "WS_ERR_DUPLICATE_PARAMETER";
  /** The parameter's name. */
  readonly parameter: string;

  constructor(name: string, options?: ErrorOptions) {
    super(`duplicate parameter: ${name}`, options);
    this.parameter = name;
  }
}

/** An extension parameter has an unknown name. */
export class InvalidParameterName extends NegotiationError {
  override readonly code: string = "WS_ERR_INVALID_PARAMETER_NAME";
  /** The parameter's name. */
  readonly parameter: string;

  constructor(name: string, options?: ErrorOptions) {
    super(`invalid parameter name: ${name}`, options);
    this.parameter = name;
  }
}

/** An extension parameter has an invalid value. */
export class InvalidParameterValue extends NegotiationError {
  override readonly code: string = "WS_ERR_INVALID_PARAMETER_VALUE";
  /** The parameter's name. */
  readonly parameter: string;
  /** The parameter's value, or `null` when it had none. */
  readonly value: string | null;

  constructor(name: string, value: string | null, options?: ErrorOptions) {
    super(
      value === null
        ? `missing value for parameter ${name}`
        : `invalid value for parameter ${name}: ${value}`,
      options,
    );
    this.parameter = name;
    this.value = value;
  }
}

/**
 * The peer broke RFC 6455 (or an extension's RFC). `closeCode` is the code
 * the connection is failed with: 1002 by default, 1007 for invalid UTF-8.
 */
export class ProtocolError extends WebSocketError {
  override readonly code: string = "WS_ERR_PROTOCOL";
  /** The close code this error fails the connection with. */
  readonly closeCode: number;

  constructor(message: string, closeCode = 1002, options?: ErrorOptions) {
    super(message, options);
    this.closeCode = closeCode;
  }
}

/** A frame or a message exceeds `maxSize` (close code 1009). */
export class PayloadTooBig extends WebSocketError {
  override readonly code: string = "WS_ERR_PAYLOAD_TOO_BIG";
  /** The size seen so far, in bytes, or `null` when unknown. */
  readonly size: number | null;
  /** The limit, in bytes. */
  readonly maxSize: number;

  constructor(
    size: number | null,
    maxSize: number,
    what: "frame" | "message" = "frame",
    options?: ErrorOptions,
  ) {
    super(
      size === null
        ? `${what} exceeds limit of ${maxSize} bytes`
        : `${what} with ${size} bytes exceeds limit of ${maxSize} bytes`,
      options,
    );
    this.size = size;
    this.maxSize = maxSize;
  }
}

/** An operation isn't allowed in the connection's current state. */
export class InvalidState extends WebSocketError {
  override readonly code: string = "WS_ERR_INVALID_STATE";
}

/** Two coroutines tried to do what only one may do at a time (e.g. two `recv` calls). */
export class ConcurrencyError extends WebSocketError {
  override readonly code: string = "WS_ERR_CONCURRENCY";
}
