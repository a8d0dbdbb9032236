// The client reads into one read buffer shared by its connections
// (transport.ts, sharedReads): what a connection keeps of a read must be a
// copy. Raw servers write frames in pieces, with pauses so that each piece
// is a read of its own, and tests check the messages once later reads
// have reused the buffer.

import { strict as assert } from "node:assert";
import type { Socket } from "node:net";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../../src/node/client.ts";
import {
  closeFrame,
  type FakeServer,
  fakeServer,
  frame,
  frameHeader,
  handshakeResponse,
  OP_BINARY,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  readFrames,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

// The raw servers never answer a close frame: don't wait long for one.
const quick = { closeTimeout: 100 };

// Long enough for the client to read one piece before the next is written.
const GAP_MS = 25;

/** `length` bytes counting from `seed`, so that messages differ from one another. */
function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (seed + i * 7) & 0xff;
  return out;
}

/** An unmasked frame from the server. */
function serverFrame(opcode: number, payload: Buffer | string): Buffer {
  return frame(opcode, payload, { mask: false });
}

/** Writes each piece, pausing between them. */
async function writeApart(socket: Socket, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    socket.write(piece);
    await sleep(GAP_MS);
  }
}

describe("client reads into a shared buffer", () => {
  const servers: FakeServer[] = [];
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  /** A server that completes the handshake, then runs `then` on the socket. */
  async function upgraded(then: (socket: Socket) => void): Promise<FakeServer> {
    const server = await fakeServer((socket, request) => {
      socket.write(handshakeResponse(request.key));
      then(socket);
    });
    servers.push(server);
    return server;
  }

  test("a payload spanning 2 to N reads arrives whole", async () => {
    const sizes = [6_000, 70_000, 300_000, 1_048_576];
    const payloads = sizes.map((size, i) => pattern(size, i));
    const server = await upgraded((socket) => {
      void (async () => {
        for (const payload of payloads) {
          const bytes = serverFrame(OP_BINARY, payload);
          // Cut at odd places: inside the header, then through the payload.
          const cuts = [3, 4_099, Math.floor(bytes.length / 2), bytes.length - 1];
          let at = 0;
          const pieces: Buffer[] = [];
          for (const cut of cuts) {
            if (cut <= at || cut >= bytes.length) continue;
            pieces.push(bytes.subarray(at, cut));
            at = cut;
          }
          pieces.push(bytes.subarray(at));
          await writeApart(socket, pieces);
        }
      })();
    });
    await using ws = await connect(server.url, { ...quick, maxSize: null });
    for (const payload of payloads) {
      const message = await ws.recv();
      assert.ok(Buffer.isBuffer(message));
      assert.equal(message.length, payload.length);
      assert.ok(message.equals(payload), `${payload.length} bytes`);
    }
  });

  test("messages kept by the application stay intact after later reads", async () => {
    // Each batch is one read over 4 KiB: small messages, a text message,
    // a header cut after its first bytes; the next batch reuses the buffer.
    const batches: Buffer[][] = [];
    const expected: Array<Buffer | string> = [];
    for (let b = 0; b < 4; b++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 12; i++) {
        const payload = pattern(500 + i, b * 16 + i);
        expected.push(payload);
        frames.push(serverFrame(OP_BINARY, payload));
      }
      const text = `batch ${b}: ${"é".repeat(300)}`;
      expected.push(text);
      frames.push(serverFrame(OP_TEXT, text));
      const spanning = pattern(9_000, 200 + b);
      expected.push(spanning);
      const bytes = serverFrame(OP_BINARY, spanning);
      frames.push(bytes.subarray(0, 2));
      batches.push([Buffer.concat(frames), bytes.subarray(2)]);
    }
    const server = await upgraded((socket) => {
      void writeApart(socket, batches.flat());
    });
    await using ws = await connect(server.url, quick);
    const kept: Array<Buffer | string> = [];
    for (let i = 0; i < expected.length; i++) kept.push(await ws.recv());
    // Every read has happened by now: compare what was kept.
    for (let i = 0; i < expected.length; i++) {
      const want = expected[i];
      const got = kept[i];
      if (typeof want === "string") assert.equal(got, want);
      else assert.ok(Buffer.isBuffer(got) && got.equals(want), `message ${i}`);
    }
  });

  test("a ping and a close frame in a large read keep their payloads", async () => {
    let pong: Buffer | null = null;
    const server = await upgraded((socket) => {
      const frames = readFrames(socket);
      void (async () => {
        socket.write(
          Buffer.concat([
            serverFrame(OP_BINARY, pattern(5_000, 1)),
            serverFrame(OP_PING, "ping payload"),
          ]),
        );
        // Another large read overwrites the buffer before the pong leaves.
        socket.write(serverFrame(OP_BINARY, pattern(6_000, 2)));
        const answer = await frames.next();
        if (answer?.opcode === OP_PONG) pong = answer.payload;
        socket.write(
          Buffer.concat([
            serverFrame(OP_BINARY, pattern(5_000, 3)),
            closeFrame(4000, "closing reason", { mask: false }),
          ]),
        );
      })();
    });
    const ws = await connect(server.url, quick);
    assert.deepEqual(await ws.recv(), pattern(5_000, 1));
    assert.deepEqual(await ws.recv(), pattern(6_000, 2));
    assert.deepEqual(await ws.recv(), pattern(5_000, 3));
    await ws.closed;
    assert.equal(pong === null ? null : (pong as Buffer).toString(), "ping payload");
    assert.equal(ws.closeCode, 4000);
    assert.equal(ws.closeReason, "closing reason");
  });

  test("connections reading at once each get their own messages", async () => {
    const count = 6;
    const server = await upgraded((socket) => {
      void (async () => {
        // Each connection learns its seed from the client's first message.
        const first = await readFrames(socket).next();
        const seed = first === null ? 0 : first.payload[0];
        const pieces: Buffer[] = [];
        for (let i = 0; i < count; i++) {
          const bytes = serverFrame(OP_BINARY, pattern(20_000, seed * 10 + i));
          pieces.push(bytes.subarray(0, 7_000), bytes.subarray(7_000));
        }
        await writeApart(socket, pieces);
      })();
    });
    const clients = await Promise.all([1, 2, 3].map(() => connect(server.url, quick)));
    try {
      await Promise.all(
        clients.map(async (ws, c) => {
          await ws.send(Buffer.from([c + 1]));
          for (let i = 0; i < count; i++) {
            const message = await ws.recv();
            assert.ok(
              Buffer.isBuffer(message) && message.equals(pattern(20_000, (c + 1) * 10 + i)),
            );
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((ws) => ws.close()));
    }
  });

  test("reading pauses and resumes while the application doesn't read", async () => {
    const total = 40;
    const server = await upgraded((socket) => {
      const frames: Buffer[] = [];
      for (let i = 0; i < total; i++) frames.push(serverFrame(OP_BINARY, pattern(16_384, i)));
      socket.write(Buffer.concat(frames));
    });
    await using ws = await connect(server.url, { ...quick, maxQueue: 2 });
    await sleep(100);
    for (let i = 0; i < total; i++) {
      const message = await ws.recv();
      assert.ok(Buffer.isBuffer(message) && message.equals(pattern(16_384, i)), `message ${i}`);
    }
  });

  test("a frame header split around a large read is parsed", async () => {
    const payload = pattern(80_000, 9);
    const { header } = frameHeader(OP_BINARY, payload.length, { mask: false });
    const server = await upgraded((socket) => {
      const lead = serverFrame(OP_BINARY, pattern(5_000, 8));
      void writeApart(socket, [
        Buffer.concat([lead, header.subarray(0, 5)]),
        Buffer.concat([header.subarray(5), payload.subarray(0, 10)]),
        payload.subarray(10),
      ]);
    });
    await using ws = await connect(server.url, quick);
    assert.deepEqual(await ws.recv(), pattern(5_000, 8));
    const message = await ws.recv();
    assert.ok(Buffer.isBuffer(message) && message.equals(payload));
  });
});
