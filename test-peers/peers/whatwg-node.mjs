// Child process running a WHATWG WebSocket client peer in Node:
// `node whatwg-node.mjs undici` (undici's WebSocket) or `... builtin`
// (globalThis.WebSocket; Node 20 needs --experimental-websocket). Speaks the
// JSON-lines RPC of rpc.py on stdin/stdout.

import { createInterface } from "node:readline";
import { createPeer } from "./whatwg-client.mjs";

const impl = process.argv[2];
let WebSocketImpl;
let name;
let version;
if (impl === "undici") {
  const undici = await import("undici");
  WebSocketImpl = undici.WebSocket;
  name = "undici WebSocket";
  const { createRequire } = await import("node:module");
  version = createRequire(import.meta.url)("undici/package.json").version;
} else if (impl === "builtin") {
  WebSocketImpl = globalThis.WebSocket;
  name = "Node built-in WebSocket";
  version = `Node ${process.versions.node} (undici ${process.versions.undici ?? "?"})`;
  if (typeof WebSocketImpl !== "function") {
    console.error("this Node has no global WebSocket (Node 20 needs --experimental-websocket)");
    process.exit(2);
  }
} else {
  console.error(`usage: whatwg-node.mjs undici|builtin, not ${impl}`);
  process.exit(2);
}

const handle = createPeer(WebSocketImpl, name, version);
const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
for await (const line of lines) {
  const request = JSON.parse(line);
  let reply;
  try {
    reply = { id: request.id, ok: true, result: await handle(request.op, request.args) };
  } catch (error) {
    reply = {
      id: request.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
