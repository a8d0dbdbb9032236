/**
 * `Http2ServerConnection`: a {@link ServerConnection} whose transport is an
 * HTTP/2 stream (RFC 8441). The pump, the protocol and the API are the
 * ones of every connection; only the response head differs: it leaves as
 * the stream's header block rather than as bytes.
 *
 * @module
 */

import type { ServerHttp2Stream } from "node:http2";
import type { Response } from "../http11.ts";
import { logMessages } from "../logging.ts";
import { CONNECTING } from "../protocol.ts";
import { responseToHttp2 } from "./http2-common.ts";
import { ServerConnection } from "./server-connection.ts";
import { destroyTransport } from "./transport.ts";

// RFC 9113 §7: NO_ERROR.
const HTTP2_NO_ERROR = 0x0;

function closeWhenEnded(this: ServerHttp2Stream): void {
  if (!this.closed) this.close(HTTP2_NO_ERROR);
}

/**
 * A WebSocket connection accepted on an HTTP/2 stream: `request.version`
 * is `"HTTP/2"`, `request.method` `CONNECT`, and `response.status` 200.
 * Otherwise a {@link ServerConnection} like any other.
 */
export class Http2ServerConnection<Data = unknown> extends ServerConnection<Data> {
  // The client ended its side with its request (a GET's END_STREAM): on
  // HTTP/2 that completes the request, and the response is still due.
  #endedWithRequest = false;

  /** @internal */
  override onEnd(): void {
    if (this.state === CONNECTING && this.protocol.request !== null) {
      this.#endedWithRequest = true;
      return;
    }
    super.onEnd();
  }

  /** @internal */
  protected override sendResponseHead(response: Response): boolean {
    const stream = this.writer.transport as ServerHttp2Stream;
    if (stream.destroyed) return false;
    if (stream.headersSent) return true;
    try {
      stream.respond(responseToHttp2(response), { endStream: false });
    } catch (error) {
      // A header node:http2 refuses (processResponse may add any): the
      // stream can't carry this answer.
      this.logger.error({ err: error }, logMessages.internalError);
      destroyTransport(stream);
      return false;
    }
    // We end our side after a rejection, or once the closing handshake is
    // over (END_STREAM, the analogue of FIN). RFC 9113 §8.1: with a
    // complete response sent, the server may close the stream with
    // NO_ERROR; nothing the client could still send matters, and a client
    // that never ends its side (undici) doesn't hold the stream until
    // closeTimeout, as a server closes TCP first on HTTP/1.1.
    stream.once("finish", closeWhenEnded);
    // A WebSocket whose client already ended its side: the EOF comes once
    // it is open.
    if (this.#endedWithRequest && this.protocol.isAcceptance(response)) {
      queueMicrotask(() => super.onEnd());
    }
    return true;
  }
}
