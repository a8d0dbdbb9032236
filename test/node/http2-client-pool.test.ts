/**
 * The pool of HTTP/2 sessions: which connections may share a session
 * (poolKey), and the pool's life cycle against a node:http2 server.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Http2Session } from "node:http2";
import { connect as netConnect } from "node:net";
import { after, describe, it } from "node:test";
import { Http2Unavailable, poolKey, SessionPool } from "../../src/node/http2-client-pool.ts";
import { waitForConnect } from "../../src/node/sockets.ts";
import { parseURI } from "../../src/uri.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

const wss = parseURI("wss://example.com/chat");

describe("poolKey", () => {
  it("is the same for the same origin and equal options, whatever the path", () => {
    const ca = Buffer.from("ca");
    assert.equal(
      poolKey(wss, { tls: { ca, servername: "example.com" } }),
      poolKey(parseURI("wss://example.com/other?x=1"), { tls: { servername: "example.com", ca } }),
    );
  });

  it("tells origins apart: scheme, host, port", () => {
    const keys = new Set(
      [
        "wss://example.com/",
        "ws://example.com/",
        "wss://example.org/",
        "wss://example.com:8443/",
      ].map((uri) => poolKey(parseURI(uri), { proxy: false })),
    );
    assert.equal(keys.size, 4);
  });

  it("tells TLS options apart, objects by identity", () => {
    const ca = Buffer.from("ca");
    const same = poolKey(wss, { tls: { ca } });
    assert.equal(poolKey(wss, { tls: { ca } }), same);
    assert.notEqual(poolKey(wss, { tls: { ca: Buffer.from("ca") } }), same);
    assert.notEqual(poolKey(wss, { tls: { ca, rejectUnauthorized: false } }), same);
    assert.notEqual(poolKey(wss, { tls: { ca: [ca] } }), same);
  });

  it("ignores TLS options for ws://, and tells Unix sockets and proxies apart", () => {
    const ws = parseURI("ws://example.com/");
    assert.equal(poolKey(ws, { tls: { ca: "x" }, proxy: false }), poolKey(ws, { proxy: false }));
    assert.notEqual(poolKey(ws, { path: "/tmp/a.sock" }), poolKey(ws, { path: "/tmp/b.sock" }));
    assert.notEqual(
      poolKey(ws, { proxy: "http://127.0.0.1:3128" }),
      poolKey(ws, { proxy: "http://127.0.0.1:3129" }),
    );
  });
});

describe("SessionPool", () => {
  const server = createServer({ settings: { enableConnectProtocol: true } });
  const plain = createServer({ settings: { enableConnectProtocol: false } });
  const sessions: Http2Session[] = [];
  for (const s of [server, plain]) s.on("session", (session) => sessions.push(session));
  after(async () => {
    for (const session of sessions) session.destroy();
    await Promise.all([server, plain].map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function portOf(s: typeof server): Promise<number> {
    if (!s.listening) {
      s.listen(0, "127.0.0.1");
      await once(s, "listening");
    }
    return (s.address() as { port: number }).port;
  }

  const opener = (port: number) => (signal: AbortSignal) =>
    waitForConnect(netConnect({ host: "127.0.0.1", port }), "connect", signal);

  it("shares a session between leases and closes it with the last", async () => {
    const pool = new SessionPool();
    const port = await portOf(server);
    const uri = parseURI(`ws://127.0.0.1:${port}/`);
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([
      pool.acquire("k", uri, opener(port), signal),
      pool.acquire("k", uri, opener(port), signal),
    ]);
    assert.equal(a.session, b.session);
    assert.equal(pool.size, 1);
    a.release();
    a.release(); // idempotent: b still holds it
    assert.equal(a.session.closed, false);
    b.release();
    assert.equal(pool.size, 0);
    assert.equal(b.session.closed, true);
  });

  it("refuses a session whose SETTINGS lack ENABLE_CONNECT_PROTOCOL", async () => {
    const pool = new SessionPool();
    const port = await portOf(plain);
    const uri = parseURI(`ws://127.0.0.1:${port}/`);
    await assert.rejects(
      pool.acquire("k", uri, opener(port), new AbortController().signal),
      (error: unknown) => error instanceof Http2Unavailable && error.reason === "settings",
    );
    assert.equal(pool.size, 0);
  });

  it("gives up the set-up when the only waiter aborts", async () => {
    const pool = new SessionPool();
    const port = await portOf(server);
    const uri = parseURI(`ws://127.0.0.1:${port}/`);
    const controller = new AbortController();
    const pending = pool.acquire("k", uri, opener(port), controller.signal);
    controller.abort(new Error("changed my mind"));
    await assert.rejects(pending, { message: "changed my mind" });
    assert.equal(pool.size, 0);
  });
});

checkLeaksAfterAll();
