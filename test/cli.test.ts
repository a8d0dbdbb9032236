/**
 * The `websockets-ts` command through pipes: spawned with tsx, talking to
 * a server in this process over loopback. Its interactive mode, in a real
 * terminal, is tested in test-peers/cli-tty.test.ts.
 */

import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connect } from "../src/node/client.ts";
import { type Server, type ServerConnection, serve } from "../src/node/server.ts";
import { cert, key } from "./helpers/localhost-tls.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";

checkLeaksAfterAll();

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "cli.ts");
const WAIT_MS = 20_000;

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern` (bounded). */
  waitFor(pattern: RegExp): Promise<void>;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

function run(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_PROXY: "*", no_proxy: "*" },
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve(code);
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: async (pattern) => {
      const deadline = Date.now() + WAIT_MS;
      while (!pattern.test(stdout)) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`no ${pattern} in stdout ${JSON.stringify(stdout)}, stderr ${stderr}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

// Answers each text message: "echo X" -> X, "bin" -> bytes 01 02 ff,
// "close N" -> closes with N, "headers" -> what the request carried.
async function handler(ws: ServerConnection): Promise<void> {
  for await (const message of ws) {
    if (typeof message !== "string") {
      await ws.send(`got ${message.length} bytes: ${Buffer.from(message).toString("hex")}`);
    } else if (message.startsWith("echo ")) {
      await ws.send(message.slice(5));
    } else if (message === "bin") {
      await ws.send(Buffer.from([1, 2, 255]));
    } else if (message.startsWith("close ")) {
      await ws.close(Number(message.slice(6)), "as asked");
    } else if (message === "headers") {
      await ws.send(
        `x-token=${ws.request?.headers.get("X-Token")} protocol=${ws.subprotocol} ` +
          `extensions=${ws.response?.headers.get("Sec-WebSocket-Extensions") ?? "none"}`,
      );
    } else {
      await ws.send(`unexpected ${message}`);
    }
  }
}

