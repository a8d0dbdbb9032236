/**
 * Uploading and downloading a large file, fragment by fragment, with a
 * SHA-256 checksum to check it arrived whole. Neither side holds the file in
 * memory: `send()` takes an async iterable (one frame per chunk, waiting
 * when the socket is busy) and `recvStreaming({ maxSize })` yields fragments
 * under a limit of its own, while `maxSize` stays small for other messages.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { createHash, randomBytes } from "node:crypto";
import { type Connection, connect, serve } from "../src/index.ts";

const FILE_SIZE = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** A stand-in for `fs.createReadStream(path)`: FILE_SIZE bytes in chunks. */
async function* file(seed: Buffer): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < FILE_SIZE; sent += CHUNK) yield seed;
}

/** Sends the file's checksum, then the file as one fragmented message. */
async function sendFile(ws: Connection): Promise<void> {
  const seed = randomBytes(CHUNK);
  const hash = createHash("sha256");
  for (let sent = 0; sent < FILE_SIZE; sent += CHUNK) hash.update(seed);
  await ws.send(hash.digest("hex"));
  await ws.send(file(seed));
}

/** Receives what {@link sendFile} sent; says whether it arrived whole. */
async function receiveFile(ws: Connection): Promise<string> {
  const expected = await ws.recv({ decode: true });
  const hash = createHash("sha256");
  let size = 0;
  // Write each fragment to disk here: `maxSize` bounds the whole file.
  for await (const fragment of ws.recvStreaming({ maxSize: 64 * 1024 * 1024 })) {
    hash.update(fragment);
    size += fragment.length;
  }
  return `${size} bytes, checksum ${hash.digest("hex") === expected ? "ok" : "MISMATCH"}`;
}

const server = await serve(
  async (ws) => {
    await ws.send(`upload: ${await receiveFile(ws)}`);
    await sendFile(ws);
  },
  { host: "127.0.0.1", port: 0, maxSize: 1024 * 1024 },
);

const { port } = server;
const ws = await connect(`ws://127.0.0.1:${port}`, { maxSize: 1024 * 1024 });
await sendFile(ws);
console.log(await ws.recv());
console.log(`download: ${await receiveFile(ws)}`);
await ws.close();
await server.close();
