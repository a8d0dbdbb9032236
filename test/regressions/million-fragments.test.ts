// A peer sends one message as a million fragments, empty or of one byte:
// assembling it must cost memory in proportion to its bytes, not to its
// frames. Before the fix, every fragment kept a Frame object and a view of
// the socket chunk it arrived in until the message was complete: both roles
// grew by 230-320 MiB for a message of 1 MB, under the 1 MiB maxSize.
import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { connect, serve } from "../../src/index.ts";
import {
  fakeServer,
  handshakeResponse,
  OP_BINARY,
  OP_CONT,
  OP_PING,
  OP_PONG,
  rawConnect,
  readFrames,
  withTimeout,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

// Exposes gc() without a command-line flag, so the file runs under `npm test`.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const FRAGMENTS = 1_000_000;
const MiB = 1024 * 1024;
// The bound: growth beyond the message itself.
const BOUND = 16 * MiB;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Heap and off-heap bytes (Buffers) in use after full collections. */
function memoryAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/**
 * The frames of a binary message of `count` fragments of `size` bytes each
 * (byte i of the message is i & 0xff), all but the last; and the last one.
 */
function fragmentedMessage(
  count: number,
  size: 0 | 1,
  masked: boolean,
): { head: Buffer; last: Buffer; message: Buffer } {
  const frameLength = 2 + (masked ? 4 : 0) + size;
  const head = Buffer.alloc((count - 1) * frameLength);
  const message = Buffer.alloc(count * size);
  for (let i = 0; i < count * size; i++) message[i] = i & 0xff;
  const write = (target: Buffer, offset: number, index: number, fin: boolean): void => {
    target[offset] = (fin ? 0x80 : 0) | (index === 0 ? OP_BINARY : OP_CONT);
    target[offset + 1] = (masked ? 0x80 : 0) | size;
    let p = offset + 2;
    if (masked) {
      MASK.copy(target, p);
      p += 4;
    }
    if (size === 1) target[p] = message[index] ^ (masked ? MASK[0] : 0);
  };
  for (let i = 0; i < count - 1; i++) write(head, i * frameLength, i, false);
  const last = Buffer.alloc(frameLength);
  write(last, 0, count - 1, true);
  return { head, last, message };
}

function ping(payload: string, masked: boolean): Buffer {
  const data = Buffer.from(payload);
  const header = Buffer.from([0x80 | OP_PING, (masked ? 0x80 : 0) | data.length]);
  if (!masked) return Buffer.concat([header, data]);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= MASK[i & 3];
  return Buffer.concat([header, MASK, body]);
}

/** Waits for the pong answering `payload`: the peer processed every frame before the ping. */
async function waitForPong(reader: ReturnType<typeof readFrames>, payload: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const next = await reader.next(60_000);
    assert.ok(next !== null, "the connection closed before the pong");
    if (next.opcode === OP_PONG && next.payload.toString() === payload) return;
  }
  assert.fail("no pong among the first 1000 frames");
}

/**
 * Writes all fragments but the last, waits until the peer processed them,
 * and returns how much memory the process grew by meanwhile.
 */
async function growthWhileAssembling(
  socket: Socket,
  reader: ReturnType<typeof readFrames>,
  head: Buffer,
  masked: boolean,
): Promise<number> {
  const before = memoryAfterGc();
  socket.write(head);
  socket.write(ping("all fragments sent", masked));
  await waitForPong(reader, "all fragments sent");
  return memoryAfterGc() - before;
}

for (const size of [0, 1] as const) {
  const what = `${FRAGMENTS.toLocaleString("en")} ${size === 0 ? "empty" : "1-byte"} fragments`;

  describe(`one message of ${what}`, () => {
    test("the server assembles and echoes it, growing by less than 16 MiB beyond the message", async (t) => {
      const server = await serve(
        async (ws) => {
          for await (const message of ws) await ws.send(message);
        },
        { host: "127.0.0.1", port: 0, logger: null },
      );
      try {
        const { port } = server.address as { port: number };
        const peer = await rawConnect(port);
        const { head, last, message } = fragmentedMessage(FRAGMENTS, size, true);
        const growth = await growthWhileAssembling(peer.socket, peer.reader, head, true);
        t.diagnostic(`growth: ${(growth / MiB).toFixed(1)} MiB`);
        assert.ok(
          growth < BOUND + message.length,
          `the process grew by ${(growth / MiB).toFixed(1)} MiB while assembling ${message.length} bytes`,
        );
        peer.send(last);
        const echo = await peer.recvData(60_000);
        assert.equal(echo?.opcode, OP_BINARY);
        assert.ok(echo.payload.equals(message), "the echo differs from the message");
        await peer.close();
      } finally {
        await server.close();
      }
    });

    test("the client assembles it, growing by less than 16 MiB beyond the message", async (t) => {
      const { head, last, message } = fragmentedMessage(FRAGMENTS, size, false);
      type Side = { socket: Socket; reader: ReturnType<typeof readFrames> };
      let accepted: (side: Side) => void = () => {};
      const serverSide = new Promise<Side>((resolve) => {
        accepted = resolve;
      });
      const fake = await fakeServer((socket, request) => {
        socket.write(handshakeResponse(request.key));
        accepted({ socket, reader: readFrames(socket, request.rest) });
      });
      try {
        const ws = await connect(fake.url, { logger: null, closeTimeout: 1000 });
        const { socket, reader } = await serverSide;
        const received = ws.recv();
        const growth = await growthWhileAssembling(socket, reader, head, false);
        t.diagnostic(`growth: ${(growth / MiB).toFixed(1)} MiB`);
        assert.ok(
          growth < BOUND + message.length,
          `the process grew by ${(growth / MiB).toFixed(1)} MiB while assembling ${message.length} bytes`,
        );
        socket.write(last);
        const data = await withTimeout(received, 60_000, "no message");
        assert.ok(Buffer.isBuffer(data));
        assert.ok(data.equals(message), "the message received differs from the one sent");
        socket.destroy();
        await ws.closed;
      } finally {
        await fake.close();
      }
    });
  });
}
