/**
 * The implementations under test, behind one small interface: an echo server
 * and an echo client, each configurable for permessage-deflate. `ours` is
 * websockets-ts; `ws` is the reference the harness was validated against
 * (select it with CONFORMANCE_SUBJECT=ws).
 *
 * @module
 */

import { WebSocket, WebSocketServer } from "ws";
import {
  ClientPerMessageDeflateFactory,
  ServerPerMessageDeflateFactory,
} from "../../src/extensions/permessage-deflate.ts";
import { connect, serve } from "../../src/index.ts";
import type { SubjectDeflate } from "./cases/case.ts";

/** Large enough for the 16 MiB cases. */
export const MAX_SIZE = 32 * 1024 * 1024;

export interface EchoServer {
  port: number;
  close(): Promise<void>;
}

export interface Subject {
  name: string;
  /** Whether it speaks WebSockets over HTTP/2 (RFC 8441). */
  http2?: boolean;
  /**
   * Starts an echo server on 127.0.0.1 with this permessage-deflate setting;
   * `http2`: one that also serves HTTP/2 with prior knowledge (RFC 8441).
   */
  startServer(deflate: SubjectDeflate, options?: { http2?: boolean }): Promise<EchoServer>;
  /**
   * Connects to `url`, echoes every message until the connection closes,
   * then resolves with whether it ever opened. Never rejects. With
   * `http2`, connects over HTTP/2 (RFC 8441; h2c for `ws://`); a subject
   * without HTTP/2 throws.
   */
  runClient(url: string, deflate: SubjectDeflate, http2?: boolean): Promise<{ opened: boolean }>;
}

type WsDeflate = boolean | Record<string, number | boolean>;

function wsDeflate(deflate: SubjectDeflate): WsDeflate {
  if (deflate === "off") return false;
  if (deflate === "default") return true;
  const out: Record<string, number | boolean> = {};
  if (deflate.serverNoContextTakeover) out.serverNoContextTakeover = true;
  if (deflate.clientNoContextTakeover) out.clientNoContextTakeover = true;
  if (deflate.serverMaxWindowBits !== undefined)
    out.serverMaxWindowBits = deflate.serverMaxWindowBits;
  if (deflate.clientMaxWindowBits !== undefined)
    out.clientMaxWindowBits = deflate.clientMaxWindowBits;
  // ws compresses only messages of 1 KiB and more by default; the suite wants every message compressed.
  out.threshold = 0;
  return out;
}

export const wsSubject: Subject = {
  name: "ws",
  async startServer(deflate) {
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      maxPayload: MAX_SIZE,
      perMessageDeflate: wsDeflate(deflate) as never,
    });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      ws.on("error", () => {});
    });
    const address = wss.address();
    if (address === null || typeof address === "string") throw new Error("unexpected address");
    return {
      port: address.port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close(() => resolve());
        }),
    };
  },
  runClient(url, deflate, http2) {
    if (http2 === true) throw new Error("ws has no WebSocket over HTTP/2 client");
    return new Promise((resolve) => {
      let opened = false;
      const ws = new WebSocket(url, {
        maxPayload: MAX_SIZE,
        perMessageDeflate: wsDeflate(deflate) as never,
      });
      ws.on("open", () => {
        opened = true;
      });
      ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      ws.on("error", () => {});
      ws.on("close", () => resolve({ opened }));
    });
  },
};

/** websockets-ts, configured the way a user would: `compression` or an explicit factory. */
export const oursSubject: Subject = {
  name: "websockets-ts",
  http2: true,
  async startServer(deflate, options = {}) {
    const extensions =
      typeof deflate === "object"
        ? {
            compression: null,
            extensions: [new ServerPerMessageDeflateFactory(serverOptions(deflate))],
          }
        : { compression: deflate === "off" ? null : ("deflate" as const) };
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      {
        host: "127.0.0.1",
        port: 0,
        maxSize: MAX_SIZE,
        logger: false,
        http2: options.http2 === true,
        ...extensions,
      },
    );
    const address = server.address;
    if (address === null || !("port" in address)) throw new Error("unexpected address");
    return { port: address.port, close: () => server.close() };
  },
  async runClient(url, deflate, http2) {
    const extensions =
      typeof deflate === "object"
        ? {
            compression: null,
            extensions: [new ClientPerMessageDeflateFactory(clientOptions(deflate))],
          }
        : { compression: deflate === "off" ? null : ("deflate" as const) };
    let ws: Awaited<ReturnType<typeof connect>>;
    try {
      ws = await connect(url, {
        maxSize: MAX_SIZE,
        logger: false,
        openTimeout: 5000,
        http2: http2 === true,
        ...extensions,
      });
    } catch {
      return { opened: false };
    }
    try {
      for await (const message of ws) await ws.send(message);
    } catch {
      // The fuzzing server judges what went over the wire, not the exception.
    }
    await ws.closed.catch(() => {});
    return { opened: true };
  },
};

function serverOptions(deflate: Exclude<SubjectDeflate, string>) {
  return {
    serverNoContextTakeover: deflate.serverNoContextTakeover,
    clientNoContextTakeover: deflate.clientNoContextTakeover,
    serverMaxWindowBits: deflate.serverMaxWindowBits,
    clientMaxWindowBits:
      typeof deflate.clientMaxWindowBits === "number" ? deflate.clientMaxWindowBits : undefined,
    requireClientMaxWindowBits: deflate.requireClientMaxWindowBits,
  };
}

function clientOptions(deflate: Exclude<SubjectDeflate, string>) {
  return {
    serverNoContextTakeover: deflate.serverNoContextTakeover,
    clientNoContextTakeover: deflate.clientNoContextTakeover,
    serverMaxWindowBits: deflate.serverMaxWindowBits,
    clientMaxWindowBits: deflate.clientMaxWindowBits,
  };
}

const SUBJECTS: Record<string, Subject> = { ours: oursSubject, ws: wsSubject };

/** The subject named by CONFORMANCE_SUBJECT (default: ours). */
export function selectedSubject(): Subject {
  const name = process.env.CONFORMANCE_SUBJECT ?? "ours";
  const subject = SUBJECTS[name];
  if (!subject)
    throw new Error(
      `unknown CONFORMANCE_SUBJECT ${name}; known: ${Object.keys(SUBJECTS).join(", ")}`,
    );
  return subject;
}
