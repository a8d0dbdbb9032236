import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import {
  AddressCache,
  addressOf,
  describeAddress,
  disableNagle,
} from "../../src/node/transport.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

/** Connects to a fresh server on `target`; returns both ends. */
async function connected(
  listen: (server: ReturnType<typeof createServer>, ready: () => void) => void,
  connectTo: (server: ReturnType<typeof createServer>) => Socket,
): Promise<{ client: Socket; accepted: Socket; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => listen(server, resolve));
  const acceptedPromise = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connectTo(server);
  await new Promise<void>((resolve) => client.once("connect", resolve));
  const accepted = await acceptedPromise;
  return {
    client,
    accepted,
    close: async () => {
      client.destroy();
      accepted.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("addressOf", () => {
  it("reads both ends of a TCP socket", async () => {
    const { client, accepted, close } = await connected(
      (server, ready) => server.listen(0, "127.0.0.1", ready),
      (server) => tcpConnect((server.address() as { port: number }).port, "127.0.0.1"),
    );
    const port = (accepted.address() as { port: number }).port;
    assert.deepEqual(addressOf(client, "remote"), { host: "127.0.0.1", port });
    assert.deepEqual(addressOf(accepted, "local"), { host: "127.0.0.1", port });
    assert.equal(describeAddress(addressOf(client, "remote")), `127.0.0.1:${port}`);
    await close();
  });

  it("reads the path of a Unix socket on the server's end only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ws-transport-"));
    const path = join(dir, "t.sock");
    const { client, accepted, close } = await connected(
      (server, ready) => server.listen(path, ready),
      () => tcpConnect(path),
    );
    assert.deepEqual(addressOf(accepted, "local"), { path });
    assert.equal(addressOf(accepted, "remote"), null);
    assert.equal(addressOf(client, "local"), null);
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns null for a Duplex that isn't a socket", () => {
    const stream = new PassThrough();
    assert.equal(addressOf(stream, "remote"), null);
    assert.equal(addressOf(stream, "local"), null);
    // Not a socket: nothing to disable, and no error.
    disableNagle(stream);
    stream.destroy();
  });
});

describe("AddressCache", () => {
  it("keeps both addresses read before the socket was destroyed", async () => {
    const { client, accepted, close } = await connected(
      (server, ready) => server.listen(0, "127.0.0.1", ready),
      (server) => tcpConnect((server.address() as { port: number }).port, "127.0.0.1"),
    );
    const serverPort = (accepted.address() as { port: number }).port;
    const clientPort = (client.address() as { port: number }).port;
    const cache = new AddressCache();
    cache.keep(accepted);
    await close();
    // Why keep() exists: a socket never asked doesn't know once destroyed.
    assert.equal(addressOf(client, "remote"), null);
    assert.deepEqual(cache.get(accepted, "remote"), { host: "127.0.0.1", port: clientPort });
    assert.deepEqual(cache.get(accepted, "local"), { host: "127.0.0.1", port: serverPort });
  });

  it("asks again while a transport doesn't tell, and remembers null once it's destroyed", () => {
    const stream = new PassThrough();
    const cache = new AddressCache();
    assert.equal(cache.get(stream, "remote"), null);
    // Not cached: a socket still connecting may tell later.
    (stream as unknown as { remoteAddress: string; remotePort: number }).remoteAddress = "::1";
    (stream as unknown as { remoteAddress: string; remotePort: number }).remotePort = 9;
    assert.deepEqual(cache.get(stream, "remote"), { host: "::1", port: 9 });
    stream.destroy();
    assert.equal(cache.get(stream, "local"), null);
    (stream as unknown as { localAddress: string; localPort: number }).localAddress = "::1";
    (stream as unknown as { localAddress: string; localPort: number }).localPort = 9;
    assert.equal(cache.get(stream, "local"), null, "null is kept once destroyed");
  });
});

describe("describeAddress", () => {
  it("brackets IPv6 hosts, prints paths as they are, and says unknown for null", () => {
    assert.equal(describeAddress({ host: "::1", port: 80 }), "[::1]:80");
    assert.equal(describeAddress({ path: "/tmp/ws.sock" }), "/tmp/ws.sock");
    assert.equal(describeAddress(null), "unknown");
  });
});
