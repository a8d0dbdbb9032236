// examples/logging-x-forwarded-for.ts: behind a reverse proxy, remoteAddress
// is the proxy's; logContext adds the client's, from the header it sets.
import { connect, createLogger, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ name: "websockets.server", level: "info" }),
    logContext: (ws) => ({ clientIp: ws.request?.headers.get("X-Forwarded-For") }),
  },
);

// A request as the proxy forwards it.
const ws = await connect(`ws://127.0.0.1:${(server.address as { port: number }).port}/`, {
  additionalHeaders: { "X-Forwarded-For": "203.0.113.7" },
});
await ws.close();
await server.close();
