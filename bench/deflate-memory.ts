/**
 * Memory of idle connections with permessage-deflate: 1,000 connection
 * pairs (a client extension and a server extension each) exchange a few chat
 * messages both ways, then sit idle. One child process per implementation,
 * so allocations of one don't blur the other.
 *
 *   node --expose-gc --import tsx bench/deflate-memory.ts [--pairs 1000] [--messages 5] [--json]
 *   npm run bench -- deflate --memory
 *
 * Columns, per pair, in KiB: growth of RSS, V8 heap used and `arrayBuffers`
 * (Buffers) over the baseline, after a forced GC. Rows, each in a fresh
 * process:
 *
 * - `kept`: every pair exchanges its messages and keeps its zlib streams.
 * - `released`: every pair exchanges its messages, then `release()` runs on
 *   both extensions before the next pair starts, as the I/O layer does when
 *   a connection goes idle: only the saved windows remain, and the next pair
 *   reuses the memory freed (freed memory isn't returned to the system, so
 *   releasing everything at the end wouldn't lower RSS).
 * - `released, active again`: after `released`, every pair sends one more
 *   message each way: its streams are rebuilt from the windows, all at once.
 *
 * ws keeps its zlib streams until the connection closes: `kept` only. Each
 * implementation runs with its defaults (ours: 12-bit windows, memLevel 5;
 * ws: 15-bit windows, memLevel 8) and with the other's.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  ClientPerMessageDeflateFactory,
  type PerMessageDeflate,
  ServerPerMessageDeflateFactory,
} from "../src/extensions/permessage-deflate.ts";
import { Frame, OP_TEXT } from "../src/frames.ts";
import { chatMessages, type WsPerMessageDeflate, wsCall, wsHandshake } from "./deflate-workload.ts";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "1000" },
    messages: { type: "string", default: "5" },
    child: { type: "string" },
    phase: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

const PAIRS = Number(values.pairs);
const MESSAGES = Number(values.messages);

interface Setting {
  name: string;
  impl: "ours" | "ws";
  bits: number;
  memLevel: number;
}

const SETTINGS: Setting[] = [
  { name: "ours (12 bits, memLevel 5: defaults)", impl: "ours", bits: 12, memLevel: 5 },
  { name: "ours (15 bits, memLevel 8)", impl: "ours", bits: 15, memLevel: 8 },
  { name: "ws (15 bits, memLevel 8: defaults)", impl: "ws", bits: 15, memLevel: 8 },
  { name: "ws (12 bits, memLevel 5)", impl: "ws", bits: 12, memLevel: 5 },
];

interface Sample {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

type Phase = "kept" | "released" | "released, active again";

function sample(): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  // Twice: the first GC may only queue finalizers that free native memory.
  gc();
  gc();
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, arrayBuffers };
}

function perPair(after: Sample, before: Sample): Sample {
  const kib = (key: keyof Sample) => (after[key] - before[key]) / 1024 / PAIRS;
  return {
    rss: kib("rss"),
    heapUsed: kib("heapUsed"),
    arrayBuffers: kib("arrayBuffers"),
  };
}

// Everything created is kept here, so that GC can't collect what a measurement counts.
const retained: unknown[] = [];

async function child(setting: Setting, phase: Phase): Promise<Sample> {
  const messages = chatMessages(MESSAGES + 1);
  const base = sample();
  if (setting.impl === "ours") {
    const compressSettings = { memLevel: setting.memLevel };
    const clientFactory = new ClientPerMessageDeflateFactory({
      clientMaxWindowBits: setting.bits,
      serverMaxWindowBits: setting.bits,
      compressSettings,
    });
    const serverFactory = new ServerPerMessageDeflateFactory({ compressSettings });
    const pairs: [PerMessageDeflate, PerMessageDeflate][] = [];
    retained.push(pairs);
    const exchange = (client: PerMessageDeflate, server: PerMessageDeflate, message: Buffer) => {
      server.decode(client.encode(new Frame(OP_TEXT, message)), null);
      client.decode(server.encode(new Frame(OP_TEXT, message)), null);
    };
    for (let i = 0; i < PAIRS; i++) {
      const answer = serverFactory.processRequestParams(clientFactory.getRequestParams(), []);
      if (answer === null) throw new Error("the server declined the offer");
      const [response, server] = answer;
      const client = clientFactory.processResponseParams(response, []);
      for (let m = 0; m < MESSAGES; m++) exchange(client, server, messages[m]);
      if (phase !== "kept") {
        client.release();
        server.release();
      }
      pairs.push([client, server]);
    }
    if (phase === "released, active again") {
      for (const [client, server] of pairs) exchange(client, server, messages[MESSAGES]);
    }
    return perPair(sample(), base);
  }
  const options = {
    serverMaxWindowBits: setting.bits,
    clientMaxWindowBits: setting.bits,
    zlibDeflateOptions: { memLevel: setting.memLevel },
  };
  const pairs: { client: WsPerMessageDeflate; server: WsPerMessageDeflate }[] = [];
  retained.push(pairs);
  for (let i = 0; i < PAIRS; i++) {
    const pair = wsHandshake(options);
    for (let m = 0; m < MESSAGES; m++) {
      await wsCall(pair.server, "decompress", await wsCall(pair.client, "compress", messages[m]));
      await wsCall(pair.client, "decompress", await wsCall(pair.server, "compress", messages[m]));
    }
    pairs.push(pair);
  }
  return perPair(sample(), base);
}

if (values.child !== undefined) {
  const setting = SETTINGS.find((s) => s.name === values.child)!;
  console.log(JSON.stringify(await child(setting, values.phase as Phase)));
} else {
  const rows: { setting: string; phase: Phase; sample: Sample }[] = [];
  for (const setting of SETTINGS) {
    const phases: Phase[] =
      setting.impl === "ours" ? ["kept", "released", "released, active again"] : ["kept"];
    for (const phase of phases) {
      const run = spawnSync(
        process.execPath,
        [
          "--expose-gc",
          "--import",
          "tsx",
          fileURLToPath(import.meta.url),
          "--child",
          setting.name,
          "--phase",
          phase,
          "--pairs",
          String(PAIRS),
          "--messages",
          String(MESSAGES),
        ],
        { encoding: "utf8" },
      );
      if (run.status !== 0) throw new Error(`${setting.name} failed:\n${run.stderr}`);
      const result = JSON.parse(run.stdout.trim().split("\n").pop()!) as Sample;
      rows.push({ setting: setting.name, phase, sample: result });
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ pairs: PAIRS, messages: MESSAGES, rows }, null, 2));
  } else {
    console.log(
      `permessage-deflate memory: ${PAIRS} connection pairs (client + server extension), ` +
        `${MESSAGES} messages each way, KiB per pair over baseline, Node ${process.version}\n`,
    );
    const header = ["implementation", "phase", "RSS", "heap", "arrayBuffers"];
    const lines = rows.map(({ setting, phase, sample: s }) => [
      setting,
      phase,
      s.rss.toFixed(1),
      s.heapUsed.toFixed(1),
      s.arrayBuffers.toFixed(1),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const print = (cells: string[]) =>
      console.log(
        cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "),
      );
    print(header);
    for (const line of lines) print(line);
  }
}
