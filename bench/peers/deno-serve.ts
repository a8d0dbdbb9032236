/**
 * What the Deno peers of the bench share (bench/peers/deno-echo.ts,
 * bench/peers/deno-topics.ts): `Deno.serve` on HOST and PORT from the
 * environment (TLS with TLS_KEY and TLS_CERT, PEM file paths),
 * `listening <port>` on stdout, 426 to anything but a WebSocket upgrade,
 * and each upgraded socket handed over with its request.
 *
 * Runs under Deno only; the declarations below stand in for Deno's own
 * types so that `tsc` (which sees bench/ with Node's types) accepts it.
 *
 * @module
 */

/** The part of Deno's `WebSocket` the peers use. */
export interface DenoSocket {
  binaryType: "arraybuffer" | "blob";
  onopen: (() => void) | null;
  onclose: (() => void) | null;
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

/** Serves WebSocket upgrades, calling `opened` with each socket and its request. */
export function serveWebSockets(opened: (socket: DenoSocket, request: Request) => void): void {
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
      opened(socket, request);
      return response;
    },
  );
}
