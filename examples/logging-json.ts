// examples/logging-json.ts: the built-in logger writing one JSON object per
// line, on stderr like its text format.
import { connect, createLogger, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ name: "websockets.server", level: "info", format: "json" }),
  },
);

const ws = await connect(`ws://127.0.0.1:${server.port}/`);
await ws.send("hello");
await ws.recv();
await ws.close();
await server.close();
