/**
 * The client peers of the matrix behind one interface: websockets-ts and ws
 * in this process; undici's and Node's built-in WebSocket, Python websockets
 * and autobahn-python in child processes; Chromium through playwright-core.
 *
 * @module
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { CLOSED, connect, InvalidStatus } from "../../src/index.ts";
import { VERSION } from "../../src/version.ts";
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  PYTHON,
  requireChromium,
  requireNpmPackage,
  requirePythonModule,
} from "./requirements.ts";
import { type Json, RpcChild } from "./rpc.ts";

export type Data = string | Buffer;

export interface OpenResult {
  subprotocol: string | null;
  /** The negotiated `Sec-WebSocket-Extensions`, as far as the client tells. */
  extensions: string | null;
}

export interface CloseResult {
  code: number | null;
  reason: string | null;
}

/** One client, one connection at a time. Every call is bounded in time. */
export interface ClientSession {
  open(
    url: string,
    options: { subprotocols?: string[]; compression: boolean },
  ): Promise<OpenResult>;
  send(data: Data): Promise<void>;
  sendFragments(parts: string[]): Promise<void>;
  recv(): Promise<Data>;
  ping(data: string): Promise<void>;
  close(code: number, reason: string): Promise<CloseResult>;
  waitClosed(): Promise<CloseResult>;
  /** Opens a connection the server refuses; resolves with the status the client saw, if it can tell. */
  openExpectReject(url: string): Promise<{ status: number | null; detail: string }>;
  stop(): Promise<void>;
}

/** Things a client cannot do, with the reason shown as "n/a" in the matrix. */
export interface Limits {
  ping?: string;
  fragments?: string;
  compressionOff?: string;
  status?: string;
}

export interface ClientPeer {
  id: string;
  name: string;
  cannot: Limits;
  /** Throws with an install hint when the peer is missing. */
  start(): Promise<{ session: ClientSession; version: string }>;
}

const PEERS_DIR = fileURLToPath(new URL("../peers/", import.meta.url));
const OP_TIMEOUT = 20_000;

function bounded<T>(promise: Promise<T>, what: string, ms = OP_TIMEOUT): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function toWire(data: Data): Json {
  return typeof data === "string" ? { text: data } : { b64: data.toString("base64") };
}

function fromWire(obj: Json): Data {
  return typeof obj.text === "string" ? obj.text : Buffer.from(String(obj.b64), "base64");
}

/** A session whose operations run elsewhere (a child process or a browser page). */
function remoteSession(
  call: (op: string, args?: Json) => Promise<Json>,
  stop: () => Promise<void>,
): ClientSession {
  return {
    async open(url, options) {
      const r = await call("open", {
        url,
        subprotocols: options.subprotocols ?? [],
        compression: options.compression,
      });
      return {
        subprotocol: (r.subprotocol as string | null) ?? null,
        extensions: (r.extensions as string | null) ?? null,
      };
    },
    async send(data) {
      await call("send", { data: toWire(data) });
    },
    async sendFragments(parts) {
      await call("send_fragments", { parts: parts.map(toWire) });
    },
    async recv() {
      return fromWire((await call("recv")).data as Json);
    },
    async ping(data) {
      await call("ping", { data });
    },
    async close(code, reason) {
      const r = await call("close", { code, reason });
      return {
        code: (r.code as number | null) ?? null,
        reason: (r.reason as string | null) ?? null,
      };
    },
    async waitClosed() {
      const r = await call("wait_closed");
      return {
        code: (r.code as number | null) ?? null,
        reason: (r.reason as string | null) ?? null,
      };
    },
    async openExpectReject(url) {
      const r = await call("open_expect_reject", { url });
      return { status: (r.status as number | null) ?? null, detail: String(r.detail) };
    },
    stop,
  };
}

async function childPeer(
  command: string,
  args: string[],
): Promise<{ session: ClientSession; version: string }> {
  const child = new RpcChild(command, args);
  const call = (op: string, a: Json = {}) => child.call(op, a, OP_TIMEOUT);
  let info: Json;
  try {
    info = await call("version");
  } catch (error) {
    await child.stop();
    throw new Error(`${child.describe()} did not start: ${String(error)}\n${child.stderrTail()}`);
  }
  return { session: remoteSession(call, () => child.stop()), version: String(info.version) };
}

