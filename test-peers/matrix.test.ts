// The interop matrix: our server with every client peer, our client with
// every server peer, each pair through the checks of helpers/scenarios.ts,
// over TCP on 127.0.0.1. A missing peer fails its pair with the command
// that installs it. The run writes test-peers/results/node-<major>.json;
// `node scripts/interop-table.mjs` turns the results into docs/interop.md.

import { strict as assert } from "node:assert";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ALL_CLIENTS, oursClient } from "./helpers/clients.ts";
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

describe("interop matrix", { timeout: 30 * 60_000 }, () => {
  after(() => {
    writeResults(resultsPath, file);
    console.log(`interop results written to ${resultsPath}`);
  });

  for (const client of ALL_CLIENTS) {
    test(`${client.name} client with the websockets-ts server`, { timeout: 180_000 }, async () => {
      assert.deepEqual(await runMatrixPair(client, oursServer, file), []);
    });
  }
  for (const server of ALL_SERVERS) {
    if (server === oursServer) continue;
    test(`websockets-ts client with the ${server.name} server`, { timeout: 180_000 }, async () => {
      assert.deepEqual(await runMatrixPair(oursClient, server, file), []);
    });
  }
});
