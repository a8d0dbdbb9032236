// The npm-only part of the interop matrix (test-peers/), so that `npm test`
// covers it on a machine with nothing but Node: our server with our client,
// ws, undici's WebSocket and Node's built-in WebSocket (behind
// --experimental-websocket on Node 20), and our client with the ws server.
// Same checks as `npm run test:peers`; the Debian peers and Chromium run
// only there.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  nodeClient,
  oursClient,
  undiciClient,
  wsClient,
} from "../../test-peers/helpers/clients.ts";
import { runMatrixPair } from "../../test-peers/helpers/pairs.ts";
import { oursServer, wsServer } from "../../test-peers/helpers/servers.ts";

for (const client of [oursClient, wsClient, undiciClient, nodeClient]) {
  test(`the ${client.name} client interoperates with our server`, {
    timeout: 120_000,
  }, async () => {
    assert.deepEqual(await runMatrixPair(client, oursServer, null), []);
  });
}

test("our client interoperates with the ws server", { timeout: 120_000 }, async () => {
  assert.deepEqual(await runMatrixPair(oursClient, wsServer, null), []);
});
