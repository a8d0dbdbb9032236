/**
 * `websockets-ts/web` in a browser (the `browser` export condition): the
 * platform's own classes, so that code shared between Node and the browser
 * bundles without Node's built-in modules. `WebSocketStream` and
 * `WebSocketError` are `undefined` where the browser lacks them.
 *
 * @module
 */

import type { CloseEvent as NodeCloseEvent, MessageEvent as NodeMessageEvent } from "./events.ts";
import type { WebSocket as NodeWebSocket } from "./websocket.ts";
import type { WebSocketError as NodeWebSocketError } from "./websocket-error.ts";
import type { WebSocketStream as NodeWebSocketStream } from "./websocket-stream.ts";

const platform = globalThis as unknown as {
  WebSocket: typeof NodeWebSocket;
  CloseEvent: typeof NodeCloseEvent;
  MessageEvent: typeof NodeMessageEvent;
  WebSocketStream: typeof NodeWebSocketStream;
  WebSocketError: typeof NodeWebSocketError;
};

/** The browser's `WebSocket`. */
export const WebSocket = platform.WebSocket;
/** The browser's `CloseEvent`. */
export const CloseEvent = platform.CloseEvent;
/** The browser's `MessageEvent`. */
export const MessageEvent = platform.MessageEvent;
/** The browser's `WebSocketStream`, if it has one. */
export const WebSocketStream = platform.WebSocketStream;
/** The browser's `WebSocketError`, if it has one. */
export const WebSocketError = platform.WebSocketError;
