/**
 * The servers the WHATWG scenarios (web-scenarios.mjs) run against, on
 * loopback: a WebSocket server (ours or `ws`'s) for the well-behaved paths,
 * and a raw TCP server, written byte by byte, for handshakes and closes no
 * library would produce.
 *
 * @module
 */

import { createServer, type Server, type Socket } from "node:net";
import { WebSocketServer } from "ws";
import { serve } from "../../src/index.ts";
import { acceptKey, closeFrame, frame, OP_TEXT } from "./net.ts";

/** Base URLs by server name, as web-scenarios.mjs expects them. */
export interface WebServers {
  urls: { ws: string; raw: string };
  close(): Promise<void>;
}

const MIB = 1024 * 1024;
const SINK_MESSAGES = 16;

/** Starts the servers; `kind` chooses the WebSocket server. */
export async function startWebServers(kind: "ours" | "ws"): Promise<WebServers> {
  const wsServer = kind === "ours" ? await startOurs() : await startWs();
  const raw = await startRaw();
  return {
    urls: { ws: wsServer.url, raw: raw.url },
    async close() {
      await wsServer.close();
      await raw.close();
    },
  };
}

interface Started {
  url: string;
  close(): Promise<void>;
}

async function startOurs(): Promise<Started> {
  const server = await serve(
    async (ws) => {
      const path = ws.request?.path;
      if (path === "/server-close") {
        await ws.send("hello");
        await ws.close(4001, "bye ✓");
        return;
      }
      if (path === "/headers") {
        await ws.send(JSON.stringify(ws.request?.headers.getAll("X-Test") ?? []));
        for await (const _ of ws);
        return;
      }
      if (path === "/big") {
        await ws.send("x".repeat(2048));
        for await (const _ of ws);
        return;
      }
      if (path === "/sink") {
        let count = 0;
        let bytes = 0;
        for await (const message of ws) {
          count += 1;
          bytes += message.length;
          if (count === SINK_MESSAGES) await ws.send(`received ${count} ${bytes}`);
        }
        return;
      }
      for await (const message of ws) await ws.send(message);
    },
    {
      host: "127.0.0.1",
      port: 0,
      selectSubprotocol: (_protocol, offered) => (offered.includes("chat") ? "chat" : null),
      maxSize: 2 * MIB,
      logger: null,
    },
  );
  const { port } = server.address as { port: number };
  return { url: `ws://127.0.0.1:${port}`, close: () => server.close() };
}

async function startWs(): Promise<Started> {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (offered) => (offered.has("chat") ? "chat" : false),
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  server.on("connection", (ws, request) => {
    if (request.url === "/server-close") {
      ws.send("hello");
      ws.close(4001, "bye ✓");
      return;
    }
    let count = 0;
    let bytes = 0;
    ws.on("message", (data, isBinary) => {
      if (request.url === "/sink") {
        count += 1;
        bytes += (data as Buffer).length;
        if (count === SINK_MESSAGES) ws.send(`received ${count} ${bytes}`);
        return;
      }
      ws.send(data, { binary: isBinary });
    });
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** Reads the request head, then answers as `path` says. */
function rawSession(socket: Socket, timers: Set<NodeJS.Timeout>): void {
  let head = "";
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const onData = (chunk: Buffer): void => {
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) {
      if (head.length > 16_384) socket.destroy();
      return;
    }
    socket.off("data", onData);
    const path = head.slice(0, head.indexOf("\r\n")).split(" ")[1];
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "";
    const switching = (extra: string[] = [], accept = acceptKey(key)): string =>
      [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Accept: ${accept}`,
        ...extra,
        "",
        "",
      ].join("\r\n");
    // After a close frame from us, or the client's, the TCP connection ends
    // as soon as the client speaks again (its close frame) or after 2 s.
    const endOnReply = (): void => {
      socket.once("data", () => socket.end());
      later(2000, () => socket.destroy());
    };
    switch (path) {
      case "/abrupt":
        socket.write(switching());
        socket.write(frame(OP_TEXT, Buffer.from("x"), { mask: false }));
        later(50, () => socket.destroy());
        break;
      case "/wrong-accept":
        socket.write(switching([], acceptKey("dGhlIHNhbXBsZSBub25jZQ==")));
        endOnReply();
        break;
      case "/unrequested-protocol":
        socket.write(switching(["Sec-WebSocket-Protocol: chat"]));
        endOnReply();
        break;
      case "/unrequested-extension":
        socket.write(switching(["Sec-WebSocket-Extensions: x-unknown"]));
        endOnReply();
        break;
      case "/redirect":
        socket.end(
          "HTTP/1.1 302 Found\r\nLocation: /abrupt\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        break;
      case "/status-403":
        socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        break;
      case "/slow":
        later(2000, () => {
          socket.write(switching());
          socket.write(frame(OP_TEXT, Buffer.from("slow"), { mask: false }));
          socket.write(closeFrame(1000, "", { mask: false }));
          endOnReply();
        });
        break;
      case "/invalid-utf8":
        socket.write(switching());
        socket.write(frame(OP_TEXT, Buffer.from([0xff, 0xfe]), { mask: false }));
        endOnReply();
        break;
      default:
        socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
  };
  socket.on("data", onData);
  socket.on("error", () => {});
}

async function startRaw(): Promise<Started> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    rawSession(socket, timers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
