// tRPC's `applyWSSHandler`, a program written for ws, run unchanged on
// websockets-ts/ws: only the import of WebSocketServer differs. A real tRPC
// client session (a query, a mutation and a subscription over wsLink) goes
// through it, from a ws client and from our own ws-compatible client.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import { initTRPC } from "@trpc/server";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocket as WsWebSocket } from "ws";
import { WebSocket, WebSocketServer } from "../src/ws/index.ts";

const t = initTRPC.create();
let counter = 0;
const router = t.router({
  greet: t.procedure.input((value) => String(value)).query(({ input }) => `hello ${input}`),
  increment: t.procedure
    .input((value) => Number(value))
    .mutation(({ input }) => {
      counter += input;
      return counter;
    }),
  ticks: t.procedure
    .input((value) => Number(value))
    .subscription(async function* ({ input }) {
      for (let i = 1; i <= input; i++) yield i;
    }),
});

let wss: WebSocketServer;
let handler: ReturnType<typeof applyWSSHandler>;
let url: string;

before(async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  // The program as written for ws: applyWSSHandler({ wss, router }).
  handler = applyWSSHandler({ wss, router });
  await once(wss, "listening");
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
});

after(async () => {
  handler.broadcastReconnectNotification();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

describe("tRPC applyWSSHandler on websockets-ts/ws", () => {
  for (const [name, Client] of [
    ["a ws client", WsWebSocket],
    ["a websockets-ts/ws client", WebSocket],
  ] as const) {
    test(`a query, a mutation and a subscription from ${name}`, async () => {
      const wsClient = createWSClient({ url, WebSocket: Client as never });
      const client = createTRPCClient<typeof router>({ links: [wsLink({ client: wsClient })] });
      try {
        strictEqual(await client.greet.query("ts"), "hello ts");
        const before = counter;
        strictEqual(await client.increment.mutate(2), before + 2);
        const ticks = await new Promise<number[]>((resolve, reject) => {
          const values: number[] = [];
          const timer = setTimeout(() => reject(new Error("no completion within 5 s")), 5000);
          client.ticks.subscribe(3, {
            onData: (value) => values.push(value),
            onError: (error) => {
              clearTimeout(timer);
              reject(error);
            },
            onComplete: () => {
              clearTimeout(timer);
              resolve(values);
            },
          });
        });
        deepStrictEqual(ticks, [1, 2, 3]);
        strictEqual(wss.clients.size, 1);
      } finally {
        await wsClient.close();
      }
    });
  }
});
