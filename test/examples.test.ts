// Runs every example for real: spawned with tsx on a free port, talked to
// over loopback, then stopped with a signal.
import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { connect, InvalidStatus } from "../src/index.ts";
import { STARTUP_MS, spawnExample, startServer } from "./helpers/examples.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "examples");

/** GET over a fresh connection (no keep-alive pool to leak). */
/** The text of every test file, to find which examples the tests run. */
function testSources(): string {
  const root = join(examples, "..");
  return ["test", "test-peers"]
    .flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
        .filter((name) => name.endsWith(".ts"))
        .map((name) => readFileSync(join(root, dir, name), "utf8")),
    )
    .join("\n");
}

/** Whether some test runs `examples/<name>` (it names the file). */
function runByATest(name: string, sources: string): boolean {
  return sources.includes(`"${name}"`) || sources.includes(`examples/${name}`);
}

test("every example is listed in docs/examples.md and run by a test", () => {
  const doc = readFileSync(join(examples, "..", "docs", "examples.md"), "utf8");
  const sources = testSources();
  const names = readdirSync(examples).filter((name) => name.endsWith(".ts"));
  // A module other examples import (chat-rooms.ts) runs with them.
  const imported = (name: string) =>
    names.some((other) => readFileSync(join(examples, other), "utf8").includes(`"./${name}"`));
  const programs = [...names.filter((name) => !imported(name)), "chat-app/server.ts"];
  assert.ok(programs.length > 20, programs.join(" "));
  const unlisted = programs.filter((name) => !doc.includes(`](../examples/${name})`));
  const unrun = programs.filter((name) => !runByATest(name, sources));
  assert.deepEqual({ unlisted, unrun }, { unlisted: [], unrun: [] });
});

test("the day-one tasks (issue 19) each link an example that a test runs", () => {
  const doc = readFileSync(join(examples, "..", "docs", "examples.md"), "utf8");
  const section = doc.slice(
    doc.indexOf("## Day one"),
    doc.indexOf("\n## ", doc.indexOf("## Day one") + 1),
  );
  const rows = section
    .split("\n")
    .filter((line) => /^\| [^-]/.test(line) && !line.startsWith("| task"));
  const tasks = rows.map((row) => row.split("|")[1].trim());
  for (const task of [
    "echo",
    "Express chat",
    "token",
    "reconnect",
    "pino",
    "X-Forwarded-For",
    "shutdown",
    "large file",
    "heartbeat",
    "backpressure",
  ]) {
    assert.ok(
      tasks.some((t) => t.includes(task)),
      `no day-one task about ${task}: ${tasks.join("; ")}`,
    );
  }
  assert.equal(rows.length, 8, section);
  const sources = testSources();
  for (const row of rows) {
    const linked = [...row.matchAll(/\]\(\.\.\/examples\/([\w./-]+\.ts)\)/g)].map((m) => m[1]);
    assert.ok(linked.length > 0, `no example linked: ${row}`);
    for (const name of linked) {
      assert.ok(readFileSync(join(examples, name), "utf8").length > 0);
      assert.ok(runByATest(name, sources), `no test runs ${name}`);
    }
  }
});

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

