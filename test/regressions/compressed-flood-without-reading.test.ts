// Security finding for issue 16: a peer sending small permessage-deflate
// messages that each inflate to maxSize filled the receive queue with a
// whole read's worth of them before reading paused. 200 zero-filled 1 MiB
// messages (about 1 KiB each on the wire) left a client with default
// settings that never reads holding 62 messages and ~64 MiB, instead of
// maxQueue (16) times 1 MiB: the protocol inflated every frame of a 64 KiB
// read at once. Now it pauses parsing once a read decoded maxSize bytes and
// the connection parses the rest only while the queue has room, in both
// roles, without losing or reordering a message.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type ClientConnection, connect, type ServerConnection, serve } from "../../src/index.ts";
import { withTimeout } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const MESSAGES = 200;
const SIZE = 1024 * 1024; // the default maxSize
const MAX_QUEUE = 16; // the default maxQueue
// The queue pauses reading past maxQueue frames; one batch may add one more.
const MAX_QUEUED = MAX_QUEUE + 2;
// maxQueue + 2 messages of 1 MiB, plus slack; the flood queued 64 MiB.
const MAX_GROWTH = 24 * 1024 * 1024;

/** Message `i`: zeros, highly compressible, numbered so order shows. */
function message(i: number): Buffer {
  const data = Buffer.alloc(SIZE);
  data.writeUInt32BE(i, 0);
  data.writeUInt32BE(i, SIZE - 4);
  return data;
}

/** Array buffers in use after full collections: what the process holds on to. */
function retained(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().arrayBuffers;
}

function queued(ws: ServerConnection | ClientConnection): number {
  return (ws as unknown as { queue: { length: number } }).queue.length;
}

/** Sends the flood; resolves when sent or when the victim stalls it (1 s without progress). */
async function sendFlood(ws: ServerConnection | ClientConnection): Promise<void> {
  let sent = 0;
  const sending = (async () => {
    for (; sent < MESSAGES; sent++) await ws.send(message(sent));
  })();
  sending.catch(() => {});
  let last = -1;
  for (let i = 0; i < 100; i++) {
    const done = await Promise.race([sending.then(() => true), sleep(100).then(() => false)]);
    if (done) break;
    if (sent === last) break;
    last = sent;
  }
  // What the victim read so far is parsed: a few turns of the event loop.
  await sleep(200);
}

async function readAll(ws: ServerConnection | ClientConnection): Promise<void> {
  for (let i = 0; i < MESSAGES; i++) {
    const data = await withTimeout(ws.recv(), 10_000, `message ${i} didn't arrive`);
    assert.ok(Buffer.isBuffer(data));
    assert.equal(data.length, SIZE, `message ${i}`);
    assert.equal(data.readUInt32BE(0), i, "messages arrive in order");
    assert.equal(data.readUInt32BE(SIZE - 4), i, `message ${i} is intact`);
  }
}

function checkBounded(victim: ServerConnection | ClientConnection, growth: number): void {
  const count = queued(victim);
  assert.ok(count <= MAX_QUEUED, `${count} messages queued (limit ${MAX_QUEUED})`);
  assert.ok(
    growth < MAX_GROWTH,
    `grew by ${(growth / 1048576).toFixed(1)} MiB with ${count} messages queued (limit 24 MiB)`,
  );
}

test("a client that doesn't read a compressed flood holds about maxQueue messages", async () => {
  let flooded!: () => void;
  const done = new Promise<void>((resolve) => {
    flooded = resolve;
  });
  const server = await serve(
    async (ws: ServerConnection) => {
      await sendFlood(ws);
      flooded();
      await ws.closed;
    },
    { host: "127.0.0.1", port: 0, logger: null, pingInterval: null },
  );
  const { port } = server.address as { port: number };
  const before = retained();
  const ws = await connect(`ws://127.0.0.1:${port}/`, { logger: null, pingInterval: null });
  try {
    assert.equal(ws.protocol.extensions.length, 1, "permessage-deflate negotiated");
    await withTimeout(done, 20_000, "the flood didn't end");
    checkBounded(ws, retained() - before);
    await readAll(ws);
  } finally {
    await ws.close();
    await server.close();
  }
});

test("a server that doesn't read a compressed flood holds about maxQueue messages", async () => {
  let victim!: (ws: ServerConnection) => void;
  const connected = new Promise<ServerConnection>((resolve) => {
    victim = resolve;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await serve(
    async (ws: ServerConnection) => {
      victim(ws);
      await released;
    },
    { host: "127.0.0.1", port: 0, logger: null, pingInterval: null },
  );
  const { port } = server.address as { port: number };
  const before = retained();
  const ws = await connect(`ws://127.0.0.1:${port}/`, { logger: null, pingInterval: null });
  try {
    const serverSide = await connected;
    await withTimeout(sendFlood(ws), 20_000, "the flood didn't end");
    checkBounded(serverSide, retained() - before);
    await readAll(serverSide);
  } finally {
    release();
    await ws.close();
    await server.close();
  }
});
