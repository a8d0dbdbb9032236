/// <reference types="node" preserve="true" />
/**
 * The public sans-I/O API, `websockets-ts/protocol`: frames, the protocol
 * state machine and errors, to run WebSocket over any transport.
 *
 * @module
 */

export {
  ClientProtocol,
  type ClientProtocolOptions,
  defaultUserAgent,
} from "./client.ts";
export * from "./errors.ts";
export * from "./extensions/index.ts";
export * from "./frame-parser.ts";
export * from "./frames.ts";
export { MAX_ECHOED_ERROR, MAX_EXTENSION_OFFERS } from "./handshake-limits.ts";
export {
  acceptKey,
  buildAuthorizationBasic,
  buildExtension,
  buildHost,
  buildSubprotocol,
  buildWwwAuthenticateBasic,
  type ExtensionHeader,
  generateKey,
  Headers,
  type HeadersInit,
  isToken,
  parseAuthorizationBasic,
  parseConnection,
  parseExtension,
  parseSubprotocol,
  parseUpgrade,
} from "./headers.ts";
export {
  DEFAULT_HTTP_LIMITS,
  type HttpLimits,
  httpLimitsFromEnv,
  type Parsed,
  type ParserOptions,
  type ParserPhase,
  type Request,
  RequestParser,
  type Response,
  ResponseParser,
  type ResponseParserOptions,
  reasonPhrase,
  STATUS_REASONS,
  serializeRequest,
  serializeResponse,
} from "./http11.ts";
export * from "./protocol.ts";
export { ProtocolRecord } from "./protocol-rare.ts";
export { redactHeaderValue, redactURL } from "./redact.ts";
export { checkRequestFields, isValidHost } from "./request-checks.ts";
export {
  defaultServerHeader,
  type OriginPattern,
  type SelectSubprotocol,
  ServerProtocol,
  ServerProtocolConfig,
  type ServerProtocolConfigOptions,
  type ServerProtocolOptions,
} from "./server.ts";
export { isWebSocketURI, parseURI, type WebSocketURI } from "./uri.ts";
export { Utf8Validator } from "./utf8.ts";
export { VERSION } from "./version.ts";
