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
import { connect, serve } from "../src/index.ts";

const FILE_SIZE = 16 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** A stand-in for `fs.createReadStream(path)`: FILE_SIZE bytes in chunks. */
async function* file(seed: Buffer): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < FILE_SIZE; sent += CHUNK) yield seed;
}

const server = await serve(
  async (ws) => {
    // Upload: a checksum message, then the file as one fragmented message.
    const expected = await ws.recv({ decode: true });
    const hash = createHash("sha256");
    let size = 0;
    for await (const fragment of ws.recvStreaming({ maxSize: 64 * 1024 * 1024 })) {
      hash.update(fragment as Buffer);
      size += (fragment as Buffer).length;
    }
    const ok = hash.digest("hex") === expected;
    await ws.send(`upload: ${size} bytes, checksum ${ok ? "ok" : "MISMATCH"}`);
    // Download: the same way back.
    const seed = randomBytes(CHUNK);
    const back = createHash("sha256");
    for (let sent = 0; sent < FILE_SIZE; sent += CHUNK) back.update(seed);
    await ws.send(back.digest("hex"));
    await ws.send(file(seed));
  },
  { host: "127.0.0.1", port: 0, maxSize: 1024 * 1024 },
);

const { port } = server.address as { port: number };
const ws = await connect(`ws://127.0.0.1:${port}`, { maxSize: 1024 * 1024 });
const seed = randomBytes(CHUNK);
const hash = createHash("sha256");
for (let sent = 0; sent < FILE_SIZE; sent += CHUNK) hash.update(seed);
await ws.send(hash.digest("hex"));
await ws.send(file(seed));
console.log(await ws.recv());

const expected = await ws.recv({ decode: true });
const received = createHash("sha256");
let size = 0;
for await (const fragment of ws.recvStreaming({ maxSize: 64 * 1024 * 1024 })) {
  received.update(fragment as Buffer);
  size += (fragment as Buffer).length;
}
console.log(
  `download: ${size} bytes, checksum ${received.digest("hex") === expected ? "ok" : "MISMATCH"}`,
);
await ws.close();
await server.close();
