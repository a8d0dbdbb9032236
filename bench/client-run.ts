/**
 * One client of bench/client.ts, in its own process, driving the C echo
 * server (bench/echoserver.c):
 *
 *   node --import tsx bench/client-run.ts ours|compat|ws URL SIZE CONNS INFLIGHT WARMUP_MS DURATION_MS
 *   bun bench/client-run.ts web ...     (Bun's or Deno's built-in WebSocket)
 *
 * `compat` is our client through `websockets-ts/ws` (`ws`'s event API on
 * our core), driven as `ws`'s is: with `ours`, it tells the cost of the
 * async API from the core's.
 *
 * Each connection keeps INFLIGHT binary messages of SIZE bytes outstanding,
 * sending one more per echo, and times every round trip. Prints one JSON
 * line: messages echoed and seconds in the measured window, the client's CPU
 * share of a core meanwhile, and p50/p99 round-trip times in microseconds.
 * The run is bounded by its deadline; a connection that fails ends it.
 *
 * @module
 */

import process from "node:process";
import { busySeconds, othersShare, pinnedCpu } from "./support/cpu-share.ts";
import { loadMain, loadWs } from "./support/library.ts";

const [impl, url, ...numbers] = process.argv.slice(2);
const parsed = numbers.map(Number);
const [size, conns, inflight, warmupMs, durationMs] = parsed;
if (!url || parsed.length !== 5 || parsed.some((n) => !Number.isInteger(n) || n < 0)) {
  console.error(
    "usage: client-run.ts ours|compat|ws|web URL SIZE CONNS INFLIGHT WARMUP_MS DURATION_MS",
  );
  process.exit(2);
}

const payload = new Uint8Array(size).fill(0x61);
let received = 0;
let measuring = false;
const samples: number[] = [];
const SAMPLE_CAP = 1 << 20;

/** Round-trip bookkeeping of one connection: send times, oldest first. */
class Clock {
  #sent: number[] = [];
  #head = 0;
  sent(): void {
    this.#sent.push(performance.now());
  }
  echoed(): void {
    received++;
    const t = this.#sent[this.#head++];
    if (this.#head > 4096) {
      this.#sent = this.#sent.slice(this.#head);
      this.#head = 0;
    }
    if (measuring && samples.length < SAMPLE_CAP) samples.push((performance.now() - t) * 1000);
  }
}

let running = true;
const closers: (() => Promise<void>)[] = [];

/** Opens CONNS connections at once. */
function openAll<T>(open: () => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: conns }, open));
}

async function startOurs(): Promise<void> {
  const { connect } = await loadMain();
  for (const ws of await openAll(() => connect(url, { compression: null }))) {
    const clock = new Clock();
    closers.push(() => ws.close());
    void (async () => {
      for (let i = 0; i < inflight; i++) {
        clock.sent();
        await ws.send(payload);
      }
      try {
        for await (const _ of ws) {
          clock.echoed();
          if (!running) continue;
          clock.sent();
          await ws.send(payload);
        }
      } catch {
        // The connection ending early shows as a lower count.
      }
    })();
  }
}

/** A connection of an event-driven client (`ws`'s, or a runtime's WHATWG `WebSocket`). */
interface EventClient {
  send(data: Uint8Array): void;
  onMessage(listener: () => void): void;
  close(): Promise<void>;
}

/** Keeps INFLIGHT messages outstanding on each connection, one more per echo. */
function drive(clients: EventClient[]): void {
  for (const client of clients) {
    const clock = new Clock();
    closers.push(() => client.close());
    client.onMessage(() => {
      clock.echoed();
      if (!running) return;
      clock.sent();
      client.send(payload);
    });
    for (let i = 0; i < inflight; i++) {
      clock.sent();
      client.send(payload);
    }
  }
}

/** What the clients with `ws`'s API (`ws` and `websockets-ts/ws`) share here. */
interface WsLike {
  once(event: "open" | "close", listener: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  on(event: "message", listener: () => void): unknown;
  send(data: Uint8Array): void;
  close(): void;
}

/** Opens and drives clients of `ws`'s API, each library's own class. */
async function startWsApi(
  WebSocket: new (address: string, options: { perMessageDeflate: boolean }) => WsLike,
): Promise<void> {
  const opened = await openAll(
    () =>
      new Promise<WsLike>((resolve, reject) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      }),
  );
  drive(
    opened.map((ws) => ({
      send: (data) => ws.send(data),
      onMessage: (listener) => ws.on("message", listener),
      close: () =>
        new Promise<void>((resolve) => {
          ws.once("close", () => resolve());
          ws.close();
        }),
    })),
  );
}

async function startWs(): Promise<void> {
  await startWsApi((await import("ws")).WebSocket);
}

/** Our core with `ws`'s API (`websockets-ts/ws`), driven as `ws`'s client is. */
async function startCompat(): Promise<void> {
  await startWsApi((await loadWs()).WebSocket);
}

/** The WHATWG WebSocket of the runtime (Bun, Deno, Node >= 22). */
async function startWeb(): Promise<void> {
  const opened = await openAll(
    () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.binaryType = "arraybuffer";
        ws.onopen = () => resolve(ws);
        ws.onerror = () => reject(new Error(`could not connect to ${url}`));
      }),
  );
  drive(
    opened.map((ws) => ({
      send: (data) => ws.send(data),
      onMessage: (listener) => {
        ws.onmessage = listener;
      },
      close: () =>
        new Promise<void>((resolve) => {
          ws.onclose = () => resolve();
          ws.close();
        }),
    })),
  );
}

const starters: Record<string, () => Promise<void>> = {
  ours: startOurs,
  compat: startCompat,
  ws: startWs,
  web: startWeb,
};
const start = starters[impl];
if (start === undefined) {
  console.error(`client-run: unknown client ${JSON.stringify(impl)} (ours, compat, ws, web)`);
  process.exit(2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

await start();
await sleep(warmupMs);
measuring = true;
const count0 = received;
const pin = pinnedCpu();
const busy0 = busySeconds(pin);
const cpu0 = cpu();
const t0 = performance.now();
await sleep(durationMs);
const messages = received - count0;
const seconds = (performance.now() - t0) / 1000;
const own = cpu() - cpu0;
const busy1 = busySeconds(pin);
const cpuShare = own / seconds;
// What other processes took of our CPU meanwhile: a client woken on a CPU
// something else runs on waits for it, and runs slower after it (caches).
const others = othersShare(busy0, busy1, own, seconds);
measuring = false;
running = false;
samples.sort((a, b) => a - b);
const pct = (q: number) =>
  samples.length === 0 ? null : Math.round(samples[Math.floor((samples.length - 1) * q)]);
process.stdout.write(
  `${JSON.stringify({ messages, seconds, cpu: cpuShare, others, p50_us: pct(0.5), p99_us: pct(0.99) })}\n`,
);
// Closing is bounded: whatever has not closed in 5 s is left to the exit.
await Promise.race([Promise.all(closers.map((close) => close().catch(() => {}))), sleep(5000)]);
process.exit(0);