describe("websockets-ts through pipes", () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = await serve(handler, {
      host: "127.0.0.1",
      port: 0,
      logger: false,
      selectSubprotocol: (_connection, offered) => (offered.includes("chat") ? "chat" : null),
    });
    url = `ws://127.0.0.1:${(server.address as { port: number }).port}/`;
  });
  after(() => server.close());

  test("sends each line, prints each message on its own line, exits 0 at the end of input", async () => {
    const cli = run([url]);
    cli.child.stdin?.write("echo hello\necho \tworld\nbin\n");
    await cli.waitFor(/\(binary\) 0102ff\n/);
    cli.child.stdin?.end();
    assert.equal(await cli.exited, 0);
    assert.equal(cli.stdout(), "hello\n\tworld\n(binary) 0102ff\n");
    assert.equal(
      cli.stderr(),
      `Connected to ${url}.\nConnection closed: sent 1000 (OK); then received 1000 (OK).\n`,
    );
  });

  test("runs /binary, //text and /close with a code and a reason", async () => {
    const cli = run([url]);
    cli.child.stdin?.write("/binary 68 69\n//echo x\n");
    await cli.waitFor(/got 2 bytes: 6869\nunexpected \/echo x\n/);
    cli.child.stdin?.write("/close 4000 done here\n");
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr(),
      /Connection closed: sent 4000 \(private use\) done here; then received 4000/,
    );
  });

  test("/close alone closes with 1000; bad commands print an error and go on", async () => {
    const cli = run([url]);
    cli.child.stdin?.write("/binary xyz\n/close 1006\n/frobnicate\necho still\n");
    await cli.waitFor(/still\n/);
    cli.child.stdin?.write("/close\n");
    assert.equal(await cli.exited, 0);
    assert.match(cli.stderr(), /Error: \/binary expects hex digits; got "xyz"\.\n/);
    assert.match(
      cli.stderr(),
      /Error: \/close expects 1000 or a code from 3000 to 4999; got "1006"\.\n/,
    );
    assert.match(cli.stderr(), /Error: unknown command \/frobnicate \(commands: /);
    assert.match(cli.stderr(), /Connection closed: sent 1000 \(OK\); then received 1000 \(OK\)\./);
  });

  test("exits 1 when the server closes with another code than 1000 or 1001", async () => {
    const cli = run([url]);
    cli.child.stdin?.write("close 4001\n");
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr(),
      /Connection closed: received 4001 \(private use\) as asked; then sent 4001/,
    );
    cli.child.stdin?.end();
  });

  test("--json prints one object per event", async () => {
    const cli = run(["--json", url]);
    cli.child.stdin?.write("echo a\nbin\n");
    await cli.waitFor(/"binary"/);
    cli.child.stdin?.write("/ping\n");
    await cli.waitFor(/"pong"/);
    cli.child.stdin?.end();
    assert.equal(await cli.exited, 0);
    const events = cli
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(events[0], { event: "open", url });
    assert.deepEqual(events[1], { event: "message", text: "a" });
    assert.deepEqual(events[2], {
      event: "message",
      binary: Buffer.from([1, 2, 255]).toString("base64"),
    });
    assert.equal(events[3].event, "pong");
    assert.equal(typeof events[3].latency, "number");
    assert.ok((events[3].latency as number) >= 0);
    assert.deepEqual(events[4], { event: "close", code: 1000, reason: "" });
    assert.equal(events.length, 5);
    assert.equal(cli.stderr(), "");
  });

  test("passes --header, --subprotocol and --no-compression to the handshake", async () => {
    const cli = run([
      "--header",
      "X-Token: s3cret",
      "--subprotocol",
      "chat",
      "--no-compression",
      "--proxy",
      "none",
      "--max-size",
      "100",
      url,
    ]);
    cli.child.stdin?.write("headers\n");
    await cli.waitFor(/x-token=/);
    cli.child.stdin?.end();
    assert.equal(await cli.exited, 0);
    assert.equal(cli.stdout(), "x-token=s3cret protocol=chat extensions=none\n");
  });

  test("--max-size closes with 1009 on a larger message, exit status 1", async () => {
    const cli = run(["--max-size", "4", url]);
    cli.child.stdin?.write("echo 12345\n");
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /Connection closed: sent 1009 \(message too big\)/);
    cli.child.stdin?.end();
  });

  test("exits 1 with a clear message when it can't connect", async () => {
    // A port just released: nothing listens on it.
    const probe = await serve(() => {}, { host: "127.0.0.1", port: 0, logger: false });
    const { port } = probe.address as { port: number };
    await probe.close();
    const cli = run([`ws://127.0.0.1:${port}/`]);
    assert.equal(await cli.exited, 1);
    assert.equal(
      cli.stderr(),
      `Failed to connect to ws://127.0.0.1:${port}/: connect ECONNREFUSED 127.0.0.1:${port}.\n`,
    );
    assert.equal(cli.stdout(), "");
  });

  test("--insecure connects to a server whose certificate isn't trusted", async () => {
    const secure = await serve(handler, {
      host: "127.0.0.1",
      port: 0,
      logger: false,
      tls: { key, cert },
    });
    try {
      const uri = `wss://127.0.0.1:${(secure.address as { port: number }).port}/`;
      const refused = run([uri]);
      assert.equal(await refused.exited, 1);
      assert.match(
        refused.stderr(),
        /^Failed to connect to wss:\/\/127\.0\.0\.1:\d+\/: self[- ]signed certificate/,
      );
      const cli = run(["--insecure", uri]);
      cli.child.stdin?.write("echo over TLS\n");
      await cli.waitFor(/over TLS\n/);
      cli.child.stdin?.end();
      assert.equal(await cli.exited, 0);
    } finally {
      await secure.close();
    }
  });

  test("exits 1 when the server refuses the handshake", async () => {
    const refusing = await serve(() => {}, {
      host: "127.0.0.1",
      port: 0,
      logger: false,
      processRequest: (connection) => connection.respond(403, "no\n"),
    });
    try {
      const { port } = refusing.address as { port: number };
      const cli = run([`ws://127.0.0.1:${port}/`]);
      assert.equal(await cli.exited, 1);
      assert.match(
        cli.stderr(),
        /^Failed to connect to ws:\/\/127\.0\.0\.1:\d+\/: server rejected WebSocket connection: HTTP 403\.\n$/,
      );
    } finally {
      await refusing.close();
    }
  });
});

