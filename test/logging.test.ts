import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pino from "pino";
import { Frame, OP_CLOSE, OP_TEXT } from "../src/frames.ts";
import { Headers } from "../src/headers.ts";
import {
  type ConnectionClosedFields,
  createLogger,
  firstLine,
  formatAddress,
  formatRequestLines,
  formatResponseLines,
  isLevelEnabled,
  type Logger,
  type LoggerLike,
  logMessages,
  nodeDebugEnabled,
  resolveLogger,
  silentLogger,
} from "../src/logging.ts";
import { createCaptureLogger } from "./helpers/capture-logger.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOGGING_URL = new URL("../src/logging.ts", import.meta.url).href;

/** Runs an ES module snippet in a fresh Node process with `env` on top of ours. */
async function runChild(
  code: string,
  env: Record<string, string | undefined>,
): Promise<{ stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.NODE_DEBUG;
  delete childEnv.WEBSOCKETS_MAX_LOG_SIZE;
  delete childEnv.NODE_OPTIONS;
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  return run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: ROOT,
    env: childEnv,
    timeout: 60_000,
  });
}

/** Collects what a logger writes, one string per record. */
function memoryStream(): { write(chunk: string): void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    write(chunk: string) {
      lines.push(chunk);
    },
  };
}

const TEXT_RECORD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([A-Z]+) (\S+) (.*)$/;

describe("formatFrame", () => {
  test("reads WEBSOCKETS_MAX_LOG_SIZE when the module loads", async () => {
    const code = `
      import { formatFrame, maxLogSize } from ${JSON.stringify(LOGGING_URL)};
      import { Frame } from ${JSON.stringify(new URL("../src/frames.ts", import.meta.url).href)};
      console.log(JSON.stringify([maxLogSize, formatFrame(new Frame(1, Buffer.from("x".repeat(500))))]));
    `;
    const parse = (stdout: string): [number, string] => JSON.parse(stdout);
    const unset = parse((await runChild(code, {})).stdout);
    assert.deepEqual(unset, [75, `TEXT '${"x".repeat(47)}...${"x".repeat(23)}' [500 bytes]`]);
    const set = parse((await runChild(code, { WEBSOCKETS_MAX_LOG_SIZE: "300" })).stdout);
    assert.equal(set[0], 300);
    assert.equal(set[1], `TEXT '${"x".repeat(197)}...${"x".repeat(98)}' [500 bytes]`);
    const small = parse((await runChild(code, { WEBSOCKETS_MAX_LOG_SIZE: "12" })).stdout);
    assert.deepEqual(small, [12, "TEXT 'xxxxx...xx' [500 bytes]"]);
    const invalid = parse((await runChild(code, { WEBSOCKETS_MAX_LOG_SIZE: "lots" })).stdout);
    assert.equal(invalid[0], 75);
  });
});

