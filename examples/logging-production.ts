// examples/logging-production.ts: INFO records as text on stderr — one per
// server start and stop, one per connection opened and closed.
import { connect, createLogger, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host: "127.0.0.1",
    port: 0, // any free port
    logger: createLogger({ name: "websockets.server", level: "info" }),
  },
);

// One connection, to have something to log.
const ws = await connect(`ws://127.0.0.1:${server.port}/`);
await ws.send("hello");
await ws.recv();
await ws.close();
await server.close();
