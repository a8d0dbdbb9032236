// examples/logging-x-forwarded-for.ts: behind a reverse proxy, remoteAddress
// is the proxy's; logContext adds the client's, from X-Forwarded-For, to
// every record of the connection (here through pino). Anyone can send that
// header: only the hops your own proxies appended can be trusted. Each
// proxy appends the address it got the request from, so the client's is
// the right-most hop your proxies wrote, over all header lines.
import pino from "pino";
import { connect, type Headers, serve } from "../src/index.ts";

// How many reverse proxies of yours stand in front of this server.
const TRUSTED_PROXIES = 1;

function clientIp(headers: Headers): string | undefined {
  const hops = headers
    .getAll("X-Forwarded-For")
    .flatMap((line) => line.split(","))
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "");
  return hops.length >= TRUSTED_PROXIES ? hops[hops.length - TRUSTED_PROXIES] : undefined;
}

const server = await serve(
  async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  {
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "info" }),
    logContext: (ws) => ({ clientIp: clientIp(ws.request.headers) }),
  },
);

// A request as the proxy forwards it: the client forged the first line,
// the proxy appended the second.
const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
  additionalHeaders: [
    ["X-Forwarded-For", "198.51.100.66"],
    ["X-Forwarded-For", "203.0.113.7"],
  ],
});
await ws.close();
await server.close();