describe("createLogger", () => {
  test("writes text records: time, level, name, message, fields", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", level: "info", stream });
    logger.info({ port: 8765, host: "127.0.0.1" }, "server listening on 127.0.0.1:8765");
    assert.equal(stream.lines.length, 1);
    const match = TEXT_RECORD.exec(stream.lines[0].trimEnd());
    assert.ok(match, stream.lines[0]);
    assert.ok(Math.abs(Date.parse(match[1]) - Date.now()) < 60_000);
    assert.equal(match[2], "INFO");
    assert.equal(match[3], "websockets.server");
    assert.equal(match[4], "server listening on 127.0.0.1:8765 port=8765 host=127.0.0.1");
    assert.ok(stream.lines[0].endsWith("\n"));
  });

  test("quotes text field values that aren't single words", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", level: "info", stream });
    const fields = {
      reason: "going away",
      empty: "",
      quote: 'a"b',
      newline: "a\nb",
      none: null,
      flag: true,
      big: 10n,
      nested: { a: [1, 2] },
      when: new Date(0),
      error: new TypeError("bad\nworse"),
      skipped: undefined,
    };
    logger.info(fields, "connection closed");
    assert.equal(
      stream.lines[0].trimEnd().replace(TEXT_RECORD, "$4"),
      'connection closed reason="going away" empty="" quote="a\\"b" newline="a\\nb" none=null ' +
        'flag=true big=10 nested={"a":[1,2]} when=1970-01-01T00:00:00.000Z error="TypeError: bad"',
    );
  });

  test("writes an error's stack, code and cause on the lines after the record", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", stream });
    const cause = new RangeError("root cause");
    const err = Object.assign(new Error("handler crashed", { cause }), { code: "E_APP" });
    logger.error({ err }, "connection handler failed");
    const lines = stream.lines[0].trimEnd().split("\n");
    assert.equal(lines[0].replace(TEXT_RECORD, "$2 $4"), "ERROR connection handler failed");
    assert.equal(lines[1], "Error: handler crashed");
    assert.match(lines[2], /^ {4}at /);
    assert.ok(lines.includes("    code: E_APP"), stream.lines[0]);
    assert.ok(lines.includes("Caused by: RangeError: root cause"), stream.lines[0]);
  });

  test("writes JSON records, one object per line", () => {
    const stream = memoryStream();
    const logger = createLogger({
      name: "websockets.client",
      level: "debug",
      format: "json",
      stream,
    });
    logger.debug("> GET /chat HTTP/1.1");
    logger.info({ attempt: 2, reason: "going away" }, "connection closed");
    assert.equal(stream.lines.length, 2);
    for (const line of stream.lines) assert.equal(line.indexOf("\n"), line.length - 1);
    const [first, second] = stream.lines.map((line) => JSON.parse(line));
    assert.deepEqual(Object.keys(first), ["time", "level", "logger", "msg"]);
    assert.equal(first.level, "debug");
    assert.equal(first.logger, "websockets.client");
    assert.equal(first.msg, "> GET /chat HTTP/1.1");
    assert.ok(Math.abs(Date.parse(first.time) - Date.now()) < 60_000);
    assert.deepEqual(
      { ...second, time: undefined },
      {
        time: undefined,
        level: "info",
        logger: "websockets.client",
        msg: "connection closed",
        attempt: 2,
        reason: "going away",
      },
    );
  });

  test("writes an error as err: { type, message, stack, code, cause } in JSON", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", format: "json", stream });
    const err = Object.assign(new TypeError("bad", { cause: "a string" }), { code: "E_BAD" });
    logger.error({ err }, "parser failed");
    logger.error("%s thrown", "plain string");
    logger.warn({ err: "just a string" }, "unexpected internal error");
    const [first, second, third] = stream.lines.map((line) => JSON.parse(line));
    assert.equal(first.err.type, "TypeError");
    assert.equal(first.err.message, "bad");
    assert.equal(first.err.code, "E_BAD");
    assert.match(first.err.stack, /^TypeError: bad\n {4}at /);
    assert.deepEqual(first.err.cause, { type: "string", message: "a string" });
    assert.equal(second.msg, "plain string thrown");
    assert.deepEqual(third.err, { type: "string", message: "just a string" });
  });

  test("keeps record keys its own and survives unserializable fields", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", format: "json", stream });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    logger.warn({ msg: "forged", level: "forged", time: 0, circular, n: 10n }, "real message");
    const record = JSON.parse(stream.lines[0]);
    assert.equal(record.msg, "real message");
    assert.equal(record.level, "warn");
    assert.equal(typeof record.time, "string");
    assert.equal(record.circular, "[object Object]");
    assert.equal(record.n, "10");
  });

  test("accepts pino's call forms: (msg), (msg, ...args), (err), (err, msg), (obj, msg, ...args)", () => {
    const stream = memoryStream();
    const logger = createLogger({
      name: "websockets.server",
      format: "json",
      level: "info",
      stream,
    });
    logger.info("plain");
    logger.info("connect failed; reconnecting in %s seconds", "1.5");
    logger.error(new Error("thrown"));
    logger.error(new Error("thrown"), "connection handler failed");
    logger.info({ code: 1000 }, "closed with %d", 1000);
    logger.info(42);
    const records = stream.lines.map((line) => JSON.parse(line));
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        "plain",
        "connect failed; reconnecting in 1.5 seconds",
        "thrown",
        "connection handler failed",
        "closed with 1000",
        "42",
      ],
    );
    assert.equal(records[2].err.message, "thrown");
    assert.equal(records[3].err.message, "thrown");
    assert.equal(records[4].code, 1000);
  });

  test("outputs only records at or above its level", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", level: "info", stream });
    logger.trace("t");
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    logger.fatal("f");
    assert.deepEqual(
      stream.lines.map((line) => line.trimEnd().replace(TEXT_RECORD, "$2")),
      ["INFO", "WARN", "ERROR", "FATAL"],
    );
    assert.equal(logger.isLevelEnabled("debug"), false);
    assert.equal(logger.isLevelEnabled("info"), true);
    assert.equal(logger.isLevelEnabled("silent"), false);
    assert.equal(logger.isLevelEnabled("verbose"), false);
  });

  test("gives disabled levels one shared no-op method", () => {
    const logger = createLogger({
      name: "websockets.server",
      level: "warn",
      stream: memoryStream(),
    });
    assert.equal(logger.debug, logger.trace);
    assert.equal(logger.info, logger.debug);
    assert.equal(logger.debug, silentLogger.debug);
    assert.notEqual(logger.warn, logger.debug);
    const child = logger.child({ connectionId: "x" });
    assert.equal(child.debug, silentLogger.debug);
  });

  test("changes level at run time, and rejects unknown levels", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", level: "silent", stream });
    logger.error("dropped");
    logger.level = "debug";
    logger.debug("kept");
    assert.equal(logger.level, "debug");
    assert.equal(stream.lines.length, 1);
    assert.throws(() => {
      logger.level = "verbose" as "debug";
    }, /invalid log level: "verbose"/);
    assert.throws(() => createLogger({ name: "x", level: "loud" as "info" }), TypeError);
    assert.throws(
      () => createLogger({ name: "x", format: "xml" as "json" }),
      /invalid log format: "xml"/,
    );
    assert.throws(() => createLogger({ name: "" }), /invalid logger name/);
  });

  test("accumulates bindings in children and renames on a name binding", () => {
    const stream = memoryStream();
    const root = createLogger({ name: "app", level: "info", format: "json", stream });
    const server = root.child({ name: "websockets.server" });
    const connection = server.child({ connectionId: "c-1", remoteAddress: "127.0.0.1:5000" });
    const enriched = connection.child({ clientIp: "203.0.113.7" });
    enriched.info({ code: 1000 }, "connection closed");
    root.info("root record");
    const [record, rootRecord] = stream.lines.map((line) => JSON.parse(line));
    assert.equal(record.logger, "websockets.server");
    assert.equal(record.connectionId, "c-1");
    assert.equal(record.remoteAddress, "127.0.0.1:5000");
    assert.equal(record.clientIp, "203.0.113.7");
    assert.equal(record.code, 1000);
    assert.equal(record.name, undefined);
    assert.deepEqual(Object.keys(rootRecord), ["time", "level", "logger", "msg"]);
    assert.equal(rootRecord.logger, "app");
  });

  test("renders bindings in text records after the message, before the fields", () => {
    const stream = memoryStream();
    const logger = createLogger({ name: "websockets.server", level: "info", stream });
    logger
      .child({ connectionId: "c-1", remoteAddress: "[::1]:5000" })
      .info({ durationMs: 12 }, "connection open");
    assert.equal(
      stream.lines[0].trimEnd().replace(TEXT_RECORD, "$3 $4"),
      "websockets.server connection open connectionId=c-1 remoteAddress=[::1]:5000 durationMs=12",
    );
  });

  test("defaults to WARN and above, and to debug when NODE_DEBUG names it", () => {
    const saved = process.env.NODE_DEBUG;
    try {
      delete process.env.NODE_DEBUG;
      const quiet = createLogger({ name: "websockets.server", stream: memoryStream() });
      assert.equal(quiet.level, "warn");
      process.env.NODE_DEBUG = "net,WebSockets";
      assert.equal(
        createLogger({ name: "websockets.server", stream: memoryStream() }).level,
        "debug",
      );
      assert.equal(
        createLogger({ name: "websockets.server", level: "error", stream: memoryStream() }).level,
        "error",
      );
    } finally {
      if (saved === undefined) delete process.env.NODE_DEBUG;
      else process.env.NODE_DEBUG = saved;
    }
  });
});

