// WebSocketStream (src/web/websocket-stream.ts), over real sockets: the
// scenarios shared with Chromium (test-peers/web.test.ts), then
// backpressure both ways and the extras.

import { strict as assert } from "node:assert";
import { after, before, describe, test } from "node:test";
import { serve } from "../../src/index.ts";
import { WebSocketError, WebSocketStream } from "../../src/web/index.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { startWebServers, type WebServers } from "../helpers/web-servers.ts";
import { streamScenarios } from "../helpers/web-stream-scenarios.mjs";

let servers: WebServers;

before(async () => {
  servers = await startWebServers("ours");
});

after(() => servers.close());
checkLeaksAfterAll();

// What Chromium logs in the same scenarios (test-peers/web.test.ts checks it still does).
const EXPECTED: Record<string, string[]> = {
  "echo, then close({ closeCode: 4000, reason })": [
    "url ws://127.0.0.1:PORT/echo",
    'opened protocol="chat" readable=true writable=true',
    'read text "héllo"',
    "read arraybuffer [1,2,3]",
    "read arraybuffer [1,2]",
    'closed resolves {"closeCode":4000,"reason":"bye"}',
    "read done",
    "write after close rejects InvalidStateError",
  ],
  "server closes with 4001": [
    'read text "hello"',
    "read done",
    'closed resolves {"closeCode":4001,"reason":"bye ✓"}',
  ],
  "close() without arguments": ['closed resolves {"closeCode":1005,"reason":""}'],
  "close() with a reason only": ['closed resolves {"closeCode":1000,"reason":"only"}'],
  "close() argument checks": [
    'close({"closeCode":1001}) throws InvalidAccessError',
    'close({"closeCode":2999}) throws InvalidAccessError',
    'close({"closeCode":5000}) throws InvalidAccessError',
    'close({"closeCode":1000,"reason":"xxxxxxxxxxxx) throws SyntaxError',
    'closed resolves {"closeCode":1000,"reason":""}',
  ],
  "writer.close() closes the connection": ['closed resolves {"closeCode":1005,"reason":""}'],
  "writable.abort(WebSocketError) closes with its code": [
    'closed resolves {"closeCode":4002,"reason":"aborted"}',
  ],
  "readable.cancel(WebSocketError) closes with its code": [
    'closed resolves {"closeCode":4003,"reason":"cancelled"}',
  ],
  "close() while connecting": [
    "opened rejects WebSocketError closeCode=null",
    "closed rejects WebSocketError closeCode=1006",
  ],
  "signal aborted while connecting": ["opened rejects AbortError", "closed rejects AbortError"],
  "subprotocols requested, none selected": [
    "opened rejects WebSocketError closeCode=null",
    "closed rejects WebSocketError closeCode=1006",
  ],
  "handshake answered with 403": [
    "opened rejects WebSocketError closeCode=null",
    "closed rejects WebSocketError closeCode=1006",
  ],
  "abrupt TCP close": [
    'read text "x"',
    "read rejects WebSocketError closeCode=1006",
    "closed rejects WebSocketError closeCode=1006",
  ],
  "invalid UTF-8 fails the connection": [
    "read rejects WebSocketError closeCode=1006",
    "closed rejects WebSocketError closeCode=1006",
  ],
  "constructor checks": [
    "throws SyntaxError",
    "throws SyntaxError",
    "throws SyntaxError",
    "throws SyntaxError",
    "throws SyntaxError",
    "throws TypeError",
  ],
  WebSocketError: [
    "WebSocketError message 4001 r true 0",
    'null "" ""',
    "reason only 1000",
    "throws InvalidAccessError",
    "throws InvalidAccessError",
    "throws SyntaxError",
  ],
};

test("every scenario gives Chromium's log", async () => {
  const logs = await streamScenarios({ WebSocketStream, WebSocketError }, servers.urls);
  assert.deepEqual(logs, EXPECTED);
});

test("the interface: url, opened, closed, close; constructor arguments", () => {
  for (const name of ["url", "opened", "closed"]) {
    assert.equal(
      typeof Object.getOwnPropertyDescriptor(WebSocketStream.prototype, name)?.get,
      "function",
    );
  }
  assert.throws(() => new (WebSocketStream as unknown as new () => WebSocketStream)(), TypeError);
  const wss = new WebSocketStream(`${servers.urls.ws.replace("ws:", "http:")}/echo`);
  assert.equal(wss.url, `${servers.urls.ws}/echo`);
  wss.close();
});

test("an already aborted signal rejects opened and closed with its reason, without connecting", async () => {
  const reason = new Error("never mind");
  const wss = new WebSocketStream(`${servers.urls.ws}/echo`, { signal: AbortSignal.abort(reason) });
  await assert.rejects(wss.opened, (error) => error === reason);
  await assert.rejects(wss.closed, (error) => error === reason);
});

test("writing something else than a string or bytes is a TypeError", async () => {
  const wss = new WebSocketStream(`${servers.urls.ws}/echo`);
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  await assert.rejects(writer.write(42 as unknown as string), TypeError);
  wss.close();
  await wss.closed;
});

describe("backpressure", () => {
  test("reading: while the readable's queue is full, the connection stops reading from the network", async () => {
    // The server sends as fast as its client reads: `sent` counts what its
    // send() let through, which stalls once buffers on both sides fill up.
    let sent = 0;
    const server = await serve(
      async (ws) => {
        const chunk = "x".repeat(64 * 1024);
        for (let i = 0; i < 2000; i++) {
          await ws.send(chunk);
          sent += 1;
        }
      },
      { host: "127.0.0.1", port: 0, logger: null, compression: null },
    );
    try {
      const { port } = server.address as { port: number };
      const wss = new WebSocketStream(`ws://127.0.0.1:${port}`, { compression: null });
      const { readable } = await wss.opened;
      // Wait until the server is stuck, without reading anything.
      let previous = -1;
      for (let i = 0; i < 100 && sent !== previous; i++) {
        previous = sent;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(
        sent < 2000,
        `the server could send everything (${sent} messages) to a client that reads nothing`,
      );
      const stalledAt = sent;
      // Reading lets the server go on.
      const reader = readable.getReader();
      for (let i = 0; i < 200; i++) await reader.read();
      for (let i = 0; i < 100 && sent === stalledAt; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(sent > stalledAt, "reading didn't let the server send more");
      reader.releaseLock();
      await readable.cancel();
      await wss.closed.catch(() => {});
    } finally {
      await server.close();
    }
  });

  test("writing: write() resolves once the bytes are taken by the connection; 16 × 1 MiB arrive", async () => {
    const wss = new WebSocketStream(`${servers.urls.ws}/sink`);
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 16; i++) {
      await writer.ready;
      // desiredSize is the stream's high-water mark (1) minus what waits.
      assert.ok((writer.desiredSize ?? 0) <= 1);
      void writer.write(chunk);
    }
    const reader = readable.getReader();
    const { value } = await reader.read();
    assert.equal(value, "received 16 16777216");
    wss.close();
    await wss.closed;
  });
});
