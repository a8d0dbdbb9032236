/**
 * The publish/subscribe servers bench/topics.ts compares, one per process:
 *
 *   node --import tsx bench/topics-server.ts ours|ws|raw|raw-http
 *
 * Contract (bench/peers/bun-topics.ts follows it too): HOST (default
 * 127.0.0.1) and PORT (default 0) from the environment; `listening <port>`
 * on stdout. Connections to `/` subscribe to the topic `t`; a connection to
 * `/control` drives the run: `count` answers the number of subscribers,
 * `pub <n>` publishes n messages of 32 bytes to `t` at once.
 *
 * `ours` publishes with `server.publish()` (framed once); with
 * COMPRESSION=deflate it negotiates permessage-deflate and publishes 512
 * bytes of JSON (compressed once for subscribers that ask for
 * server_no_context_takeover, per subscriber for the others); with
 * BACKPLANE=redis and REDIS_SOCKET it uses the Redis backplane, so several
 * of them on one Redis make one multi-process server. `ws` sends to each
 * client in a loop, as `ws` users write it. `raw` is Node's floor, not
 * WebSocket-correct (bench/raw-upgrade.ts): a fixed 101, then the frames
 * of a `pub <n>` built once into one buffer, and one `socket.write()` of
 * it per subscriber, with no library code between the loop and the socket.
 * `raw-http` is the same on sockets from `node:http`'s `upgrade` event.
 *
 * @module
 */
import { loadMain, loadRedis } from "./support/library.ts";

const impl = process.argv[2] ?? "ours";
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 0);
// With COMPRESSION=deflate (ours only): permessage-deflate on, and 512
// bytes of chat-like JSON to compress instead of 32 bytes.
const deflate = process.env.COMPRESSION === "deflate";
const PAYLOAD = deflate
  ? JSON.stringify({
      room: "lobby",
      messages: Array.from({ length: 6 }, (_, i) => ({
        user: `u${i}`,
        text: `hello number ${i} from the bench`,
        at: 1_700_000_000 + i,
      })),
    }).padEnd(512, " ")
  : "x".repeat(32);

function ready(boundPort: number): void {
  process.stdout.write(`listening ${boundPort}\n`);
}

async function startOurs(): Promise<void> {
  const { serve } = await loadMain();
  let backplane: import("../src/index.ts").Backplane | undefined;
  if (process.env.BACKPLANE === "redis") {
    const { redisBackplane } = await loadRedis();
    const { createClient } = await import("redis");
    const client = createClient({ socket: { path: process.env.REDIS_SOCKET ?? "", tls: false } });
    backplane = redisBackplane({ client });
  }
  const server = await serve(
    async (ws) => {
      if (ws.request?.path !== "/control") {
        await ws.subscribe("t");
        await ws.closed;
        return;
      }
      for await (const message of ws) {
        const [command, n] = String(message).split(" ");
        if (command === "count") await ws.send(String(server.subscribers("t")));
        else for (let i = 0; i < Number(n); i++) server.publish("t", PAYLOAD);
      }
    },
    {
      host,
      port,
      compression: deflate ? "deflate" : null,
      pingInterval: null,
      backplane,
      logger: false,
    },
  );
  ready((server.address as { port: number }).port);
}

async function startWs(): Promise<void> {
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ host, port, perMessageDeflate: false });
  const subscribers = new Set<import("ws").WebSocket>();
  wss.on("connection", (ws, request) => {
    if (request.url !== "/control") {
      subscribers.add(ws);
      ws.on("close", () => subscribers.delete(ws));
      return;
    }
    ws.on("message", (data) => {
      const [command, n] = String(data).split(" ");
      if (command === "count") ws.send(String(subscribers.size));
      else for (let i = 0; i < Number(n); i++) for (const s of subscribers) s.send(PAYLOAD);
    });
  });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  const address = wss.address();
  if (address === null || typeof address === "string") throw new Error(`bad address ${address}`);
  ready(address.port);
}

/** The raw servers' subscribers, and the frame of one message built once. */
const rawSubscribers = new Set<import("node:net").Socket>();
const rawFrame = (text: string) =>
  Buffer.concat([Buffer.from([0x81, text.length]), Buffer.from(text)]);
const RAW_MESSAGE = rawFrame(PAYLOAD);

/**
 * A raw server's upgraded connection: a subscriber, or the control
 * connection, whose masked frames (each under 126 bytes) it answers.
 */
function rawUpgraded(socket: import("node:net").Socket, control: boolean, rest: Buffer): void {
  if (!control) {
    rawSubscribers.add(socket);
    return;
  }
  let input = rest;
  const onData = (chunk: Buffer): void => {
    input = input.length === 0 ? chunk : Buffer.concat([input, chunk]);
    while (input.length >= 6 && input.length >= 6 + (input[1] & 0x7f)) {
      const length = input[1] & 0x7f;
      const text = Buffer.from(input.subarray(6, 6 + length));
      for (let i = 0; i < length; i++) text[i] ^= input[2 + (i % 4)];
      input = input.subarray(6 + length);
      const [command, n] = text.toString().split(" ");
      if (command === "count") {
        socket.write(rawFrame(String(rawSubscribers.size)));
        continue;
      }
      const burst =
        Number(n) === 1 ? RAW_MESSAGE : Buffer.concat(Array(Number(n)).fill(RAW_MESSAGE));
      for (const subscriber of rawSubscribers) subscriber.write(burst);
    }
  };
  socket.on("data", onData);
  if (rest.length > 0) onData(Buffer.alloc(0));
}

/** Node's own cost of a publish: what any library on Node adds its work to. */
async function startRaw(): Promise<void> {
  const { createServer } = await import("node:net");
  const { RAW_101, readHead } = await import("./raw-upgrade.ts");
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    socket.on("close", () => rawSubscribers.delete(socket));
    readHead(socket, (head, rest) => {
      socket.write(RAW_101);
      rawUpgraded(socket, head.startsWith("GET /control "), rest);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  ready((server.address() as { port: number }).port);
}

/**
 * The same floor on sockets that come through `node:http`'s `upgrade`
 * event, as the sockets of ours and `ws` do.
 */
async function startRawHttp(): Promise<void> {
  const { createServer } = await import("node:http");
  const { RAW_101 } = await import("./raw-upgrade.ts");
  const server = createServer();
  server.on("upgrade", (request, socket: import("node:net").Socket, rest: Buffer) => {
    socket.setNoDelay(true);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => rawSubscribers.delete(socket));
    socket.write(RAW_101);
    rawUpgraded(socket, request.url === "/control", rest);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  ready((server.address() as { port: number }).port);
}

if (impl === "ours") await startOurs();
else if (impl === "ws") await startWs();
else if (impl === "raw") await startRaw();
else if (impl === "raw-http") await startRawHttp();
else throw new Error(`unknown server ${impl}: ours, ws, raw or raw-http`);
process.once("SIGTERM", () => process.exit(0));
process.once("SIGINT", () => process.exit(0));
