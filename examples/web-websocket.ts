/**
 * The browser's WebSocket API on Node, on websockets-ts: the same code runs
 * in a browser (there, `websockets-ts/web` resolves to the browser's own
 * classes). Sends each argument, prints the replies, then closes.
 *
 *   npm start                                     # an echo server
 *   npx tsx examples/web-websocket.ts ws://127.0.0.1:8765 hello "how are you?"
 *
 * The second argument of the constructor may be a dictionary of extras:
 * `{ protocols, headers, proxy, compression, maxSize, logger, ... }`.
 *
 * In your project, import from "websockets-ts/web" instead of "../src/web/index.ts".
 */
import { WebSocket } from "../src/web/index.ts";

const [url = "ws://127.0.0.1:8765", ...args] = process.argv.slice(2);
const messages = args.length > 0 ? args : ["Hello, world!"];

const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
let replies = 0;

ws.onopen = () => {
  console.log(`connected to ${ws.url} (extensions: ${ws.extensions || "none"})`);
  for (const message of messages) {
    ws.send(message);
    console.log(`> ${message}`);
  }
};

ws.onmessage = (event) => {
  console.log(`< ${String(event.data)}`);
  replies += 1;
  if (replies === messages.length) ws.close(1000, "done");
};

ws.onerror = () => {
  // The event says nothing more, as in a browser; the logger said why (WARN).
  console.error("connection failed");
  process.exitCode = 1;
};

ws.onclose = (event) => {
  console.log(`closed: code ${event.code}, reason "${event.reason}", clean: ${event.wasClean}`);
};
