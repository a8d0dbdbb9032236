/**
 * Bounds on what a server's handshake does for a request, so that its cost
 * follows the size of the request and not what the request asks for: how
 * many extension offers are tried, how much of an error the answer repeats.
 *
 * @module
 */

import { type ExtensionHeader, type Headers, parseExtension } from "./headers.ts";

/**
 * Most characters of an error message that the body of a 4xx echoes: a
 * request of a megabyte mustn't get an answer of a megabyte. The full
 * message is in `handshakeExc` and the DEBUG log.
 */
export const MAX_ECHOED_ERROR = 512;

/**
 * The plain-text body of a response refusing a handshake for `error`, its
 * message cut to {@link MAX_ECHOED_ERROR} characters.
 */
export function failureText(error: Error): string {
  let message = error.message;
  if (message.length > MAX_ECHOED_ERROR) {
    let end = MAX_ECHOED_ERROR;
    // Don't split a surrogate pair.
    if ((message.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--;
    message = `${message.slice(0, end)}... (${message.length} characters)`;
  }
  return `Failed to open a WebSocket connection: ${message}.\n`;
}

/**
 * Most extension offers a server considers in one request; later ones are
 * ignored, as a server may decline any offer (RFC 6455 §9.1). Browsers send
 * one; a flood of offers would otherwise cost time per offer.
 */
export const MAX_EXTENSION_OFFERS = 16;

/**
 * The first {@link MAX_EXTENSION_OFFERS} offers of a request's
 * `Sec-WebSocket-Extensions` headers, parsing no more lines than needed.
 */
export function extensionOffers(headers: Headers): ExtensionHeader[] {
  const offers: ExtensionHeader[] = [];
  for (const value of headers.getAll("Sec-WebSocket-Extensions")) {
    for (const offer of parseExtension(value)) {
      if (offers.push(offer) === MAX_EXTENSION_OFFERS) return offers;
    }
  }
  return offers;
}
