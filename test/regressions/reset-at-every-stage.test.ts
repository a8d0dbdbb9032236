// Peers that reset the TCP connection at every stage of its life (right
// after connecting, mid-handshake, after it, mid-frame, mid-fragmented
// message, mid-echo of a 64 KiB message, with and without compression)
// must leave nothing behind, on a server or on a client: after a first half
// of such connections and a second half, the heap after forced collections
// is where it was, and so are the handles.
import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { deflateRawSync } from "node:zlib";
import { connect, serve } from "../../src/index.ts";
import {
  fakeServer,
  frame,
  handshakeResponse,
  OP_BINARY,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type RawPeer,
  rawConnect,
  tcpConnect,
  upgradeRequest,
  withTimeout,
} from "../helpers/net.ts";
import { activeResources, assertNoLeaks, checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

// Exposes gc() without a command-line flag, so the file runs under `npm test`.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const MiB = 1024 * 1024;
const WARMUP = 20;
const HALF = 80;
const CONCURRENCY = 8;
const DEFLATE = { headers: { "Sec-WebSocket-Extensions": "permessage-deflate" } };

function memoryAfterGc(): number {
  for (let i = 0; i < 4; i++) gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

function reset(socket: Socket): Promise<void> {
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.resetAndDestroy();
  return closed;
}

/** Waits until the server answered a ping: it processed every frame sent before. */
async function synced(peer: RawPeer): Promise<void> {
  peer.send(frame(OP_PING, "sync"));
  for (let i = 0; i < 100; i++) {
    const next = await peer.reader.next();
    if (next === null || next.opcode === OP_PONG) return;
  }
}

const STAGES: ReadonlyArray<readonly [string, (port: number) => Promise<void>]> = [
  ["right after connecting", async (port) => reset(await tcpConnect(port))],
  [
    "mid-handshake",
    async (port) => {
      const socket = await tcpConnect(port);
      socket.write(upgradeRequest("127.0.0.1", port).subarray(0, 60));
      await new Promise((resolve) => setImmediate(resolve));
      await reset(socket);
    },
  ],
  ["after the handshake", async (port) => reset((await rawConnect(port)).socket)],
  [
    "mid-frame",
    async (port) => {
      const peer = await rawConnect(port);
      const whole = frame(OP_BINARY, Buffer.alloc(1000, 0x62));
      // Synced first: a ping after half a frame would be read as its payload.
      await synced(peer);
      peer.send(whole.subarray(0, 500));
      await new Promise((resolve) => setTimeout(resolve, 2));
      await reset(peer.socket);
    },
  ],
  [
    "mid-fragmented message",
    async (port) => {
      const peer = await rawConnect(port);
      peer.send(frame(OP_TEXT, "first fragment, ", { fin: false }));
      peer.send(frame(OP_CONT, "second fragment", { fin: false }));
      await synced(peer);
      await reset(peer.socket);
    },
  ],
  [
    "mid-fragmented compressed message",
    async (port) => {
      const peer = await rawConnect(port, DEFLATE);
      const payload = deflateRawSync(Buffer.alloc(10_000, 0x61)).subarray(0, 20);
      peer.send(frame(OP_BINARY, payload, { fin: false, rsv1: true }));
      await synced(peer);
      await reset(peer.socket);
    },
  ],
  [
    "mid-echo of a 64 KiB message",
    async (port) => {
      const peer = await rawConnect(port);
      peer.send(frame(OP_BINARY, Buffer.alloc(65_536, 0x63)));
      await waitForBytes(peer);
      await reset(peer.socket);
    },
  ],
  [
    "mid-echo of a 64 KiB compressed message",
    async (port) => {
      const peer = await rawConnect(port, DEFLATE);
      const message = Buffer.alloc(65_536);
      for (let i = 0; i < message.length; i++) message[i] = (i * 7919) & 0xff;
      peer.send(frame(OP_BINARY, deflateRawSync(message), { rsv1: true }));
      await waitForBytes(peer);
      await reset(peer.socket);
    },
  ],
];

/** Waits until the first bytes of the echo arrived: the server is writing it. */
async function waitForBytes(peer: RawPeer): Promise<void> {
  for (let i = 0; i < 500 && peer.reader.bytesReceived === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Warms up, then runs two halves of `run(HALF)`: handles are back to the
 * baseline after each, and the heap after the second is where it was after
 * the first.
 */
async function assertFlat(
  t: { diagnostic(message: string): void },
  run: (perStage: number) => Promise<void>,
  connections: number,
): Promise<void> {
  await run(WARMUP);
  const handles = activeResources();
  await run(HALF);
  await assertNoLeaks(handles);
  const afterFirst = memoryAfterGc();
  await run(HALF);
  await assertNoLeaks(handles);
  const growth = memoryAfterGc() - afterFirst;
  t.diagnostic(
    `growth over the second ${connections} connections: ${(growth / 1024).toFixed(0)} KiB`,
  );
  // A connection leaking even 2 KiB would exceed this.
  assert.ok(
    growth < 2 * MiB,
    `heap and buffers grew by ${(growth / 1024).toFixed(0)} KiB over ${connections} reset connections`,
  );
}

test("connections reset at every stage leave the server's heap and handles as they were", async (t) => {
  const server = await serve(
    async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    { host: "127.0.0.1", port: 0, logger: null },
  );
  const { port } = server.address as { port: number };

  let failures = 0;
  async function run(perStage: number): Promise<void> {
    const jobs: Array<() => Promise<void>> = [];
    for (let i = 0; i < perStage; i++) {
      for (const [, stage] of STAGES) jobs.push(() => stage(port));
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++];
          await withTimeout(job(), 10_000, "a connection took over 10 s").catch(() => {
            failures++;
          });
        }
      }),
    );
    // The server sees each reset a few turns after the client.
    for (let i = 0; i < 500 && server.connections.size > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.connections.size, 0, "connections left in server.connections");
  }

  try {
    await assertFlat(t, run, HALF * STAGES.length);
    assert.equal(failures, 0, `${failures} connections failed`);
  } finally {
    await server.close();
  }
});

