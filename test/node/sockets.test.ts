import assert from "node:assert/strict";
import { createServer, connect as netConnect, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { waitForConnect } from "../../src/node/sockets.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

describe("waitForConnect", () => {
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  checkLeaksAfterAll();

  test("resolves with the socket once it connects, leaving none of its listeners", async () => {
    const socket = netConnect({ host: "127.0.0.1", port });
    const errorListeners = socket.listenerCount("error");
    const connected = await waitForConnect(socket, "connect");
    assert.equal(connected, socket);
    assert.equal(socket.listenerCount("connect"), 0);
    assert.equal(socket.listenerCount("error"), errorListeners);
    socket.destroy();
  });

  test("rejects with the socket's error and destroys it", async () => {
    // Connect to a port nobody listens on: the server's port, once closed.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const socket = netConnect({ host: "127.0.0.1", port: deadPort });
    await assert.rejects(waitForConnect(socket, "connect"), { code: "ECONNREFUSED" });
    assert.equal(socket.destroyed, true);
  });

  test("rejects with the signal's reason when it aborts, and destroys the socket", async () => {
    const controller = new AbortController();
    const socket = netConnect({ host: "127.0.0.1", port });
    const pending = waitForConnect(socket, "connect", controller.signal);
    const reason = new Error("gave up");
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    assert.equal(socket.destroyed, true);
  });

  test("rejects at once when the signal is already aborted", async () => {
    const reason = new Error("too late");
    const socket = netConnect({ host: "127.0.0.1", port });
    await assert.rejects(
      waitForConnect(socket, "connect", AbortSignal.abort(reason)),
      (error) => error === reason,
    );
    assert.equal(socket.destroyed, true);
  });
});