test("npm start runs the chat app: page and WebSocket on one port, rooms, history, join/leave", async () => {
  const pkg = JSON.parse(readFileSync(join(examples, "..", "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.start, "tsx examples/chat-app/server.ts");
  const server = await startServer("chat-app/server.ts");
  const base = `127.0.0.1:${server.port}`;
  const page = await httpGet(`http://${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.match(page.body, /<script type="module" src="\/app\.js"><\/script>/);
  assert.match((await httpGet(`http://${base}/app.js`)).type, /^text\/javascript/);
  assert.equal((await httpGet(`http://${base}/nope`)).status, 404);

  const next = async (ws: Awaited<ReturnType<typeof connect>>) =>
    JSON.parse((await ws.recv()) as string) as Record<string, unknown>;
  const ada = await connect(`ws://${base}/rooms/lobby?name=ada`);
  assert.deepEqual(await next(ada), {
    type: "welcome",
    room: "lobby",
    name: "ada",
    members: 1,
    history: [],
  });
  const cy = await connect(`ws://${base}/rooms/other?name=cy`);
  await next(cy);
  await ada.send(JSON.stringify({ type: "say", text: "hello\u0007 lobby " }));
  const said = await next(ada);
  assert.equal(said.type, "message");
  assert.equal(said.text, "hello  lobby");

  // A newcomer gets the history; the room hears the join.
  const bob = await connect(`ws://${base}/rooms/lobby?name=bob`);
  const welcome = await next(bob);
  assert.equal(welcome.members, 2);
  assert.deepEqual(
    (welcome.history as Record<string, unknown>[]).map((m) => [m.name, m.text]),
    [["ada", "hello  lobby"]],
  );
  // The room hears the join; the newcomer's own welcome says it instead.
  assert.deepEqual(
    { ...(await next(ada)), at: 0 },
    { type: "join", name: "bob", members: 2, at: 0 },
  );
  await bob.close();
  const left = await next(ada);
  assert.deepEqual([left.type, left.name, left.members], ["leave", "bob", 1]);

  // Another room heard none of it: its next event is its own message.
  await cy.send(JSON.stringify({ type: "say", text: "anyone?" }));
  assert.equal((await next(cy)).text, "anyone?");

  // Refused before the upgrade: an unknown path, a bad room, another site's page.
  for (const [path, headers, status] of [
    ["/elsewhere", {}, 404],
    [`/rooms/${"x".repeat(65)}`, {}, 400],
    ["/rooms/lobby", { Origin: "https://evil.example" }, 403],
  ] as const) {
    await assert.rejects(
      connect(`ws://${base}${path}`, { additionalHeaders: headers }),
      (error: unknown) => error instanceof InvalidStatus && error.response.status === status,
    );
  }
  const same = await connect(`ws://${base}/rooms/lobby`, {
    additionalHeaders: { Origin: `http://${base}` },
  });
  assert.match(String((await next(same)).name), /^guest-/);
  await same.close();

  const closing = server.stop();
  await ada.closed;
  assert.equal(ada.closeCode, 1001);
  await cy.closed;
  assert.equal(await closing, 0);
  assert.match(
    server.output(),
    / INFO websockets\.server connection closed .*path="\/rooms\/lobby\?name=bob" code=1000 .*durationMs=\d+/,
  );
});

test("router sends each path to its handler, with typed parameters, and refuses others", async () => {
  const server = await startServer("router.ts");
  const base = `ws://127.0.0.1:${server.port}`;
  const echo = await connect(`${base}/echo`);
  await echo.send("routed");
  assert.equal(await echo.recv(), "routed");
  await echo.close();
  const count = await connect(`${base}/count/3`);
  const counted: unknown[] = [];
  for await (const message of count) counted.push(message);
  assert.deepEqual(counted, ["1", "2", "3"]);
  for (const [path, status] of [
    ["/count/three", 404],
    ["/admin/", 401],
  ] as const) {
    await assert.rejects(
      connect(`${base}${path}`),
      (error: unknown) => error instanceof InvalidStatus && error.response.status === status,
    );
  }
  // `/admin` is redirected to `/admin/`, which the client follows.
  const admin = await connect(`${base}/admin`, {
    followRedirects: true,
    additionalHeaders: { Authorization: `Basic ${Buffer.from("alice:s3cret").toString("base64")}` },
  });
  assert.match(String(await admin.recv()), /^Hello, alice! \d+ connection\(s\) open\.$/);
  await admin.close();
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

/** Runs a self-contained example to its end; returns its output. */
async function runToEnd(name: string): Promise<string> {
  const example = spawnExample(name);
  const timer = setTimeout(() => example.child.kill("SIGKILL"), 60_000);
  const code = await example.exited;
  clearTimeout(timer);
  assert.equal(code, 0, example.output());
  return example.output();
}

test("token-auth answers 401 without a valid token and greets alice with one", async () => {
  const server = await startServer("token-auth.ts");
  const error = await connect(`ws://127.0.0.1:${server.port}/?token=wrong`).catch((e) => e);
  assert.ok(error instanceof InvalidStatus);
  assert.equal(error.response.status, 401);
  const ws = await connect(`ws://127.0.0.1:${server.port}/?token=s3cret-token`);
  assert.equal(await ws.recv(), "hello alice");
  await ws.send("hi");
  assert.equal(await ws.recv(), "alice: hi");
  await ws.close();
  assert.equal(await server.stop(), 0);
});

test("graceful-shutdown closes connections with 1001 on SIGTERM and exits", async () => {
  const server = await startServer("graceful-shutdown.ts");
  const ws = await connect(`ws://127.0.0.1:${server.port}/`);
  await ws.send("still here");
  assert.equal(await ws.recv(), "still here");
  assert.equal(await server.stop("SIGTERM"), 0);
  await ws.closed;
  assert.equal(ws.closeCode, 1001);
  assert.match(server.output(), /SIGTERM received: closing, 5 s at most/);
  assert.match(server.output(), /^closed$/m);
});

test("stream-file uploads and downloads 16 MiB with matching checksums", async () => {
  const output = await runToEnd("stream-file.ts");
  assert.match(output, /^upload: 16777216 bytes, checksum ok$/m);
  assert.match(output, /^download: 16777216 bytes, checksum ok$/m);
});

test("heartbeat-backpressure: sends wait for a slow reader, keepalive pings, broadcast skips a stalled client", async () => {
  const output = await runToEnd("heartbeat-backpressure.ts");
  // send() waited: never much more than writeLimit (256 KiB) queued.
  const sent = /^sent 200 messages; bufferedAmount stayed under (\d+) bytes$/m.exec(output);
  assert.ok(sent !== null, output);
  assert.ok(Number(sent[1]) <= 256 * 1024 + 64 * 1024 + 100, output);
  assert.match(output, /^keepalive: last ping answered in [\d.]+ ms$/m);
  assert.match(output, /^ping answered in [\d.]+ ms$/m);
  // The reader kept up; the stalled client missed messages, and what waits
  // for it stays under the limit plus one message.
  const missed = /^broadcast: the reader got 40 of 40; the stalled client missed (\d+)$/m.exec(
    output,
  );
  assert.ok(missed !== null && Number(missed[1]) > 0, output);
  const waiting = /^waiting for the stalled client: (\d+) bytes/m.exec(output);
  assert.ok(waiting !== null && Number(waiting[1]) <= 1024 * 1024 + 512 * 1024 + 100, output);
});

test("chat-express: Express's routes and the chat's WebSockets on one port, broadcast to all", async () => {
  const server = await startServer("chat-express.ts");
  const page = await httpGet(`http://127.0.0.1:${server.port}/`);
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/plain/);
  assert.match(page.body, /connect a WebSocket to \/chat/);
  const ada = await connect(`ws://127.0.0.1:${server.port}/chat?name=ada`);
  assert.equal(await ada.recv(), "ada joined");
  const bob = await connect(`ws://127.0.0.1:${server.port}/chat?name=bob`);
  assert.equal(await ada.recv(), "bob joined");
  assert.equal(await bob.recv(), "bob joined");
  await bob.send("hello");
  assert.equal(await ada.recv(), "bob: hello");
  assert.equal(await bob.recv(), "bob: hello");
  // A route Express registered after serve() attached still answers.
  const stats = await httpGet(`http://127.0.0.1:${server.port}/stats`);
  assert.deepEqual(JSON.parse(stats.body), { connections: 2 });
  // An upgrade to another path isn't the chat's: 404, no WebSocket.
  const other = await connect(`ws://127.0.0.1:${server.port}/elsewhere`).catch((e) => e);
  assert.ok(other instanceof InvalidStatus, String(other));
  assert.equal(other.response.status, 404);
  await Promise.all([ada.close(), bob.close()]);
  assert.equal(await server.stop(), 0);
});

test("ws-compat, a program written for ws, broadcasts and closes with 1001 on SIGTERM", async () => {
  const server = await startServer("ws-compat.ts");
  const url = `ws://127.0.0.1:${server.port}/`;
  const ada = await connect(url);
  assert.match(String(await ada.recv()), /^welcome, /);
  const bob = await connect(url);
  assert.match(String(await bob.recv()), /^welcome, /);
  await ada.send("hi bob");
  assert.equal(await bob.recv(), "hi bob");
  const code = await server.stop("SIGTERM");
  await Promise.all([ada.closed, bob.closed]);
  assert.equal(ada.closeCode, 1001);
  assert.equal(code, 0);
  assert.match(server.output(), /ws-compat server closed/);
});
