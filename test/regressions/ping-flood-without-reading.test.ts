// A peer that writes pings as fast as it can and never reads made us queue
// every pong: the library wrote them on its own, outside the write buffer's
// limit (`writeLimit`) that `send()` obeys. 100,000 pings of 125 bytes grew
// the process by 19 MiB as a server and 36 MiB as a client. Now reading
// pauses while the write buffer is over its limit, so the peer's own writes
// stall and memory stays bounded, in both roles.
import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type ClientConnection, connect, type ServerConnection, serve } from "../../src/index.ts";
import {
  fakeServer,
  flood,
  frame,
  handshakeResponse,
  OP_PING,
  readResponseHead,
  tcpConnect,
  upgradeRequest,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const PINGS = 100_000;
const PAYLOAD = Buffer.alloc(125, 0x61);
// Well below the 12.7 MB of pongs a flood would queue without the limit.
const MAX_GROWTH = 8 * 1024 * 1024;
// The write buffer's limit (32 KiB), plus the pongs of the read that
// crossed it: reading stops there.
const MAX_BUFFERED = 256 * 1024;

/** Heap and buffers in use after full collections: what the process holds on to. */
function retained(): number {
  for (let i = 0; i < 3; i++) gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Writes PINGS pings in batches, respecting backpressure; stops when the peer stalls. */
async function pingFlood(socket: Socket, mask: boolean): Promise<number> {
  const one = frame(OP_PING, PAYLOAD, { mask });
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => one));
  const { written } = await flood(socket, batch, { maxBytes: PINGS * one.length, stallMs: 1000 });
  return Math.floor(written / one.length);
}

test("a server reading a ping flood from a peer that never reads stays bounded", async (t) => {
  let connection: ServerConnection | null = null;
  const server = await serve(
    async (ws: ServerConnection) => {
      connection = ws;
      await ws.closed;
    },
    { host: "127.0.0.1", port: 0, logger: null, pingInterval: null, closeTimeout: 200 },
  );
  const { port } = server.address as { port: number };
  const socket = await tcpConnect(port);
  try {
    socket.write(upgradeRequest("127.0.0.1", port));
    const { response } = await readResponseHead(socket);
    assert.equal(response.status, 101);
    // Never read again: the pongs pile up on the server's side.
    socket.pause();
    const before = retained();
    const sent = await pingFlood(socket, true);
    const growth = retained() - before;
    assert.ok(
      growth < MAX_GROWTH,
      `grew by ${(growth / 1048576).toFixed(1)} MiB after ${sent} pings (limit 8 MiB)`,
    );
    const unwritten = connection!.bufferedAmount;
    t.diagnostic(`${sent} pings read; growth ${growth} bytes, ${unwritten} bytes buffered`);
    assert.ok(unwritten < MAX_BUFFERED, `${unwritten} bytes buffered after ${sent} pings`);
  } finally {
    socket.destroy();
    await server.close();
  }
});

test("a client reading a ping flood from a peer that never reads stays bounded", async (t) => {
  let peer: Socket | null = null;
  let upgraded!: () => void;
  const ready = new Promise<void>((resolve) => {
    upgraded = resolve;
  });
  const fake = await fakeServer((socket, request) => {
    peer = socket;
    socket.write(handshakeResponse(request.key));
    // Paused by fakeServer, and never resumed: the pongs pile up on the client's side.
    upgraded();
  });
  let ws: ClientConnection | null = null;
  try {
    ws = await connect(fake.url, { logger: null, pingInterval: null, closeTimeout: 200 });
    await ready;
    const before = retained();
    const sent = await pingFlood(peer!, false);
    const growth = retained() - before;
    assert.ok(
      growth < MAX_GROWTH,
      `grew by ${(growth / 1048576).toFixed(1)} MiB after ${sent} pings (limit 8 MiB)`,
    );
    const unwritten = ws.bufferedAmount;
    t.diagnostic(`${sent} pings read; growth ${growth} bytes, ${unwritten} bytes buffered`);
    assert.ok(unwritten < MAX_BUFFERED, `${unwritten} bytes buffered after ${sent} pings`);
  } finally {
    (peer as Socket | null)?.destroy();
    await ws?.closed;
    await fake.close();
  }
});
