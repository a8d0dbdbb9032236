/**
 * WebSockets over HTTP/2 (RFC 8441) vs over TLS/TCP, our client against
 * our server, in the same run:
 *
 *   npm run bench -- http2 [--count 1000] [--seconds 3]
 *
 * - `many`: `count` WebSockets opened at once, over one h2 session
 *   (`http2: "auto"`) or one TLS connection each (`http2: false`): time to
 *   open them all, the server's RSS per connection (after a garbage
 *   collection, against the same server before), and 32 B echo messages/s
 *   with every WebSocket doing round trips at once for `seconds`;
 * - `one`: a single WebSocket, round trips of 32 B and of 64 KiB for
 *   `seconds` each.
 *
 * The server (bench/http2-server.ts) runs in a process of its own, a fresh
 * one per row; permessage-deflate is off on both transports, so that the
 * rows compare transports only. The client is ours too: both sides share
 * the machine, and the figures are ratios taken in one run.
 *
 * @module
 */

import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ClientConnection, connect } from "../src/index.ts";
import { cert } from "../test/helpers/localhost-tls.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000" },
    seconds: { type: "string", default: "3" },
  },
});
const COUNT = Number(values.count);
const SECONDS = Number(values.seconds);

type Transport = "h2" | "tls";

interface Server {
  port: number;
  child: ChildProcess;
  rss(): Promise<number>;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const child = fork(fileURLToPath(new URL("./http2-server.ts", import.meta.url)), {
    execArgv: ["--import", "tsx", "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [first] = (await once(child, "message")) as [{ port: number }];
  return {
    port: first.port,
    child,
    async rss() {
      child.send("rss");
      const [answer] = (await once(child, "message")) as [{ rss: number }];
      return answer.rss;
    },
    async close() {
      child.send("close");
      await once(child, "exit");
    },
  };
}

function open(server: Server, transport: Transport): Promise<ClientConnection> {
  return connect(`wss://localhost:${server.port}/`, {
    tls: { ca: cert },
    http2: transport === "h2" ? "auto" : false,
    compression: null,
    logger: false,
    pingInterval: null,
    openTimeout: 120_000,
    maxSize: null,
  });
}

/** Round trips of `payload` on every WebSocket at once for `seconds`: messages/s. */
async function echoRate(
  sockets: ClientConnection[],
  payload: Buffer,
  seconds: number,
): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let messages = 0;
  await Promise.all(
    sockets.map(async (ws) => {
      // Bounded by time; the count bounds it too, should the clock stall.
      for (let i = 0; i < 10_000_000 && performance.now() < deadline; i++) {
        await ws.send(payload);
        await ws.recv();
        messages++;
      }
    }),
  );
  return messages / seconds;
}

interface Row {
  name: string;
  unit: string;
  h2: number;
  tls: number;
}

async function many(
  transport: Transport,
): Promise<{ openMs: number; rssPer: number; rate: number }> {
  const server = await startServer();
  try {
    // A first WebSocket warms both sides up (TLS, code paths) and is not counted.
    const warm = await open(server, transport);
    await warm.close();
    const before = await server.rss();
    const start = performance.now();
    const sockets = await Promise.all(Array.from({ length: COUNT }, () => open(server, transport)));
    const openMs = performance.now() - start;
    const rssPer = ((await server.rss()) - before) / COUNT;
    const rate = await echoRate(sockets, Buffer.alloc(32, 1), SECONDS);
    await Promise.all(sockets.map((ws) => ws.close()));
    for (const ws of sockets) {
      if (transport === "h2" && ws.request?.version !== "HTTP/2") throw new Error("not over h2");
    }
    return { openMs, rssPer, rate };
  } finally {
    await server.close();
  }
}

async function one(transport: Transport, size: number): Promise<number> {
  const server = await startServer();
  try {
    const ws = await open(server, transport);
    const rate = await echoRate([ws], Buffer.alloc(size, 1), SECONDS);
    await ws.close();
    return rate;
  } finally {
    await server.close();
  }
}

const rows: Row[] = [];
const manyH2 = await many("h2");
const manyTls = await many("tls");
rows.push(
  {
    name: `${COUNT} WebSockets: time to open all`,
    unit: "ms",
    h2: manyH2.openMs,
    tls: manyTls.openMs,
  },
  {
    name: `${COUNT} WebSockets: server RSS per connection`,
    unit: "KiB",
    h2: manyH2.rssPer / 1024,
    tls: manyTls.rssPer / 1024,
  },
  { name: `${COUNT} WebSockets: 32 B echo`, unit: "msg/s", h2: manyH2.rate, tls: manyTls.rate },
);
for (const size of [32, 65_536]) {
  const label = size === 32 ? "32 B" : "64 KiB";
  rows.push({
    name: `1 WebSocket: ${label} echo`,
    unit: "msg/s",
    h2: await one("h2", size),
    tls: await one("tls", size),
  });
}

const format = (value: number): string =>
  value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
console.log(
  `\nWebSockets over HTTP/2 vs TLS/TCP (our client and server, ${SECONDS} s per echo row)\n`,
);
console.log("| row | unit | over h2 | over TLS/TCP | h2 / TLS |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const row of rows) {
  console.log(
    `| ${row.name} | ${row.unit} | ${format(row.h2)} | ${format(row.tls)} | ${(row.h2 / row.tls).toFixed(2)} |`,
  );
}
