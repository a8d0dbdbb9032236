// Runs the websockets-ts/web examples for real against an echo server on
// loopback, and checks what they print.

import { strict as assert } from "node:assert";
import { after, before, test } from "node:test";
import { type Server, serve } from "../src/index.ts";
import { runExample } from "./helpers/run-example.ts";

let server: Server;
let url: string;

before(async () => {
  server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { host: "127.0.0.1", port: 0, logger: null },
  );
  url = `ws://127.0.0.1:${(server.address as { port: number }).port}/`;
});

after(() => server.close());

for (const name of ["web-websocket.ts", "web-stream.ts"]) {
  test(`${name} sends its arguments, prints the replies, closes cleanly and exits 0`, async () => {
    const { code, output } = await runExample(name, [url, "one", "two é"]);
    assert.equal(code, 0, output);
    assert.match(
      output,
      /^connected to ws:\/\/127\.0\.0\.1:\d+\/ \(extensions: permessage-deflate/m,
    );
    assert.match(output, /^< one$/m);
    assert.match(output, /^< two é$/m);
    assert.match(output, /^closed: code 1000, reason "done"/m);
  });
}

test("web-websocket.ts reports a failed connection and exits 1", async () => {
  const closed = await serve(() => {}, { host: "127.0.0.1", port: 0, logger: null });
  const port = (closed.address as { port: number }).port;
  await closed.close();
  const { code, output } = await runExample("web-websocket.ts", [`ws://127.0.0.1:${port}/`]);
  assert.equal(code, 1, output);
  assert.match(output, /connection failed/);
  assert.match(output, /ECONNREFUSED/);
  assert.match(output, /closed: code 1006, reason "", clean: false/);
});
