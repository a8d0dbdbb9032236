/**
 * The worst handshakes a client can send, against our server and `ws`, in
 * the same run: how long one request can hold the event loop.
 *
 *   npm run bench -- handshake [--rounds 3] [--count 10]
 *
 * Rows, each one request on a fresh connection, sent whole, answered, then
 * the connection is dropped:
 *
 * - `plain`: what a browser sends (about 500 bytes), the baseline;
 * - `declined offers`: 120 lines of 8,100 bytes, each a list of
 *   `permessage-deflate; x` (about 41,000 offers in 980 KB, all invalid);
 * - `large headers`: 120 `X-Filler` lines of 8,100 bytes (980 KB);
 * - `subprotocols`: 120 lines of distinct subprotocol tokens (about 120,000
 *   of them, 980 KB), then `chat`, the one the server speaks.
 *
 * These are the largest requests our default limits let through (8 KiB a
 * line, 128 headers). Node's HTTP parser, which `ws` runs on, refuses
 * headers over 16 KiB by default (431): for a like-for-like comparison the
 * `ws` server here is raised to 1 MiB of headers (`maxHeaderSize`). Both
 * servers run permessage-deflate with default settings; ours also has
 * `subprotocols: ["chat"]`, ws a `handleProtocols` choosing `chat`.
 *
 * Figures: CPU time of this process (user + system, client side included,
 * which is the same work for both) per handshake, the best of the rounds,
 * and the longest wall time of one handshake over all rounds. CPU time isn't
 * inflated by other processes on a shared machine; wall time is.
 *
 * @module
 */

import { once } from "node:events";
import * as http from "node:http";
import { connect as netConnect } from "node:net";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { serve } from "../src/index.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    count: { type: "string", default: "10" },
  },
});
const ROUNDS = Number(values.rounds);
const COUNT = Number(values.count);
const LINES = 120;
const LINE_BYTES = 8100;

function listOf(item: (i: number) => string): string {
  const items: string[] = [];
  let length = 0;
  for (let i = 0; length < LINE_BYTES; i++) {
    const next = item(i);
    items.push(next);
    length += next.length + 2;
  }
  return items.join(", ");
}

function request(port: number, extraLines: string[]): Buffer {
  let head =
    `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\nOrigin: http://127.0.0.1\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36\r\n";
  for (const line of extraLines) head += `${line}\r\n`;
  return Buffer.from(`${head}\r\n`, "latin1");
}

const CASES: { name: string; lines: string[] }[] = [
  {
    name: "plain",
    lines: ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"],
  },
  {
    name: "declined offers",
    lines: Array(LINES).fill(`Sec-WebSocket-Extensions: ${listOf(() => "permessage-deflate; x")}`),
  },
  {
    name: "large headers",
    lines: Array.from({ length: LINES }, (_, i) => `X-Filler-${i}: ${"a".repeat(LINE_BYTES)}`),
  },
  {
    name: "subprotocols",
    lines: Array.from(
      { length: LINES },
      (_, line) => `Sec-WebSocket-Protocol: ${listOf((i) => `p${line}x${i}`)}`,
    ),
  },
];

/** One handshake: sends `data`, waits for the response head; its status. */
async function handshake(port: number, data: Buffer): Promise<number> {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(data);
  let head = "";
  for await (const chunk of socket) {
    head += (chunk as Buffer).toString("latin1");
    if (head.includes("\r\n\r\n") || head.length > 65_536) break;
  }
  socket.destroy();
  return Number(head.slice(9, 12));
}

interface Subject {
  name: string;
  start(): Promise<{ port: number; close: () => Promise<void> }>;
}

const SUBJECTS: Subject[] = [
  {
    name: "ours",
    async start() {
      const server = await serve(async (ws) => ws.close(), {
        host: "127.0.0.1",
        port: 0,
        logger: false,
        subprotocols: ["chat"],
      });
      return {
        port: (server.address as { port: number }).port,
        close: () => server.close(),
      };
    },
  },
  {
    name: "ws",
    async start() {
      const httpServer = http.createServer({ maxHeaderSize: 1 << 20 });
      const wss = new WebSocketServer({
        server: httpServer,
        perMessageDeflate: true,
        handleProtocols: (protocols) => (protocols.has("chat") ? "chat" : false),
      });
      wss.on("connection", (ws) => ws.close());
      httpServer.listen(0, "127.0.0.1");
      await once(httpServer, "listening");
      return {
        port: (httpServer.address() as { port: number }).port,
        close: async () => {
          for (const client of wss.clients) client.terminate();
          wss.close();
          httpServer.closeAllConnections();
          await new Promise((resolve) => httpServer.close(resolve));
        },
      };
    },
  },
];

interface Result {
  cpuUs: number;
  maxWallMs: number;
  statuses: Set<number>;
}

async function measure(subject: Subject, lines: string[], count: number): Promise<Result> {
  const { port, close } = await subject.start();
  const data = request(port, lines);
  const statuses = new Set<number>();
  let maxWallMs = 0;
  try {
    await handshake(port, data); // warm-up
    const cpu = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      statuses.add(await handshake(port, data));
      maxWallMs = Math.max(maxWallMs, performance.now() - start);
    }
    const used = process.cpuUsage(cpu);
    return { cpuUs: (used.user + used.system) / count, maxWallMs, statuses };
  } finally {
    await close();
  }
}

const rows: string[][] = [];
for (const { name, lines } of CASES) {
  const count = name === "plain" ? COUNT * 20 : COUNT;
  const best = new Map<string, Result>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? SUBJECTS : [...SUBJECTS].reverse();
    for (const subject of order) {
      const result = await measure(subject, lines, count);
      const previous = best.get(subject.name);
      if (previous === undefined) best.set(subject.name, result);
      else {
        previous.cpuUs = Math.min(previous.cpuUs, result.cpuUs);
        previous.maxWallMs = Math.max(previous.maxWallMs, result.maxWallMs);
        for (const status of result.statuses) previous.statuses.add(status);
      }
    }
  }
  const ours = best.get("ours")!;
  const ws = best.get("ws")!;
  const bytes = request(0, lines).length;
  rows.push([
    `${name} (${Math.round(bytes / 1024)} KiB)`,
    `${(ours.cpuUs / 1000).toFixed(2)} ms [${[...ours.statuses].join("/")}]`,
    `${(ws.cpuUs / 1000).toFixed(2)} ms [${[...ws.statuses].join("/")}]`,
    (ours.cpuUs / ws.cpuUs).toFixed(2),
    `${ours.maxWallMs.toFixed(1)} / ${ws.maxWallMs.toFixed(1)} ms`,
  ]);
}

const header = [
  "request",
  "ours CPU/handshake",
  "ws CPU/handshake",
  "ours/ws",
  "max wall ours / ws",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const print = (row: string[]): void => {
  process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join("  ")}\n`);
};
print(header);
print(widths.map((w) => "-".repeat(w)));
for (const row of rows) print(row);
process.stdout.write(
  `\n[status] is what each server answered. ${ROUNDS} rounds, ${COUNT} handshakes per round ` +
    `(${COUNT * 20} for plain); best CPU round, worst wall time.\n`,
);
