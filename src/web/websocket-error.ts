/**
 * `WebSocketError` (WICG WebSocketStream, as Chromium ships it): the
 * `DOMException` that carries a close code and reason, given to
 * `WebSocketStream`'s `writable.abort()`/`readable.cancel()` to choose how
 * the connection closes, and rejecting `closed` when it didn't close cleanly.
 *
 * Not to be confused with the base class of our own errors, also named
 * `WebSocketError`, exported by the main entry point.
 *
 * @module
 */

import { syntaxError } from "./url.ts";
import { toClampedUnsignedShort, toUSVString } from "./webidl.ts";

/** Dictionary of the {@link WebSocketError} constructor and of `WebSocketStream.close()`. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000-4999; without it (and without a reason) the close frame has no code. */
  closeCode?: number;
  /** Up to 123 bytes of UTF-8; with a reason and no code, the code is 1000. Default: `""`. */
  reason?: string;
}

/** A validated close code and reason. */
export interface CloseCodeAndReason {
  code: number | null;
  reason: string;
}

/**
 * Validates a close code and reason (WebSocketStream explainer, "validate
 * close"): the code must be 1000 or 3000-4999, the reason at most 123 bytes
 * of UTF-8; a reason without a code gets 1000.
 *
 * @throws InvalidAccessError DOMException for a bad code; SyntaxError
 *   DOMException for a long reason.
 */
export function validateClose(
  closeCode: unknown,
  reason: unknown,
  where: string,
): CloseCodeAndReason {
  let code: number | null = null;
  if (closeCode !== undefined && closeCode !== null) {
    code = toClampedUnsignedShort(closeCode, where);
    if (code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(
        `${where}: the close code must be 1000 or in 3000-4999, got ${code}`,
        "InvalidAccessError",
      );
    }
  }
  const text = reason === undefined ? "" : toUSVString(reason);
  const length = Buffer.byteLength(text);
  if (length > 123) {
    throw syntaxError(`${where}: the close reason must be at most 123 bytes, got ${length}`);
  }
  if (code === null && text !== "") code = 1000;
  return { code, reason: text };
}

/** A `DOMException` named `"WebSocketError"` with a close code and reason. */
export class WebSocketError extends DOMException {
  // Set once, by the constructor or by closedWith().
  #closeCode: number | null;
  #reason: string;

  /**
   * @throws InvalidAccessError DOMException for a close code other than 1000
   *   or 3000-4999; SyntaxError DOMException for a reason over 123 bytes of UTF-8.
   */
  constructor(message = "", init: WebSocketCloseInfo = {}) {
    const { code, reason } = validateClose(init.closeCode, init.reason, "WebSocketError");
    super(message, "WebSocketError");
    this.#closeCode = code;
    this.#reason = reason;
  }

  /** The close code, or `null`. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason, or `""`. */
  get reason(): string {
    return this.#reason;
  }

  /**
   * The error for a connection that closed with `code` and `reason`, which
   * may be codes the constructor refuses (1006: no close frame). @internal
   */
  static closedWith(message: string, code: number, reason: string): WebSocketError {
    const error = new WebSocketError(message);
    error.#closeCode = code;
    error.#reason = reason;
    return error;
  }
}
