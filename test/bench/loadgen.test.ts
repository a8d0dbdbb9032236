// The echo bench's C load generator (bench/loadgen.c) and its ceiling, the
// C echo server (bench/echoserver.c): each job of the generator is run
// against the echo server over real sockets on 127.0.0.1, and its JSON
// line must say what bench/echo.ts reads from it: every message counted,
// shares of a core within their range, latencies for the throughput rows.
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { buildEchoServer, buildLoadgen, runLoadgen } from "../../bench/echo-loadgen.ts";

describe("echo bench: the C load generator against the C echo server", () => {
  let loadgen: string;
  let server: ChildProcess;
  let port: number;

  before(async () => {
    const bin = buildEchoServer();
    const gen = buildLoadgen();
    assert.ok(bin !== null && gen !== null, "cc builds bench/echoserver.c and bench/loadgen.c");
    loadgen = gen;
    server = spawn(bin, ["0"], { stdio: ["ignore", "pipe", "inherit"] });
    server.stdout!.setEncoding("utf8");
    const [line] = (await Promise.race([
      once(server.stdout!, "data"),
      new Promise((_, reject) => setTimeout(() => reject(new Error("no listening line")), 10_000)),
    ])) as [string];
    const match = /listening (\d+)/.exec(line);
    assert.ok(match !== null, `echoserver printed ${JSON.stringify(line)}`);
    port = Number(match[1]);
  });

  after(async () => {
    const exited = once(server, "exit");
    server.kill("SIGTERM");
    await exited;
  });

  for (const [conns, inflight] of [
    [1, 1],
    [4, 16],
  ]) {
    test(`throughput, ${conns} connection(s) x ${inflight} in flight`, async () => {
      const result = await runLoadgen(loadgen, null, {
        type: "throughput",
        port,
        size: 32,
        conns,
        inflight,
        warmupMs: 50,
        durationMs: 300,
      });
      assert.equal(result.type, "throughput");
      if (result.type !== "throughput") return;
      assert.ok(result.messages > 0, "messages echoed in the window");
      assert.ok(result.total >= result.messages, "the total includes the warm-up");
      assert.ok(result.seconds >= 0.29 && result.seconds < 5, `seconds ${result.seconds}`);
      assert.ok(result.cpu > 0 && result.cpu <= 1.05, `cpu ${result.cpu}`);
      // On a CPU or waiting for one: never less than the CPU time alone.
      assert.ok(result.busy !== undefined, "busy is reported");
      assert.ok(result.busy >= result.cpu - 0.02 && result.busy <= 1.05, `busy ${result.busy}`);
      assert.ok(result.p50_us !== null && result.p99_us !== null);
      assert.ok(result.p50_us > 0 && result.p50_us <= result.p99_us);
    });
  }

  test("handshakes", async () => {
    const result = await runLoadgen(loadgen, null, {
      type: "handshakes",
      port,
      concurrency: 4,
      durationMs: 300,
    });
    assert.equal(result.type, "handshakes");
    if (result.type !== "handshakes") return;
    assert.ok(result.handshakes > 0, "handshakes completed");
    assert.equal(result.failures, 0);
    assert.ok(result.cpu > 0 && result.cpu <= 1.05, `cpu ${result.cpu}`);
    assert.ok(result.busy !== undefined && result.busy >= result.cpu - 0.02 && result.busy <= 1.05);
  });
});
