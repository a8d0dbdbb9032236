/**
 * Frame parsing and serialization throughput: our sans-I/O core against
 * `ws`'s own Receiver and Sender, on the same bytes, in the same run.
 *
 *   npx tsx bench/frames.ts [--rounds 5] [--duration 300] [--only "parse 64 KiB"]
 *
 * Rows: binary frames of 32 B, 1 KiB and 64 KiB, masked (what a server
 * receives, what a client sends) and unmasked. Parsing feeds a stream of
 * frames in 64 KiB chunks, like socket reads:
 *
 * - `Protocol`: `receiveData` + `eventsReceived`, everything our I/O layer
 *   calls per chunk (frame checks, message size accounting, events);
 * - `FrameParser`: the parser alone;
 * - `ws`: `Receiver#_write` (the Writable machinery skipped, to the benefit
 *   of ws), with a `message` listener. ws unmasks in place in the chunk and
 *   assembles messages; we copy masked payloads into their own buffer.
 *
 * Serializing: our `writeFrame` against ws's `Sender.frame` with
 * `readOnly: true` (what `ws.send(buffer)` uses: the caller's buffer isn't
 * modified, so a masked frame is copied).
 *
 * Rates are per second of CPU time of this process (GC threads included),
 * which other processes on a shared machine don't inflate. Each row
 * alternates implementations for several rounds, with a full GC before each
 * measurement, and keeps each one's best round.
 *
 * @module
 */

import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { FrameParser } from "../src/frame-parser.ts";
import { OP_BINARY, serializeFrame, writeFrame } from "../src/frames.ts";
import { Protocol } from "../src/protocol.ts";

// ws's package exports don't expose lib/receiver.js and lib/sender.js; its
// main module does, as properties. Typed here with what the bench uses.
interface WsReceiver {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  _write(chunk: Buffer, encoding: string, callback: () => void): void;
}
interface WsModule {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
}
const { Receiver, Sender } = createRequire(import.meta.url)("ws") as WsModule;

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "300" },
    only: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const DURATION_US = Number(values.duration) * 1000;
const CHUNK = 64 * 1024;
/** Consumes results, so that no work can be optimized away. */
let sink = 0;

interface Impl {
  name: string;
  /** Runs one unit of work; returns how many frames it handled. */
  step: () => number;
}

// A full GC before each measurement, so that garbage left by one
// implementation isn't collected on the next one's time.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Repeats `step` for about DURATION of CPU time; returns frames per CPU second. */
function measure(step: () => number): number {
  gc();
  // Warm-up: let the JIT settle.
  const warmEnd = cpuMicros() + DURATION_US / 4;
  while (cpuMicros() < warmEnd) step();
  let frames = 0;
  const start = cpuMicros();
  let now = start;
  while (now - start < DURATION_US) {
    frames += step();
    now = cpuMicros();
  }
  return (frames * 1e6) / (now - start);
}

/**
 * CPU time used by this process (all threads: GC helpers included), in
 * microseconds. Unlike wall time, other processes on a shared machine don't
 * inflate it.
 */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function compare(impls: Impl[]): number[] {
  const best = impls.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order so drift hits every implementation alike.
    const order =
      round % 2 === 0 ? impls.map((_, i) => i) : impls.map((_, i) => impls.length - 1 - i);
    for (const i of order) best[i] = Math.max(best[i], measure(impls[i].step));
  }
  return best;
}

/** A stream of `count` binary frames of `size` bytes, cut into 64 KiB chunks. */
function stream(size: number, masked: boolean): { chunks: Buffer[]; frames: number } {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = i & 0xff;
  const frame = serializeFrame(
    { opcode: OP_BINARY, data: payload, fin: true, rsv1: false, rsv2: false, rsv3: false },
    masked,
  );
  const frames = Math.max(1, Math.floor((1024 * 1024) / frame.length));
  const all = Buffer.concat(Array.from({ length: frames }, () => frame));
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += CHUNK) chunks.push(all.subarray(at, at + CHUNK));
  return { chunks, frames };
}

function parseImpls(size: number, masked: boolean): Impl[] {
  const { chunks, frames } = stream(size, masked);
  const side = masked ? "server" : "client";

  const protocol = new Protocol(side, { maxSize: null });
  const ours: Impl = {
    name: "Protocol",
    step: () => {
      for (const chunk of chunks) {
        protocol.receiveData(chunk);
        sink += protocol.eventsReceived().length;
      }
      return frames;
    },
  };

  const parser = new FrameParser({ mask: masked, onFrame: () => sink++ });
  const bare: Impl = {
    name: "FrameParser",
    step: () => {
      for (const chunk of chunks) parser.parse(chunk);
      return frames;
    },
  };

  const receiver = new Receiver({ isServer: masked, maxPayload: 0 });
  receiver.on("message", () => sink++);
  receiver.on("error", (error: Error) => {
    throw error;
  });
  const noop = () => {};
  const ws: Impl = {
    name: "ws",
    step: () => {
      for (const chunk of chunks) receiver._write(chunk, "buffer", noop);
      return frames;
    },
  };
  return [ours, bare, ws];
}

function serializeImpls(size: number, masked: boolean): Impl[] {
  const payload = Buffer.alloc(size, 0x61);
  const batch = Math.max(1, Math.floor((256 * 1024) / (size + 14)));
  const ours: Impl = {
    name: "writeFrame",
    step: () => {
      // A fresh output list per 16 frames, as Protocol#dataToSend hands out.
      let out: Buffer[] = [];
      for (let i = 0; i < batch; i++) {
        writeFrame(out, OP_BINARY, payload, true, masked);
        if ((i & 15) === 15) {
          sink += out.length;
          out = [];
        }
      }
      return batch;
    },
  };
  const options = { fin: true, opcode: 2, mask: masked, readOnly: true, rsv1: false };
  const ws: Impl = {
    name: "ws",
    step: () => {
      for (let i = 0; i < batch; i++) sink += Sender.frame(payload, options).length;
      return batch;
    },
  };
  return [ours, ws];
}

const SIZES: [string, number][] = [
  ["32 B", 32],
  ["1 KiB", 1024],
  ["64 KiB", 65536],
];

const rows: string[][] = [];
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const mbps = (framesPerSecond: number, size: number) =>
  `${((framesPerSecond * size) / 1e6).toFixed(0)} MB/s`;

for (const kind of ["parse", "serialize"] as const) {
  for (const [label, size] of SIZES) {
    // --only matches "parse 32 B", "serialize 64 KiB"...
    if (values.only !== undefined && !`${kind} ${label}`.includes(values.only)) continue;
    for (const masked of [false, true]) {
      const impls = kind === "parse" ? parseImpls(size, masked) : serializeImpls(size, masked);
      const result = compare(impls);
      const ws = result[result.length - 1];
      for (let i = 0; i < impls.length - 1; i++) {
        rows.push([
          kind,
          label,
          masked ? "masked" : "unmasked",
          impls[i].name,
          `${fmt(result[i])} fr/s (${mbps(result[i], size)})`,
          `${fmt(ws)} fr/s (${mbps(ws, size)})`,
          (result[i] / ws).toFixed(2),
        ]);
      }
      process.stderr.write(".");
    }
  }
}
process.stderr.write("\n");

const header = ["op", "size", "masking", "ours", "ours: frames/s", "ws: frames/s", "ours/ws"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));
console.log(
  `\nNode ${process.version}, best of ${ROUNDS} rounds of ${values.duration} ms of CPU time each (${sink} results consumed).`,
);
