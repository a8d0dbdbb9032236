/**
 * An echo client: sends each argument as a message and prints the replies.
 *
 *   npx tsx examples/echo-client.ts ws://127.0.0.1:8765 hello "how are you?"
 *
 * With no URL it talks to the echo server (examples/echo-server.ts) on
 * ws://127.0.0.1:8765.
 * `await using` closes the connection (code 1000) when the scope ends, even
 * if something throws.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { connect } from "../src/index.ts";

const [url = "ws://127.0.0.1:8765", ...args] = process.argv.slice(2);
const messages = args.length > 0 ? args : ["Hello, world!"];

await using ws = await connect(url);
console.log(`connected to ${url}`);
for (const message of messages) {
  await ws.send(message);
  console.log(`> ${message}`);
  console.log(`< ${await ws.recv()}`);
}
