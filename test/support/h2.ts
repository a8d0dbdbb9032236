/**
 * A raw HTTP/2 peer for tests of the server role: node:http2 client
 * sessions and streams, with frames written and read by hand, so that a
 * test can send what a correct client never would.
 */

import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from "node:http2";
import type { Socket } from "node:net";
import type { ServeOptions } from "../../src/node/server.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import { type FrameReader, readFrames, withTimeout } from "../helpers/net.ts";

const TIMEOUT_MS = 5_000;

/** `serve()` options for an HTTP/2 server on 127.0.0.1 with the test certificate, `options` on top. */
export function h2Options(options: ServeOptions = {}): ServeOptions {
  return { host: "127.0.0.1", port: 0, tls: { key, cert }, http2: true, logger: false, ...options };
}

/**
 * Opens a session and waits for the server's first SETTINGS. `secure`:
 * `https://localhost` with the test certificate, else h2c with prior knowledge.
 */
export async function h2Session(
  port: number,
  secure = true,
  options: SecureClientSessionOptions = {},
): Promise<ClientHttp2Session> {
  const origin = secure ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  const session = connectHttp2(origin, { ca: cert, ...options });
  session.on("error", () => {});
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      session.once("remoteSettings", () => resolve());
      session.once("error", reject);
    }),
    TIMEOUT_MS,
    "no SETTINGS from the server",
  );
  return session;
}

/** A stream's response: its header block, and its body once the stream ended. */
export interface H2Answer {
  stream: ClientHttp2Stream;
  headers: IncomingHttpHeaders;
  status: number;
}

/** The headers of a WebSocket's extended CONNECT (RFC 8441 §4) for `path`. */
export function wsConnectHeaders(
  port: number,
  path = "/",
  extra: OutgoingHttpHeaders = {},
): OutgoingHttpHeaders {
  return {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "https",
    ":authority": `localhost:${port}`,
    ":path": path,
    "sec-websocket-version": "13",
    ...extra,
  };
}

/** A GET for `path` (a page), with END_STREAM: waits for the response's header block. */
export function h2Get(
  session: ClientHttp2Session,
  port: number,
  path = "/",
  scheme: "https" | "http" = "https",
): Promise<H2Answer> {
  const authority = `localhost:${port}`;
  return h2Request(
    session,
    { ":method": "GET", ":path": path, ":scheme": scheme, ":authority": authority },
    true,
  );
}

/** Sends a request and waits for the response's header block. */
export async function h2Request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  endStream = false,
): Promise<H2Answer> {
  const stream = session.request(headers, { endStream });
  stream.on("error", () => {});
  const response = await withTimeout(
    new Promise<IncomingHttpHeaders>((resolve, reject) => {
      stream.once("response", resolve);
      stream.once("close", () => reject(new Error(`stream closed, rstCode ${stream.rstCode}`)));
    }),
    TIMEOUT_MS,
    "no response from the server",
  );
  return { stream, headers: response, status: Number(response[":status"]) };
}

/** The rest of a stream, as text, once it ended. */
export async function readBody(stream: ClientHttp2Stream): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  await withTimeout(
    new Promise<void>((resolve) => {
      if (stream.readableEnded || stream.destroyed) resolve();
      stream.once("end", resolve);
      stream.once("close", resolve);
    }),
    TIMEOUT_MS,
    "stream did not end",
  );
  return Buffer.concat(chunks).toString("utf8");
}

/** Frames read from a stream (it is a Duplex, as a socket is). */
export function streamFrames(stream: ClientHttp2Stream): FrameReader {
  return readFrames(stream as unknown as Socket);
}

/** Resolves with the stream's RST_STREAM code once it closed. */
export async function streamClosed(stream: ClientHttp2Stream): Promise<number | undefined> {
  // A stream closes once its incoming side is read to the end.
  if (stream.readableFlowing === null) stream.resume();
  if (!stream.closed) {
    await withTimeout(
      new Promise<void>((resolve) => stream.once("close", () => resolve())),
      TIMEOUT_MS,
      "stream did not close",
    );
  }
  return stream.rstCode;
}

/** Closes a session and waits for it. */
export async function closeSession(session: ClientHttp2Session): Promise<void> {
  if (session.destroyed) return;
  await new Promise<void>((resolve) => session.close(() => resolve()));
}
