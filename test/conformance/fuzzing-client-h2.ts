/**
 * The fuzzing client over HTTP/2 (RFC 8441): each case opens an h2c session
 * with prior knowledge, sends the extended CONNECT itself (offering
 * permessage-deflate as the case says), then plays the case on the stream
 * exactly as on a TCP socket: the stream is a Duplex, END_STREAM plays FIN.
 *
 * @module
 */

import { connect as connectHttp2, type IncomingHttpHeaders } from "node:http2";
import type { ServerRoleDeflate } from "./cases/case.ts";
import { FuzzSession, formatDeflate } from "./fuzzer.ts";
import { agreed, HandshakeRefused } from "./fuzzing-client.ts";

const TIMEOUT_MS = 5000;

/** Opens a session and a WebSocket stream; the session closes with the stream. */
export async function openH2Session(
  host: string,
  port: number,
  path: string,
  deflate: ServerRoleDeflate | undefined,
): Promise<FuzzSession> {
  const session = connectHttp2(`http://${host}:${port}`);
  session.on("error", () => {});
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        session.once("remoteSettings", () => resolve());
        session.once("close", () => reject(new Error("session closed before SETTINGS")));
      }),
      "no SETTINGS",
    );
    if (session.remoteSettings.enableConnectProtocol !== true) {
      throw new Error("server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL");
    }
    const headers: Record<string, string> = {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": "http",
      ":authority": `${host}:${port}`,
      ":path": path,
      "sec-websocket-version": "13",
      "user-agent": "websockets-ts conformance fuzzer",
    };
    if (deflate?.rawOffer !== undefined) headers["sec-websocket-extensions"] = deflate.rawOffer;
    else if (deflate && deflate.offers.length > 0) {
      headers["sec-websocket-extensions"] = deflate.offers.map(formatDeflate).join(", ");
    }
    const stream = session.request(headers, { endStream: false });
    stream.on("error", () => {});
    stream.once("close", () => session.close());
    const response = await within(
      new Promise<IncomingHttpHeaders>((resolve, reject) => {
        stream.once("response", resolve);
        stream.once("close", () => reject(new Error(`stream reset (${stream.rstCode})`)));
      }),
      "no response",
    );
    const status = Number(response[":status"]);
    if (status !== 200) {
      stream.close();
      throw new HandshakeRefused(status, `:status ${status}`);
    }
    if (response["sec-websocket-accept"] !== undefined) {
      throw new Error("response with Sec-WebSocket-Accept on HTTP/2 (RFC 8441 §5)");
    }
    const extensions = response["sec-websocket-extensions"];
    const agreement = agreed(
      deflate,
      Array.isArray(extensions) ? extensions.join(", ") : extensions,
    );
    return new FuzzSession(stream, "client", agreement, Buffer.alloc(0));
  } catch (error) {
    session.destroy();
    throw error;
  }
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
