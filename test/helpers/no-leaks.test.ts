import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { test } from "node:test";
import { activeResources, assertNoLeaks, checkLeaksAfterAll, leaksSince } from "./no-leaks.ts";

checkLeaksAfterAll();

test("reports a listening server opened after the baseline", async () => {
  const baseline = activeResources();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  assert.deepEqual(leaksSince(baseline), ["1 x TCPServerWrap"]);
  await assert.rejects(assertNoLeaks(baseline, { settleMs: 50 }), /1 x TCPServerWrap/);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await assertNoLeaks(baseline);
});

test("reports a pending timer and passes once it is cleared", async () => {
  const baseline = activeResources();
  const timer = setTimeout(() => {}, 60_000);
  await assert.rejects(assertNoLeaks(baseline, { settleMs: 50 }), /1 x Timeout/);
  clearTimeout(timer);
  await assertNoLeaks(baseline);
});

test("waits for sockets that are still closing", async () => {
  const baseline = activeResources();
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const client = connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  client.destroy();
  server.close();
  // Closing takes a few turns of the event loop; the check must wait for them.
  await assertNoLeaks(baseline);
});

test("does not count unref'ed timers", async () => {
  const baseline = activeResources();
  const timer = setTimeout(() => {}, 60_000).unref();
  assert.deepEqual(leaksSince(baseline), []);
  clearTimeout(timer);
});

test("fails a file that leaks a server, and lets it exit", async () => {
  const fixture = new URL("./fixtures/leaky-file.ts", import.meta.url).pathname;
  // Without NODE_TEST_CONTEXT the child reports and exits like a top-level run.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", "--test", fixture], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.resume();
  // Bounded: without releasing the leak the child would wait for the runner's timeout.
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(killer);
  assert.notEqual(code, 0);
  assert.match(output, /leaked after 100 ms: 1 x TCPServerWrap/);
});
