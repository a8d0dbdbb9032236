// clusterBackplane() with real node:cluster workers: this test process is
// the primary (it runs the relay, and a server of its own), the workers run
// test/support/topics-node.ts on Unix sockets in a temporary folder.
import assert from "node:assert/strict";
import cluster, { type Worker } from "node:cluster";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type ClientConnection, connect } from "../../src/node/client.ts";
import { clusterBackplane } from "../../src/node/cluster-backplane.ts";
import { serve } from "../../src/node/server.ts";
import { withTimeout } from "../helpers/net.ts";
import { topicChat } from "../support/topic-chat.ts";

const NODE = fileURLToPath(new URL("../support/topics-node.ts", import.meta.url));
const dir = mkdtempSync(joinPath(tmpdir(), "websockets-ts-cluster-"));
const workers = new Set<Worker>();

after(async () => {
  await Promise.all([...workers].map(stopWorker));
  rmSync(dir, { recursive: true, force: true });
});

async function startWorker(name: string): Promise<{ worker: Worker; path: string }> {
  const path = joinPath(dir, `${name}.sock`);
  const worker = cluster.fork({ TOPICS_BACKPLANE: "cluster", SOCKET_PATH: path, NODE_NAME: name });
  workers.add(worker);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      worker.on("message", (message: { listening?: string }) => {
        if (message.listening === path) resolve();
      });
      worker.once("exit", (code) => reject(new Error(`worker ${name} exited with ${code}`)));
    }),
    30_000,
    `worker ${name} didn't start`,
  );
  return { worker, path };
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.isDead()) {
    workers.delete(worker);
    return;
  }
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  worker.kill("SIGKILL");
  await exited;
  workers.delete(worker);
}

async function join(path: string, topic: string): Promise<ClientConnection> {
  const ws = await connect("ws://localhost/", { path, logger: false });
  await ws.send(topic);
  assert.match((await ws.recv()) as string, /^subscribed /);
  return ws;
}

/** Receives `count` messages, bounded in time. */
async function receive(ws: ClientConnection, count: number): Promise<unknown[]> {
  const received: unknown[] = [];
  await withTimeout(
    (async () => {
      for (let i = 0; i < count; i++) received.push(await ws.recv());
    })(),
    20_000,
    `received ${received.length} of ${count} messages`,
  );
  return received;
}

cluster.setupPrimary({ exec: NODE, execArgv: ["--import", "tsx"] });

describe("clusterBackplane", () => {
  it("relays topics between real workers and a server in the primary, in order, once", async () => {
    const primaryBackplane = clusterBackplane();
    const primary = await serve(topicChat("subscribed primary"), {
      path: joinPath(dir, "primary.sock"),
      backplane: primaryBackplane,
      logger: false,
    });
    const nodes = await Promise.all(["a", "b", "c"].map(startWorker));
    const paths = [...nodes.map((n) => n.path), joinPath(dir, "primary.sock")];
    // Two clients per process on "room", one on "other".
    const room = await Promise.all(
      paths.flatMap((path) => [join(path, "room"), join(path, "room")]),
    );
    const other = await join(paths[1], "other");

    // One publisher per process; each sends `count` messages.
    const count = 100;
    const publishers = [room[0], room[2], room[4], room[6]];
    await Promise.all(
      publishers.map(async (ws, p) => {
        for (let i = 0; i < count; i++) await ws.send(`${p}:${i}`);
      }),
    );
    await Promise.all(
      room.map(async (ws) => {
        const own = publishers.indexOf(ws);
        const expected = (own === -1 ? 4 : 3) * count;
        const received = (await receive(ws, expected)) as string[];
        for (let p = 0; p < publishers.length; p++) {
          const fromP = received.filter((m) => m.startsWith(`${p}:`));
          if (p === own) assert.deepEqual(fromP, []);
          else
            assert.deepEqual(
              fromP,
              Array.from({ length: count }, (_, i) => `${p}:${i}`),
            );
        }
      }),
    );
    // Binary messages keep their bytes.
    await room[0].send(new Uint8Array([0, 255, 1]));
    for (const ws of room.slice(1)) assert.deepEqual(await ws.recv(), Buffer.from([0, 255, 1]));

    // A worker that dies takes its clients with it; nobody else notices.
    await stopWorker(nodes[0].worker);
    await room[2].send("after a died");
    for (const ws of [room[3], ...room.slice(4)]) assert.equal(await ws.recv(), "after a died");

    // "other" got nothing of "room": its first message is its own topic's.
    await room[3].close();
    const otherPublisher = await join(paths[2], "other");
    await otherPublisher.send("to other");
    assert.equal(await other.recv(), "to other");

    await Promise.all([...room.slice(2), other, otherPublisher].map((ws) => ws.close()));
    await Promise.all(nodes.slice(1).map((n) => stopWorker(n.worker)));
    await primary.close();
  });

  it("rejects an invalid startTimeout", () => {
    assert.throws(() => clusterBackplane({ startTimeout: 0 }), {
      name: "TypeError",
      message: "startTimeout must be a number of milliseconds > 0; got 0",
    });
  });

  it("a backplane serves one server only", async () => {
    const backplane = clusterBackplane();
    const server = await serve(() => {}, { noServer: true, backplane, logger: false });
    await assert.rejects(
      serve(() => {}, { noServer: true, backplane, logger: false }),
      {
        message: "this clusterBackplane() is already used by a server",
      },
    );
    await server.close();
  });
});
