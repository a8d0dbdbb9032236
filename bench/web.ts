/**
 * WHATWG WebSocket clients on Node: ours (`websockets-ts/web`), undici's
 * (npm `undici`) and, where Node has one, Node's global WebSocket. Each sends
 * N messages at once to a `ws` echo server on loopback (no compression: the
 * server doesn't offer it) and waits for every echo; rounds alternate
 * between clients, and the table shows the median time per round and the
 * ratio to undici.
 *
 *   npm run bench -- web [--messages 10000] [--rounds 7]
 */

import { parseArgs } from "node:util";
import { WebSocket as UndiciWebSocket } from "undici";
import { WebSocketServer } from "ws";
import { WebSocket } from "../src/web/index.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "10000" },
    rounds: { type: "string", default: "7" },
  },
});
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const SIZES = [16, 16 * 1024];
const ROUND_TIMEOUT_MS = 60_000;

type Client = new (
  url: string,
) => {
  binaryType: string;
  onopen: (() => void) | null;
  onmessage: (() => void) | null;
  onerror: (() => void) | null;
  send(data: Uint8Array): void;
  close(): void;
};

const clients: [string, Client][] = [
  ["ours", WebSocket as unknown as Client],
  ["undici", UndiciWebSocket as unknown as Client],
];
const global = (globalThis as { WebSocket?: Client }).WebSocket;
if (global !== undefined) clients.push(["node global", global]);

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
await new Promise<void>((resolve) => server.once("listening", resolve));
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
const url = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;

/** One round: open, send MESSAGES messages of `size` bytes, await every echo, close. Returns ms. */
function round(Impl: Client, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new Impl(url);
    ws.binaryType = "arraybuffer";
    const payload = new Uint8Array(size);
    let received = 0;
    let start = 0;
    const timer = setTimeout(() => reject(new Error("round timed out")), ROUND_TIMEOUT_MS);
    ws.onerror = () => reject(new Error("connection failed"));
    ws.onopen = () => {
      start = performance.now();
      for (let i = 0; i < MESSAGES; i++) ws.send(payload);
    };
    ws.onmessage = () => {
      received += 1;
      if (received === MESSAGES) {
        const elapsed = performance.now() - start;
        clearTimeout(timer);
        ws.close();
        resolve(elapsed);
      }
    };
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

console.log(`${MESSAGES} messages per round, ${ROUNDS} rounds, median ms (ratio to undici)`);
for (const size of SIZES) {
  const times = new Map<string, number[]>(clients.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so that neither client always runs first.
    const order = r % 2 === 0 ? clients : [...clients].reverse();
    for (const [name, Impl] of order) times.get(name)!.push(await round(Impl, size));
  }
  const undici = median(times.get("undici")!);
  const cells = clients.map(([name]) => {
    const ms = median(times.get(name)!);
    return `${name} ${ms.toFixed(1)} (${(ms / undici).toFixed(2)})`;
  });
  console.log(`${String(size).padStart(6)} B: ${cells.join(" | ")}`);
}

for (const client of server.clients) client.terminate();
server.close();
