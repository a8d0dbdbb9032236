/**
 * The echo servers the bench compares, one per process:
 *
 *   node --import tsx bench/echo-server.ts ours|ours-http|compat|compat-http|ws|ws-http|floor|floor-async|floor-events|raw
 *
 * `compat` is `websockets-ts/ws` running the very echo written for `ws`.
 * Each API is measured on its own listener (`ours`: `serve({ port })`;
 * `compat` and `ws`: `new WebSocketServer({ port })`) and attached to an
 * `http.Server` the application created (`ours-http`: `serve({ server })`;
 * `compat-http` and `ws-http`: `new WebSocketServer({ server })`), so that
 * each ratio compares servers that attach the same way: compat/ours and
 * compat-http/ours-http. `ws` creates an `http.Server` for `port` itself:
 * its two forms do the same work. With TLS, `compat` and `ws` attach to an
 * `https.Server` (`ws` has no TLS option).
 *
 * Environment: HOST (default 127.0.0.1), PORT (default 0 = any free port),
 * COMPRESSION=1 to offer permessage-deflate with each library's defaults
 * (off otherwise), TLS_KEY and TLS_CERT (PEM file paths) to serve TLS,
 * PROCESS_REQUEST=1 to run a request hook that checks the path (ours:
 * `processRequest`; `ws` and `compat`: `verifyClient`; `raw` has none).
 * Prints `listening <port>` on stdout once it accepts connections, and exits
 * on SIGTERM or SIGINT. Any other server (Bun, Deno, another library) can be
 * benchmarked by a command that follows the same contract: see bench/README.md.
 *
 * `raw` is not WebSocket-correct: it answers any request with a fixed 101 and
 * then writes back every chunk it reads, once per read. It is the ceiling of
 * what a Node server can do on this machine, and shows whether the load
 * generator is the bottleneck. `floor` (bench/echo-floor.ts) is the least a
 * conforming WebSocket echo can do on Node: frames parsed, unmasked and
 * validated, replies framed, one write per read, nothing else;
 * `floor-async` and `floor-events` (bench/echo-floor-api.ts) hand each
 * message to the least application our async API and our `ws`-compatible
 * API allow.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { floorEcho } from "./echo-floor.ts";
import { floorAsync, floorEvents } from "./echo-floor-api.ts";
import { rawEcho } from "./raw-upgrade.ts";
import { loadMain, loadWs } from "./support/library.ts";

const impl = process.argv[2] ?? "ours";
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 0);
const compression = process.env.COMPRESSION === "1";
// A hook on every request, as applications that authenticate have: it
// takes the handshake off its fast path (no hook, answered in one turn).
const hooks = process.env.PROCESS_REQUEST === "1";
const tls =
  process.env.TLS_KEY && process.env.TLS_CERT
    ? { key: readFileSync(process.env.TLS_KEY), cert: readFileSync(process.env.TLS_CERT) }
    : undefined;

function ready(boundPort: number): void {
  process.stdout.write(`listening ${boundPort}\n`);
}

async function startOurs(): Promise<() => Promise<void>> {
  const { serve } = await loadMain();
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    {
      host,
      port,
      compression: compression ? "deflate" : null,
      tls,
      processRequest: hooks
        ? (connection, request) =>
            request.path === "/" ? undefined : connection.respond(404, "not found\n")
        : null,
    },
  );
  const address = server.address as { port: number };
  ready(address.port);
  return () => server.close();
}

// `ours-http`: our API attached to an `http.Server`, as `compat-http` is:
// node:http parses each request before our handshake. Against it,
// `compat-http` shows the cost of the ws-compatible layer alone.
async function startOursHttp(): Promise<() => Promise<void>> {
  const { serve } = await loadMain();
  const { createServer: createHttpServer } = await import("node:http");
  const { createServer: createHttpsServer } = await import("node:https");
  const http = tls === undefined ? createHttpServer() : createHttpsServer(tls);
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { server: http, compression: compression ? "deflate" : null },
  );
  http.listen(port, host);
  await new Promise<void>((resolve) => http.once("listening", resolve));
  ready((http.address() as { port: number }).port);
  return async () => {
    await server.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
}

/** The part of `ws`'s server API the echo uses, which `websockets-ts/ws` has too. */
interface WsApiServer {
  on(event: "connection", listener: (ws: WsApiSocket) => void): unknown;
  once(event: "listening" | "error", listener: (error?: Error) => void): unknown;
  address(): { port: number } | string | null;
  readonly clients: Set<{ terminate(): void }>;
  close(cb: () => void): void;
}
interface WsApiSocket {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): unknown;
  send(data: Buffer, options: { binary: boolean }): void;
}

