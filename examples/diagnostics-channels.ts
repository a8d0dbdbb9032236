// examples/diagnostics-channels.ts: observing connections through
// node:diagnostics_channel, as APM and OpenTelemetry tools do — no logger.
import { subscribe, tracingChannel } from "node:diagnostics_channel";
import { type Connection, connect, ServerConnection, serve } from "../src/index.ts";

const side = (connection: Connection) =>
  connection instanceof ServerConnection ? "server" : "client";

subscribe("websockets:open", (message) => {
  const { connection } = message as { connection: Connection };
  console.log(`${side(connection)}: open ${connection.id}`);
});
subscribe("websockets:close", (message) => {
  const { connection, code, reason } = message as {
    connection: Connection;
    code: number;
    reason: string;
  };
  console.log(`${side(connection)}: close ${connection.id} ${code} ${JSON.stringify(reason)}`);
});
subscribe("websockets:ping", (message) => {
  const { connection, payload } = message as { connection: Connection; payload: Buffer };
  console.log(`${side(connection)}: ping ${JSON.stringify(payload.toString())}`);
});
subscribe("websockets:pong", (message) => {
  const { connection, payload } = message as { connection: Connection; payload: Buffer };
  console.log(`${side(connection)}: pong ${JSON.stringify(payload.toString())}`);
});

// The opening handshake, traced from start to end.
interface HandshakeContext {
  side: "server" | "client";
  uri?: string;
  remoteAddress?: string;
  result?: Connection;
  error?: unknown;
}
const started = new WeakMap<object, number>();
tracingChannel<unknown, HandshakeContext>("websockets:handshake").subscribe({
  start: (context) => void started.set(context, performance.now()),
  end: () => {},
  asyncStart: () => {},
  asyncEnd: (context) => {
    const ms = performance.now() - (started.get(context) ?? 0);
    const peer = context.uri ?? context.remoteAddress;
    const outcome =
      context.error === undefined ? `open ${context.result?.id}` : `failed: ${context.error}`;
    console.log(`${context.side}: handshake with ${peer} ${outcome} (${ms.toFixed(1)} ms)`);
  },
  error: () => {},
});

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { host: "127.0.0.1", port: 0, logger: false },
);
const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
  logger: false,
});
await ws.ping("are you there?");
await ws.close(1000, "done");
await server.close();
