/**
 * `createWebSocketStream()`: a `WebSocket` as a Node `Duplex`, as in `ws`.
 * Messages read become chunks; chunks written become messages; backpressure
 * on the readable side pauses the socket.
 *
 * @module
 */

import { Duplex, type DuplexOptions } from "node:stream";
import type { RawData, WebSocket } from "./websocket.ts";

/**
 * Wraps `ws` in a `Duplex` stream. Ending the writable side closes the
 * WebSocket (1005, no code, as `ws` does); destroying the stream
 * terminates it; the readable side ends when the WebSocket closes.
 *
 * ```ts
 * const duplex = createWebSocketStream(ws, { encoding: "utf8" });
 * duplex.pipe(process.stdout);
 * ```
 */
export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  let terminateOnDestroy = true;
  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState === ws.CONNECTING) {
        ws.once("open", () => this._write(chunk, _encoding, callback));
        return;
      }
      ws.send(chunk, callback);
    },
    final(callback) {
      if (ws.readyState === ws.CONNECTING) {
        ws.once("open", () => this._final(callback));
        return;
      }
      if (ws.readyState === ws.CLOSED) {
        callback();
        return;
      }
      ws.once("close", () => callback());
      ws.close();
    },
    destroy(error, callback) {
      if (ws.readyState === ws.CLOSED) {
        callback(error);
        return;
      }
      let called = false;
      ws.once("error", (wsError: Error) => {
        called = true;
        callback(wsError);
      });
      ws.once("close", () => {
        if (!called) callback(error);
      });
      if (terminateOnDestroy) ws.terminate();
    },
  });

  const onMessage = (data: RawData, isBinary: boolean): void => {
    const chunk = !isBinary && duplex.readableObjectMode ? String(data) : data;
    if (!duplex.push(chunk)) ws.pause();
  };
  ws.on("message", onMessage);
  ws.once("error", (error: Error) => {
    if (duplex.destroyed) return;
    // The WebSocket is failing already: no need to terminate it.
    terminateOnDestroy = false;
    duplex.destroy(error);
  });
  ws.once("close", () => {
    if (duplex.destroyed) return;
    duplex.push(null);
  });
  duplex.on("end", () => {
    if (duplex.writableFinished || !duplex.writable) duplex.destroy();
  });
  duplex.on("finish", () => {
    if (duplex.readableEnded) duplex.destroy();
  });
  return duplex;
}
