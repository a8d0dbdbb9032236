/**
 * Deno's built-in WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`)
 * as an echo peer for bench/echo.ts:
 *
 *   deno run --allow-net=127.0.0.1 --allow-env=HOST,PORT bench/peers/deno-echo.ts
 *
 * Same contract as bench/echo-server.ts: HOST (default 127.0.0.1) and PORT
 * (default 0 = any free port) from the environment, every message echoed
 * with its own type, `listening <port>` on stdout once it accepts
 * connections. SIGTERM keeps its default action (the process ends).
 *
 * `Deno.upgradeWebSocket` has no compression option: it never answers with
 * an extension, so the connection is uncompressed like the other servers'.
 *
 * Runs under Deno only; the tiny declaration below stands in for Deno's own
 * types so that `tsc` (which sees bench/ with Node's types) accepts the file.
 *
 * @module
 */

// A module, so the declarations below stay local to this file.
export {};

interface DenoSocket {
  binaryType: "arraybuffer" | "blob";
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  send(data: string | ArrayBuffer): void;
}

declare const Deno: {
  env: { get(name: string): string | undefined };
  readTextFileSync(path: string): string;
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen(address: { port: number }): void;
    },
    handler: (request: Request) => Response,
  ): unknown;
  upgradeWebSocket(request: Request): { socket: DenoSocket; response: Response };
};

// TLS_KEY and TLS_CERT (PEM file paths) serve TLS. Deno has no permessage-deflate.
const tlsKey = Deno.env.get("TLS_KEY");
const tlsCert = Deno.env.get("TLS_CERT");
const tls =
  tlsKey && tlsCert
    ? { key: Deno.readTextFileSync(tlsKey), cert: Deno.readTextFileSync(tlsCert) }
    : {};
Deno.serve(
  {
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 0),
    ...tls,
    onListen({ port }) {
      console.log(`listening ${port}`);
    },
  },
  (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    // ArrayBuffer rather than Blob: a Blob would have to be read back
    // asynchronously before it could be echoed.
    socket.binaryType = "arraybuffer";
    // A string is a text message and an ArrayBuffer a binary one; send()
    // picks the opcode from the type, so the echo keeps the type.
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  },
);
