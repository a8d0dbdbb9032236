import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  connect,
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/index.ts";
import {
  frame,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  parseClose,
  rawConnect,
  withTimeout,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

/** A server whose handlers wait for the connection to close. */
async function idleServer(options: ServeOptions): Promise<{ server: Server; port: number }> {
  const server = await serve(
    async (ws: ServerConnection) => {
      await ws.closed;
    },
    { host: "127.0.0.1", port: 0, logger: null, ...options },
  );
  return { server, port: (server.address as { port: number }).port };
}

describe("Keepalive", () => {
  it("pings on its own, measures latency, and keeps going while pongs come", async () => {
    const { server, port } = await idleServer({ pingInterval: 50, pingTimeout: 1000 });
    const peer = await rawConnect(port);
    for (let i = 0; i < 3; i++) {
      const ping = await peer.reader.next(2000);
      assert.equal(ping?.opcode, OP_PING);
      assert.equal(ping.payload.length, 4);
      peer.send(frame(OP_PONG, ping.payload));
    }
    const [ws] = server.connections;
    assert.ok(ws.latency > 0);
    await peer.close();
    await server.close();
  });

  it("fails the connection with 1011 when the pong doesn't come in time", async () => {
    const { server, port } = await idleServer({ pingInterval: 20, pingTimeout: 20 });
    // A raw peer that reads pings and never answers them.
    const peer = await rawConnect(port);
    let next = await peer.reader.next(2000);
    for (let i = 0; i < 10 && next?.opcode === OP_PING; i++) next = await peer.reader.next(2000);
    assert.equal(next?.opcode, OP_CLOSE);
    assert.deepEqual(parseClose(next.payload), { code: 1011, reason: "keepalive ping timeout" });
    peer.socket.destroy();
    await server.close();
  });

  it("ping() resolves with the round-trip time; one pong acknowledges earlier pings", async () => {
    const { server, port } = await idleServer({});
    const ws = await connect(`ws://127.0.0.1:${port}/`, { logger: null, pingInterval: null });
    const latencies = await Promise.all([ws.ping("a"), ws.ping("b"), ws.ping()]);
    for (const latency of latencies) assert.ok(latency >= 0);
    assert.equal(ws.latency, latencies[2]);
    await assert.rejects(
      Promise.all([ws.ping("same"), ws.ping("same")]),
      /already waiting for a pong with the same data: 73616d65/,
    );
    await ws.close();
    await server.close();
  });

  it("rejects pings awaiting their pong when the connection closes", async () => {
    const { server, port } = await idleServer({});
    const peer = await rawConnect(port);
    const [ws] = server.connections;
    // The raw peer never answers: the ping waits until the connection closes.
    const pending = ws.ping("never");
    peer.socket.destroy();
    await assert.rejects(pending, { name: "ConnectionClosedError" });
    await server.close();
  });
});