/** websockets-ts's own client. */
export const oursClient: ClientPeer = {
  id: "websockets-ts",
  name: "websockets-ts",
  cannot: {},
  async start() {
    let ws: Awaited<ReturnType<typeof connect>> | null = null;
    const session: ClientSession = {
      async open(url, options) {
        ws = await bounded(
          connect(url, {
            subprotocols: options.subprotocols ?? null,
            compression: options.compression ? "deflate" : null,
            logger: false,
          }),
          "connect",
        );
        return {
          subprotocol: ws.subprotocol,
          extensions: ws.response?.headers.get("sec-websocket-extensions") ?? null,
        };
      },
      async send(data) {
        await bounded(ws!.send(data), "send");
      },
      async sendFragments(parts) {
        await bounded(ws!.send(parts), "send");
      },
      async recv() {
        return bounded(ws!.recv(), "recv");
      },
      async ping(data) {
        await bounded(ws!.ping(data), "ping");
      },
      async close(code, reason) {
        await bounded(ws!.close(code, reason), "close");
        await bounded(ws!.closed, "closed");
        return { code: ws!.closeCode, reason: ws!.closeReason };
      },
      async waitClosed() {
        await bounded(ws!.closed, "closed");
        return { code: ws!.closeCode, reason: ws!.closeReason };
      },
      async openExpectReject(url) {
        try {
          const unexpected = await bounded(connect(url, { logger: false }), "connect");
          await unexpected.close();
        } catch (error) {
          if (error instanceof InvalidStatus)
            return { status: error.response.status, detail: error.message };
          throw error;
        }
        throw new Error("the handshake succeeded");
      },
      async stop() {
        if (ws && ws.state !== CLOSED) await ws.close().catch(() => {});
      },
    };
    return { session, version: `${VERSION} (this checkout)` };
  },
};

/** The ws library's client. */
export const wsClient: ClientPeer = {
  id: "ws",
  name: "ws",
  cannot: {},
  async start() {
    const version = requireNpmPackage("ws");
    let ws: WebSocket | null = null;
    let queue: Data[] = [];
    let waiting: { resolve: (d: Data) => void; reject: (e: Error) => void }[] = [];
    let ended: Promise<CloseResult> = Promise.resolve({ code: null, reason: null });
    const session: ClientSession = {
      async open(url, options) {
        const socket = new WebSocket(url, options.subprotocols ?? [], {
          perMessageDeflate: options.compression,
        });
        ws = socket;
        queue = [];
        waiting = [];
        socket.on("message", (data, isBinary) => {
          const message: Data = isBinary ? (data as Buffer) : (data as Buffer).toString("utf8");
          const waiter = waiting.shift();
          if (waiter) waiter.resolve(message);
          else queue.push(message);
        });
        socket.on("error", () => {});
        ended = new Promise((resolve) => {
          socket.once("close", (code, reason) => {
            for (const w of waiting.splice(0)) w.reject(new Error(`closed: ${code}`));
            resolve({ code, reason: reason.toString("utf8") });
          });
        });
        await bounded(
          new Promise<void>((resolve, reject) => {
            socket.once("open", () => resolve());
            socket.once("error", reject);
          }),
          "open",
        );
        return { subprotocol: socket.protocol || null, extensions: socket.extensions || null };
      },
      async send(data) {
        await bounded(
          new Promise<void>((resolve, reject) =>
            ws!.send(data, (e) => (e ? reject(e) : resolve())),
          ),
          "send",
        );
      },
      async sendFragments(parts) {
        for (let i = 0; i < parts.length; i++) {
          const fin = i === parts.length - 1;
          await bounded(
            new Promise<void>((resolve, reject) =>
              ws!.send(parts[i], { fin }, (e) => (e ? reject(e) : resolve())),
            ),
            "send",
          );
        }
      },
      recv() {
        if (queue.length > 0) return Promise.resolve(queue.shift()!);
        return bounded(
          new Promise<Data>((resolve, reject) => waiting.push({ resolve, reject })),
          "recv",
        );
      },
      async ping(data) {
        const socket = ws!;
        await bounded(
          new Promise<void>((resolve) => {
            const onPong = (payload: Buffer) => {
              if (payload.toString() === data) {
                socket.off("pong", onPong);
                resolve();
              }
            };
            socket.on("pong", onPong);
            socket.ping(data);
          }),
          "ping",
        );
      },
      async close(code, reason) {
        ws!.close(code, reason);
        return bounded(ended, "close");
      },
      waitClosed() {
        return bounded(ended, "close");
      },
      async openExpectReject(url) {
        const socket = new WebSocket(url);
        return bounded(
          new Promise((resolve, reject) => {
            socket.on("unexpected-response", (_request, response) => {
              resolve({
                status: response.statusCode ?? null,
                detail: `unexpected-response ${response.statusCode}`,
              });
              socket.terminate();
            });
            socket.on("error", () => {});
            socket.on("open", () => {
              socket.close();
              reject(new Error("the handshake succeeded"));
            });
          }),
          "open",
        );
      },
      async stop() {
        ws?.terminate();
      },
    };
    return { session, version };
  },
};

