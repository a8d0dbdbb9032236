/**
 * Bun's built-in WebSocket server as an echo peer for bench/echo.ts:
 *
 *   bun bench/peers/bun-echo.ts
 *
 * Same contract as bench/echo-server.ts: HOST (default 127.0.0.1) and PORT
 * (default 0 = any free port) from the environment, every message echoed
 * with its own type, `listening <port>` on stdout once it accepts
 * connections. SIGTERM keeps its default action (the process ends), which is
 * all the bench needs.
 *
 * Runs under Bun only; the tiny declaration below stands in for `@types/bun`
 * so that `tsc` (which sees bench/ with Node's types) accepts the file.
 *
 * @module
 */

// A module, so the declarations below stay local to this file.
export {};

interface BunSocket {
  send(data: string | Uint8Array): number;
}

interface BunServer {
  readonly port: number;
  upgrade(request: Request): boolean;
}

declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    tls?: { key: string; cert: string };
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      message(ws: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
};

// TLS_KEY and TLS_CERT (PEM file paths) serve TLS; COMPRESSION=1 turns on permessage-deflate.
const { TLS_KEY, TLS_CERT } = process.env;
const { readFileSync } = await import("node:fs");
const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  tls:
    TLS_KEY && TLS_CERT
      ? { key: readFileSync(TLS_KEY, "utf8"), cert: readFileSync(TLS_CERT, "utf8") }
      : undefined,
  fetch(request, server) {
    // Returning nothing after a successful upgrade lets Bun send the 101.
    if (server.upgrade(request)) return undefined;
    return new Response("expected a WebSocket upgrade", { status: 426 });
  },
  websocket: {
    // Off (Bun's default) unless the bench asks for its compression rows.
    perMessageDeflate: process.env.COMPRESSION === "1",
    // A string arrives for a text message and a Buffer for a binary one, and
    // send() picks the opcode from the type, so the echo keeps the type.
    message(ws, message) {
      ws.send(message);
    },
  },
});

process.stdout.write(`listening ${server.port}\n`);
