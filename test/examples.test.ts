// Runs every example for real: spawned with tsx on a free port, talked to
// over loopback, then stopped with a signal.
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { get } from "node:http";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connect, InvalidStatus } from "../src/index.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "examples");
const STARTUP_MS = 20_000;

interface Running {
  child: ChildProcess;
  port: number;
  output(): string;
  /** Sends `signal` and waits for the exit code (bounded). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();

after(() => {
  for (const child of running) child.kill("SIGKILL");
});

function spawnExample(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", join(examples, name), ...args], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => output, exited };
}

/** Starts a server example and waits for its "listening on ...:<port>" line. */
async function startServer(name: string): Promise<Running> {
  const { child, output, exited } = spawnExample(name);
  const deadline = Date.now() + STARTUP_MS;
  let port = 0;
  while (port === 0) {
    const match = /listening on \w+:\/\/[^\s]+:(\d+)/.exec(output());
    if (match !== null) port = Number(match[1]);
    else if (child.exitCode !== null) throw new Error(`${name} exited early:\n${output()}`);
    else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not start within ${STARTUP_MS} ms:\n${output()}`);
    } else await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    child,
    port,
    output,
    stop: async (signal = "SIGTERM") => {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** GET over a fresh connection (no keep-alive pool to leak). */
function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }),
      );
    });
    req.on("error", reject);
  });
}

test("echo-server echoes, then closes connections with 1001 and exits 0 on SIGTERM", async () => {
  const server = await startServer("echo-server.ts");
  const ws = await connect(`ws://127.0.0.1:${server.port}/`);
  await ws.send("hello");
  assert.equal(await ws.recv(), "hello");
  const code = await server.stop("SIGTERM");
  await ws.closed;
  assert.equal(ws.closeCode, 1001);
  assert.equal(code, 0);
  assert.match(server.output(), /SIGTERM received, closing/);
  assert.match(server.output(), /echo server closed/);
});

test("echo-server also stops gracefully on SIGINT", async () => {
  const server = await startServer("echo-server.ts");
  assert.equal(await server.stop("SIGINT"), 0);
  assert.match(server.output(), /SIGINT received, closing/);
});

test("echo-client sends its arguments and prints the replies", async () => {
  const server = await startServer("echo-server.ts");
  const client = spawnExample("echo-client.ts", [`ws://127.0.0.1:${server.port}/`, "one", "two é"]);
  const timer = setTimeout(() => client.child.kill("SIGKILL"), STARTUP_MS);
  const code = await client.exited;
  clearTimeout(timer);
  assert.equal(code, 0, client.output());
  assert.match(client.output(), /^< one$/m);
  assert.match(client.output(), /^< two é$/m);
  assert.equal(await server.stop(), 0);
});

test("redirects follows a same-origin redirect and refuses one to another origin", async () => {
  const example = spawnExample("redirects.ts");
  const timer = setTimeout(() => example.child.kill("SIGKILL"), STARTUP_MS);
  const code = await example.exited;
  clearTimeout(timer);
  assert.equal(code, 0, example.output());
  assert.match(example.output(), /^< you reached \/new$/m);
  assert.match(
    example.output(),
    /^refused: redirect from ws:\/\/127\.0\.0\.1:\d+\/away to ws:\/\/127\.0\.0\.1:9\/elsewhere refused by checkRedirect$/m,
  );
});

test("chat broadcasts each message to every client with the sender's name", async () => {
  const server = await startServer("chat.ts");
  const url = `ws://127.0.0.1:${server.port}/`;
  const ada = await connect(`${url}?name=ada`);
  assert.equal(await ada.recv(), "ada joined");
  const bob = await connect(`${url}?name=bob`);
  assert.equal(await ada.recv(), "bob joined");
  assert.equal(await bob.recv(), "bob joined");
  await ada.send("hi all");
  assert.equal(await ada.recv(), "ada: hi all");
  assert.equal(await bob.recv(), "ada: hi all");
  await ada.close();
  assert.equal(await bob.recv(), "ada left");
  await bob.close();
  assert.equal(await server.stop(), 0);
});

test("chat-cluster carries a room's messages between node:cluster workers", async () => {
  const server = await startServer("chat-cluster.ts");
  const url = `ws://127.0.0.1:${server.port}`;
  const ada = await connect(`${url}/lobby?name=ada`);
  const adaWorker = /\(worker (\d+)\)$/.exec((await ada.recv()) as string)?.[1];
  assert.ok(adaWorker !== undefined);
  // Connections are spread over the workers: find bob a seat on the other one.
  let bob: Awaited<ReturnType<typeof connect>> | null = null;
  for (let attempt = 0; attempt < 8 && bob === null; attempt++) {
    const ws = await connect(`${url}/lobby?name=bob`);
    const welcome = (await ws.recv()) as string;
    assert.match(welcome, /^welcome to lobby, bob \(worker \d+\)$/);
    if (!welcome.endsWith(`(worker ${adaWorker})`)) bob = ws;
    else await ws.close();
  }
  assert.ok(bob !== null, "all connections went to one worker");
  await ada.send("hi all");
  assert.equal(await bob.recv(), "ada: hi all");
  await bob.send("hello ada");
  // Ada saw bobs come and go on her own worker first.
  const seen: unknown[] = [];
  for (let i = 0; i < 40 && seen.at(-1) !== "bob: hello ada"; i++) seen.push(await ada.recv());
  assert.equal(seen.at(-1), "bob: hello ada");
  assert.ok(seen.includes("ada: hi all"));
  await bob.close();
  assert.equal(await ada.recv(), "bob left");
  const code = await server.stop("SIGTERM");
  await ada.closed;
  assert.equal(ada.closeCode, 1001);
  assert.equal(code, 0);
});

test("health-check answers GET /healthz with 200 and upgrades other requests", async () => {
  const server = await startServer("health-check.ts");
  const health = await httpGet(`http://127.0.0.1:${server.port}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.body, "OK\n");
  const ws = await connect(`ws://127.0.0.1:${server.port}/`);
  await ws.send("still a WebSocket server");
  assert.equal(await ws.recv(), "still a WebSocket server");
  await ws.close();
  assert.equal(await server.stop(), 0);
});

test("basic-auth refuses a client without credentials with 401 and greets alice", async () => {
  const server = await startServer("basic-auth.ts");
  await assert.rejects(connect(`ws://127.0.0.1:${server.port}/`), (err: unknown) => {
    assert.ok(err instanceof InvalidStatus, `got ${String(err)}`);
    assert.equal(err.response.status, 401);
    assert.match(err.response.headers.get("www-authenticate") ?? "", /^Basic realm="example"/);
    return true;
  });
  const wrong = `Basic ${Buffer.from("alice:wrong").toString("base64")}`;
  await assert.rejects(
    connect(`ws://127.0.0.1:${server.port}/`, { additionalHeaders: { Authorization: wrong } }),
    InvalidStatus,
  );
  const right = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
  const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
    additionalHeaders: { Authorization: right },
  });
  assert.equal(await ws.recv(), "Hello, alice!");
  await ws.close();
  assert.equal(await server.stop(), 0);
});

test("attach-to-http-server serves HTTP routes and WebSocket on /ws on one port", async () => {
  const server = await startServer("attach-to-http-server.ts");
  const base = `127.0.0.1:${server.port}`;
  const home = await httpGet(`http://${base}/`);
  assert.equal(home.status, 200);
  assert.match(home.type, /^text\/html/);
  const time = await httpGet(`http://${base}/api/time`);
  assert.equal(time.status, 200);
  assert.ok(!Number.isNaN(Date.parse(JSON.parse(time.body).now)));
  assert.equal((await httpGet(`http://${base}/nope`)).status, 404);

  const ws = await connect(`ws://${base}/ws`);
  await ws.send("over the shared port");
  assert.equal(await ws.recv(), "over the shared port");
  await assert.rejects(connect(`ws://${base}/elsewhere`), InvalidStatus);
  const closing = server.stop();
  await ws.closed;
  assert.equal(ws.closeCode, 1001);
  assert.equal(await closing, 0);
});

checkLeaksAfterAll();
