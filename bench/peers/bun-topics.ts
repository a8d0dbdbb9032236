/**
 * Bun's built-in topics (`ws.subscribe()`, `server.publish()`) as a peer of
 * bench/topics.ts:
 *
 *   bun bench/peers/bun-topics.ts
 *
 * Same contract as bench/topics-server.ts: connections to `/` subscribe to
 * `t`; `/control` answers `count` and runs `pub <n>`. Runs under Bun only;
 * the declaration below stands in for `@types/bun`.
 *
 * @module
 */

export {};

interface BunSocket {
  readonly data: { control: boolean };
  send(data: string | Uint8Array): number;
  subscribe(topic: string): void;
}

interface BunServer {
  readonly port: number;
  upgrade(request: Request, options: { data: { control: boolean } }): boolean;
  publish(topic: string, data: string): number;
  subscriberCount(topic: string): number;
}

declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      sendPings: boolean;
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
};

const PAYLOAD = "x".repeat(32);

const server = Bun.serve({
  hostname: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  fetch(request, server) {
    const control = new URL(request.url).pathname === "/control";
    if (server.upgrade(request, { data: { control } })) return undefined;
    return new Response("expected a WebSocket upgrade", { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    // No keepalive pings: subscribers count bytes of data frames.
    sendPings: false,
    open(ws) {
      if (!ws.data.control) ws.subscribe("t");
    },
    message(ws, message) {
      const [command, n] = String(message).split(" ");
      if (command === "count") ws.send(String(server.subscriberCount("t")));
      else for (let i = 0; i < Number(n); i++) server.publish("t", PAYLOAD);
    },
  },
});

process.stdout.write(`listening ${server.port}\n`);