describe("nodeDebugEnabled", () => {
  test("follows util.debuglog's list, wildcard and case rules", () => {
    assert.equal(nodeDebugEnabled("websockets.server", "websockets"), true);
    assert.equal(nodeDebugEnabled("websockets.client", "WEBSOCKETS"), true);
    assert.equal(nodeDebugEnabled("websockets.client", "http, websockets ,net"), true);
    assert.equal(nodeDebugEnabled("websockets.server", "websockets*"), true);
    assert.equal(nodeDebugEnabled("websockets.server", "*"), true);
    assert.equal(nodeDebugEnabled("websockets.server", "web*ets"), true);
    assert.equal(nodeDebugEnabled("websockets.server", "websockets.server"), true);
    assert.equal(nodeDebugEnabled("websockets.client", "websockets.server"), false);
    assert.equal(nodeDebugEnabled("websockets.server", "websocket"), false);
    assert.equal(nodeDebugEnabled("websockets.server", "ws"), false);
    assert.equal(nodeDebugEnabled("websockets.server", ""), false);
    assert.equal(nodeDebugEnabled("websockets.server", "websockets."), false);
    assert.equal(nodeDebugEnabled("websockets.server", "(websockets)"), false);
  });

  test("NODE_DEBUG=websockets turns on debug output of the default logger", async () => {
    const code = `
      import { resolveLogger } from ${JSON.stringify(LOGGING_URL)};
      const logger = resolveLogger(undefined, "websockets.server");
      logger.debug("= connection is OPEN");
      logger.info("connection open");
    `;
    const on = await runChild(code, { NODE_DEBUG: "websockets" });
    const records = on.stderr.trimEnd().split("\n");
    assert.deepEqual(
      records.map((line) => line.replace(TEXT_RECORD, "$2 $3 $4")),
      ["DEBUG websockets.server = connection is OPEN", "INFO websockets.server connection open"],
    );
    const off = await runChild(code, {});
    assert.equal(off.stderr, "");
  });

  test("the default logger prints a crash and its stack to stderr with no configuration", async () => {
    const code = `
      import { resolveLogger } from ${JSON.stringify(LOGGING_URL)};
      const logger = resolveLogger(undefined, "websockets.server").child({ connectionId: "c-1" });
      logger.info("connection open");
      function handler() { throw new Error("handler bug"); }
      try { handler(); } catch (err) { logger.error({ err }, "connection handler failed"); }
      logger.warn("skipped broadcast: sending a fragmented message");
    `;
    const { stdout, stderr } = await runChild(code, {});
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(
      lines[0].replace(TEXT_RECORD, "$2 $3 $4"),
      "ERROR websockets.server connection handler failed connectionId=c-1",
    );
    assert.equal(lines[1], "Error: handler bug");
    assert.match(lines[2], /^ {4}at handler /);
    assert.equal(
      lines.at(-1)?.replace(TEXT_RECORD, "$2 $4"),
      "WARN skipped broadcast: sending a fragmented message connectionId=c-1",
    );
    // INFO is below the default level.
    assert.ok(!stderr.includes("connection open"), stderr);
  });
});

