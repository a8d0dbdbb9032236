// docs/logging.md shows only example files: each ```ts block starts with the
// path of its file and is that file byte for byte (the docs import from
// "websockets-ts" where the files import "../src/index.ts"). Each example
// then runs here for real, and what it prints is checked.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DOC = "docs/logging.md";

/** The ```ts blocks of the doc, by the example path on their first line. */
function snippets(): Map<string, string> {
  const text = readFileSync(join(ROOT, DOC), "utf8");
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const code = match[1];
    const path = /^\/\/ (examples\/[\w-]+\.ts)\b/.exec(code)?.[1];
    assert.ok(path !== undefined, `a ts block of ${DOC} doesn't name its example:\n${code}`);
    assert.ok(!blocks.has(path), `${path} shown twice`);
    blocks.set(path, code);
  }
  return blocks;
}

const EXAMPLES = readdirSync(join(ROOT, "examples"))
  .filter((name) => /^(logging-[\w-]+|diagnostics-channels)\.ts$/.test(name))
  .map((name) => `examples/${name}`)
  .sort();

describe(`${DOC} snippets`, () => {
  test("every ts block is an example file, identical but for the package name", () => {
    const blocks = snippets();
    assert.ok(blocks.size > 0);
    for (const [path, code] of blocks) {
      const file = readFileSync(join(ROOT, path), "utf8").replaceAll(
        '"../src/index.ts"',
        '"websockets-ts"',
      );
      assert.equal(code, file, `${DOC} and ${path} differ`);
    }
  });

  test("every logging example is shown", () => {
    assert.deepEqual([...snippets().keys()].sort(), EXAMPLES);
  });
});

/** Runs an example to completion, with no logging variables from our environment. */
async function runExample(path: string): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_DEBUG;
  delete env.WEBSOCKETS_MAX_LOG_SIZE;
  delete env.NODE_OPTIONS;
  return run(process.execPath, ["--import", "tsx", path], { cwd: ROOT, env, timeout: 30_000 });
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const RECORD =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARN|ERROR) (websockets\.server|websockets\.client) (.*)$/;

/** Text records as `LEVEL logger message-and-fields`. */
function textRecords(output: string): string[] {
  const lines = output.trimEnd().split("\n");
  for (const line of lines) assert.match(line, RECORD);
  return lines.map((line) => line.replace(RECORD, "$1 $2 $3"));
}

