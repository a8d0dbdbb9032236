/**
 * Promise helpers of the Node I/O layer, written once.
 *
 * @module
 */

/** Does nothing: the handler of a rejection already reported elsewhere. */
export function noop(): void {}

/** A resolved promise, shared: most sends don't wait. */
export const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A promise rejected with `error`, already marked handled: a caller that
 * doesn't await it can't crash the process with an unhandled rejection.
 */
export function rejected(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(noop);
  return promise;
}