describe("resolveLogger", () => {
  test("returns the silent logger for false and null", () => {
    assert.equal(resolveLogger(false, "websockets.server"), silentLogger);
    assert.equal(resolveLogger(null, "websockets.client"), silentLogger);
  });

  test("returns the built-in logger, WARN and above, for undefined", () => {
    const saved = process.env.NODE_DEBUG;
    try {
      delete process.env.NODE_DEBUG;
      const logger = resolveLogger(undefined, "websockets.client");
      assert.equal(isLevelEnabled(logger, "warn"), true);
      assert.equal(isLevelEnabled(logger, "info"), false);
    } finally {
      if (saved !== undefined) process.env.NODE_DEBUG = saved;
    }
  });

  test("binds the name on a logger with child, uses one without child as is", () => {
    const capture = createCaptureLogger();
    resolveLogger(capture.logger, "websockets.server").info("server closed");
    assert.deepEqual(capture.records, [
      {
        level: "info",
        msg: "server closed",
        fields: { name: "websockets.server" },
        err: undefined,
      },
    ]);
    const messages: unknown[][] = [];
    const bare: LoggerLike = {
      debug: (...args) => messages.push(args),
      info: (...args) => messages.push(args),
      warn: (...args) => messages.push(args),
      error: (...args) => messages.push(args),
    };
    assert.equal(resolveLogger(bare, "websockets.client"), bare);
  });

  test("rejects what isn't a logger", () => {
    assert.throws(
      () => resolveLogger(true as unknown as LoggerLike, "websockets.server"),
      /invalid logger: true/,
    );
    assert.throws(
      () => resolveLogger({ info() {} } as unknown as LoggerLike, "websockets.server"),
      /invalid logger: object without debug\/info\/warn\/error methods \(keys: info\)/,
    );
  });
});

