/**
 * Deno as a peer of bench/topics.ts: Deno has no topics, so this is a loop
 * over the subscribers' sockets (`socket.send()` each), as Deno users write
 * a broadcast; the counterpart of the `ws` loop in bench/topics-server.ts.
 *
 *   deno run --allow-net=127.0.0.1 --allow-env=HOST,PORT bench/peers/deno-topics.ts
 *
 * Same contract as bench/topics-server.ts: connections to `/` subscribe;
 * `/control` answers `count` and runs `pub <n>`. Runs under Deno only; the
 * declaration below stands in for Deno's own types.
 *
 * @module
 */

export {};

interface DenoSocket {
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  send(data: string): void;
}

declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { hostname: string; port: number; onListen(address: { port: number }): void },
    handler: (request: Request) => Response,
  ): unknown;
  upgradeWebSocket(request: Request): { socket: DenoSocket; response: Response };
};

const PAYLOAD = "x".repeat(32);
const subscribers = new Set<DenoSocket>();

Deno.serve(
  {
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 0),
    onListen({ port }) {
      console.log(`listening ${port}`);
    },
  },
  (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    if (new URL(request.url).pathname !== "/control") {
      // Counted once open, so `count` answers only subscribers that can receive.
      socket.onopen = () => subscribers.add(socket);
      socket.onclose = () => subscribers.delete(socket);
      return response;
    }
    socket.onmessage = (event) => {
      const [command, n] = String(event.data).split(" ");
      if (command === "count") socket.send(String(subscribers.size));
      else for (let i = 0; i < Number(n); i++) for (const s of subscribers) s.send(PAYLOAD);
    };
    return response;
  },
);
