// Security review, item 7: the client followed up to 10 redirects by
// default, to any host, keeping custom headers, subprotocol tokens and TLS
// options (servername, client certificate) across origins. Now redirects
// are followed only with `followRedirects`, each hop can be vetted by
// `checkRedirect`, and a cross-origin hop sends nothing meant for the first
// origin unless the hook says so.
import { strict as assert } from "node:assert";
import { once } from "node:events";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { after, it } from "node:test";
import type { Request } from "../../src/http11.ts";
import {
  connect,
  InvalidStatus,
  type RedirectHop,
  SecurityError,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/index.ts";
import * as localhost from "../helpers/localhost-tls.ts";
import * as named from "../helpers/named-tls.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
checkLeaksAfterAll();

/** A server answering every upgrade with `status` and `Location: location`. */
async function redirecting(
  location: string,
  tls?: { key: string; cert: string },
): Promise<{ url: string; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = tls === undefined ? http.createServer() : https.createServer(tls);
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    seen.push(req.headers);
    socket.on("error", () => {});
    socket.end(`HTTP/1.1 302 Found\r\nLocation: ${location}\r\nContent-Length: 0\r\n\r\n`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `${tls === undefined ? "ws" : "wss"}://127.0.0.1:${port}/`, seen };
}

/** A WebSocket server recording each request it accepts. */
async function target(
  options: { tls?: { key: string; cert: string }; subprotocols?: string[] } = {},
): Promise<{ port: number; requests: Request[] }> {
  const requests: Request[] = [];
  const server: Server = await serve(
    async (ws: ServerConnection) => {
      if (ws.request !== null) requests.push(ws.request);
    },
    {
      host: "127.0.0.1",
      port: 0,
      logger: false,
      tls: options.tls,
      selectSubprotocol: (_ws, offered) => offered[0] ?? null,
    },
  );
  cleanups.push(() => server.close());
  return { port: (server.address as { port: number }).port, requests };
}

it("doesn't follow a redirect by default: InvalidStatus names the Location", async () => {
  const next = await target();
  const origin = await redirecting(`ws://127.0.0.1:${next.port}/`);
  await assert.rejects(connect(origin.url, { logger: false }), (error) => {
    assert.ok(error instanceof InvalidStatus);
    assert.equal(error.response.status, 302);
    assert.equal(error.response.headers.get("Location"), `ws://127.0.0.1:${next.port}/`);
    return true;
  });
  assert.equal(next.requests.length, 0);
});

it("lets checkRedirect refuse a hop before connecting to it", async () => {
  const origin = await redirecting("ws://[::1]:6379/");
  const hops: RedirectHop[] = [];
  await assert.rejects(
    connect(origin.url, {
      logger: false,
      followRedirects: true,
      checkRedirect: (hop) => {
        hops.push(hop);
        return false;
      },
    }),
    (error) => {
      assert.ok(error instanceof SecurityError);
      assert.equal(
        error.message,
        `redirect from ${origin.url} to ws://[::1]:6379/ refused by checkRedirect`,
      );
      return true;
    },
  );
  assert.equal(hops.length, 1);
  assert.equal(hops[0].crossOrigin, true);
  assert.equal(hops[0].redirects, 0);
  assert.equal(hops[0].response.status, 302);
});

it("sends no custom header or subprotocol to another origin unless checkRedirect returns them", async () => {
  const next = await target();
  const origin = await redirecting(`ws://127.0.0.1:${next.port}/`);
  const options = {
    logger: false as const,
    followRedirects: true,
    additionalHeaders: { "X-Api-Key": "key-1" },
    subprotocols: ["v1.bearer.tok-123"],
  };
  const dropped = await connect(origin.url, options);
  await dropped.close();
  assert.equal(origin.seen[0]["x-api-key"], "key-1");
  assert.equal(origin.seen[0]["sec-websocket-protocol"], "v1.bearer.tok-123");
  assert.equal(next.requests[0].headers.get("X-Api-Key"), undefined);
  assert.equal(next.requests[0].headers.get("Sec-WebSocket-Protocol"), undefined);

  const kept = await connect(origin.url, {
    ...options,
    checkRedirect: (hop) => {
      assert.equal(hop.additionalHeaders, null);
      return { additionalHeaders: options.additionalHeaders, subprotocols: options.subprotocols };
    },
  });
  assert.equal(kept.subprotocol, "v1.bearer.tok-123");
  await kept.close();
  assert.equal(next.requests[1].headers.get("X-Api-Key"), "key-1");
});

it("checks the next server's certificate against its own host, not the first servername", async () => {
  const next = await target({ tls: { key: localhost.key, cert: localhost.cert } });
  const origin = await redirecting(`wss://localhost:${next.port}/`, {
    key: named.key,
    cert: named.cert,
  });
  const ws = await connect(origin.url, {
    logger: false,
    followRedirects: true,
    tls: { ca: [named.cert, localhost.cert], servername: named.name },
  });
  await ws.close();
  assert.equal(origin.seen.length, 1);
  assert.equal(next.requests.length, 1);
});
