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
  isSendableCloseCode,
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

/**
 * The default export, as `ws`'s: the `WebSocket` class, carrying
 * `WebSocketServer`, `Server` and `createWebSocketStream` as static members
 * (`import WebSocket from "ws"; new WebSocket.Server(...)`).
 */
const DefaultWebSocket = WebSocket as typeof WebSocket & {
  WebSocket: typeof WebSocket;
  WebSocketServer: typeof WebSocketServer;
  Server: typeof WebSocketServer;
  createWebSocketStream: typeof createWebSocketStream;
};
DefaultWebSocket.WebSocket = WebSocket;
DefaultWebSocket.WebSocketServer = WebSocketServer;
DefaultWebSocket.Server = WebSocketServer;
DefaultWebSocket.createWebSocketStream = createWebSocketStream;

// A default export, against the house rule: `import WebSocket from "ws"`
// must keep working when only the module name changes (docs/decisions.md).
export default DefaultWebSocket;
