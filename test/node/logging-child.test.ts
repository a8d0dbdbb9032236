// The default logger and its environment variables, seen from outside: each
// test runs a tiny server and client in a fresh Node process with no logging
// configuration, and reads what it printed.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const INDEX_URL = new URL("../../src/index.ts", import.meta.url).href;

// The server echoes, except that "crash" makes its handler throw. The client
// sends MESSAGES (comma-separated), waits WAIT_MS, then closes. No `logger`
// option anywhere: the default logger decides what is printed.
const PROGRAM = `
import { connect, serve } from ${JSON.stringify(INDEX_URL)};
const server = await serve(
  async (ws) => {
    for await (const message of ws) {
      if (message === "crash") throw new Error("boom");
      await ws.send(message);
    }
  },
  { host: "127.0.0.1", port: 0, pingInterval: Number(process.env.PING_INTERVAL ?? 20000) },
);
const ws = await connect("ws://127.0.0.1:" + server.address.port + "/");
for (const message of process.env.MESSAGES.split(",")) {
  await ws.send(message);
  if (message !== "crash") await ws.recv();
}
await new Promise((resolve) => setTimeout(resolve, Number(process.env.WAIT_MS ?? 0)));
await ws.close();
await server.close();
`;

async function runProgram(
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.NODE_DEBUG;
  delete childEnv.WEBSOCKETS_MAX_LOG_SIZE;
  delete childEnv.NODE_OPTIONS;
  return run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", PROGRAM], {
    cwd: ROOT,
    env: { ...childEnv, ...env },
    timeout: 30_000,
  });
}

const RECORD =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([A-Z]+) (websockets\.server|websockets\.client) (.*)$/;

interface TextRecord {
  level: string;
  logger: string;
  /** The message and the fields after it. */
  text: string;
}

/** The records of a text log; stack lines belong to the record above them. */
function parse(stderr: string): TextRecord[] {
  const records: TextRecord[] = [];
  for (const line of stderr.trimEnd().split("\n")) {
    const match = RECORD.exec(line);
    if (match !== null) records.push({ level: match[1], logger: match[2], text: match[3] });
  }
  return records;
}

function debugOf(records: TextRecord[], logger: string): string[] {
  return records.filter((r) => r.level === "DEBUG" && r.logger === logger).map((r) => r.text);
}

const LONG = "é".repeat(200);

describe("the default logger, in a child process", { concurrency: true }, () => {
  test("prints a crashing handler's error and stack to stderr, and nothing at INFO or DEBUG", async () => {
    const { stdout, stderr } = await runProgram({ MESSAGES: "hello,crash" });
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.match(
      lines[0],
      /^\S+ ERROR websockets\.server connection handler failed connectionId=[0-9a-f-]{36} remoteAddress=127\.0\.0\.1:\d+$/,
    );
    assert.equal(lines[1], "Error: boom");
    assert.match(lines[2], /^ {4}at .*\[eval1\]/);
    // One record: the rest is its stack.
    for (const line of lines.slice(1)) assert.match(line, /^(Error: boom| {4}at )/);
    assert.deepEqual(
      parse(stderr).map((r) => r.level),
      ["ERROR"],
    );
  });

  test("NODE_DEBUG=websockets prints debug lines with their prefixes from both sides", async () => {
    const { stdout, stderr } = await runProgram({
      NODE_DEBUG: "websockets",
      MESSAGES: `hello,${LONG}`,
      PING_INTERVAL: "20",
      WAIT_MS: "100",
    });
    assert.equal(stdout, "");
    const records = parse(stderr);
    assert.equal(records.length, stderr.trimEnd().split("\n").length, "every line is a record");
    const server = debugOf(records, "websockets.server");
    const client = debugOf(records, "websockets.client");
    const fields = / connectionId=[0-9a-f-]{36} remoteAddress=127\.0\.0\.1:\d+$/;
    for (const text of [...server, ...client]) assert.match(text, fields);
    const messages = (texts: string[]) => texts.map((text) => text.replace(fields, ""));
    for (const expected of [
      "= connection is CONNECTING",
      "< GET / HTTP/1.1",
      "> HTTP/1.1 101 Switching Protocols",
      "= connection is OPEN",
      "< TEXT 'hello' [5 bytes]",
      "> TEXT 'hello' [5 bytes]",
      `> TEXT '${"é".repeat(47)}...${"é".repeat(23)}' [400 bytes]`,
      "% sent keepalive ping",
      "% received keepalive pong",
      "= connection is CLOSING",
      "> EOF",
      "x half-closing TCP connection",
      "< EOF",
      "= connection is CLOSED",
    ]) {
      assert.ok(messages(server).includes(expected), `server: no DEBUG ${expected}\n${stderr}`);
    }
    for (const expected of [
      "> GET / HTTP/1.1",
      "< HTTP/1.1 101 Switching Protocols",
      "> TEXT 'hello' [5 bytes]",
      "< TEXT 'hello' [5 bytes]",
      "> CLOSE 1000 (OK) [2 bytes]",
      "< CLOSE 1000 (OK) [2 bytes]",
    ]) {
      assert.ok(messages(client).includes(expected), `client: no DEBUG ${expected}\n${stderr}`);
    }
    // INFO is on too.
    const info = records.filter((r) => r.level === "INFO").map((r) => `${r.logger} ${r.text}`);
    assert.match(info[0], /^websockets\.server server listening on 127\.0\.0\.1:\d+$/);
    assert.ok(
      info.some((text) => /^websockets\.server connection closed .* code=1000 /.test(text)),
    );
    assert.equal(info.at(-1), "websockets.server server closed");
  });

  test("NODE_DEBUG=websockets.client turns on the client's debug output only", async () => {
    const { stderr } = await runProgram({
      NODE_DEBUG: "websockets.client",
      WEBSOCKETS_MAX_LOG_SIZE: "300",
      MESSAGES: LONG,
    });
    const records = parse(stderr);
    assert.ok(records.length > 0);
    assert.deepEqual(
      records.filter((r) => r.logger !== "websockets.client"),
      [],
    );
    // A payload within WEBSOCKETS_MAX_LOG_SIZE is shown whole.
    assert.ok(
      debugOf(records, "websockets.client").some((text) =>
        text.startsWith(`> TEXT '${LONG}' [400 bytes] connectionId=`),
      ),
      stderr,
    );
  });

  test("WEBSOCKETS_MAX_LOG_SIZE cuts multi-byte text at its limit, on character boundaries", async () => {
    const { stderr } = await runProgram({
      NODE_DEBUG: "websockets",
      WEBSOCKETS_MAX_LOG_SIZE: "20",
      MESSAGES: LONG,
    });
    const server = debugOf(parse(stderr), "websockets.server");
    // 20 characters: the quote and 9 characters, "...", 4 characters and the quote.
    const elided = `'${"é".repeat(9)}...${"é".repeat(4)}'`;
    assert.equal([...elided].length, 18);
    assert.ok(
      server.some((text) => text.startsWith(`< TEXT ${elided} [400 bytes] `)),
      stderr,
    );
  });
});