const WHATWG_LIMITS: Limits = {
  ping: "the WebSocket API has no ping()",
  fragments: "the WebSocket API sends each message whole",
  status:
    "the WebSocket API reports a refused handshake as an error event and close 1006, without the status",
};

/** undici's WebSocket, in a child process. */
export const undiciClient: ClientPeer = {
  id: "undici",
  name: "undici WebSocket",
  cannot: {
    ...WHATWG_LIMITS,
    compressionOff: "undici always offers permessage-deflate; the server declines it",
  },
  async start() {
    requireNpmPackage("undici");
    return childPeer(process.execPath, [join(PEERS_DIR, "whatwg-node.mjs"), "undici"]);
  },
};

/** Node's built-in WebSocket (behind --experimental-websocket before Node 22), in a child process. */
export const nodeClient: ClientPeer = {
  id: "node",
  name: "Node built-in WebSocket",
  cannot: {
    ...WHATWG_LIMITS,
    compressionOff: "Node's WebSocket always offers permessage-deflate; the server declines it",
  },
  async start() {
    const major = Number(process.versions.node.split(".")[0]);
    const flags = major < 22 ? ["--experimental-websocket"] : [];
    return childPeer(process.execPath, [...flags, join(PEERS_DIR, "whatwg-node.mjs"), "builtin"]);
  },
};

/** Python websockets (Debian python3-websockets), in a child process. */
export const pythonWebsocketsClient: ClientPeer = {
  id: "python-websockets",
  name: "Python websockets",
  cannot: {},
  async start() {
    requirePythonModule("websockets", "python3-websockets");
    return childPeer(PYTHON, [join(PEERS_DIR, "websockets_client.py")]);
  },
};

/** autobahn-python, asyncio flavour (Debian python3-autobahn), in a child process. */
export const autobahnClient: ClientPeer = {
  id: "autobahn",
  name: "autobahn-python",
  cannot: {},
  async start() {
    requirePythonModule("autobahn.asyncio.websocket", "python3-autobahn");
    return childPeer(PYTHON, [join(PEERS_DIR, "autobahn_client.py")]);
  },
};

/** Chromium headless (Debian chromium) driven by playwright-core: a real page using the browser's WebSocket. */
/**
 * Launches Chromium on a page served from a loopback `http.Server`, like any
 * web page. `attach` may add to that server (our WebSocket server, for the
 * same-origin check) before it listens. Returns the session and the page's origin.
 */
export async function startChromium(
  attach?: (http: Server) => Promise<void>,
): Promise<{ session: ClientSession; version: string; origin: string }> {
  requireChromium();
  requireNpmPackage("playwright-core");
  const { chromium } = await import("playwright-core");
  const files: Record<string, [string, string]> = {
    "/peer.html": ["peer.html", "text/html; charset=utf-8"],
    "/whatwg-client.mjs": ["whatwg-client.mjs", "text/javascript; charset=utf-8"],
  };
  const http = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[1] }).end(readFileSync(join(PEERS_DIR, file[0])));
  });
  await attach?.(http);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  const address = http.address();
  const origin = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const profile = mkdtempSync(join(tmpdir(), "websockets-ts-chromium-"));
  const cleanUp = async () => {
    await new Promise<void>((resolve) => http.close(() => resolve()));
    rmSync(profile, { recursive: true, force: true });
  };
  let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>>;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [...CHROMIUM_FLAGS],
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const stop = async () => {
    await context.close().catch(() => {});
    await cleanUp();
  };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`http://${origin}/peer.html`);
    await page.waitForFunction(
      () => (globalThis as unknown as { peerReady?: boolean }).peerReady === true,
      null,
      { timeout: 10_000 },
    );
    const call = (op: string, args: Json = {}) =>
      bounded(
        page.evaluate(
          ([o, a]) =>
            (globalThis as unknown as { peer: (op: string, args: unknown) => Promise<Json> }).peer(
              o as string,
              a,
            ),
          [op, args] as const,
        ),
        op,
      );
    const version = String(context.browser()?.version() ?? "unknown");
    return { session: remoteSession(call, stop), version, origin };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Chromium headless (Debian chromium) driven by playwright-core: a real page using the browser's WebSocket. */
export const chromiumClient: ClientPeer = {
  id: "chromium",
  name: "Chromium",
  cannot: {
    ...WHATWG_LIMITS,
    compressionOff: "Chromium always offers permessage-deflate; the server declines it",
  },
  async start() {
    const { session, version } = await startChromium();
    return { session, version };
  },
};

export const ALL_CLIENTS: ClientPeer[] = [
  oursClient,
  wsClient,
  undiciClient,
  nodeClient,
  pythonWebsocketsClient,
  autobahnClient,
  chromiumClient,
];
