// A peer sends one message as a million fragments, empty or of one byte:
// assembling it must cost memory in proportion to its bytes, not to its
// frames. At first, every fragment kept a Frame object and a view of the
// socket chunk it arrived in until the message was complete: both roles
// grew by 230-320 MiB for a message of 1 MB, under the 1 MiB maxSize. Then,
// with fragments copied into blocks, the heap stayed flat but the RSS still
// grew by 19-30 MiB: the tens of thousands of Frames a 64 KiB read makes
// lived until the read's events were collected, and V8 grew its young
// generation to the maximum. Small fragments are now merged as they arrive.
//
// The victim runs in a process of its own, so that its RSS is its alone.
import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import { type Memory, startVictim, type Victim } from "../helpers/flood-victim.ts";
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

const FRAGMENTS = 1_000_000;
const MiB = 1024 * 1024;
// The bound: growth beyond the message itself.
const BOUND = 16 * MiB;
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

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
 * Writes all fragments but the last, waits until the victim processed
 * them, and returns how much it grew by meanwhile, after forced collections.
 */
async function growthWhileAssembling(
  victim: Victim,
  socket: Socket,
  reader: ReturnType<typeof readFrames>,
  head: Buffer,
  masked: boolean,
): Promise<Memory> {
  const before = await victim.memory();
  socket.write(head);
  socket.write(ping("all fragments sent", masked));
  await waitForPong(reader, "all fragments sent");
  const after = await victim.memory();
  return { rss: after.rss - before.rss, heap: after.heap - before.heap };
}

/** Asserts the growth is within the bound beyond the message's bytes. */
function checkGrowth(growth: Memory, message: Buffer, t: { diagnostic(text: string): void }): void {
  const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
  t.diagnostic(`growth: RSS ${mib(growth.rss)} MiB, heap and Buffers ${mib(growth.heap)} MiB`);
  for (const [what, bytes] of [
    ["RSS", growth.rss],
    ["heap and Buffers", growth.heap],
  ] as const) {
    assert.ok(
      bytes < BOUND + message.length,
      `the victim's ${what} grew by ${mib(bytes)} MiB while assembling ${message.length} bytes`,
    );
  }
}

for (const size of [0, 1] as const) {
  const what = `${FRAGMENTS.toLocaleString("en")} ${size === 0 ? "empty" : "1-byte"} fragments`;

  describe(`one message of ${what}`, () => {
    test("the server assembles and echoes it, growing by less than 16 MiB beyond the message", async (t) => {
      const victim = await startVictim("ours", "server");
      try {
        const peer = await rawConnect(victim.port);
        const { head, last, message } = fragmentedMessage(FRAGMENTS, size, true);
        const growth = await growthWhileAssembling(victim, peer.socket, peer.reader, head, true);
        checkGrowth(growth, message, t);
        peer.send(last);
        const echo = await peer.recvData(60_000);
        assert.equal(echo?.opcode, OP_BINARY);
        assert.ok(echo.payload.equals(message), "the echo differs from the message");
        await peer.close();
      } finally {
        await victim.stop();
      }
    });

    test("the client assembles and echoes it, growing by less than 16 MiB beyond the message", async (t) => {
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
      let victim: Victim | null = null;
      try {
        victim = await startVictim("ours", "client", fake.url);
        const { socket, reader } = await withTimeout(serverSide, 30_000, "no connection");
        const growth = await growthWhileAssembling(victim, socket, reader, head, false);
        checkGrowth(growth, message, t);
        socket.write(last);
        let echo = await reader.next(60_000);
        for (let i = 0; i < 1000 && echo !== null && echo.opcode !== OP_BINARY; i++) {
          echo = await reader.next(60_000);
        }
        assert.equal(echo?.opcode, OP_BINARY);
        assert.ok(echo.payload.equals(message), "the echo differs from the message");
        socket.destroy();
      } finally {
        await victim?.stop();
        await fake.close();
      }
    });
  });
}
