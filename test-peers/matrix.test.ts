// The interop matrix: our server with every client peer, our client with
// every server peer, each pair through the checks of helpers/scenarios.ts,
// over TCP on 127.0.0.1. A missing peer fails its pair with the command
// that installs it. The run writes test-peers/results/node-<major>.json;
// `node scripts/interop-table.mjs` turns the results into docs/interop.md.

import { strict as assert } from "node:assert";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Server, serve } from "../src/index.ts";
import { ALL_CLIENTS, oursClient, startChromium } from "./helpers/clients.ts";
import { runMatrixPair } from "./helpers/pairs.ts";
import { type ResultsFile, writeResults } from "./helpers/scenarios.ts";
import { ALL_SERVERS, oursServer } from "./helpers/servers.ts";

const major = process.versions.node.split(".")[0];
const resultsPath =
  process.env.INTEROP_RESULTS ??
  fileURLToPath(new URL(`./results/node-${major}.json`, import.meta.url));

const file: ResultsFile = {
  generatedAt: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  peers: {},
  results: [],
};

/** Tests defined and tests run: a filtered run must not overwrite the results of a full one. */
let defined = 0;
let ran = 0;

describe("interop matrix", { timeout: 30 * 60_000 }, () => {
  after(() => {
    if (ran < defined) {
      console.log(`interop: ${ran} of ${defined} tests ran; ${resultsPath} left as it was`);
      return;
    }
    writeResults(resultsPath, file);
    console.log(`interop results written to ${resultsPath}`);
  });

  for (const client of ALL_CLIENTS) {
    defined++;
    test(`${client.name} client with the websockets-ts server`, { timeout: 180_000 }, async () => {
      ran++;
      assert.deepEqual(await runMatrixPair(client, oursServer, file), []);
    });
  }
  defined++;
  test("a Chromium page talks to our server attached to the page's own http.Server", {
    timeout: 120_000,
  }, async () => {
    ran++;
    const scenario = "same-origin page, server attached to the page's http.Server";
    let server: Server | null = null;
    const { session, origin } = await startChromium(async (http) => {
      server = await serve(
        async (ws) => {
          for await (const message of ws) await ws.send(message);
        },
        { server: http, httpPath: "/echo", logger: false },
      );
    });
    try {
      await session.open(`ws://${origin}/echo`, { compression: true });
      const bytes = Buffer.alloc(65_536, 0xa5);
      await session.send("same origin 🧩");
      assert.equal(await session.recv(), "same origin 🧩");
      await session.send(bytes);
      assert.deepEqual(await session.recv(), bytes);
      const closed = await session.close(1000, "done");
      assert.equal(closed.code, 1000);
      file.results.push({ client: "chromium", server: "websockets-ts", scenario, status: "pass" });
    } catch (error) {
      file.results.push({
        client: "chromium",
        server: "websockets-ts",
        scenario,
        status: "fail",
        note: String(error),
      });
      throw error;
    } finally {
      await session.stop();
      await (server as Server | null)?.close();
    }
  });

  for (const server of ALL_SERVERS) {
    if (server === oursServer) continue;
    defined++;
    test(`websockets-ts client with the ${server.name} server`, { timeout: 180_000 }, async () => {
      ran++;
      assert.deepEqual(await runMatrixPair(oursClient, server, file), []);
    });
  }
});
