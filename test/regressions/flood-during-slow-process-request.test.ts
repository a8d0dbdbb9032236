// Security review, item 6: with a slow async processRequest, a client that
// sent over 1 MiB after its request and half-closed made sendResponse throw
// InvalidState when the hook returned: about 20 lines and two stack traces
// at ERROR per connection, which any client could trigger. It is an
// ordinary handshake failure: the connection is closed, logged at DEBUG.
import { strict as assert } from "node:assert";
import { once } from "node:events";
import { connect as connectSocket } from "node:net";
import { it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { serve } from "../../src/index.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { upgradeRequest } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

for (const halfClose of [true, false]) {
  it(`closes without an ERROR log when a client floods during processRequest${halfClose ? " and half-closes" : ""}`, async () => {
    const log = createCaptureLogger("debug");
    let hookReturned!: () => void;
    const returned = new Promise<void>((resolve) => {
      hookReturned = resolve;
    });
    const server = await serve(async (ws) => ws.close(), {
      host: "127.0.0.1",
      port: 0,
      logger: log.logger,
      processRequest: async () => {
        await sleep(200);
        hookReturned();
      },
    });
    try {
      const { port } = server.address as { port: number };
      // A client that keeps its side open after the server's FIN, unless it half-closes.
      const socket = connectSocket({ host: "127.0.0.1", port, allowHalfOpen: true });
      await once(socket, "connect");
      socket.on("error", () => {});
      socket.resume();
      socket.write(upgradeRequest("127.0.0.1", port));
      socket.write(Buffer.alloc(1_100_000, 0x81));
      if (halfClose) socket.end();
      await returned;
      await sleep(100);
      socket.destroy();
      const errors = log.records.filter((r) => r.level === "error" || r.level === "warn");
      assert.deepEqual(
        errors.map((r) => r.msg),
        [],
      );
      const failure = log.records.find((r) => r.err !== undefined && r.level === "debug");
      assert.ok(failure !== undefined, "the failure is logged at DEBUG");
    } finally {
      await server.close();
    }
  });
}