function jsonRecords(output: string): Record<string, unknown>[] {
  return output
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

const checks: Record<string, (out: { stdout: string; stderr: string }) => void> = {
  "examples/logging-production.ts": ({ stdout, stderr }) => {
    assert.equal(stdout, "");
    const records = textRecords(stderr);
    assert.match(records[0], /^INFO websockets\.server server listening on 127\.0\.0\.1:\d+$/);
    assert.match(
      records[1],
      new RegExp(
        `^INFO websockets\\.server connection open connectionId=${UUID} remoteAddress=127\\.0\\.0\\.1:\\d+$`,
      ),
    );
    assert.ok(records.includes("INFO websockets.server server closing"));
    assert.ok(
      records.some((r) =>
        /^INFO websockets\.server connection closed .* code=1000 reason="" .* messagesIn=1 messagesOut=1 bytesIn=5 bytesOut=5$/.test(
          r,
        ),
      ),
      stderr,
    );
    assert.equal(records.at(-1), "INFO websockets.server server closed");
    assert.equal(records.length, 5);
  },

  "examples/logging-debug.ts": ({ stdout, stderr }) => {
    assert.equal(stdout, "");
    const records = textRecords(stderr).map((r) => r.replace(/ connectionId=.*$/, ""));
    for (const expected of [
      "DEBUG websockets.server = connection is CONNECTING",
      "DEBUG websockets.client > GET / HTTP/1.1",
      "DEBUG websockets.server < GET / HTTP/1.1",
      "DEBUG websockets.server > HTTP/1.1 101 Switching Protocols",
      "DEBUG websockets.client < HTTP/1.1 101 Switching Protocols",
      "DEBUG websockets.client = connection is OPEN",
      "DEBUG websockets.client > TEXT 'hello' [5 bytes]",
      "DEBUG websockets.server < TEXT 'hello' [5 bytes]",
      "DEBUG websockets.server > TEXT 'hello' [5 bytes]",
      "DEBUG websockets.client < TEXT 'hello' [5 bytes]",
      "DEBUG websockets.client > CLOSE 1000 (OK) [2 bytes]",
      "DEBUG websockets.server > EOF",
      "DEBUG websockets.server x half-closing TCP connection",
      "DEBUG websockets.client < EOF",
      "DEBUG websockets.server = connection is CLOSED",
      "INFO websockets.client connection open",
      "INFO websockets.server connection closed",
    ]) {
      assert.ok(records.includes(expected), `no ${expected}\n${stderr}`);
    }
  },

  "examples/logging-pino.ts": ({ stdout, stderr }) => {
    assert.equal(stderr, "");
    const records = jsonRecords(stdout);
    for (const record of records) assert.equal(record.level, 30);
    const seen = records.map((r) => `${r.name} ${r.msg}`);
    assert.match(seen[0], /^websockets\.server server listening on 127\.0\.0\.1:\d+$/);
    for (const expected of [
      "websockets.server connection open",
      "websockets.client connection open",
      "websockets.client connection closed",
      "websockets.server connection closed",
      "websockets.server server closed",
    ]) {
      assert.ok(seen.includes(expected), `no ${expected}\n${stdout}`);
    }
    const open = records.find((r) => r.msg === "connection open");
    assert.match(String(open?.connectionId), new RegExp(`^${UUID}$`));
  },

  "examples/logging-connection-logger.ts": ({ stderr }) => {
    assert.ok(
      textRecords(stderr).some((r) =>
        new RegExp(
          `^INFO websockets\\.server order received connectionId=${UUID} remoteAddress=127\\.0\\.0\\.1:\\d+ size=28$`,
        ).test(r),
      ),
      stderr,
    );
  },

  "examples/logging-x-forwarded-for.ts": ({ stdout, stderr }) => {
    assert.equal(stderr, "");
    const records = jsonRecords(stdout);
    // The proxy's hop, not the one the client forged, on every record of
    // the connection and on no other.
    const withIp = records.filter((r) => r.clientIp !== undefined);
    assert.deepEqual(
      withIp.map((r) => [r.name, r.msg, r.clientIp]),
      [
        ["websockets.server", "connection open", "203.0.113.7"],
        ["websockets.server", "connection closed", "203.0.113.7"],
      ],
    );
    assert.match(String(withIp[0].remoteAddress), /^127\.0\.0\.1:\d+$/);
    assert.ok(!stdout.includes("198.51.100.66"), stdout);
  },

  "examples/logging-json.ts": ({ stdout, stderr }) => {
    assert.equal(stdout, "");
    const records = jsonRecords(stderr);
    for (const record of records) {
      assert.deepEqual(Object.keys(record).slice(0, 4), ["time", "level", "logger", "msg"]);
      assert.equal(record.level, "info");
      assert.equal(record.logger, "websockets.server");
    }
    assert.match(String(records[0].msg), /^server listening on 127\.0\.0\.1:\d+$/);
    const closed = records.find((r) => r.msg === "connection closed");
    assert.equal(closed?.code, 1000);
    assert.equal(closed?.bytesIn, 5);
    assert.equal(records.at(-1)?.msg, "server closed");
  },

  "examples/logging-disable.ts": ({ stdout, stderr }) => {
    assert.equal(stderr, "");
    const records = jsonRecords(stdout);
    const library = records.filter((r) => r.name === "websockets.server");
    // Only the second server, and only INFO.
    for (const record of library) assert.equal(record.level, 30);
    assert.equal(library.filter((r) => String(r.msg).startsWith("server listening")).length, 1);
    assert.equal(library.filter((r) => r.msg === "connection open").length, 1);
    const app = records.filter((r) => r.name === undefined);
    assert.deepEqual(
      app.map((r) => [r.level, r.msg]),
      [[20, "the application's DEBUG records are still there"]],
    );
  },

  "examples/diagnostics-channels.ts": ({ stdout, stderr }) => {
    assert.equal(stderr, "");
    const lines = stdout.trimEnd().split("\n");
    const id = (side: string) => {
      const match = new RegExp(`^${side}: open (${UUID})$`).exec(
        lines.find((l) => l.startsWith(`${side}: open`)) ?? "",
      );
      assert.ok(match !== null, stdout);
      return match[1];
    };
    const server = id("server");
    const client = id("client");
    assert.notEqual(server, client);
    const expected = [
      new RegExp(
        `^server: handshake with 127\\.0\\.0\\.1:\\d+ open ${server} \\(\\d+\\.\\d ms\\)$`,
      ),
      new RegExp(
        `^client: handshake with ws://127\\.0\\.0\\.1:\\d+/ open ${client} \\(\\d+\\.\\d ms\\)$`,
      ),
      /^server: ping "are you there\?"$/,
      /^client: pong "are you there\?"$/,
      new RegExp(`^client: close ${client} 1000 "done"$`),
      new RegExp(`^server: close ${server} 1000 "done"$`),
    ];
    for (const pattern of expected)
      assert.ok(
        lines.some((l) => pattern.test(l)),
        `${pattern}\n${stdout}`,
      );
    assert.equal(lines.length, 8);
  },
};

describe("logging examples, run for real", { concurrency: true }, () => {
  test("each has a check", () => {
    assert.deepEqual(Object.keys(checks).sort(), EXAMPLES);
  });
  for (const path of EXAMPLES) {
    test(path, async () => {
      const check = checks[path];
      assert.ok(check !== undefined, `no check for ${path}`);
      check(await runExample(path));
    });
  }
});
