/// <reference types="node" preserve="true" />
/**
 * `websockets-ts/ws`: `ws` 8's API on websockets-ts. Moving from `ws` is
 * one import line:
 *
 * ```ts
 * import WebSocket, { WebSocketServer } from "websockets-ts/ws";
 * ```
 *
 * See docs/migrating-from-ws.md for what differs on purpose.
 *
 * @module
 */

import "./client.ts";
import { WebSocketServer } from "./server.ts";
import { createWebSocketStream } from "./stream.ts";
import { WebSocket } from "./websocket.ts";

export type { UpgradeRequest, WsClientOptions } from "./client.ts";
export {
  WS_ERR_CODES,
  type WsErrorCode,
  type WsProtocolError,
} from "./errors.ts";
export {
  type AddEventListenerOptions,
  CloseEvent,
  ErrorEvent,
  Event,
  type EventListenerLike,
  MessageEvent,
} from "./events.ts";
export {
  type VerifyClientCallback,
  type VerifyClientInfo,
  WebSocketServer,
  type WebSocketServerEvents,
  type WsServerOptions,
} from "./server.ts";
export { createWebSocketStream } from "./stream.ts";
export {
  type BinaryType,
  type RawData,
  WebSocket,
  type WebSocketEvents,
  type WsSendData,
  type WsSendOptions,
} from "./websocket.ts";
export { WebSocketServer as Server };

// ws's default export is the WebSocket class, carrying the rest.
WebSocket.WebSocket = WebSocket;
WebSocket.WebSocketServer = WebSocketServer;
WebSocket.Server = WebSocketServer;
WebSocket.createWebSocketStream = createWebSocketStream;

// A default export, against the house rule: `import WebSocket from "ws"`
// must keep working when only the module name changes (docs/decisions.md).
export default WebSocket;
