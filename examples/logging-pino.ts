// examples/logging-pino.ts: pino as the logger, with no adapter. Records are
// JSON on stdout, with `name` set to websockets.server or websockets.client.
import pino from "pino";
import { connect, serve } from "../src/index.ts";

const logger = pino({ level: "info" });

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  { host: "127.0.0.1", port: 0, logger },
);

const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
  logger,
});
await ws.send("hello");
await ws.recv();
await ws.close();
await server.close();
