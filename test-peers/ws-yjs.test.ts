// y-websocket's server utilities (`setupWSConnection`), written for ws, run
// unchanged on websockets-ts/ws: only the import of WebSocketServer
// differs. Two real Yjs clients (y-websocket's WebsocketProvider) edit one
// document through it, one over ws and one over our ws-compatible client.
//
// y-websocket 2.1.0 is the newest release with these utilities: 3.x moved
// them to @y/websocket-server, which can't be installed from the registry
// (it depends on @y/y, which isn't published).

import { strictEqual } from "node:assert/strict";
import { once } from "node:events";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocket as WsWebSocket } from "ws";
import type { WebsocketProvider as Provider } from "y-websocket";
import type * as YTypes from "yjs";
import { WebSocket, WebSocketServer } from "../src/ws/index.ts";

// Everything through require(): the utilities are CommonJS, and Yjs must be
// loaded once, not as both its CommonJS and its ES module builds.
const require = createRequire(import.meta.url);
const Y = require("yjs") as typeof YTypes;
const { WebsocketProvider } = require("y-websocket") as { WebsocketProvider: typeof Provider };
const { setupWSConnection, docs } = require("y-websocket/bin/utils") as {
  setupWSConnection(conn: unknown, req: unknown, options?: { docName?: string }): void;
  /** The server's documents; each keeps an awareness timer until destroyed. */
  docs: Map<string, { destroy(): void }>;
};

let wss: WebSocketServer;
let url: string;

before(async () => {
  wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  // The program as written for ws.
  wss.on("connection", (conn, req) => setupWSConnection(conn, req, { docName: "room" }));
  await once(wss, "listening");
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  for (const doc of docs.values()) doc.destroy();
});

/** Resolves once `check()` holds, polling every 10 ms for at most 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("y-websocket setupWSConnection on websockets-ts/ws", () => {
  test("two providers edit one document", async () => {
    const docA = new Y.Doc();
    const docB = new Y.Doc();
    const a = new WebsocketProvider(url, "room", docA, { WebSocketPolyfill: WsWebSocket as never });
    const b = new WebsocketProvider(url, "room", docB, { WebSocketPolyfill: WebSocket as never });
    try {
      await until(() => a.synced && b.synced, "both providers to sync");
      docA.getText("t").insert(0, "hello from ws");
      await until(() => docB.getText("t").toString() === "hello from ws", "B to see A's edit");
      docB.getText("t").insert(0, "websockets-ts says ");
      await until(
        () => docA.getText("t").toString() === "websockets-ts says hello from ws",
        "A to see B's edit",
      );
      strictEqual(wss.clients.size, 2);
    } finally {
      a.destroy();
      b.destroy();
      docA.destroy();
      docB.destroy();
    }
  });
});