describe("silentLogger", () => {
  test("drops everything and stays silent", () => {
    assert.equal(silentLogger.isLevelEnabled("fatal"), false);
    assert.equal(silentLogger.child({ a: 1 }), silentLogger);
    silentLogger.level = "debug";
    assert.equal(silentLogger.level, "silent");
    assert.equal(isLevelEnabled(silentLogger, "error"), false);
    assert.equal(silentLogger.error({ err: new Error("x") }, "dropped"), undefined);
  });
});

describe("isLevelEnabled", () => {
  test("uses isLevelEnabled, else level, else assumes everything is on", () => {
    const base = { debug() {}, info() {}, warn() {}, error() {} };
    assert.equal(isLevelEnabled(null, "error"), false);
    assert.equal(isLevelEnabled(undefined, "error"), false);
    assert.equal(isLevelEnabled({ ...base, isLevelEnabled: (l) => l === "debug" }, "debug"), true);
    assert.equal(isLevelEnabled({ ...base, isLevelEnabled: (l) => l === "debug" }, "info"), false);
    assert.equal(isLevelEnabled({ ...base, level: "info" }, "debug"), false);
    assert.equal(isLevelEnabled({ ...base, level: "info" }, "warn"), true);
    assert.equal(isLevelEnabled({ ...base, level: "silent" }, "fatal"), false);
    assert.equal(isLevelEnabled({ ...base, level: "custom" }, "debug"), true);
    assert.equal(isLevelEnabled(base, "trace"), true);
  });
});

