/**
 * permessage-deflate benchmark: compression and decompression throughput and
 * bytes saved on a JSON chat workload, ours against `ws`'s PerMessageDeflate
 * (asynchronous, on the zlib thread pool) in the same run.
 *
 *   npm run bench -- deflate [--rounds 5] [--messages 1000] [--memory] [--json]
 *
 * One direction of one connection: the server compresses each message, the
 * client decompresses it, message after message, as a connection does (ws
 * serializes compression per connection too). Both sides negotiate through
 * their own factories, with the same parameters in each row:
 *
 * - `defaults`: what each library does out of the box with compression on
 *   (ours: 12-bit windows, memLevel 5; ws: 15-bit windows, memLevel 8).
 * - `15 bits, memLevel 8`: ws's defaults for both.
 * - `12 bits, memLevel 5`: our defaults for both.
 * - `no context takeover`: 15 bits, memLevel 8, a fresh window per message.
 *
 * The `one-shot` column is the design we didn't pick: each message through
 * `zlib.deflateRawSync()` / `inflateRawSync()` with the previous window as a
 * preset dictionary (see docs/compression.md).
 *
 * Each row runs every implementation for several rounds, alternating the
 * order, and keeps the best round. `--memory` runs bench/deflate-memory.ts
 * (1,000 idle connection pairs) instead.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { deflateRawSync, inflateRawSync, constants as zlibConstants } from "node:zlib";
import {
  ClientPerMessageDeflateFactory,
  type CompressSettings,
  type PerMessageDeflate,
  ServerPerMessageDeflateFactory,
} from "../src/extensions/permessage-deflate.ts";
import { Frame, OP_TEXT } from "../src/frames.ts";
import { chatMessages, wsCall, wsHandshake } from "./deflate-workload.ts";

const here = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    messages: { type: "string", default: "1000" },
    memory: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

if (values.memory) {
  const result = spawnSync(
    process.execPath,
    ["--expose-gc", "--import", "tsx", join(here, "deflate-memory.ts")],
    { stdio: "inherit" },
  );
  process.exit(result.status ?? 1);
}

const ROUNDS = Number(values.rounds);
const COUNT = Number(values.messages);

// --- Implementations ---------------------------------------------------------

interface Params {
  bits: number;
  memLevel: number;
  noContextTakeover: boolean;
}

interface Codec {
  compress(message: Buffer): Promise<Buffer> | Buffer;
  decompress(data: Buffer): Promise<Buffer> | Buffer;
}

function ours(params: Params): Codec {
  const compressSettings: CompressSettings = { memLevel: params.memLevel };
  const client = new ClientPerMessageDeflateFactory({
    serverMaxWindowBits: params.bits,
    clientMaxWindowBits: params.bits,
    serverNoContextTakeover: params.noContextTakeover,
    clientNoContextTakeover: params.noContextTakeover,
    compressSettings,
  });
  const server = new ServerPerMessageDeflateFactory({ compressSettings });
  const answer = server.processRequestParams(client.getRequestParams(), []);
  if (answer === null) throw new Error("the server declined the offer");
  const [response, sender] = answer;
  const receiver: PerMessageDeflate = client.processResponseParams(response, []);
  return {
    compress: (message) => sender.encode(new Frame(OP_TEXT, message)).data,
    decompress: (data) => receiver.decode(new Frame(OP_TEXT, data, true, true), null).data,
  };
}

function ws(params: Params): Codec {
  const options = {
    serverMaxWindowBits: params.bits,
    clientMaxWindowBits: params.bits,
    serverNoContextTakeover: params.noContextTakeover,
    clientNoContextTakeover: params.noContextTakeover,
    zlibDeflateOptions: { memLevel: params.memLevel },
  };
  const { client, server } = wsHandshake(options);
  return {
    compress: (data) => wsCall(server, "compress", data),
    decompress: (data) => wsCall(client, "decompress", data),
  };
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The rejected design: one-shot calls with the previous window as dictionary. */
function oneShot(params: Params): Codec {
  const size = 1 << params.bits;
  let sent: Buffer = Buffer.alloc(0);
  let received: Buffer = Buffer.alloc(0);
  const keep = (window: Buffer, data: Buffer) => {
    if (params.noContextTakeover) return window;
    const joined = Buffer.concat([window, data]);
    return joined.length > size ? joined.subarray(joined.length - size) : joined;
  };
  return {
    compress(message) {
      const out = deflateRawSync(message, {
        windowBits: params.bits,
        memLevel: params.memLevel,
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        ...(sent.length > 0 ? { dictionary: sent } : {}),
      });
      sent = keep(sent, message);
      return out.subarray(0, out.length - 4);
    },
    decompress(data) {
      const out = inflateRawSync(Buffer.concat([data, TAIL]), {
        windowBits: params.bits,
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        ...(received.length > 0 ? { dictionary: received } : {}),
      });
      received = keep(received, out);
      return out;
    },
  };
}

const IMPLEMENTATIONS = { ours, ws, "one-shot": oneShot } as const;
type Impl = keyof typeof IMPLEMENTATIONS;

// --- Measurement -------------------------------------------------------------

