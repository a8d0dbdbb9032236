/**
 * The echo server of bench/logging.ts, one per process, differing only in
 * its `logger` option:
 *
 *   node --import tsx bench/logging-server.ts default|off|info
 *
 * - `default`: no `logger` option, the built-in logger at WARN (what users get);
 * - `off`: `logger: false` (and `control`, the same, as a noise floor);
 * - `info`: the built-in logger at INFO, writing to /dev/null (one record
 *   per connection opened and closed; nothing per message).
 *
 * Same contract as bench/echo-server.ts: HOST, PORT (0 = any free port),
 * prints `listening <port>` on stdout, exits on SIGTERM or SIGINT.
 *
 * @module
 */

import { createWriteStream } from "node:fs";
import { createLogger, type ServeOptions, serve } from "../src/index.ts";

const mode = process.argv[2] ?? "default";
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 0);

const loggers: Record<string, () => ServeOptions["logger"]> = {
  default: () => undefined,
  off: () => false,
  control: () => false,
  info: () =>
    createLogger({ name: "bench", level: "info", stream: createWriteStream("/dev/null") }),
};
const makeLogger = loggers[mode];
if (makeLogger === undefined) {
  console.error(
    `logging-server: unknown mode ${JSON.stringify(mode)} (default, off, control, info)`,
  );
  process.exit(2);
}

const options: ServeOptions = { host, port, compression: null };
const logger = makeLogger();
// `default` must not pass the option at all, not even as undefined.
if (mode !== "default") options.logger = logger;

const server = await serve(async (ws) => {
  for await (const message of ws) await ws.send(message);
}, options);
process.stdout.write(`listening ${(server.address as { port: number }).port}\n`);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 5000).unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
