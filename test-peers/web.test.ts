// The same WHATWG scenarios (test/helpers/web-scenarios.mjs) run by a real
// Chromium page and by our `websockets-ts/web` WebSocket on Node, against the
// same servers: the event logs must be identical, line by line. Then
// WebSocketStream: what Chromium's does, ours does.

import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { WebSocket, WebSocketError, WebSocketStream } from "../src/web/index.ts";
import { runAll } from "../test/helpers/web-scenarios.mjs";
import { startWebServers, type WebServers } from "../test/helpers/web-servers.ts";
import { streamScenarios } from "../test/helpers/web-stream-scenarios.mjs";
import { CHROMIUM, requireChromium, requireNpmPackage } from "./helpers/requirements.ts";

const helpers = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "helpers");
const PAGE = `<!doctype html><meta charset="utf-8"><title>web scenarios</title>
<script type="module">
  import { runAll } from "./web-scenarios.mjs";
  import { streamScenarios } from "./web-stream-scenarios.mjs";
  window.runAll = runAll;
  window.streamScenarios = streamScenarios;
  window.ready = true;
</script>`;

let browser: Browser;
let page: Page;
let http: Server;

before(async () => {
  requireChromium();
  requireNpmPackage("playwright-core");
  const { chromium } = await import("playwright-core");
  http = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
    } else if (req.url === "/web-scenarios.mjs" || req.url === "/web-stream-scenarios.mjs") {
      res
        .writeHead(200, { "content-type": "text/javascript; charset=utf-8" })
        .end(readFileSync(join(helpers, req.url.slice(1))));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as { port: number };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic"],
  });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true, null, {
    timeout: 10_000,
  });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
});

type Logs = Record<string, string[]>;

for (const kind of ["ours", "ws"] as const) {
  describe(`WebSocket against ${kind === "ours" ? "our server" : "ws's server"}`, () => {
    let servers: WebServers;
    let chromiumLogs: Logs;
    let ourLogs: Logs;

    before(async () => {
      servers = await startWebServers(kind);
      // One after the other: both use the same servers.
      chromiumLogs = await page.evaluate(
        (urls) =>
          (globalThis as unknown as { runAll(c: unknown, u: unknown): Promise<Logs> }).runAll(
            (globalThis as unknown as { WebSocket: unknown }).WebSocket,
            urls,
          ),
        servers.urls,
      );
      ourLogs = await runAll(WebSocket, servers.urls);
    });

    after(() => servers?.close());

    test("every scenario gives Chromium's event log", () => {
      assert.deepEqual(Object.keys(ourLogs), Object.keys(chromiumLogs));
      for (const label of Object.keys(chromiumLogs)) {
        assert.deepEqual(ourLogs[label], chromiumLogs[label], label);
      }
    });
  });
}

describe("WebSocketStream against our server", () => {
  let servers: WebServers;

  before(async () => {
    servers = await startWebServers("ours");
  });

  after(() => servers?.close());

  test("every scenario gives Chromium's log", async () => {
    const chromiumLogs = await page.evaluate(
      (urls) =>
        (
          globalThis as unknown as { streamScenarios(c: unknown, u: unknown): Promise<Logs> }
        ).streamScenarios(
          {
            WebSocketStream: (globalThis as unknown as { WebSocketStream: unknown })
              .WebSocketStream,
            WebSocketError: (globalThis as unknown as { WebSocketError: unknown }).WebSocketError,
          },
          urls,
        ),
      servers.urls,
    );
    const ourLogs = await streamScenarios({ WebSocketStream, WebSocketError }, servers.urls);
    assert.deepEqual(Object.keys(ourLogs), Object.keys(chromiumLogs));
    for (const label of Object.keys(chromiumLogs)) {
      assert.deepEqual(ourLogs[label], chromiumLogs[label], label);
    }
  });
});
