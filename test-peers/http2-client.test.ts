// Our client over HTTP/2 (RFC 8441) against a server that isn't ours: a
// python3-h2 server scripted for extended CONNECT (peers/h2_server.py).

import { strict as assert } from "node:assert";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connect } from "../src/node/client.ts";
import { cert, key } from "../test/helpers/localhost-tls.ts";
import { PYTHON, requirePythonModule } from "./helpers/requirements.ts";

const PEERS_DIR = fileURLToPath(new URL("./peers/", import.meta.url));

interface Record {
  event: string;
  headers?: { [name: string]: string };
}

describe("python3-h2 server", () => {
  const dir = mkdtempSync(join(tmpdir(), "websockets-ts-h2c-"));
  let child: ChildProcessWithoutNullStreams;
  let port = 0;
  const records: Record[] = [];

  before(async () => {
    requirePythonModule("h2", "python3-h2");
    writeFileSync(join(dir, "cert.pem"), cert);
    writeFileSync(join(dir, "key.pem"), key);
    child = spawn(PYTHON, [
      join(PEERS_DIR, "h2_server.py"),
      join(dir, "cert.pem"),
      join(dir, "key.pem"),
    ]);
    child.stderr.setEncoding("utf8").on("data", (text: string) => process.stderr.write(text));
    const lines = createInterface({ input: child.stdout });
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("h2_server.py didn't start within 10 s")),
        10_000,
      );
      lines.on("line", (line) => {
        const listening = /^listening (\d+)$/.exec(line);
        if (listening !== null) {
          clearTimeout(timer);
          resolve(Number(listening[1]));
        } else records.push(JSON.parse(line) as Record);
      });
    });
  });

  after(() => {
    // Its standard input closing tells it to exit.
    child?.stdin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  test("carries several WebSockets on one connection and closes cleanly", async () => {
    const url = `wss://localhost:${port}/python`;
    const options = {
      tls: { ca: cert },
      http2: "auto" as const,
      compression: null,
      logger: false as const,
    };
    const sockets = await Promise.all([
      connect(url, options),
      connect(url, options),
      connect(url, options),
    ]);
    for (const [i, ws] of sockets.entries()) {
      assert.equal(ws.request?.version, "HTTP/2");
      await ws.send(`hello ${i}`);
      assert.equal(await ws.recv(), `hello ${i}`);
      const big = Buffer.alloc(100_000, i);
      await ws.send(big);
      assert.deepEqual(await ws.recv(), big);
    }
    await Promise.all(sockets.map((ws) => ws.close()));
    for (const ws of sockets) assert.equal(ws.closeCode, 1000);

    assert.equal(
      records.filter((r) => r.event === "connection").length,
      1,
      JSON.stringify(records),
    );
    const streams = records.filter((r) => r.event === "stream");
    assert.equal(streams.length, 3);
    for (const { headers } of streams) {
      assert.equal(headers?.[":method"], "CONNECT");
      assert.equal(headers?.[":protocol"], "websocket");
      assert.equal(headers?.[":scheme"], "https");
      assert.equal(headers?.[":path"], "/python");
      assert.equal(headers?.["sec-websocket-version"], "13");
      assert.equal(headers?.["sec-websocket-key"], undefined);
    }
    // The last WebSocket closed its session: the server sees the connection go.
    const deadline = Date.now() + 5000;
    while (!records.some((r) => r.event === "closed") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      records.some((r) => r.event === "closed"),
      JSON.stringify(records),
    );
  });
});
