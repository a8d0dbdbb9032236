// 10,000 connections opened and closed against one server, in three ways
// (client closes, server closes, client vanishes): afterwards the heap and
// the handle counts are back where they started.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ConnectionClosed, connect, serve } from "../../src/index.ts";
import { rawConnect } from "../helpers/net.ts";
import { activeResources, assertNoLeaks, checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const TOTAL = 10_000;
const CONCURRENCY = 50;
const WARMUP = 600;

// Exposes gc() without a command-line flag, so the file runs under `npm test`.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

test(`${TOTAL} connections opened and closed leave heap and handles flat`, async () => {
  const server = await serve(
    async (ws) => {
      try {
        const message = await ws.recv();
        if (message === "close me") await ws.close(1000, "as you wish");
        else for await (const _ of ws) void _;
      } catch (err) {
        // A client that vanished: the iteration ends with ConnectionClosedError.
        if (!(err instanceof ConnectionClosed)) throw err;
      }
    },
    { host: "127.0.0.1", port: 0, logger: null, pingInterval: 5000 },
  );
  const { port } = server.address as { port: number };
  const url = `ws://127.0.0.1:${port}/`;

  let failures = 0;
  async function cycle(i: number): Promise<void> {
    try {
      switch (i % 3) {
        case 0: {
          // The client starts the closing handshake.
          const ws = await connect(url, { logger: null });
          await ws.send("hello");
          await ws.close();
          break;
        }
        case 1: {
          // The server starts it.
          const ws = await connect(url, { logger: null });
          await ws.send("close me");
          await ws.closed;
          break;
        }
        default: {
          // The client vanishes without a close frame.
          const peer = await rawConnect(port);
          peer.socket.destroy();
          await peer.reader.closed;
        }
      }
    } catch {
      failures++;
    }
  }

  async function run(count: number): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) await cycle(next++);
      }),
    );
  }

  // Warm up pools, JIT and lazily built structures before the baseline.
  await run(WARMUP);
  await waitForNoConnections();
  const handles = activeResources();
  const heapBefore = heapAfterGc();

  await run(TOTAL);
  await waitForNoConnections();
  assert.equal(failures, 0, `${failures} cycles failed`);

  await assertNoLeaks(handles);
  const heapAfter = heapAfterGc();
  const growth = heapAfter - heapBefore;
  // 10,000 connections leaking even 400 bytes each would exceed this.
  assert.ok(
    growth < 4 * 1024 * 1024,
    `heap grew by ${(growth / 1024).toFixed(0)} KiB over ${TOTAL} connections`,
  );

  await server.close();

  async function waitForNoConnections(): Promise<void> {
    for (let i = 0; i < 500 && server.connections.size > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.connections.size, 0, "connections left in server.connections");
  }
});
