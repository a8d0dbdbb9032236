/**
 * Opening sockets: the one wait every connect path shares.
 *
 * @module
 */

import type { Socket } from "node:net";

/**
 * Resolves with `socket` once it emits `event` (`connect` or
 * `secureConnect`). On an error, or when `signal` aborts, destroys the
 * socket and rejects with the error or the signal's reason; listeners are
 * removed either way, so a socket handed on carries none of ours.
 */
export function waitForConnect<S extends Socket>(
  socket: S,
  event: "connect" | "secureConnect",
  signal?: AbortSignal,
): Promise<S> {
  return new Promise<S>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(event, onConnect);
      socket.off("error", onFailure);
      signal?.removeEventListener("abort", onAbort);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const onFailure = (error: unknown): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => onFailure(signal?.reason);
    socket.once(event, onConnect);
    socket.once("error", onFailure);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
