/// <reference types="node" preserve="true" />
/**
 * websockets-ts: WebSocket servers and clients for Node.js.
 *
 * ```ts
 * import { serve, connect } from "websockets-ts";
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export { Close, Frame } from "./frames.ts";
export { Headers, type HeadersInit } from "./headers.ts";
export type { Request, Response } from "./http11.ts";
export {
  type CreateLoggerOptions,
  createLogger,
  type LevelName,
  type LogFn,
  type Logger,
  type LoggerLike,
  type LogLevel,
  type LogStream,
  silentLogger,
} from "./logging.ts";
export { type BasicAuthOptions, basicAuth, type Credentials } from "./node/auth.ts";
export { type BackoffOptions, backoff } from "./node/backoff.ts";
export type { Backplane, BackplaneHost } from "./node/backplane.ts";
export { type BroadcastOptions, broadcast } from "./node/broadcast.ts";
export { ClientConnection, type ConnectOptions, connect } from "./node/client.ts";
export { type ClusterBackplaneOptions, clusterBackplane } from "./node/cluster-backplane.ts";
export {
  type Address,
  Connection,
  type ConnectionOptions,
  type Data,
  type LogFields,
  type RecvOptions,
  type Sendable,
  type SendData,
  type SendOptions,
} from "./node/connection.ts";
export type {
  CloseMessage,
  DiagnosticsConnection,
  HandshakeContext,
  OpenMessage,
  PingMessage,
  PongMessage,
  SlowSubscriberMessage,
  SocketErrorMessage,
} from "./node/diagnostics.ts";
export type { Http2Mode } from "./node/http2-client.ts";
export type { AnyHttp2Server } from "./node/http2-server.ts";
export { getProxy, type ProxyOptions, type ProxyTarget } from "./node/proxy.ts";
export { processException, type ReconnectOptions } from "./node/reconnect.ts";
export {
  type RedirectCarry,
  type RedirectHop,
  type RedirectOptions,
  withoutCredentials,
} from "./node/redirect.ts";
export {
  DEFAULT_MAX_PATH_LENGTH,
  type RouteConverters,
  type RouteEntry,
  type RouteHandler,
  type RouteMatch,
  type RouteOptions,
  type RouteParams,
  Router,
  type RouterOptions,
  route,
} from "./node/router.ts";
export {
  type CloseServerOptions,
  type Handler,
  type MaybeResponse,
  type OriginPattern,
  type RequestRouter,
  type ServeOptions,
  Server,
  ServerConnection,
  serve,
} from "./node/server.ts";
export type { PublishOptions, SlowSubscriberAction } from "./node/topics.ts";
export { CLOSED, CLOSING, CONNECTING, OPEN, type State } from "./protocol.ts";