describe("pino", () => {
  function pinoToLines(level: string): { logger: pino.Logger; lines: string[] } {
    const lines: string[] = [];
    const logger = pino({ level }, { write: (chunk: string) => lines.push(chunk) });
    return { logger, lines };
  }

  test("works as the logger option with no adapter", () => {
    const { logger, lines } = pinoToLines("info");
    // Assignable without a cast: pino satisfies LoggerLike.
    const option: LoggerLike = logger;
    const server = resolveLogger(option, "websockets.server");
    const connection = server.child?.({ connectionId: "c-1", remoteAddress: "127.0.0.1:5000" });
    assert.ok(connection);
    assert.equal(isLevelEnabled(connection, "debug"), false);
    assert.equal(isLevelEnabled(connection, "info"), true);
    connection.debug("> TEXT 'hi' [2 bytes]");
    const fields: Partial<ConnectionClosedFields> = { code: 1000, reason: "", durationMs: 5 };
    connection.info(fields, logMessages.connectionClosed);
    const err = new Error("handler bug");
    connection.error({ err }, logMessages.handlerFailed);
    const records = lines.map((line) => JSON.parse(line));
    assert.equal(records.length, 2);
    assert.equal(records[0].level, 30);
    assert.equal(records[0].name, "websockets.server");
    assert.equal(records[0].connectionId, "c-1");
    assert.equal(records[0].remoteAddress, "127.0.0.1:5000");
    assert.equal(records[0].msg, "connection closed");
    assert.equal(records[0].code, 1000);
    assert.equal(records[1].level, 50);
    assert.equal(records[1].msg, "connection handler failed");
    assert.equal(records[1].err.type, "Error");
    assert.equal(records[1].err.message, "handler bug");
    assert.match(records[1].err.stack, /^Error: handler bug\n/);
  });

  test("a pino child with its own level silences only the library's debug", () => {
    const { logger, lines } = pinoToLines("debug");
    const quiet = logger.child({}, { level: "info" });
    const server = resolveLogger(quiet, "websockets.server");
    server.debug("< EOF");
    server.info("server closed");
    logger.debug("application debug");
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).msg),
      ["server closed", "application debug"],
    );
  });
});

