/**
 * An echo in one process, for instruction counts (a measuring tool, not a
 * rate: see bench/README.md, "Instructions per message"):
 *
 *   node --import tsx bench/echo-instructions.ts ours|compat [CHUNKS] [--text] [--size N] [--in-flight N] [--lib DIR]
 *   node --import tsx bench/echo-instructions.ts count ours|compat [N] [same options]
 *
 * Runs the bench's echo server (`ours`: `serve()` with
 * `for await (const m of ws) await ws.send(m)`; `compat`: `websockets-ts/ws`
 * with ws's echo) on 127.0.0.1 and a raw client socket in the same process
 * that writes CHUNKS chunks of `--in-flight` (16) masked frames of `--size`
 * bytes (32; binary, or text with `--text`), one chunk at a time: the next
 * once all its replies arrived. So the server does per chunk what it does
 * under the bench's load generator at that many in flight: one read, the
 * handler's awaits and sends, one write. Under callgrind with CHUNKS = N
 * then 2N, the difference of the two totals over the messages of N chunks
 * cancels start-up, the handshake and warm-up. The client's own work (one
 * write and one read a chunk) is in the count, the same for every server.
 *
 * `--lib DIR` loads the library from DIR/dist instead of this checkout's
 * (e.g. `--lib /work/wt/base`, for an A/B). Prints the message count.
 * `count` does the two callgrind runs (N, default 500, then 2N) and prints
 * the instructions per message.
 *
 * @module
 */

import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

if (process.argv[2] === "count") await count(process.argv.slice(3));

/**
 * Runs the echo under callgrind with N then 2N chunks and prints the
 * instructions per message. Instructions are counted from the end of the
 * warm-up to the exit only: start-up varies by more than the signal. The
 * echo and this process meet through files, not a pipe or a child process
 * of the echo, whose streams would give Node's stream functions other
 * shapes and deoptimize them in the counted part.
 */
async function count([which, n = "500", ...rest]: string[]): Promise<never> {
  const dir = mkdtempSync(join(tmpdir(), "echo-instructions-"));
  const total = async (chunks: number): Promise<number> => {
    rmSync(join(dir, "go"), { force: true });
    rmSync(join(dir, "ready"), { force: true });
    const child = spawn(
      "valgrind",
      [
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--instr-atstart=no",
        process.execPath,
        // One thread: concurrent compiler and GC threads would count too.
        "--single-threaded",
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        which,
        String(chunks),
        ...rest,
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ECHO_CALLGRIND: dir } },
    );
    let out = "";
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      out += text;
    });
    const exited = once(child, "exit");
    while (!existsSync(join(dir, "ready"))) await new Promise((resolve) => setTimeout(resolve, 50));
    execFileSync("callgrind_control", ["--instr=on", String(child.pid)], { stdio: "ignore" });
    writeFileSync(join(dir, "go"), "");
    await exited;
    const match = /Collected : (\d+)/.exec(out);
    if (match === null) throw new Error(`no callgrind total in:\n${out}`);
    return Number(match[1]);
  };
  const single = await total(Number(n));
  const double = await total(2 * Number(n));
  rmSync(dir, { recursive: true, force: true });
  const inFlightAt = rest.indexOf("--in-flight");
  const inFlight = inFlightAt === -1 ? 16 : Number(rest[inFlightAt + 1]);
  const perMessage = (double - single) / (Number(n) * inFlight);
  console.log(
    `${which} ${rest.join(" ")}: ${perMessage.toFixed(0)} instructions per message (totals ${single}, ${double})`,
  );
  process.exit(0);
}

const args = process.argv.slice(2);
const impl = args[0];
if (impl !== "ours" && impl !== "compat") {
  console.error(
    "usage: echo-instructions.ts ours|compat [CHUNKS] [--text] [--size N] [--in-flight N] [--lib DIR]",
  );
  process.exit(2);
}
const chunks = Number(args[1] ?? 1000);
const text = args.includes("--text");
const sizeAt = args.indexOf("--size");
const size = sizeAt === -1 ? 32 : Number(args[sizeAt + 1]);
const libAt = args.indexOf("--lib");
const lib = libAt === -1 ? new URL("../", import.meta.url) : pathToFileURL(`${args[libAt + 1]}/`);
const inFlightAt = args.indexOf("--in-flight");
const IN_FLIGHT = inFlightAt === -1 ? 16 : Number(args[inFlightAt + 1]);
// Warm-up chunks before the counted ones: both runs do them, so they cancel.
const WARMUP = Number(process.env.ECHO_WARMUP ?? 2000);

type Main = typeof import("../src/index.ts");
type WsApi = typeof import("../src/ws/index.ts");

/** Starts the echo; returns its port and how to stop it. */
async function start(): Promise<{ port: number; stop: () => Promise<void> }> {
  if (impl === "ours") {
    const { serve } = (await import(new URL("dist/index.js", lib).href)) as Main;
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      { host: "127.0.0.1", port: 0 },
    );
    return { port: server.port, stop: () => server.close() };
  }
  const { WebSocketServer } = (await import(new URL("dist/ws/index.js", lib).href)) as WsApi;
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  await once(wss, "listening");
  const address = wss.address() as { port: number };
  return {
    port: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** IN_FLIGHT masked frames of `size` bytes, as the load generator sends them. */
function chunk(): Buffer {
  const header = size < 126 ? 6 : 8;
  const frame = Buffer.alloc(header + size);
  frame[0] = 0x80 | (text ? 0x1 : 0x2);
  if (size < 126) frame[1] = 0x80 | size;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(size, 2);
  }
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  key.copy(frame, header - 4);
  for (let i = 0; i < size; i++) frame[header + i] = (0x61 + (i % 26)) ^ key[i % 4];
  return Buffer.concat(Array.from({ length: IN_FLIGHT }, () => frame));
}

/** Resolves once `bytes` more bytes were read from `socket`. */
function reader(socket: Socket): (bytes: number) => Promise<void> {
  let wanted = 0;
  let wake: (() => void) | null = null;
  socket.on("data", (data: Buffer) => {
    wanted -= data.length;
    if (wanted <= 0 && wake !== null) {
      const resolve = wake;
      wake = null;
      resolve();
    }
  });
  return (bytes) => {
    wanted += bytes;
    if (wanted <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      wake = resolve;
    });
  };
}

const { port, stop } = await start();
const socket = connect({ host: "127.0.0.1", port, noDelay: true });
await once(socket, "connect");
socket.write(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
);
const [response] = (await once(socket, "data")) as [Buffer];
if (!response.toString("latin1").startsWith("HTTP/1.1 101")) {
  throw new Error(`handshake failed: ${response.toString("latin1")}`);
}
const read = reader(socket);
const data = chunk();
const replies = IN_FLIGHT * ((size < 126 ? 2 : 4) + size);
const echo = async (count: number): Promise<void> => {
  for (let i = 0; i < count; i++) {
    const replied = read(replies);
    socket.write(data);
    await replied;
  }
};
await echo(WARMUP);
const counting = process.env.ECHO_CALLGRIND;
if (counting !== undefined) {
  // Waits, without the event loop, for `count` to start counting.
  writeFileSync(join(counting, "ready"), "");
  const sleep = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(join(counting, "go"))) Atomics.wait(sleep, 0, 0, 20);
}
await echo(chunks);
socket.destroy();
await stop();
console.log(`${impl}: ${chunks * IN_FLIGHT} messages echoed after ${WARMUP * IN_FLIGHT}`);
