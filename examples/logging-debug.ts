// examples/logging-debug.ts: DEBUG records for development — state changes,
// handshake lines, every frame, closing steps — on both sides.
import { connect, createLogger, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ name: "websockets.server", level: "debug" }),
  },
);

const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
  logger: createLogger({ name: "websockets.client", level: "debug" }),
});
await ws.send("hello");
await ws.recv();
await ws.close();
await server.close();
