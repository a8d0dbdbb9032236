/**
 * The client's side of RFC 8441: a WebSocket opened as an extended CONNECT
 * stream of a pooled HTTP/2 session, and when to fall back to HTTP/1.1.
 *
 * @module
 */

import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from "node:http2";
import { InvalidHandshake, InvalidStatus, SecurityError } from "../errors.ts";
import { type Request, type Response, resolveHttpLimits } from "../http11.ts";
import type { WebSocketURI } from "../uri.ts";
import {
  Http2Unavailable,
  type Lease,
  type SocketOpener,
  sessionPool,
  settled,
} from "./http2-client-pool.ts";
import { requestToHttp2, responseFromHttp2, WEBSOCKET_PROTOCOL } from "./http2-common.ts";

export { Http2Unavailable };

/** `http2` option of `connect()`. */
export type Http2Mode = boolean | "auto";

/**
 * Whether a connection to `uri` tries HTTP/2: `true` always (`ws://` with
 * prior knowledge, h2c), `"auto"` for `wss://` only (ALPN tells) and not
 * over a socket given to `connect()`, `false` never.
 *
 * @throws TypeError for another value, or `true` with a given socket.
 */
export function triesHttp2(
  uri: WebSocketURI,
  mode: Http2Mode | null | undefined,
  givenSocket = false,
): boolean {
  if (mode === undefined || mode === null || mode === false) return false;
  if (mode === true) {
    if (givenSocket) {
      throw new TypeError(
        "http2: true can't be used with sock: a session pools connections it opens",
      );
    }
    return true;
  }
  // A socket given to connect() is one connection, not one to pool.
  if (mode === "auto") return uri.secure && !givenSocket;
  throw new TypeError(`http2 must be true, false or "auto", got ${JSON.stringify(mode)}`);
}

/** An extended CONNECT that got a response, with the lease of its session. */
export interface Http2Exchange {
  readonly stream: ClientHttp2Stream;
  readonly response: Response;
}

/**
 * Sends `request` (from `ClientProtocol.connectHttp2()`) as an extended
 * CONNECT on a session to `uri` from the pool, opening one with
 * `openSocket` if none has room, and waits for the response (its body too,
 * unless it's a 2xx). The stream, handed on paused, returns its session's
 * lease when it closes.
 *
 * @throws Http2Unavailable when HTTP/2 can't carry WebSockets there and
 *   HTTP/1.1 may (ALPN, SETTINGS, 405, 501, REFUSED_STREAM); other errors
 *   as they come (the signal's reason when it aborts).
 */
export async function exchangeHttp2(
  uri: WebSocketURI,
  key: string,
  request: Request,
  openSocket: SocketOpener,
  signal: AbortSignal,
): Promise<Http2Exchange> {
  // RFC 8441 §4: CONNECT with :protocol, :scheme, :path and :authority.
  const fields = requestToHttp2(request, uri.secure ? "https" : "http", WEBSOCKET_PROTOCOL);
  let lease: Lease;
  let stream: ClientHttp2Stream;
  for (let attempt = 1; ; attempt++) {
    lease = await sessionPool.acquire(key, uri, openSocket, signal);
    try {
      stream = lease.session.request(fields, { endStream: false });
      break;
    } catch (error) {
      // A GOAWAY or a close between the pool's check and this request:
      // another session may take it, once. Other errors are the request's.
      const gone = SESSION_GONE.has((error as { code?: string }).code ?? "");
      if (gone) lease.retire();
      lease.release();
      if (gone && attempt < 2) continue;
      throw error;
    }
  }
  stream.once("close", lease.release);
  // Errors are reported by the exchange, then by the connection's own listener.
  stream.on("error", noop);
  try {
    let response = await responseHead(stream, uri, signal);
    const status = response.status;
    // RFC 8441 §4 leaves it to the server to refuse; 405 and 501 say it
    // doesn't do WebSockets over HTTP/2, not that it refuses this one.
    if (status === 405 || status === 501) {
      lease.retire();
      throw new Http2Unavailable(
        "refused",
        `${uri.host}:${uri.port} refused the extended CONNECT for ${uri.resourceName} ` +
          `with HTTP ${status}: it doesn't serve WebSockets over HTTP/2`,
      );
    }
    if (status < 200 || status > 299) response = await readBody(stream, response, signal);
    return { stream, response };
  } catch (error) {
    // RFC 9113 §8.7: REFUSED_STREAM guarantees the request wasn't processed.
    if (error instanceof Http2Unavailable && error.reason === "refused-stream") lease.retire();
    if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    throw error;
  }
}

/** The head of the response to the extended CONNECT. */
function responseHead(
  stream: ClientHttp2Stream,
  uri: WebSocketURI,
  signal: AbortSignal,
): Promise<Response> {
  const where = `${uri.host}:${uri.port}`;
  return settled<Response>(signal, (resolve, reject) => {
    const onResponse = (fields: IncomingHttpHeaders & IncomingHttpStatusHeader): void => {
      try {
        resolve(responseFromHttp2(fields));
      } catch (error) {
        reject(error);
      }
    };
    const onClose = (): void => {
      if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
        reject(
          new Http2Unavailable(
            "refused-stream",
            `${where} refused the HTTP/2 stream of the extended CONNECT (REFUSED_STREAM)`,
          ),
        );
      } else {
        reject(
          new InvalidHandshake(
            `${where} reset the HTTP/2 stream of the extended CONNECT ` +
              `(${errorCodeName(stream.rstCode)}) before answering`,
          ),
        );
      }
    };
    const onError = (error: Error): void => {
      // 'close' follows with the code; an error without one is reported now.
      if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) return;
      reject(
        new InvalidHandshake(`HTTP/2 extended CONNECT to ${where} failed: ${error.message}`, {
          cause: error,
        }),
      );
    };
    stream.once("response", onResponse);
    stream.once("close", onClose);
    stream.on("error", onError);
    return () => {
      stream.off("response", onResponse);
      stream.off("close", onClose);
      stream.off("error", onError);
    };
  });
}

/** Reads a refusal's body, as over HTTP/1.1 and with the same limit, for `InvalidStatus`. */
function readBody(
  stream: ClientHttp2Stream,
  response: Response,
  signal: AbortSignal,
): Promise<Response> {
  const limit = resolveHttpLimits(undefined).maxBodySize;
  return settled<Response>(signal, (resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        reject(
          new SecurityError(`HTTP/2 response body exceeds limit of ${limit} bytes`, {
            cause: new InvalidStatus(response),
          }),
        );
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve({ ...response, body: Buffer.concat(chunks, size) });
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onEnd);
    return () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onEnd);
    };
  });
}

// RFC 9113 §7 error codes, by value, for messages.
const ERROR_CODE_NAMES: readonly string[] = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
];

function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `error code ${code}`;
}

// node:http2's errors for a request on a session that can't take streams any more.
const SESSION_GONE: ReadonlySet<string> = new Set([
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_INVALID_SESSION",
]);

function noop(): void {}

export type { ClientHttp2Session };
