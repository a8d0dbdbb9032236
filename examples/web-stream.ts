/**
 * WebSocketStream: messages as a ReadableStream and a WritableStream, with
 * backpressure both ways. Sends each argument, prints the replies, closes.
 *
 *   npm start                                     # an echo server
 *   npx tsx examples/web-stream.ts ws://127.0.0.1:8765 hello "how are you?"
 *
 * In your project, import from "websockets-ts/web" instead of "../src/web/index.ts".
 */
import { WebSocketStream } from "../src/web/index.ts";

const [url = "ws://127.0.0.1:8765", ...args] = process.argv.slice(2);
const messages = args.length > 0 ? args : ["Hello, world!"];

const wss = new WebSocketStream(url);
const { readable, writable, extensions } = await wss.opened;
console.log(`connected to ${wss.url} (extensions: ${extensions || "none"})`);

const writer = writable.getWriter();
const reader = readable.getReader();
for (const message of messages) {
  // Resolves once the connection took the message: a fast writer waits here.
  await writer.write(message);
  console.log(`> ${message}`);
  const { value } = await reader.read();
  console.log(`< ${String(value)}`);
}

wss.close({ closeCode: 1000, reason: "done" });
const { closeCode, reason } = await wss.closed;
console.log(`closed: code ${closeCode}, reason "${reason}"`);
