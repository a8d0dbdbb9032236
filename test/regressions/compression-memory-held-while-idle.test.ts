// Security review, item 10: after one compressed message, an idle
// connection held ~155 KiB of zlib streams until keepalive noticed it was
// idle, and forever with `pingInterval: null`. Now a shared sweep releases
// them after IDLE_RELEASE_DELAY without messages, whatever keepalive does;
// what stays is the windows: at most 2^12 bytes per direction with serve()'s
// default permessage-deflate (12-bit windows both ways).
import { strict as assert } from "node:assert";
import { after, before, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PerMessageDeflate } from "../../src/extensions/permessage-deflate.ts";
import { connect, type ServerConnection, serve } from "../../src/index.ts";
import { IDLE_RELEASE_DELAY, setIdleReleaseDelay } from "../../src/node/idle-release.ts";
import type { Protocol } from "../../src/protocol.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

// Long enough that a loaded machine doesn't sweep between the echo and the
// check that the streams are held; short enough to keep the test quick.
before(() => setIdleReleaseDelay(500));
after(() => setIdleReleaseDelay(IDLE_RELEASE_DELAY));
checkLeaksAfterAll();

function deflateOf(connection: unknown): PerMessageDeflate {
  const extension = (connection as { protocol: Protocol }).protocol.extensions[0];
  assert.ok(extension instanceof PerMessageDeflate);
  return extension;
}

async function released(extension: PerMessageDeflate): Promise<void> {
  // Bounded: a few sweeps at most.
  for (let i = 0; i < 500; i++) {
    const { compressor, decompressor } = extension.memory;
    if (!compressor && !decompressor) return;
    await sleep(10);
  }
  assert.fail(`still held: ${JSON.stringify(extension.memory)}`);
}

it("releases zlib streams of an idle connection without keepalive, in both roles", async () => {
  let serverSide: ServerConnection | null = null;
  const server = await serve(
    async (ws) => {
      serverSide = ws;
      for await (const message of ws) await ws.send(message);
    },
    { host: "127.0.0.1", port: 0, logger: false, pingInterval: null },
  );
  try {
    const { port } = server.address as { port: number };
    const ws = await connect(`ws://127.0.0.1:${port}/`, { logger: false, pingInterval: null });
    await ws.send("a compressible message ".repeat(100));
    await ws.recv();
    const client = deflateOf(ws);
    const serverDeflate = deflateOf(serverSide);
    for (const extension of [client, serverDeflate]) {
      assert.ok(
        extension.memory.compressor && extension.memory.decompressor,
        "held after a message",
      );
    }
    await released(client);
    await released(serverDeflate);
    for (const extension of [client, serverDeflate]) {
      assert.ok(extension.memory.windowBytes <= 2 * 4096, `${extension.memory.windowBytes} bytes`);
    }
    // The next message still goes through, its streams rebuilt.
    await ws.send("again");
    assert.equal(await ws.recv(), "again");
    await ws.close();
  } finally {
    await server.close();
  }
});
