import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { OP_BINARY, writeFrame } from "../../src/frames.ts";
import { ConnectionSettings } from "../../src/node/options.ts";
import {
  controlPayload,
  describeType,
  PAUSED_BY_QUEUE,
  PAUSED_BY_WRITES,
  toBuffer,
  Writer,
} from "../../src/node/writer.ts";
import { withTimeout } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

let listener: Server;
let port: number;
const accepted: ((socket: Socket) => void)[] = [];

before(async () => {
  listener = createServer((socket) => accepted.shift()?.(socket));
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = (listener.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

checkLeaksAfterAll();

/** A connected pair of TCP sockets: `local` is written by the writer, `remote` is the peer. */
async function pair(): Promise<{ local: Socket; remote: Socket; close(): void }> {
  const remoteReady = new Promise<Socket>((resolve) => accepted.push(resolve));
  const local = tcpConnect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    local.once("connect", resolve);
    local.once("error", reject);
  });
  const remote = await remoteReady;
  return {
    local,
    remote,
    close: () => {
      local.destroy();
      remote.destroy();
    },
  };
}

/** Reads `size` bytes from `socket`. */
function readBytes(socket: Socket, size: number): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        total += chunk.length;
        if (total >= size) {
          socket.off("data", onData);
          resolve(Buffer.concat(chunks));
        }
      };
      socket.on("data", onData);
    }),
    5000,
    `fewer than ${size} bytes within 5 s`,
  );
}

/** Counts the writes a socket is asked to make, cork'ed ones included. */
function countWrites(socket: Socket): () => number {
  const counted = { writes: 0 };
  const original = socket.write.bind(socket);
  Object.defineProperty(socket, "write", {
    configurable: true,
    value: (...args: Parameters<Socket["write"]>) => {
      counted.writes += 1;
      return original(...args);
    },
  });
  return () => counted.writes;
}

/** Resolves once `condition()` holds, polling every 5 ms for at most 5 s. */
function until(condition: () => boolean, what: string): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (condition()) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    }),
    5000,
    `${what} within 5 s`,
  );
}

const settings = (writeLimit: number): ConnectionSettings =>
  new ConnectionSettings({ writeLimit }, { debug() {}, info() {}, warn() {}, error() {} });

