/**
 * The victim of bench/floods.ts, one per process, with default options but
 * logging off:
 *
 *   node --expose-gc --import tsx bench/floods-peer.ts ours|ws server
 *   node --expose-gc --import tsx bench/floods-peer.ts ours|ws client <url>
 *
 * As a server it echoes every message; as a client it connects to `url` and
 * echoes every message too. It sends `{ ready: port }` over IPC once
 * listening (or connected), and answers `"memory"` with its RSS and its heap
 * plus Buffers after forced collections.
 *
 * @module
 */

const [impl, role, url] = process.argv.slice(2);

/** What the parent reads after each step of an attack. */
export interface Memory {
  rss: number;
  heap: number;
}

function memory(): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  for (let i = 0; i < 4; i++) gc();
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heap: heapUsed + external };
}

function send(message: unknown): void {
  process.send?.(message);
}

process.on("message", (message) => {
  if (message === "memory") send({ memory: memory() });
});

async function startOurs(): Promise<void> {
  const { connect, serve } = await import("../src/index.ts");
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
    // The attacker broke the connection: what the bench reports.
  }
}

async function startWs(): Promise<void> {
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

if (impl === "ours") await startOurs();
else if (impl === "ws") await startWs();
else {
  console.error(`floods-peer: unknown implementation ${JSON.stringify(impl)} (ours, ws)`);
  process.exit(2);
}
