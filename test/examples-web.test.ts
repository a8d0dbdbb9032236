// Runs the websockets-ts/web examples for real against an echo server on
// loopback, and checks what they print.

import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Server, serve } from "../src/index.ts";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "examples");
const RUN_MS = 20_000;

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

/** Runs an example to its end (killed after RUN_MS); resolves with its exit code and output. */
function run(name: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(examples, name), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
  return new Promise((resolve) => {
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

for (const name of ["web-websocket.ts", "web-stream.ts"]) {
  test(`${name} sends its arguments, prints the replies, closes cleanly and exits 0`, async () => {
    const { code, output } = await run(name, [url, "one", "two é"]);
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
  const { code, output } = await run("web-websocket.ts", [`ws://127.0.0.1:${port}/`]);
  assert.equal(code, 1, output);
  assert.match(output, /connection failed/);
  assert.match(output, /ECONNREFUSED/);
  assert.match(output, /closed: code 1006, reason "", clean: false/);
});