describe("Writer", () => {
  it("writes what one turn queued in one write, in order", async () => {
    const { local, remote, close } = await pair();
    const writes = countWrites(local);
    const writer = new Writer(local);
    for (let i = 0; i < 10; i++) writer.queue(Buffer.from([i]));
    writer.schedule();
    writer.schedule();
    assert.equal(writer.buffered, 10);
    assert.deepEqual([...(await readBytes(remote, 10))], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(writes(), 1);
    close();
  });

  it("writes more than 64 KiB as one corked batch without copying into one buffer", async () => {
    const { local, remote, close } = await pair();
    const writes = countWrites(local);
    const writer = new Writer(local);
    const a = Buffer.alloc(40_000, 1);
    const b = Buffer.alloc(40_000, 2);
    writer.queue(a);
    writer.queue(b);
    writer.flush();
    const received = await readBytes(remote, 80_000);
    assert.deepEqual(received, Buffer.concat([a, b]));
    assert.equal(writes(), 2);
    close();
  });

  it("shares serialized frames between writers", async () => {
    const { local, remote, close } = await pair();
    const writer = new Writer(local);
    const frame = [Buffer.from([0x82, 0x01]), Buffer.from([0x2a])];
    writer.writeShared(frame);
    assert.deepEqual([...(await readBytes(remote, 3))], [0x82, 0x01, 0x2a]);
    close();
  });

  it("flushes the writers of one turn's shared frames together, each once, at the end of the turn", async () => {
    const pairs = [await pair(), await pair(), await pair()];
    const writes = pairs.map(({ local }) => countWrites(local));
    const writers = pairs.map(({ local }) => new Writer(local));
    const ticks = { count: 0 };
    const nextTick = process.nextTick;
    process.nextTick = ((...args: Parameters<typeof nextTick>) => {
      ticks.count += 1;
      return nextTick(...args);
    }) as typeof nextTick;
    try {
      for (let message = 0; message < 3; message++) {
        for (const writer of writers) writer.writeShared([Buffer.from([0x82, 0x01, message])]);
      }
    } finally {
      process.nextTick = nextTick;
    }
    assert.equal(ticks.count, 1);
    assert.ok(writes.every((count) => count() === 0));
    for (const { remote } of pairs) {
      assert.deepEqual(
        [...(await readBytes(remote, 9))],
        [0x82, 0x01, 0, 0x82, 0x01, 1, 0x82, 0x01, 2],
      );
    }
    assert.ok(writes.every((count) => count() === 1));
    // Done: the next turn's frames are flushed again.
    writers[0].writeShared([Buffer.from([0x82, 0x01, 3])]);
    assert.deepEqual([...(await readBytes(pairs[0].remote, 3))], [0x82, 0x01, 3]);
    for (const { close } of pairs) close();
  });

  it("joins the same frames queued by several writers once, and keeps each writer's own bytes in order", async () => {
    const pairs = [await pair(), await pair(), await pair()];
    try {
      const written: unknown[][] = pairs.map(() => []);
      pairs.forEach(({ local }, i) => {
        const original = local.write.bind(local);
        Object.defineProperty(local, "write", {
          configurable: true,
          value: (...args: Parameters<Socket["write"]>) => {
            written[i].push(args[0]);
            return original(...args);
          },
        });
      });
      const writers = pairs.map(({ local }) => new Writer(local));
      const frames = [0, 1, 2].map((n) => [Buffer.from([0x82, 0x01, n])]);
      // The last writer's own frame goes between the first and second shared one.
      for (const writer of writers) writer.writeShared(frames[0]);
      writers[2].queue(Buffer.from([0x81, 0x01, 0x41]));
      for (const frame of frames.slice(1)) for (const writer of writers) writer.writeShared(frame);
      const expected = [0x82, 0x01, 0, 0x82, 0x01, 1, 0x82, 0x01, 2];
      assert.deepEqual([...(await readBytes(pairs[0].remote, 9))], expected);
      assert.deepEqual([...(await readBytes(pairs[1].remote, 9))], expected);
      assert.deepEqual(
        [...(await readBytes(pairs[2].remote, 12))],
        [0x82, 0x01, 0, 0x81, 0x01, 0x41, 0x82, 0x01, 1, 0x82, 0x01, 2],
      );
      // One buffer, the same object, for the writers with the same frames.
      assert.equal(written[0].length, 1);
      assert.equal(written[0][0], written[1][0]);
      assert.notEqual(written[2][0], written[0][0]);
    } finally {
      for (const { close } of pairs) close();
    }
  });

  it("drops what is queued once the transport is gone", async () => {
    const { local, close } = await pair();
    const writer = new Writer(local);
    writer.queue(Buffer.from("lost"));
    local.destroy();
    assert.equal(writer.ended, true);
    writer.flush();
    writer.discard();
    assert.equal(writer.buffered, local.writableLength);
    close();
  });

  it("lets a sender go on under writeLimit, and makes it wait above until the peer reads", async () => {
    const { local, remote, close } = await pair();
    remote.pause();
    const writer = new Writer(local);
    const limits = settings(65_536);
    writer.queue(Buffer.alloc(1000));
    let settled = false;
    await writer.drained(limits);
    // Several MB: more than the kernel buffers take while the peer doesn't read.
    for (let i = 0; i < 64; i++) writer.queue(Buffer.alloc(131_072));
    const waiting = writer.drained(limits).then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false);
    remote.resume();
    await withTimeout(waiting, 5000, "the sender wasn't woken within 5 s");
    assert.ok(local.writableLength <= limits.writeLowWater);
    close();
  });

  it("pauses reading while what a read made it write exceeds writeLimit, then resumes", async () => {
    const { local, remote, close } = await pair();
    remote.pause();
    const writer = new Writer(local);
    const limits = settings(1024);
    // Under the limit: reading goes on.
    writer.queue(Buffer.alloc(100));
    writer.limitReading(limits);
    assert.equal(local.isPaused(), false);
    for (let i = 0; i < 64; i++) writer.queue(Buffer.alloc(131_072));
    writer.limitReading(limits);
    assert.equal(local.isPaused(), true);
    writer.flush();
    remote.resume();
    await until(() => !local.isPaused(), "reading didn't resume");
    close();
  });

  it("reads again only when neither reason to pause holds", () => {
    const transport = new PassThrough();
    const writer = new Writer(transport);
    transport.resume();
    writer.pauseReading(PAUSED_BY_QUEUE);
    writer.pauseReading(PAUSED_BY_WRITES);
    assert.equal(transport.isPaused(), true);
    writer.resumeReading(PAUSED_BY_QUEUE);
    assert.equal(transport.isPaused(), true);
    writer.resumeReading(PAUSED_BY_QUEUE);
    assert.equal(transport.isPaused(), true);
    writer.resumeReading(PAUSED_BY_WRITES);
    assert.equal(transport.isPaused(), false);
    transport.destroy();
  });

  it("keeps the fragmented message other sends wait for, and no state without one", () => {
    const writer = new Writer(new PassThrough());
    assert.equal(writer.fragmented, null);
    writer.fragmented = null;
    const sending = Promise.resolve();
    writer.fragmented = sending;
    assert.equal(writer.fragmented, sending);
    writer.fragmented = null;
    assert.equal(writer.fragmented, null);
    writer.transport.destroy();
  });
});

