/**
 * A victim of floods, one per process, with default options but logging
 * off: the growth an attack causes is then the victim's alone, not the
 * attacker's. bench/floods.ts and the memory tests of test/regressions/
 * start it with {@link startVictim}; run as a script, it is the victim:
 *
 *   node --expose-gc --import tsx test/helpers/flood-victim.ts ours|ws server
 *   node --expose-gc --import tsx test/helpers/flood-victim.ts ours|ws client <url>
 *
 * As a server it echoes every message; as a client it connects to `url` and
 * echoes every message too. It sends `{ ready: port }` over IPC once
 * listening (or connected), answers `"memory"` with its RSS and its heap
 * plus Buffers after forced collections, and `"types"` with its heap by
 * object type (test/helpers/heap-by-type.ts), after forced collections too.
 *
 * @module
 */

import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type HeapByType, snapshotByType } from "./heap-by-type.ts";
import { withTimeout } from "./net.ts";

/** What the parent reads after each step of an attack. */
export interface Memory {
  rss: number;
  heap: number;
}

/** A victim process. */
export interface Victim {
  child: ChildProcess;
  /** The port a server listens on; 0 for a client. */
  port: number;
  /** The victim's memory, after forced collections. */
  memory(): Promise<Memory>;
  /** The victim's heap by object type, after forced collections. */
  byType(): Promise<HeapByType>;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const script = fileURLToPath(import.meta.url);

/** Starts a victim: `impl` is `ours` or `ws`; a client connects to `url`. */
export async function startVictim(
  impl: string,
  role: "server" | "client",
  url = "",
): Promise<Victim> {
  const args = role === "server" ? [impl, role] : [impl, role, url];
  const child = fork(script, args, {
    execArgv: ["--expose-gc", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending: Array<(memory: Memory) => void> = [];
  const pendingTypes: Array<(types: HeapByType) => void> = [];
  let ready: (port: number) => void = () => {};
  const started = new Promise<number>((resolve) => {
    ready = resolve;
  });
  child.on(
    "message",
    (message: { ready?: number; memory?: Memory; types?: Array<[string, [number, number]]> }) => {
      if (message.ready !== undefined) ready(message.ready);
      if (message.memory !== undefined) pending.shift()?.(message.memory);
      if (message.types !== undefined) pendingTypes.shift()?.(new Map(message.types));
    },
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const port = await withTimeout(started, 30_000, `${impl} ${role} did not start`).catch(
    async (error: unknown) => {
      await stop();
      throw error;
    },
  );
  return {
    child,
    port,
    stop,
    memory: () =>
      withTimeout(
        new Promise<Memory>((resolve) => {
          pending.push(resolve);
          child.send("memory");
        }),
        30_000,
        "no memory figures",
      ),
    byType: () =>
      withTimeout(
        new Promise<HeapByType>((resolve) => {
          pendingTypes.push(resolve);
          child.send("types");
        }),
        120_000,
        "no heap snapshot",
      ),
  };
}

// --- The victim, when run as a script -----------------------------------------

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  for (let i = 0; i < 4; i++) gc();
}

function memory(): Memory {
  collect();
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heap: heapUsed + external };
}

function send(message: unknown): void {
  process.send?.(message);
}

async function startOurs(role: string, url: string): Promise<void> {
  const { connect, serve } = await import("../../src/index.ts");
  if (role === "server") {
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      { host: "127.0.0.1", port: 0, logger: null },
    );
    send({ ready: (server.address as { port: number }).port });
    return;
  }
  const ws = await connect(url, { logger: null });
  send({ ready: 0 });
  try {
    for await (const message of ws) await ws.send(message);
  } catch {
    // The attacker broke the connection: what the attack reports.
  }
}

async function startWs(role: string, url: string): Promise<void> {
  const { WebSocket, WebSocketServer } = await import("ws");
  if (role === "server") {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    wss.on("connection", (ws) => {
      ws.on("error", () => {});
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => wss.once("listening", resolve));
    send({ ready: (wss.address() as { port: number }).port });
    return;
  }
  const ws = new WebSocket(url);
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  await new Promise<void>((resolve) => ws.once("open", () => resolve()));
  send({ ready: 0 });
}

if (process.argv[1] === script) {
  const [impl, role, url = ""] = process.argv.slice(2);
  process.on("message", (message) => {
    if (message === "memory") send({ memory: memory() });
    if (message === "types") {
      collect();
      send({ types: [...snapshotByType()] });
    }
  });
  if (impl === "ours") await startOurs(role, url);
  else if (impl === "ws") await startWs(role, url);
  else {
    console.error(`flood-victim: unknown implementation ${JSON.stringify(impl)} (ours, ws)`);
    process.exit(2);
  }
}