describe("websockets-ts usage", { concurrency: 4 }, () => {
  const usageErrors: [string[], string][] = [
    [[], "missing the URI to connect to"],
    [["--frob", "ws://x/"], "unknown option --frob"],
    [
      ["ws://x/", "--json"],
      'unexpected argument after the URI: "--json" (options come before the URI)',
    ],
    [["--header", "nocolon", "ws://x/"], '--header expects "Name: value"; got "nocolon"'],
    [["--max-size", "-1", "ws://x/"], '--max-size expects a positive integer; got "-1"'],
    [["--subprotocol"], "option --subprotocol needs a value"],
    [["--json=yes", "ws://x/"], "option --json takes no value"],
    [["http://x/"], "http://x/ isn't a valid URI: scheme isn't ws or wss"],
    [["serve", "--echo", "--broadcast"], "--echo and --broadcast exclude each other"],
    [["serve", "--port", "70000"], "--port must be at most 65535; got 70000"],
    [["serve", "extra"], 'unexpected argument: "extra"'],
  ];
  for (const [args, message] of usageErrors) {
    test(`exits 2 for ${JSON.stringify(args)}: ${message}`, async () => {
      const cli = run(args);
      assert.equal(await cli.exited, 2);
      assert.equal(cli.stdout(), "");
      assert.ok(
        cli.stderr().startsWith(`websockets-ts: ${message}\n\nUsage: websockets-ts `),
        cli.stderr(),
      );
    });
  }

  test("--help prints the usage on stdout; --version the version", async () => {
    const help = run(["--help"]);
    assert.equal(await help.exited, 0);
    assert.match(help.stdout(), /^Usage: websockets-ts \[options\] <uri>\n/);
    assert.match(help.stdout(), /\/close \[code \[reason\]\]/);
    const version = run(["--version"]);
    assert.equal(await version.exited, 0);
    assert.match(version.stdout(), /^websockets-ts \d+\.\d+\.\d+/);
  });
});

describe("websockets-ts serve", () => {
  async function startServe(
    args: string[],
  ): Promise<{ cli: Run; url: string; output: () => string }> {
    const cli = run(["serve", "--port", "0", ...args]);
    const deadline = Date.now() + WAIT_MS;
    let port = 0;
    while (port === 0) {
      const match = /server listening on 127\.0\.0\.1:(\d+)/.exec(cli.stderr());
      if (match !== null) port = Number(match[1]);
      else if (cli.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`serve did not start: ${cli.stderr()}`);
      } else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { cli, url: `ws://127.0.0.1:${port}/`, output: cli.stderr };
  }

  test("--echo (the default) sends each message back, logs at INFO, stops on SIGTERM", async () => {
    const { cli, url, output } = await startServe([]);
    const ws = await connect(url);
    await ws.send("ping?");
    assert.equal(await ws.recv(), "ping?");
    await ws.close();
    cli.child.kill("SIGTERM");
    assert.equal(await cli.exited, 0);
    assert.match(output(), / INFO websockets\.server connection open/);
    assert.match(output(), / INFO websockets\.server server closed/);
  });

  test("--broadcast sends each message to every client", async () => {
    const { cli, url } = await startServe(["--broadcast"]);
    const a = await connect(url);
    const b = await connect(url);
    // Both open on the server before the message: b's own handshake is done,
    // and a's message is sent after.
    await b.ping();
    await a.send("to all");
    assert.equal(await a.recv(), "to all");
    assert.equal(await b.recv(), "to all");
    await a.close();
    await b.close();
    cli.child.kill("SIGINT");
    assert.equal(await cli.exited, 0);
  });
});
