/**
 * What one idle server connection keeps on the JavaScript heap, by object
 * type, for our server, `ws`'s, or `raw` (a bare Node socket with its
 * listeners, as in bench/echo-server.ts: the floor every Node server stands
 * on):
 *
 *   node --expose-gc --import tsx bench/echo-heap.ts [ours|ws|raw] [count]
 *
 * A client process (this file, forked) opens `count` connections (default
 * 2,000) to an echo server in this process and keeps them open; a heap
 * snapshot is taken before and after, each after full collections, and the
 * difference is divided by `count`. Also printed: the JavaScript bytes
 * allocated per accepted connection, garbage included (V8's sampling heap
 * profiler, one sample per 256 bytes on average, while the connections
 * open), and the functions that allocate most. Everything listens on
 * 127.0.0.1 only.
 *
 * The echo benchmark's RSS row is the figure to compare; this one tells
 * where the bytes are, e.g. after a change to what a connection keeps.
 *
 * @module
 */

import { fork } from "node:child_process";
import { Session } from "node:inspector/promises";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { growthByType, type HeapByType, snapshotByType } from "../test/helpers/heap-by-type.ts";
import { rawEcho } from "./raw-upgrade.ts";

const CONCURRENCY = 50;
// Every wait below gives up after this long.
const DEADLINE_MS = 60_000;

if (process.argv[2] === "--client") {
  runClient(Number(process.argv[3]), Number(process.argv[4]));
} else {
  await runServer(process.argv[2] ?? "ours", Number(process.argv[3] ?? 2000));
}

/** Opens `count` connections, `CONCURRENCY` handshakes at a time; tells the parent when all are open. */
function runClient(port: number, count: number): void {
  const sockets: Socket[] = [];
  let started = 0;
  let opened = 0;
  const openOne = (): void => {
    const index = started++;
    const socket = netConnect(port, "127.0.0.1");
    sockets.push(socket);
    const key = Buffer.from(String(index).padStart(16, "0")).toString("base64");
    socket.on("connect", () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head = "";
    const onData = (chunk: Buffer): void => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      opened++;
      if (opened === count) process.send?.("open");
      else if (started < count) openOne();
    };
    socket.on("data", onData);
    socket.on("error", () => {});
  };
  for (let i = 0; i < Math.min(CONCURRENCY, count); i++) openOne();
  process.on("message", () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
}

async function runServer(impl: string, count: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  if (!Number.isSafeInteger(count) || count < 1) throw new TypeError(`bad count: ${count}`);
  const { port, accepted, stop } = await startServer(impl);

  const openClients = async (n: number) => {
    const child = fork(new URL(import.meta.url), ["--client", String(port), String(n)], {
      execArgv: ["--import", "tsx"],
    });
    await withDeadline(
      new Promise((resolve) => child.once("message", resolve)),
      "clients to connect",
    );
    return child;
  };
  const closeClients = async (child: ReturnType<typeof fork>) => {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.send("close");
    await withDeadline(exited, "the client to exit");
  };
  const collect = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await sleep(50);
    }
  };

  // Warm up the code paths, so that compiling them isn't counted.
  await closeClients(await openClients(200));
  await sleep(300);
  await collect();

  // As one string: a Map of thousands of keys would be counted in the
  // second snapshot.
  const before = JSON.stringify([...snapshotByType("before")]);
  await collect();
  let child: ReturnType<typeof fork> | null = null;
  // A report, not the profile: it must not be on the heap at the snapshot.
  const allocationReport = await sampleAllocations(count, async () => {
    const base = accepted();
    child = await openClients(count);
    const deadline = Date.now() + DEADLINE_MS;
    while (accepted() - base < count) {
      if (Date.now() > deadline) throw new Error("the server didn't accept every connection");
      await sleep(20);
    }
    await sleep(500);
  });
  await collect();
  const after = snapshotByType("after");
  const beforeByType: HeapByType = new Map(JSON.parse(before));

  let total = 0;
  for (const { bytes } of growthByType(beforeByType, after, 0)) total += bytes / count;
  console.log(`${impl}: ${count} idle connections, bytes per connection by heap object type`);
  console.log(`${"bytes".padStart(7)} ${"objects".padStart(8)}  type`);
  for (const { type, bytes, count: n } of growthByType(beforeByType, after, 4 * count)) {
    console.log(
      `${(bytes / count).toFixed(0).padStart(7)} ${(n / count).toFixed(2).padStart(8)}  ${type}`,
    );
  }
  console.log(`${total.toFixed(0).padStart(7)}           total (after full collections)`);
  console.log(allocationReport);
  if (child !== null) await closeClients(child);
  await stop();
}

async function startServer(
  impl: string,
): Promise<{ port: number; accepted: () => number; stop: () => Promise<void> }> {
  let accepted = 0;
  if (impl === "ours") {
    const { serve } = await import("../src/index.ts");
    const server = await serve(
      async (ws) => {
        accepted++;
        for await (const message of ws) await ws.send(message);
      },
      { host: "127.0.0.1", port: 0, compression: null },
    );
    const { port } = server.address as { port: number };
    return { port, accepted: () => accepted, stop: () => server.close() };
  }
  if (impl === "ws") {
    const { WebSocketServer } = await import("ws");
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    wss.on("connection", (ws) => {
      accepted++;
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise((resolve) => wss.once("listening", resolve));
    const { port } = wss.address() as { port: number };
    const stop = () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      });
    return { port, accepted: () => accepted, stop };
  }
  if (impl === "raw") {
    const sockets = new Set<Socket>();
    const server = createServer({ noDelay: true }, (socket) => {
      accepted++;
      rawEcho(socket, sockets);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const stop = () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
    return { port, accepted: () => accepted, stop };
  }
  throw new TypeError(`unknown implementation ${JSON.stringify(impl)}: ours, ws or raw`);
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Runs `work` under V8's sampling heap profiler; reports bytes allocated per connection. */
async function sampleAllocations(count: number, work: () => Promise<void>): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post("HeapProfiler.enable");
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await work();
    const { profile } = (await session.post("HeapProfiler.stopSampling")) as {
      profile: { head: SamplingNode };
    };
    const allocated = allocationBySite(profile.head);
    let total = 0;
    for (const bytes of allocated.values()) total += bytes;
    const lines = [
      `\n${(total / count).toFixed(0)} bytes of JavaScript allocated per accepted connection; most by:`,
    ];
    const sites = [...allocated].sort((a, b) => b[1] - a[1]).slice(0, 12);
    for (const [site, bytes] of sites) {
      lines.push(`${(bytes / count).toFixed(0).padStart(7)}  ${site}`);
    }
    return lines.join("\n");
  } finally {
    session.disconnect();
  }
}

/** Bytes allocated by each function itself, from a sampling heap profile. */
function allocationBySite(head: SamplingNode): Map<string, number> {
  const out = new Map<string, number>();
  // Iterative: a profile's tree can be deeper than the stack allows.
  const stack = [head];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.selfSize > 0) {
      const { functionName, url, lineNumber } = node.callFrame;
      const file = url.replace(/^.*\/(src|bench|node_modules)\//, "$1/");
      const site = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
      out.set(site, (out.get(site) ?? 0) + node.selfSize);
    }
    stack.push(...node.children);
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
