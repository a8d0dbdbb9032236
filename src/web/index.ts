/// <reference types="node" preserve="true" />
/**
 * `websockets-ts/web`: the browser's `WebSocket` and `WebSocketStream`,
 * on our client.
 *
 * @module
 */

export {
  CloseEvent,
  type CloseEventInit,
  type EventHandler,
  MessageEvent,
} from "./events.ts";
export { WEB_DEFAULT_MAX_SIZE, type WebSocketExtras, type WebSocketInit } from "./options.ts";
export { type BinaryType, WebSocket } from "./websocket.ts";
export { type WebSocketCloseInfo, WebSocketError } from "./websocket-error.ts";
export {
  type WebSocketCloseResult,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
} from "./websocket-stream.ts";
