// A peer may close right after the opening handshake, in the same TCP
// segment as the 101 response (a ws server calling close() in its
// "connection" event does this) or as the upgrade request. The handshake
// still succeeded: connect() must resolve and report the close code through
// recv(), and the server's handler must run and see the close.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ConnectionClosedError, connect, type ServerConnection, serve } from "../../src/index.ts";
import {
  closeFrame,
  fakeServer,
  handshakeResponse,
  OP_CLOSE,
  parseClose,
  readFrames,
  readResponseHead,
  tcpConnect,
  upgradeRequest,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

test("connect() resolves when the close frame arrives with the 101, and recv() reports it", async () => {
  const fake = await fakeServer((socket, request) => {
    socket.write(
      Buffer.concat([
        handshakeResponse(request.key),
        closeFrame(1013, "try later", { mask: false }),
      ]),
    );
    socket.resume();
  });
  try {
    const ws = await connect(fake.url, { logger: null, closeTimeout: 500 });
    // 1013 is not a normal closure (1000/1001), so the error is ConnectionClosedError.
    await assert.rejects(ws.recv(), ConnectionClosedError);
    await ws.closed;
    assert.equal(ws.closeCode, 1013);
    assert.equal(ws.closeReason, "try later");
  } finally {
    await fake.close();
  }
});

test("the handler runs when the close frame arrives with the upgrade request", async () => {
  const seen: Array<number | null> = [];
  const server = await serve(
    async (ws: ServerConnection) => {
      for await (const _ of ws) void _;
      seen.push(ws.closeCode);
    },
    { host: "127.0.0.1", port: 0, logger: null },
  );
  try {
    const { port } = server.address as { port: number };
    const socket = await tcpConnect(port);
    socket.write(Buffer.concat([upgradeRequest("127.0.0.1", port), closeFrame(1000, "bye")]));
    const { response, rest } = await readResponseHead(socket);
    assert.equal(response.status, 101);
    const reader = readFrames(socket, rest);
    const close = await reader.next();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.deepEqual(parseClose(close!.payload), { code: 1000, reason: "bye" });
    await reader.waitClosed();
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, [1000]);
  } finally {
    await server.close();
  }
});
