/**
 * Uploading a large file and downloading it back, fragment by fragment,
 * with a SHA-256 checksum to check it arrived whole. Neither side holds the
 * file in memory: `send()` takes the file's read stream (an async iterable:
 * one frame per chunk read, waiting while the socket is busy), and
 * `recvStreaming({ maxSize })` yields the fragments under a limit of its
 * own, written to disk as they come, while the connection's `maxSize` stays
 * small for the messages held whole.
 *
 *   npx tsx examples/stream-file.ts
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Connection, connect, serve } from "../src/index.ts";

const MiB = 1024 * 1024;
const FILE_SIZE = 16 * MiB;
// The largest file accepted; other messages stay under maxSize (1 MiB).
const MAX_FILE_SIZE = 64 * MiB;

/** Sends the file at `path` as one fragmented message, then its SHA-256. */
async function sendFile(ws: Connection, path: string): Promise<void> {
  const hash = createHash("sha256");
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
      hash.update(chunk);
      yield chunk;
    }
  }
  await ws.send(chunks());
  await ws.send(hash.digest("hex"));
}

/** Receives what {@link sendFile} sent into `path`; says whether it arrived whole. */
async function receiveFile(ws: Connection, path: string): Promise<string> {
  const file = createWriteStream(path);
  const hash = createHash("sha256");
  let size = 0;
  for await (const fragment of ws.recvStreaming({ maxSize: MAX_FILE_SIZE })) {
    hash.update(fragment);
    size += fragment.length;
    // The disk's back-pressure: while we wait, reading from the socket
    // pauses, and the sender's send() waits.
    if (!file.write(fragment)) await once(file, "drain");
  }
  file.end();
  await once(file, "finish");
  const expected = await ws.recv({ decode: true });
  return `${size} bytes, checksum ${hash.digest("hex") === expected ? "ok" : "MISMATCH"}`;
}

const dir = mkdtempSync(join(tmpdir(), "stream-file-"));
try {
  const server = await serve(
    async (ws) => {
      const stored = join(dir, `upload-${ws.id}`);
      await ws.send(`upload: ${await receiveFile(ws, stored)}`);
      await sendFile(ws, stored);
    },
    { host: "127.0.0.1", port: 0, maxSize: MiB },
  );

  const original = join(dir, "original");
  writeFileSync(original, randomBytes(FILE_SIZE));
  const ws = await connect(`ws://127.0.0.1:${server.port}`, { maxSize: MiB });
  await sendFile(ws, original);
  console.log(await ws.recv());
  console.log(`download: ${await receiveFile(ws, join(dir, "downloaded"))}`);
  await ws.close();
  await server.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