describe("Writer and the buffer of large masked frames", () => {
  /** A large masked frame as the client serializes it, and a copy of its bytes. */
  function masked(fill: number): { frame: Buffer; bytes: Buffer } {
    const out: Buffer[] = [];
    writeFrame(out, OP_BINARY, Buffer.alloc(70_000, fill), true, true);
    assert.equal(out.length, 1);
    return { frame: out[0], bytes: Buffer.from(out[0]) };
  }

  it("builds the next frame in the buffer of one the kernel took at once", async () => {
    const { local, remote, close } = await pair();
    const writer = new Writer(local);
    const a = masked(1);
    writer.queue(a.frame);
    writer.flush();
    assert.equal(local.writableLength, 0, "a write of 70 kB to an idle socket completes at once");
    const b = masked(2);
    assert.equal(b.frame.buffer, a.frame.buffer);
    writer.queue(b.frame);
    writer.flush();
    assert.deepEqual(await readBytes(remote, 140_028), Buffer.concat([a.bytes, b.bytes]));
    close();
  });

  it("leaves a frame's buffer to it while its write is pending, and to a stream that keeps it", async () => {
    const { local, remote, close } = await pair();
    const writer = new Writer(local);
    // Fill the kernel's buffers: the peer doesn't read yet.
    const filler = Buffer.alloc(8 * 1024 * 1024, 7);
    writer.queue(filler);
    writer.flush();
    assert.ok(local.writableLength > 0, "8 MiB unread fill the socket's buffers");
    const a = masked(1);
    writer.queue(a.frame);
    writer.flush();
    const b = masked(2);
    assert.notEqual(b.frame.buffer, a.frame.buffer);
    writer.queue(b.frame);
    writer.flush();
    const received = await readBytes(remote, filler.length + 140_028);
    assert.deepEqual(received.subarray(filler.length), Buffer.concat([a.bytes, b.bytes]));
    close();

    // A PassThrough's write completes while its readable side keeps the chunk.
    const stream = new PassThrough({ highWaterMark: 1 << 20 });
    const streamWriter = new Writer(stream);
    const c = masked(3);
    streamWriter.queue(c.frame);
    streamWriter.flush();
    assert.equal(stream.writableLength, 0);
    assert.notEqual(masked(4).frame.buffer, c.frame.buffer);
    assert.deepEqual(stream.read(), c.bytes);
    stream.destroy();
  });
});

describe("toBuffer", () => {
  it("views bytes without copying and refuses anything else", () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const view = toBuffer(bytes.subarray(1, 3))!;
    assert.deepEqual([...view], [2, 3]);
    view[0] = 9;
    assert.equal(bytes[1], 9);
    assert.deepEqual([...toBuffer(new DataView(bytes.buffer, 2, 2))!], [3, 4]);
    assert.equal(toBuffer(bytes.buffer)!.length, 4);
    assert.equal(toBuffer("text"), null);
    assert.equal(toBuffer(42), null);
  });
});

describe("describeType", () => {
  it("names primitives, null and classes", () => {
    assert.equal(describeType(null), "null");
    assert.equal(describeType(1), "number");
    assert.equal(describeType(new Map()), "Map");
    assert.equal(describeType(Object.create(null)), "object");
  });
});

describe("controlPayload", () => {
  it("encodes strings as UTF-8, keeps bytes, and names a wrong type", () => {
    assert.deepEqual(controlPayload("é", "ping"), Buffer.from("é"));
    assert.deepEqual(controlPayload(new Uint8Array([1]), "pong"), Buffer.from([1]));
    const error = controlPayload(5 as never, "ping");
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, "ping() expects a string or bytes; got number");
  });
});
