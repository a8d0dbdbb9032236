/**
 * The sans-I/O part of the server's handshake over HTTP/2 (RFC 8441):
 * which requests came over HTTP/2, and the 200 that accepts one. The I/O
 * layer turns header blocks into requests (`node/http2-common.ts`).
 *
 * @module
 */

import { EMPTY } from "./frames.ts";
import { Headers } from "./headers.ts";
import { type Request, type Response, reasonPhrase } from "./http11.ts";

/** `Request.version` of a request that came over HTTP/2. */
export const HTTP2_VERSION = "HTTP/2";

/** Whether a request came over HTTP/2 (see `ServerProtocol.receiveRequest`). */
export function isHttp2(request: Request): boolean {
  return request.version === HTTP2_VERSION;
}

/**
 * The 200 that accepts an HTTP/2 extended CONNECT (RFC 8441 §5): the
 * negotiated extensions and subprotocol, without Upgrade or Accept.
 */
export function accepted200(
  date: string,
  extensionsHeader: string | null,
  subprotocol: string | null,
  serverHeader: string | null,
): Response {
  const items = ["Date", date];
  if (extensionsHeader !== null) items.push("Sec-WebSocket-Extensions", extensionsHeader);
  if (subprotocol !== null) items.push("Sec-WebSocket-Protocol", subprotocol);
  if (serverHeader !== null) items.push("Server", serverHeader);
  return {
    status: 200,
    reason: reasonPhrase(200),
    headers: Headers.fromValidated(items),
    body: EMPTY,
  };
}
