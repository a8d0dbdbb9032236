/**
 * HTTP/1.1 requests and responses for the opening handshake: parsing from a
 * byte stream with limits, and serializing.
 *
 * CONTRACT: `Request` and `Response` are the shapes the rest of the library uses.
 *
 * @module
 */

import type { Headers } from "./headers.ts";

/** An HTTP request, as received by a server or sent by a client. */
export interface Request {
  /** The request target: path with its query string, e.g. `/chat?room=1`. */
  path: string;
  headers: Headers;
}

/** An HTTP response, as received by a client or sent by a server. */
export interface Response {
  status: number;
  reason: string;
  headers: Headers;
  /** The body; empty for a 101. */
  body: Buffer;
}
