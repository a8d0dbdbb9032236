// graphql-ws's `useServer`, a program written for ws, run unchanged on
// websockets-ts/ws: only the import of WebSocketServer differs. A real
// graphql-ws client session (a query and a subscription) goes through it,
// from a ws client and from our own ws-compatible client.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from "graphql";
import { createClient } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocket as WsWebSocket } from "ws";
import { WebSocket, WebSocketServer } from "../src/ws/index.ts";

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: {
      hello: {
        type: GraphQLString,
        args: { name: { type: GraphQLString } },
        resolve: (_source, args: { name?: string }) => `hello ${args.name ?? "world"}`,
      },
    },
  }),
  subscription: new GraphQLObjectType({
    name: "Subscription",
    fields: {
      countdown: {
        type: GraphQLInt,
        args: { from: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: async function* (_source: unknown, args: { from: number }) {
          for (let i = args.from; i >= 0; i--) yield { countdown: i };
        },
      },
    },
  }),
});

let wss: WebSocketServer;
let dispose: { dispose(): void | Promise<void> };
let url: string;

before(async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/graphql" });
  // The program as written for ws: useServer(options, wss).
  dispose = useServer({ schema }, wss);
  await once(wss, "listening");
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/graphql`;
});

after(async () => {
  await dispose.dispose();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

/** Collects every value of one operation; rejects on an error, bounded in time. */
function run<T>(
  client: ReturnType<typeof createClient>,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    const values: T[] = [];
    const timer = setTimeout(() => reject(new Error(`no result for ${query} within 5 s`)), 5000);
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => values.push(value.data as T),
        error: (error) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => {
          clearTimeout(timer);
          resolve(values);
        },
      },
    );
  });
}

describe("graphql-ws useServer on websockets-ts/ws", () => {
  for (const [name, Client] of [
    ["a ws client", WsWebSocket],
    ["a websockets-ts/ws client", WebSocket],
  ] as const) {
    test(`a query and a subscription from ${name}`, async () => {
      const client = createClient({ url, webSocketImpl: Client, retryAttempts: 0, lazy: true });
      try {
        deepStrictEqual(await run(client, "query($n: String) { hello(name: $n) }", { n: "ts" }), [
          { hello: "hello ts" },
        ]);
        deepStrictEqual(
          await run(client, "subscription { countdown(from: 3) }"),
          [3, 2, 1, 0].map((countdown) => ({ countdown })),
        );
        strictEqual(wss.clients.size, 1);
      } finally {
        await client.dispose();
      }
    });
  }
});