type WsApiServerClass = new (options: {
  server?: import("node:http").Server;
  port?: number;
  host?: string;
  perMessageDeflate: boolean;
  verifyClient?: (info: { req: import("node:http").IncomingMessage }) => boolean;
}) => WsApiServer;

/**
 * The same echo, written for ws's API, on `ws` or on `websockets-ts/ws`:
 * listening itself (`{ port }`), or attached to an `http.Server` (`{ server }`,
 * and always with TLS).
 */
async function startWsApi(
  WebSocketServer: WsApiServerClass,
  attach: boolean,
): Promise<() => Promise<void>> {
  const { createServer: createHttpServer } = await import("node:http");
  const { createServer: createHttpsServer } = await import("node:https");
  const http =
    !attach && tls === undefined
      ? null
      : tls === undefined
        ? createHttpServer()
        : createHttpsServer(tls);
  const wss = new WebSocketServer({
    ...(http === null ? { host, port } : { server: http }),
    perMessageDeflate: compression,
    ...(hooks ? { verifyClient: (info) => info.req.url === "/" } : {}),
  });
  http?.listen(port, host);
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve, reject) => {
    wss.once("listening", () => resolve());
    wss.once("error", reject);
  });
  const address = wss.address();
  if (address === null || typeof address === "string")
    throw new Error(`unexpected address ${address}`);
  ready(address.port);
  return () =>
    new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => (http === null ? resolve() : http.close(() => resolve())));
    });
}

async function startWs(attach: boolean): Promise<() => Promise<void>> {
  const { WebSocketServer } = await import("ws");
  return startWsApi(WebSocketServer as unknown as WsApiServerClass, attach);
}

// `compat`: websockets-ts/ws, our ws-compatible API, running ws's echo unchanged.
async function startCompat(attach: boolean): Promise<() => Promise<void>> {
  const { WebSocketServer } = await loadWs();
  return startWsApi(WebSocketServer as unknown as WsApiServerClass, attach);
}

// `raw` and the floors: a plain net.Server (or tls.Server) whose sockets `echo` serves.
async function startSocketEcho(
  echo: (socket: Socket, sockets: Set<Socket>) => void,
): Promise<() => Promise<void>> {
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => echo(socket, sockets);
  const server: Server =
    tls === undefined
      ? createServer({ noDelay: true }, onSocket)
      : createTlsServer({ ...tls, noDelay: true }, onSocket);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  ready(address.port);
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

const starters: Record<string, () => Promise<() => Promise<void>>> = {
  ours: startOurs,
  "ours-http": startOursHttp,
  ws: () => startWs(false),
  "ws-http": () => startWs(true),
  compat: () => startCompat(false),
  "compat-http": () => startCompat(true),
  floor: () => startSocketEcho(floorEcho),
  "floor-async": () => startSocketEcho(floorAsync),
  "floor-events": () => startSocketEcho(floorEvents),
  raw: () => startSocketEcho(rawEcho),
};

const start = starters[impl];
if (start === undefined) {
  console.error(
    `echo-server: unknown implementation ${JSON.stringify(impl)} (${Object.keys(starters).join(", ")})`,
  );
  process.exit(2);
}
const stop = await start();
let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // Bounded: a server that cannot stop within 5 s is killed by its own exit.
    setTimeout(() => process.exit(1), 5000).unref();
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