/** What a server that resets the connection does at each stage, for a client under test. */
const SERVER_STAGES: ReadonlyArray<(socket: Socket, key: string) => Promise<void> | void> = [
  // Mid-handshake: the request was read, no response.
  (socket) => void reset(socket),
  // Half a response.
  (socket, key) => {
    socket.write(handshakeResponse(key).subarray(0, 40), () => void reset(socket));
  },
  // Right after the response.
  (socket, key) => {
    socket.write(handshakeResponse(key), () => void reset(socket));
  },
  // Mid-frame.
  (socket, key) => {
    const half = frame(OP_BINARY, Buffer.alloc(1000, 0x62), { mask: false }).subarray(0, 500);
    socket.write(Buffer.concat([handshakeResponse(key), half]), () => void reset(socket));
  },
  // Mid-fragmented message.
  (socket, key) => {
    const first = frame(OP_TEXT, "first fragment, ", { fin: false, mask: false });
    const second = frame(OP_CONT, "second fragment", { fin: false, mask: false });
    socket.write(Buffer.concat([handshakeResponse(key), first, second]), () => void reset(socket));
  },
  // Mid-fragmented compressed message.
  (socket, key) => {
    const response = handshakeResponse(key, { "Sec-WebSocket-Extensions": "permessage-deflate" });
    const payload = deflateRawSync(Buffer.alloc(10_000, 0x61)).subarray(0, 20);
    const first = frame(OP_BINARY, payload, { fin: false, rsv1: true, mask: false });
    socket.write(Buffer.concat([response, first]), () => void reset(socket));
  },
  // Mid-echo of a 64 KiB message: reset once the client's echo starts.
  (socket, key) => {
    const message = frame(OP_BINARY, Buffer.alloc(65_536, 0x63), { mask: false });
    socket.write(Buffer.concat([handshakeResponse(key), message]));
    socket.once("data", () => void reset(socket));
    socket.resume();
  },
];

test("clients whose server resets the connection at every stage keep nothing either", async (t) => {
  const fake = await fakeServer((socket, request) => {
    const stage = Number(/^GET \/(\d+)/.exec(request.head)?.[1] ?? 0);
    void SERVER_STAGES[stage % SERVER_STAGES.length](socket, request.key);
  });

  async function cycle(stage: number): Promise<void> {
    let ws: Awaited<ReturnType<typeof connect>>;
    try {
      ws = await connect(`${fake.url}${stage}`, { logger: null, openTimeout: 5000 });
    } catch {
      // Reset during the handshake: connect() rejects, as it should.
      return;
    }
    try {
      for await (const message of ws) await ws.send(message);
    } catch {
      // ConnectionClosedError: the reset.
    }
    await ws.closed;
  }

  async function run(perStage: number): Promise<void> {
    const jobs: number[] = [];
    for (let i = 0; i < perStage; i++) {
      for (let stage = 0; stage < SERVER_STAGES.length; stage++) jobs.push(stage);
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          await withTimeout(cycle(jobs[next++]), 10_000, "a connection took over 10 s");
        }
      }),
    );
  }

  try {
    await assertFlat(t, run, HALF * SERVER_STAGES.length);
  } finally {
    await fake.close();
  }
});
