/**
 * The extension interface (RFC 6455 §9), shared by permessage-deflate and any
 * extension a user writes.
 *
 * @module
 */

import type { Frame } from "../frames.ts";

/** One parameter of an extension in `Sec-WebSocket-Extensions`: name and value (`null` when absent). */
export type ExtensionParameter = readonly [name: string, value: string | null];

/** A negotiated extension, active on one connection. */
export interface Extension {
  /** The extension's registered name, e.g. `permessage-deflate`. */
  readonly name: string;
  /**
   * Decodes a frame received from the peer. `maxSize` is the number of bytes
   * the message may still grow by, or `null` for no limit: a decoder must
   * throw `PayloadTooBig` as soon as its output would exceed it.
   */
  decode(frame: Frame, maxSize: number | null): Frame;
  /** Encodes a frame before it is sent. */
  encode(frame: Frame): Frame;
  /**
   * Optional: frees memory the extension can rebuild later (permessage-deflate
   * frees its zlib streams and keeps only their windows), without changing
   * what it encodes or decodes. The I/O layer calls it on an idle connection
   * and when the connection closes; it's safe to call at any time.
   */
  release?(): void;
}

/** Client side: offers an extension and accepts the server's answer. */
export interface ClientExtensionFactory {
  /** The extension's registered name, as offered in `Sec-WebSocket-Extensions`. */
  readonly name: string;
  /** The parameters to offer in the request. */
  getRequestParams(): ExtensionParameter[];
  /**
   * Builds the extension from the parameters the server accepted, or throws
   * `NegotiationError`. `accepted` are the extensions accepted before this one.
   */
  processResponseParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): Extension;
}

/** Server side: answers a client's offer. */
export interface ServerExtensionFactory {
  /** The extension's registered name, as answered in `Sec-WebSocket-Extensions`. */
  readonly name: string;
  /**
   * Answers one offer: the parameters to put in the response and the
   * extension, or `null` to decline this offer. Throwing
   * `NegotiationError` declines it too, at the cost of an error per offer:
   * prefer `null`. The server considers at most
   * `MAX_EXTENSION_OFFERS` offers per request.
   */
  processRequestParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): [ExtensionParameter[], Extension] | null;
}