describe("catalogue helpers", () => {
  test("firstLine gives Name: message, first line only", () => {
    assert.equal(firstLine(new TypeError("bad\nthings")), "TypeError: bad");
    assert.equal(firstLine(new Error("")), "Error");
    assert.equal(firstLine("plain\r\nstring"), "plain");
    assert.equal(firstLine(42), "42");
    assert.equal(firstLine(Object.create(null)), "[object Object]");
  });

  test("formatAddress renders IPv4, IPv6 and Unix addresses", () => {
    assert.equal(
      formatAddress({ address: "127.0.0.1", family: "IPv4", port: 8765 } as never),
      "127.0.0.1:8765",
    );
    assert.equal(formatAddress({ address: "::1", port: 8765 }), "[::1]:8765");
    assert.equal(formatAddress("/path/to/unix.sock"), "/path/to/unix.sock");
    assert.equal(formatAddress({ address: "127.0.0.1" }), "127.0.0.1");
    assert.equal(formatAddress(null), "unknown");
    assert.equal(formatAddress({ address: undefined, port: undefined }), "unknown");
  });

  test("formatRequestLines gives the request line then one line per header", () => {
    const headers = new Headers();
    headers.append("Host", "example.com:8765");
    headers.append("Upgrade", "websocket");
    headers.append("Sec-WebSocket-Protocol", "chat");
    headers.append("Sec-WebSocket-Protocol", "superchat");
    assert.deepEqual(formatRequestLines({ path: "/chat?room=1", headers }, ">"), [
      "> GET /chat?room=1 HTTP/1.1",
      "> Host: example.com:8765",
      "> Upgrade: websocket",
      "> Sec-WebSocket-Protocol: chat",
      "> Sec-WebSocket-Protocol: superchat",
    ]);
    assert.deepEqual(formatRequestLines({ path: "/", headers: new Headers() }, "<"), [
      "< GET / HTTP/1.1",
    ]);
  });

  test("formatResponseLines gives the status line, headers, and the body size", () => {
    const headers = new Headers();
    headers.append("Upgrade", "websocket");
    assert.deepEqual(
      formatResponseLines(
        { status: 101, reason: "Switching Protocols", headers, body: Buffer.alloc(0) },
        "<",
      ),
      ["< HTTP/1.1 101 Switching Protocols", "< Upgrade: websocket"],
    );
    const body = Buffer.from("Failed to open a WebSocket connection.\n");
    assert.deepEqual(
      formatResponseLines({ status: 403, reason: "", headers: new Headers(), body }, ">"),
      ["> HTTP/1.1 403", `> [body] (${body.length} bytes)`],
    );
  });

  test("logMessages formats the messages that carry a value", () => {
    assert.equal(
      logMessages.serverListening({ address: "::1", port: 8765 }),
      "server listening on [::1]:8765",
    );
    assert.equal(
      logMessages.connectionRejected(403, "Forbidden"),
      "connection rejected (403 Forbidden)",
    );
    assert.equal(logMessages.connectionRejected(418, ""), "connection rejected (418)");
    assert.equal(logMessages.httpResponseSent(200, "OK"), "HTTP response sent (200 OK)");
    assert.equal(
      logMessages.reconnecting(1543, new Error("connect ECONNREFUSED 127.0.0.1:8765\nmore")),
      "connect failed; reconnecting in 1.5 seconds: Error: connect ECONNREFUSED 127.0.0.1:8765",
    );
    assert.equal(
      logMessages.broadcastFailed(new RangeError("write after end")),
      "skipped broadcast: failed to write message: RangeError: write after end",
    );
    assert.equal(logMessages.state("CLOSING"), "= connection is CLOSING");
    assert.equal(logMessages.failing(1002), "! failing connection with code 1002");
    assert.equal(
      logMessages.frameSent(new Frame(OP_TEXT, Buffer.from("hi"))),
      "> TEXT 'hi' [2 bytes]",
    );
    assert.equal(
      logMessages.frameReceived(new Frame(OP_CLOSE, Buffer.from([0x03, 0xe8]))),
      "< CLOSE 1000 (OK) [2 bytes]",
    );
  });

  test("docs/logging.md lists every message of the catalogue", () => {
    const docs = readFileSync(new URL("../docs/logging.md", import.meta.url), "utf8");
    // How the docs write the messages that carry a value.
    const documented: Record<string, string> = {
      broadcastFailed: "skipped broadcast: failed to write message: <first line of the error>",
      subprotocolIgnored:
        "client offered subprotocols <offered, comma-separated> and the server selected none: " +
        "browsers fail this connection right after the handshake; " +
        "list the subprotocols you support in serve({ subprotocols }) or pick one in selectSubprotocol",
      serverListening: "server listening on <address>",
      connectionRejected: "connection rejected (<status> <reason>)",
      httpResponseSent: "HTTP response sent (<status> <reason>)",
      reconnecting: "connect failed; reconnecting in <s.s> seconds: <first line of the error>",
      state: "= connection is <CONNECTING | OPEN | CLOSING | CLOSED>",
      frameSent: "> <frame>",
      frameReceived: "< <frame>",
      failing: "! failing connection with code <code>",
      serverCloseTimeout:
        "server close timed out: terminating <n> connections, <m> handlers still running",
      slowSubscriber:
        "slow subscriber <skipped | closed>: write buffer over <limit> bytes on publish to <topic>",
      publishFailed:
        "skipped publish to <topic>: failed to write message: <first line of the error>",
      backplaneLost:
        "<backplane> backplane lost: <first line of the error>; delivering locally, messages to other nodes are lost until it is back",
      backplaneFailed: "<backplane> backplane: <action> failed: <first line of the error>",
      backplaneMalformed:
        "<backplane> backplane: dropped malformed message on <channel>: <problem>",
      backplaneGap: "<backplane> backplane: <n> message(s) from node <id> on <topic> were lost",
      backplaneBack:
        "<backplane> backplane is back; resubscribed to <n> topic(s); <m> message(s) published meanwhile were lost",
      published: "> publish to <topic>: <n> local subscriber(s)",
      sendsPiling:
        "<n> send() calls wait for the write buffer to drain (<bytes> bytes buffered, writeLimit <limit>): " +
        "sends that aren't awaited buffer without bound; " +
        "await ws.send() to go at the peer's pace, or use broadcast() to send without waiting",
      sendLost:
        "a send failed and nothing awaited it, so the message is lost: <first line of the error>; " +
        "await ws.send(), or .catch() its promise, to know",
      unreadAfterLoop:
        "reading paused: <n> messages wait unread since a for await loop over this connection was left; " +
        "keepalive pongs aren't read either, so keepalive will close the connection with 1011; " +
        "keep reading, or close the connection (await ws.close()) when you're done with it",
      http2Fallback: "! falling back to HTTP/1.1: <why>",
      proxyTunnel: "= connecting through proxy <proxy> to <host>:<port>",
    };
    for (const [key, message] of Object.entries(logMessages)) {
      const text = typeof message === "string" ? message : documented[key];
      assert.ok(text !== undefined, `no documented form for logMessages.${key}`);
      assert.ok(docs.includes(`\`${text}\``), `docs/logging.md lacks \`${text}\``);
    }
  });
});

