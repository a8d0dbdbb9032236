// WebSockets over HTTP/2 (RFC 8441) against real clients: Chromium loads a
// page from our server over h2 and opens wss:// to the same origin on that
// session; a python3-h2 client scripted for RFC 8441; undici's WebSocket
// with `allowH2`, whose Sec-WebSocket-Accept bug we document and work around.

import { strict as assert } from "node:assert";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { acceptKey } from "../src/headers.ts";
import { type ServeOptions, type ServerConnection, serve } from "../src/node/server.ts";
import { cert, key } from "../test/helpers/localhost-tls.ts";
import { runProgram } from "../test/helpers/run-example.ts";
import {
  CHROMIUM,
  CHROMIUM_FLAGS,
  PYTHON,
  requireChromium,
  requireNpmPackage,
  requirePythonModule,
} from "./helpers/requirements.ts";

const PEERS_DIR = fileURLToPath(new URL("./peers/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "websockets-ts-h2-"));
const caFile = join(dir, "ca.pem");
writeFileSync(caFile, cert);
after(() => rmSync(dir, { recursive: true, force: true }));

/** The client's port of a connection: one per TCP connection, so one per HTTP/2 session. */
function clientPort(connection: ServerConnection): number | null {
  const address = connection.remoteAddress;
  return address !== null && "port" in address ? address.port : null;
}

/**
 * An echo server on h2 + HTTP/1.1 that records each WebSocket's HTTP
 * version and client port.
 */
async function echoServer(options: ServeOptions = {}) {
  const versions: string[] = [];
  const ports: (number | null)[] = [];
  const server = await serve(
    async (ws: ServerConnection) => {
      versions.push(ws.request.version ?? "");
      ports.push(clientPort(ws));
      for await (const message of ws) await ws.send(message);
    },
    { host: "127.0.0.1", port: 0, tls: { key, cert }, http2: true, logger: false, ...options },
  );
  return { server, versions, ports };
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>h2</title>
<script>
  const ws = new WebSocket("wss://" + location.host + "/ws");
  ws.onopen = () => ws.send("hello from Chromium");
  ws.onmessage = (event) => { window.echo = event.data; ws.close(1000); };
  ws.onclose = (event) => { window.closeCode = event.code; };
  ws.onerror = () => { window.echo = "error"; };
</script>`;

describe("Chromium over HTTP/2", () => {
  test("loads the page over h2 and opens its WebSocket on the same session", async () => {
    requireChromium();
    requireNpmPackage("playwright-core");
    const { chromium } = await import("playwright-core");
    const pagePorts: (number | null)[] = [];
    const { server, versions, ports } = await echoServer({
      // One port serves the page and its WebSocket (processRequest sees both).
      processRequest: (connection, request) => {
        if (request.method !== "GET") return;
        pagePorts.push(clientPort(connection));
        const page = connection.respond(200, PAGE);
        page.headers.set("Content-Type", "text/html; charset=utf-8");
        return page;
      },
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [...CHROMIUM_FLAGS, "--ignore-certificate-errors"],
    });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`https://localhost:${server.port}/`, { timeout: 15_000 });
      assert.equal(response?.status(), 200);
      const protocol = await page.evaluate(
        "performance.getEntriesByType('navigation')[0].nextHopProtocol",
      );
      assert.equal(protocol, "h2", "the page came over HTTP/2");
      await page.waitForFunction(
        () => (globalThis as { closeCode?: number }).closeCode !== undefined,
        null,
        { timeout: 15_000 },
      );
      const echo = await page.evaluate(() => (globalThis as { echo?: string }).echo);
      assert.equal(echo, "hello from Chromium");
      // The closing handshake completed over the stream.
      const closeCode = await page.evaluate(() => (globalThis as { closeCode?: number }).closeCode);
      assert.equal(closeCode, 1000);
      // Server side: the WebSocket rode the h2 session, the one of the page
      // (the same client port: the same TCP connection).
      assert.deepEqual(versions, ["HTTP/2"]);
      assert.ok(pagePorts.length >= 1 && pagePorts[0] !== null, `page ports ${pagePorts}`);
      assert.deepEqual(ports, [pagePorts[0]]);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

describe("python3-h2 client", () => {
  test("opens a WebSocket with extended CONNECT, echoes, and closes with END_STREAM", async () => {
    requirePythonModule("h2", "python3-h2");
    const { server, versions } = await echoServer();
    try {
      const { code, output } = await runProgram(
        PYTHON,
        [join(PEERS_DIR, "h2_client.py"), String(server.port), caFile],
        {},
        20_000,
      );
      assert.equal(code, 0, output);
      assert.deepEqual(JSON.parse(output), {
        alpn: "h2",
        enableConnectProtocol: 1,
        status: "200",
        accept: null,
        echo: "hello from python-h2",
        closeCode: 1000,
        serverEnded: true,
      });
      assert.deepEqual(versions, ["HTTP/2"]);
    } finally {
      await server.close();
    }
  });
});

describe("undici's WebSocket with allowH2", () => {
  async function undiciEcho(port: number): Promise<{ echo: string | null; code: number }> {
    requireNpmPackage("undici");
    const { Agent, WebSocket } = await import("undici");
    const dispatcher = new Agent({ allowH2: true, connect: { ca: cert } });
    try {
      const ws = new WebSocket(`wss://localhost:${port}/`, { dispatcher });
      let echo: string | null = null;
      ws.onopen = () => ws.send("hello from undici");
      ws.onmessage = (event) => {
        echo = String(event.data);
        ws.close(1000);
      };
      const timer = setTimeout(() => ws.close(), 10_000);
      const [event] = (await once(ws, "close")) as [{ code: number }];
      clearTimeout(timer);
      return { echo, code: event.code };
    } finally {
      await dispatcher.close();
    }
  }

  test("fails our compliant 200 for lack of Sec-WebSocket-Accept (undici's bug, RFC 8441 §5)", async () => {
    const { server, versions } = await echoServer();
    try {
      const result = await undiciEcho(server.port);
      // undici spoke HTTP/2 to us, then rejected the response: RFC 8441 §5
      // says Sec-WebSocket-Accept isn't used on HTTP/2, undici requires it.
      assert.deepEqual(versions, ["HTTP/2"]);
      assert.deepEqual(result, { echo: null, code: 1006 });
    } finally {
      await server.close();
    }
  });

  test("works once processResponse adds the Accept undici expects (the documented workaround)", async () => {
    const { server, versions } = await echoServer({
      processResponse: (_connection, request, response) => {
        const clientKey = request.headers.get("sec-websocket-key");
        if (request.version === "HTTP/2" && clientKey !== undefined) {
          response.headers.set("Sec-WebSocket-Accept", acceptKey(clientKey));
        }
      },
    });
    try {
      const result = await undiciEcho(server.port);
      assert.deepEqual(result, { echo: "hello from undici", code: 1000 });
      assert.deepEqual(versions, ["HTTP/2"]);
    } finally {
      await server.close();
    }
  });
});