interface Round {
  compressMs: number;
  decompressMs: number;
  compressed: number;
}

async function round(impl: Impl, params: Params, messages: Buffer[]): Promise<Round> {
  const codec = IMPLEMENTATIONS[impl](params);
  const compressed: Buffer[] = new Array(messages.length);
  let start = performance.now();
  for (let i = 0; i < messages.length; i++) compressed[i] = await codec.compress(messages[i]);
  const compressMs = performance.now() - start;
  start = performance.now();
  const decompressed: Buffer[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) decompressed[i] = await codec.decompress(compressed[i]);
  const decompressMs = performance.now() - start;
  for (let i = 0; i < messages.length; i++) {
    if (!decompressed[i].equals(messages[i])) throw new Error(`${impl}: message ${i} differs`);
  }
  return { compressMs, decompressMs, compressed: compressed.reduce((n, b) => n + b.length, 0) };
}

const ROWS: [string, Params, Params][] = [
  [
    "defaults",
    { bits: 12, memLevel: 5, noContextTakeover: false },
    { bits: 15, memLevel: 8, noContextTakeover: false },
  ],
  ["15 bits, memLevel 8", ...twice({ bits: 15, memLevel: 8, noContextTakeover: false })],
  ["12 bits, memLevel 5", ...twice({ bits: 12, memLevel: 5, noContextTakeover: false })],
  ["no context takeover", ...twice({ bits: 15, memLevel: 8, noContextTakeover: true })],
];

function twice(params: Params): [Params, Params] {
  return [params, params];
}

const messages = chatMessages(COUNT);
const plain = messages.reduce((n, b) => n + b.length, 0);

interface Result {
  row: string;
  impl: Impl;
  compressMBps: number;
  decompressMBps: number;
  compressUsPerMessage: number;
  decompressUsPerMessage: number;
  ratio: number;
}

// Warm-up, unmeasured: JIT, the zlib thread pool, allocator arenas.
for (const impl of ["ours", "ws", "one-shot"] as const) {
  await round(impl, ROWS[0][impl === "ws" ? 2 : 1], messages);
}

const results: Result[] = [];
for (const [row, ourParams, wsParams] of ROWS) {
  const impls: Impl[] = ["ours", "ws", "one-shot"];
  const best = new Map<Impl, Round>();
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so drift on a shared machine hits each alike.
    const order = r % 2 === 0 ? impls : [...impls].reverse();
    for (const impl of order) {
      const result = await round(impl, impl === "ws" ? wsParams : ourParams, messages);
      const previous = best.get(impl);
      best.set(impl, {
        compressMs: Math.min(previous?.compressMs ?? Infinity, result.compressMs),
        decompressMs: Math.min(previous?.decompressMs ?? Infinity, result.decompressMs),
        compressed: result.compressed,
      });
    }
  }
  for (const impl of impls) {
    const b = best.get(impl)!;
    results.push({
      row,
      impl,
      compressMBps: plain / 1e3 / b.compressMs,
      decompressMBps: plain / 1e3 / b.decompressMs,
      compressUsPerMessage: (b.compressMs * 1e3) / COUNT,
      decompressUsPerMessage: (b.decompressMs * 1e3) / COUNT,
      ratio: b.compressed / plain,
    });
  }
}

if (values.json) {
  console.log(JSON.stringify({ messages: COUNT, bytes: plain, results }, null, 2));
} else {
  console.log(
    `permessage-deflate, ${COUNT} chat messages (${(plain / 1024).toFixed(0)} KiB, ` +
      `${Math.round(plain / COUNT)} B average), best of ${ROUNDS} rounds, Node ${process.version}\n`,
  );
  const header = ["row", "metric", "ours", "ws", "ours/ws", "one-shot"];
  const lines: string[][] = [];
  for (const [row] of ROWS) {
    const get = (impl: Impl) => results.find((r) => r.row === row && r.impl === impl)!;
    const [o, w, s] = [get("ours"), get("ws"), get("one-shot")];
    const metrics: [string, (r: Result) => number, (n: number) => string, boolean][] = [
      ["compress MB/s", (r) => r.compressMBps, (n) => n.toFixed(1), true],
      ["decompress MB/s", (r) => r.decompressMBps, (n) => n.toFixed(1), true],
      ["compress µs/msg", (r) => r.compressUsPerMessage, (n) => n.toFixed(1), false],
      ["decompress µs/msg", (r) => r.decompressUsPerMessage, (n) => n.toFixed(1), false],
      ["bytes sent / plain", (r) => r.ratio, (n) => `${(n * 100).toFixed(1)}%`, false],
    ];
    metrics.forEach(([name, value, format], i) => {
      lines.push([
        i === 0 ? row : "",
        name,
        format(value(o)),
        format(value(w)),
        `${(value(o) / value(w)).toFixed(2)}x`,
        format(value(s)),
      ]);
    });
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const print = (cells: string[]) =>
    console.log(
      cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "),
    );
  print(header);
  for (const line of lines) print(line);
  console.log(
    "\nMB/s: plain bytes per second; ours/ws > 1 is better for MB/s, < 1 for µs and bytes sent.",
  );
}
