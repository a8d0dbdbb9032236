// Differential: the WHATWG scenarios (test/helpers/web-scenarios.mjs) run
// through our WebSocket, undici's (npm `undici`), `ws`'s and, where Node has
// one (Node >= 22), Node's global WebSocket, against our server and `ws`'s.
// Every difference from ours must be one documented in docs/web.md, with the
// section of the Standard the other implementation departs from; Chromium
// agrees with ours on every scenario (test-peers/web.test.ts).

import { strict as assert } from "node:assert";
import { after, before, describe, test } from "node:test";
import { WebSocket as UndiciWebSocket } from "undici";
import WsWebSocket from "ws";
import { WebSocket } from "../../src/web/index.ts";
import { EXPECTED_LOGS } from "../helpers/web-expected.ts";
import { runAll } from "../helpers/web-scenarios.mjs";
import { startWebServers, type WebServers } from "../helpers/web-servers.ts";

type Logs = Record<string, string[]>;

/** Differences of undici's WebSocket from the Standard (and ours), by scenario. */
const UNDICI_DIFFERENCES: Record<string, string> = {
  "send while CLOSING grows bufferedAmount and sends nothing":
    "§3.3 send(): every call that doesn't throw increases bufferedAmount; undici's stays 0",
  "close() while CONNECTING fails the connection":
    "§3.4: error and close fire in a queued task; undici fires them inside close()",
  "abrupt TCP close after a message":
    "§3.4: error fires only when the connection was failed; undici also fires it for a TCP close without a close frame (Chromium doesn't)",
};

/** Differences of ws's WebSocket, by scenario: some depend on timing, so they may or may not show. */
const WS_DIFFERENCES: Record<string, string> = {
  "echo of text, bytes, ArrayBuffer and Blob, then close(1000) [arraybuffer]":
    "§3.3 bufferedAmount: ws counts only what sits in the socket's buffer, not every byte given to send()",
  "echo of text, bytes, ArrayBuffer and Blob, then close(1000) [blob]":
    "§3.3 bufferedAmount: as above",
  "16 sends of 1 MiB: bufferedAmount grows at once and drains to 0":
    "§3.3 bufferedAmount: as above",
  "messages received after close() are dropped":
    "§3.4: a message received when the ready state isn't OPEN isn't delivered; ws delivers it",
  "send while CONNECTING throws InvalidStateError": "§3.3 send() step 1: ws throws a plain Error",
  "close() while CONNECTING fails the connection":
    "§3.4: readyState is CLOSED when error fires; ws fires error while CLOSING",
  "close() argument checks":
    "§3.2 close(): only 1000 and 3000-4999, reasons up to 123 bytes; ws has its own rules",
  "constructor: empty fragment": "§3.1 step 7: a URL with a fragment, even empty, is a SyntaxError",
  "subprotocols requested, none selected": "§3.4: readyState is CLOSED when error fires",
  "handshake with a wrong accept key": "§3.4: readyState is CLOSED when error fires",
  "handshake selecting an unrequested subprotocol": "§3.4: as above",
  "handshake selecting an unrequested extension": "§3.4: as above",
  "handshake answered with 403": "§3.4: as above",
  "invalid UTF-8 in a text message fails the connection": "§3.4: as above",
};

// The error event is an ErrorEvent in undici and ws, a plain Event in the
// Standard (§3.4 "fire an event named error"): tested on its own below.
function normalize(logs: Logs): Logs {
  const out: Logs = {};
  for (const [label, lines] of Object.entries(logs)) {
    out[label] = lines.map((line) => line.replace(/^error subclass/, "error Event"));
  }
  return out;
}

function differences(ours: Logs, theirs: Logs): string[] {
  assert.deepEqual(Object.keys(theirs), Object.keys(ours));
  return Object.keys(ours).filter((label) => {
    return JSON.stringify(ours[label]) !== JSON.stringify(theirs[label]);
  });
}

const globalWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket;

for (const kind of ["ours", "ws"] as const) {
  describe(`against ${kind === "ours" ? "our server" : "ws's server"}`, () => {
    let servers: WebServers;
    let ours: Logs;
    let undici: Logs;
    let ws: Logs;
    let node: Logs | null = null;

    before(async () => {
      servers = await startWebServers(kind);
      [ours, undici, ws] = await Promise.all([
        runAll(WebSocket, servers.urls),
        runAll(UndiciWebSocket, servers.urls).then(normalize),
        runAll(WsWebSocket, servers.urls).then(normalize),
      ]);
      if (globalWebSocket !== undefined) {
        node = normalize(await runAll(globalWebSocket, servers.urls));
      }
    });

    after(() => servers?.close());

    test("ours logs what the Standard (and Chromium) gives in every scenario", () => {
      assert.deepEqual(ours, EXPECTED_LOGS);
    });

    test("undici differs from ours exactly where it departs from the Standard", () => {
      assert.deepEqual(differences(ours, undici), Object.keys(UNDICI_DIFFERENCES));
    });

    test("Node's global WebSocket (undici inside) differs at most where undici does", (t) => {
      if (node === null) {
        // Node 20 has no global WebSocket: nothing to compare; the CI's
        // Node 24 run compares it.
        assert.equal(globalWebSocket, undefined);
        t.diagnostic("no global WebSocket on this Node");
        return;
      }
      for (const label of differences(ours, node)) {
        assert.ok(label in UNDICI_DIFFERENCES, `undocumented difference: ${label}`);
      }
    });

    test("ws differs from ours only where it departs from the Standard", () => {
      const found = differences(ours, ws);
      for (const label of found) {
        assert.ok(label in WS_DIFFERENCES, `undocumented difference: ${label}`);
      }
      // Those that don't depend on timing always show.
      for (const label of [
        "messages received after close() are dropped",
        "send while CONNECTING throws InvalidStateError",
        "close() argument checks",
        "constructor: empty fragment",
        "handshake answered with 403",
      ]) {
        assert.ok(found.includes(label), `expected a difference: ${label}`);
      }
    });
  });
}

test("the error event is a plain Event in ours, an ErrorEvent in undici and ws", async () => {
  const servers = await startWebServers("ours");
  try {
    const kinds = await Promise.all(
      [WebSocket, UndiciWebSocket, WsWebSocket].map(
        (Impl) =>
          new Promise<string>((resolve) => {
            const socket = new (Impl as typeof WebSocket)(`${servers.urls.raw}/status-403`);
            socket.addEventListener("error", (event) => resolve(event.constructor.name));
          }),
      ),
    );
    assert.deepEqual(kinds, ["Event", "ErrorEvent", "ErrorEvent"]);
  } finally {
    await servers.close();
  }
});

// No checkLeaksAfterAll() here: undici's WebSocket keeps a TCP socket open
// after some failed handshakes (a subprotocol or extension the client didn't
// offer, a wrong accept key), beyond the servers' close. Our sockets are
// checked by websocket.test.ts, which runs the same failures.
