/**
 * The server peers of the matrix behind one interface: websockets-ts and ws
 * in this process, Python websockets and autobahn-python in child processes.
 * Every server behaves the same by path:
 *
 * - `/echo`: echoes every message with its type;
 * - `/reject`: refuses the handshake with 403;
 * - `/close?code=&reason=`: closes with that code and reason at once;
 * - `/fragments`: sends a fragmented text message ({@link FRAGMENTS}), then echoes;
 * - `/ping`: pings with "server-ping", then sends "pong:server-ping" once answered, then echoes;
 *
 * supports the subprotocol "chat.v1", and reports an `open` and a `closed`
 * event per connection (path, subprotocol, extensions, close code and reason received).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type WebSocket, WebSocketServer } from "ws";
import { serve } from "../../src/index.ts";
import { VERSION } from "../../src/version.ts";
import { PYTHON, requireNpmPackage, requirePythonModule } from "./requirements.ts";
import { type Json, RpcChild } from "./rpc.ts";

/** The fragments `/fragments` sends, in order. */
export const FRAGMENTS = ["frag", "mented ", "message 🧩"];

export interface ServerEvent {
  event: "open" | "closed";
  path: string;
  subprotocol?: string | null;
  extensions?: string | null;
  code?: number | null;
  reason?: string | null;
}

export interface RunningServer {
  /** ws://127.0.0.1:port */
  url: string;
  version: string;
  /** The first event (past or future) matching `predicate`. */
  waitEvent(predicate: (e: ServerEvent) => boolean, timeoutMs?: number): Promise<ServerEvent>;
  stop(): Promise<void>;
}

export interface ServerPeer {
  id: string;
  name: string;
  /** Starts a server with or without permessage-deflate (the peer's defaults otherwise). */
  start(compression: boolean): Promise<RunningServer>;
}

const PEERS_DIR = fileURLToPath(new URL("../peers/", import.meta.url));

/** Events recorded in this process, with waiters. */
class EventLog {
  readonly events: ServerEvent[] = [];
  #waiters = new Set<() => void>();

  push(event: ServerEvent): void {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) waiter();
  }

  wait(predicate: (e: ServerEvent) => boolean, timeoutMs = 10_000): Promise<ServerEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(predicate);
        if (found) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no matching server event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}

/** websockets-ts's own server. */
export const oursServer: ServerPeer = {
  id: "websockets-ts",
  name: "websockets-ts",
  async start(compression) {
    const log = new EventLog();
    const server = await serve(
      async (ws) => {
        const path = ws.request?.path ?? "";
        const url = new URL(path, "http://localhost");
        log.push({
          event: "open",
          path,
          subprotocol: ws.subprotocol,
          extensions: ws.response?.headers.get("sec-websocket-extensions") ?? null,
        });
        try {
          if (url.pathname === "/close") {
            await ws.close(
              Number(url.searchParams.get("code")),
              url.searchParams.get("reason") ?? "",
            );
          } else {
            if (url.pathname === "/fragments") await ws.send(FRAGMENTS);
            else if (url.pathname === "/ping") {
              await ws.ping("server-ping");
              await ws.send("pong:server-ping");
            }
            for await (const message of ws) await ws.send(message);
          }
        } finally {
          await ws.closed;
          log.push({ event: "closed", path, code: ws.closeCode, reason: ws.closeReason });
        }
      },
      {
        host: "127.0.0.1",
        port: 0,
        // With `subprotocols: ["chat.v1"]`, clients offering none would be refused (400), as in
        // Python websockets; the matrix wants "chat.v1" when offered and none otherwise.
        selectSubprotocol: (_connection, offered) =>
          offered.includes("chat.v1") ? "chat.v1" : null,
        compression: compression ? "deflate" : null,
        logger: false,
        processRequest: (connection, request) => {
          if (new URL(request.path, "http://localhost").pathname === "/reject") {
            return connection.respond(403, "forbidden\n");
          }
          return undefined;
        },
      },
    );
    const address = server.address;
    if (address === null || !("port" in address)) throw new Error("unexpected address");
    return {
      url: `ws://127.0.0.1:${address.port}`,
      version: `${VERSION} (this checkout)`,
      waitEvent: (p, t) => log.wait(p, t),
      stop: () => server.close(),
    };
  },
};

/** The ws library's server. */
export const wsServer: ServerPeer = {
  id: "ws",
  name: "ws",
  async start(compression) {
    const version = requireNpmPackage("ws");
    const log = new EventLog();
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      perMessageDeflate: compression,
      handleProtocols: (protocols) => (protocols.has("chat.v1") ? "chat.v1" : false),
      verifyClient: (info, done) => {
        if (new URL(info.req.url ?? "/", "http://localhost").pathname === "/reject")
          done(false, 403, "Forbidden");
        else done(true);
      },
    });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    wss.on("connection", (ws: WebSocket, request) => {
      const path = request.url ?? "";
      const url = new URL(path, "http://localhost");
      log.push({
        event: "open",
        path,
        subprotocol: ws.protocol || null,
        extensions: ws.extensions || null,
      });
      ws.on("error", () => {});
      ws.on("close", (code, reason) => {
        log.push({ event: "closed", path, code, reason: reason.toString("utf8") });
      });
      ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      if (url.pathname === "/close") {
        ws.close(Number(url.searchParams.get("code")), url.searchParams.get("reason") ?? "");
      } else if (url.pathname === "/fragments") {
        for (const [i, part] of FRAGMENTS.entries())
          ws.send(part, { fin: i === FRAGMENTS.length - 1 });
      } else if (url.pathname === "/ping") {
        ws.on("pong", (payload) => {
          if (payload.toString() === "server-ping") ws.send("pong:server-ping");
        });
        ws.ping("server-ping");
      }
    });
    const address = wss.address();
    if (address === null || typeof address === "string") throw new Error("unexpected address");
    return {
      url: `ws://127.0.0.1:${address.port}`,
      version,
      waitEvent: (p, t) => log.wait(p, t),
      stop: () =>
        new Promise<void>((resolve) => {
          for (const client of wss.clients) client.terminate();
          wss.close(() => resolve());
        }),
    };
  },
};

function pythonServer(
  id: string,
  name: string,
  script: string,
  module: string,
  debianPackage: string,
): ServerPeer {
  return {
    id,
    name,
    async start(compression) {
      requirePythonModule(module, debianPackage);
      const child = new RpcChild(PYTHON, [
        join(PEERS_DIR, script),
        "--compression",
        compression ? "on" : "off",
      ]);
      let listening: Json;
      try {
        listening = await child.waitEvent((e) => e.event === "listening", 15_000);
      } catch (error) {
        await child.stop();
        throw error;
      }
      return {
        url: `ws://127.0.0.1:${listening.port}`,
        version: String(listening.version),
        waitEvent: async (p, t) =>
          (await child.waitEvent(
            (e) => p(e as unknown as ServerEvent),
            t,
          )) as unknown as ServerEvent,
        stop: () => child.stop(),
      };
    },
  };
}

/** Python websockets (Debian python3-websockets). */
export const pythonWebsocketsServer = pythonServer(
  "python-websockets",
  "Python websockets",
  "websockets_server.py",
  "websockets",
  "python3-websockets",
);

/** autobahn-python, asyncio flavour (Debian python3-autobahn). */
export const autobahnServer = pythonServer(
  "autobahn",
  "autobahn-python",
  "autobahn_server.py",
  "autobahn.asyncio.websocket",
  "python3-autobahn",
);

export const ALL_SERVERS: ServerPeer[] = [
  oursServer,
  wsServer,
  pythonWebsocketsServer,
  autobahnServer,
];
