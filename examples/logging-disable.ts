// examples/logging-disable.ts: three servers, three ways to quiet the library
// while your application's pino logger keeps logging at DEBUG.
import pino from "pino";
import { connect, type ServerConnection, serve } from "../src/index.ts";

const app = pino({ level: "debug" });

async function echo(ws: ServerConnection): Promise<void> {
  for await (const message of ws) await ws.send(message);
}

const servers = [
  // Nothing at all from the library.
  await serve(echo, { host: "127.0.0.1", port: 0, logger: false }),
  // The library through your logger, without its DEBUG records.
  await serve(echo, { host: "127.0.0.1", port: 0, logger: app.child({}, { level: "info" }) }),
  // The library through your logger, silenced.
  await serve(echo, { host: "127.0.0.1", port: 0, logger: app.child({}, { level: "silent" }) }),
];

for (const server of servers) {
  const ws = await connect(`ws://127.0.0.1:${server.port}/`);
  await ws.send("hello");
  await ws.recv();
  await ws.close();
  await server.close();
}
app.debug("the application's DEBUG records are still there");
