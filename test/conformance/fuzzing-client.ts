/**
 * The fuzzing client: opens a raw TCP connection per case to the server under
 * test, performs the opening handshake itself (RFC 6455 §4.1, offering
 * permessage-deflate as the case says), then plays the case and judges it.
 *
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import type { ConformanceCase, ServerRoleDeflate } from "./cases/case.ts";
import {
  type DeflateParams,
  deflateParamsOf,
  FuzzSession,
  formatDeflate,
  type NegotiatedDeflate,
  negotiated,
  parseExtensions,
} from "./fuzzer.ts";
import { broken, type CaseResult, judge, play } from "./verdict.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 16 * 1024;

/** Reads an HTTP head (up to the blank line) from a socket; returns it and the bytes after it. */
export function readHead(
  socket: Socket,
  timeoutMs: number,
): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`no HTTP head within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end !== -1) finish(null, end);
      else if (buffer.length > MAX_HEAD) finish(new Error(`HTTP head over ${MAX_HEAD} bytes`));
    };
    const onEnd = () =>
      finish(new Error(`connection closed during the handshake after ${buffer.length} bytes`));
    const onError = (error: Error) => finish(error);
    function finish(error: Error | null, end = 0) {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onError);
      if (error) reject(error);
      else {
        socket.pause();
        resolve({
          head: buffer.subarray(0, end).toString("latin1"),
          rest: buffer.subarray(end + 4),
        });
      }
    }
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onError);
  });
}

/** Splits an HTTP head into its first line and lower-cased headers (values of repeated ones joined with ", "). */
export function parseHead(head: string): { line: string; headers: Map<string, string> } {
  const [line, ...rest] = head.split("\r\n");
  const headers = new Map<string, string>();
  for (const h of rest) {
    const colon = h.indexOf(":");
    if (colon <= 0) continue;
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { line, headers };
}

export function acceptKey(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

/** Is `response` a valid answer to `offer` (RFC 7692 §7.1)? */
export function answersOffer(offer: DeflateParams, response: DeflateParams): boolean {
  if (offer.serverNoContextTakeover && !response.serverNoContextTakeover) return false;
  if (offer.serverMaxWindowBits !== undefined) {
    if (
      response.serverMaxWindowBits === undefined ||
      response.serverMaxWindowBits > offer.serverMaxWindowBits
    )
      return false;
  }
  if (response.clientMaxWindowBits !== undefined) {
    if (response.clientMaxWindowBits === true || offer.clientMaxWindowBits === undefined)
      return false;
    if (
      typeof offer.clientMaxWindowBits === "number" &&
      response.clientMaxWindowBits > offer.clientMaxWindowBits
    )
      return false;
  }
  return true;
}

/** Checks the server's extension answer; returns what was agreed or throws with the reason. */
export function agreed(
  deflate: ServerRoleDeflate | undefined,
  header: string | undefined,
): NegotiatedDeflate | null {
  if (header === undefined || header.trim() === "") {
    return null;
  }
  if (deflate === undefined)
    throw new Error(
      `server sent Sec-WebSocket-Extensions: ${header} to a client that offered none`,
    );
  const elements = parseExtensions(header);
  if (elements.length !== 1 || elements[0].name !== "permessage-deflate") {
    throw new Error(`server accepted extensions that were not offered: ${header}`);
  }
  if (deflate.expectDecline) {
    throw new Error(`server accepted an offer it had to decline: ${header}`);
  }
  const response = deflateParamsOf(elements[0].params);
  if (!deflate.offers.some((offer) => answersOffer(offer, response))) {
    throw new Error(`server answer ${header} matches none of the offers`);
  }
  return negotiated(response);
}

/** The server answered the opening handshake with something else than 101. */
export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    line: string,
  ) {
    super(`handshake answered ${JSON.stringify(line)}`);
  }
}

/** Connects, opens the WebSocket connection and hands back a fuzzing session. */
export async function openSession(
  host: string,
  port: number,
  path: string,
  deflate: ServerRoleDeflate | undefined,
): Promise<FuzzSession> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host, port }, () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
  try {
    const key = randomBytes(16).toString("base64");
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: ${host}:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      "User-Agent: websockets-ts conformance fuzzer",
    ];
    if (deflate?.rawOffer !== undefined)
      lines.push(`Sec-WebSocket-Extensions: ${deflate.rawOffer}`);
    else if (deflate && deflate.offers.length > 0) {
      lines.push(`Sec-WebSocket-Extensions: ${deflate.offers.map(formatDeflate).join(", ")}`);
    }
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    const { head, rest } = await readHead(socket, 5000);
    const { line, headers } = parseHead(head);
    if (!/^HTTP\/1\.1 101 /.test(line))
      throw new HandshakeRefused(Number(line.split(" ")[1]), line);
    if (headers.get("upgrade")?.toLowerCase() !== "websocket")
      throw new Error("response without Upgrade: websocket");
    if (!/(^|,)\s*upgrade\s*(,|$)/i.test(headers.get("connection") ?? "")) {
      throw new Error("response without Connection: Upgrade");
    }
    if (headers.get("sec-websocket-accept") !== acceptKey(key))
      throw new Error("wrong Sec-WebSocket-Accept");
    const agreement = agreed(deflate, headers.get("sec-websocket-extensions"));
    const session = new FuzzSession(socket, "client", agreement, rest);
    socket.resume();
    return session;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Plays one case against the server at host:port. */
export async function runClientCase(
  c: ConformanceCase,
  host: string,
  port: number,
  open: typeof openSession = openSession,
): Promise<CaseResult> {
  let session: FuzzSession;
  try {
    session = await open(host, port, `/case/${c.id}`, c.serverRole);
  } catch (error) {
    if (
      error instanceof HandshakeRefused &&
      c.serverRole?.expectDecline &&
      error.status >= 400 &&
      error.status < 500
    ) {
      // RFC 7692 §7.1: the server MUST decline the offer; refusing the whole handshake is harsher than asked.
      return {
        id: c.id,
        description: c.description,
        verdict: "non-strict",
        reason: `refused the handshake with ${error.status} instead of declining the offer`,
      };
    }
    return broken(
      c,
      `opening handshake: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const expectation = await play(c, session);
  return judge(c, expectation, session);
}
