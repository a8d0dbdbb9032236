// examples/logging-connection-logger.ts: your records about a connection,
// through `ws.logger`, carry its connectionId and remoteAddress.
import { connect, createLogger, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) {
      ws.logger.info({ size: message.length }, "order received");
    }
  },
  {
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ name: "websockets.server", level: "info" }),
  },
);

const ws = await connect(`ws://127.0.0.1:${server.port}/`);
await ws.send('{"item":"book","quantity":2}');
await ws.close();
await server.close();