describe("createCaptureLogger (test helper)", () => {
  test("records level, message, merged fields and error, from children too", () => {
    const capture = createCaptureLogger("debug");
    const logger: Logger = capture.logger;
    const child = logger.child({ connectionId: "c-1" }).child({ remoteAddress: "127.0.0.1:1" });
    const err = new Error("boom");
    child.trace("dropped");
    child.debug("< EOF");
    child.error({ err, code: 1011 }, "connection handler failed");
    logger.warn(new Error("bare"));
    assert.deepEqual(capture.records, [
      {
        level: "debug",
        msg: "< EOF",
        fields: { connectionId: "c-1", remoteAddress: "127.0.0.1:1" },
        err: undefined,
      },
      {
        level: "error",
        msg: "connection handler failed",
        fields: { connectionId: "c-1", remoteAddress: "127.0.0.1:1", code: 1011 },
        err,
      },
      { level: "warn", msg: "bare", fields: {}, err: capture.records[2].err },
    ]);
    assert.deepEqual(capture.messages("debug"), ["< EOF"]);
    assert.equal(isLevelEnabled(child, "trace"), false);
    capture.logger.level = "trace";
    assert.equal(isLevelEnabled(child, "trace"), true);
    capture.clear();
    assert.deepEqual(capture.records, []);
  });
});

describe("the message catalogue is the only source of log messages", () => {
  // A log call whose message is a string or template literal: the message
  // argument comes first, or after a fields object or a variable.
  const LITERAL_MESSAGE =
    /\.(?:trace|debug|info|warn|error|fatal)\(\s*(?:(?:\{[^{}]*\}|[\w.!?[\]]+)\s*,\s*)?[`"']/g;
  const srcDir = fileURLToPath(new URL("../src/", import.meta.url));

  /** Every .ts file under src/, as paths relative to it. */
  function sources(dir = srcDir, prefix = ""): string[] {
    const files: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory()) files.push(...sources(`${dir}${entry.name}/`, `${path}/`));
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
    return files;
  }

  test("no file in src/ logs a message written in place", () => {
    const bypasses: string[] = [];
    const files = sources();
    assert.ok(files.includes("node/connection.ts"), "the scan sees src/node/");
    for (const file of files) {
      // logging.ts defines the catalogue and the loggers.
      if (file === "logging.ts") continue;
      const text = readFileSync(`${srcDir}${file}`, "utf8");
      for (const match of text.matchAll(LITERAL_MESSAGE)) {
        const line = text.slice(0, match.index).split("\n").length;
        bypasses.push(`src/${file}:${line}: ${match[0]}`);
      }
    }
    assert.deepEqual(bypasses, []);
  });

  test("the scan recognizes the ways a message can be written in place", () => {
    const calls = [
      'logger.debug("< EOF")',
      "this.logger!.debug(`= connection is OPEN`)",
      'this.logger.error({ err: error }, "parser failed")',
      "logger.info(fields, 'closed')",
    ];
    for (const call of calls) assert.equal([...call.matchAll(LITERAL_MESSAGE)].length, 1, call);
    const fine = [
      "logger.debug(logMessages.eofReceived)",
      "logger.info(fields, logMessages.connectionClosed)",
      "this.logger!.debug(line)",
    ];
    for (const call of fine) assert.equal([...call.matchAll(LITERAL_MESSAGE)].length, 0, call);
  });
});
