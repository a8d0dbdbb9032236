/**
 * Logging: the logger interface, the built-in logger, the catalogue of log
 * messages and the renderings they use (handshake lines, addresses; frames
 * through `frame-repr.ts`).
 *
 * The library logs through any pino-compatible logger ({@link LoggerLike}).
 * Without one it uses a built-in logger ({@link createLogger}) that, like
 * Python's last-resort handler, writes WARN and ERROR to stderr and nothing
 * else, unless `NODE_DEBUG=websockets` turns debug output on.
 *
 * Nothing here touches sockets: the I/O layer (`src/node/`) decides when to
 * log and calls the helpers below for the texts, so every message of the
 * catalogue is written once, in {@link logMessages}.
 *
 * @module
 */

import { format } from "node:util";
import { MIN_MAX_LOG_SIZE, renderFrame } from "./frame-repr.ts";
import type { Frame } from "./frames.ts";
import type { Request, Response } from "./http11.ts";
import { redactHeaderValue } from "./redact.ts";

// ---------------------------------------------------------------------------
// Logger interface

/** Log levels, as in pino. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** A level a logger can be set to: a {@link LogLevel}, or `"silent"` to output nothing. */
export type LevelName = LogLevel | "silent";

/**
 * A log method: pino's `(obj, msg)` or `(msg)` forms. Extra arguments are
 * `util.format` substitutions for `msg`.
 */
export type LogFn = (objOrMsg: unknown, msg?: string, ...args: unknown[]) => void;

/**
 * Any pino-compatible logger: pino itself, our {@link createLogger}, or any
 * object with these methods.
 *
 * The library calls `debug`, `info`, `warn` and `error` with `(fields, msg)`
 * or `(msg)`; an error is passed as the `err` field. It calls `child` once per
 * server or client (binding `name`) and once per connection (binding
 * `connectionId` and `remoteAddress`), and checks `isLevelEnabled("debug")`
 * (or `level`) once per connection, so debug logging costs nothing when off.
 */
export interface LoggerLike {
  /** Details: frames, handshake lines, state changes (off by default). */
  debug: LogFn;
  /** Lifecycle: server start/stop, connection open/close. */
  info: LogFn;
  /** Something the application should look at, e.g. a skipped broadcast. */
  warn: LogFn;
  /** Errors, e.g. a handler that threw, with the error as the `err` field. */
  error: LogFn;
  /** Finer than debug; the library doesn't use it. */
  trace?: LogFn;
  /** Fatal errors; the library doesn't use it. */
  fatal?: LogFn;
  /** A logger whose records carry `bindings` on top of this one's. */
  child?(bindings: Record<string, unknown>): LoggerLike;
  /** Whether records at `level` are output. */
  isLevelEnabled?(level: string): boolean;
  /** The lowest level output (pino's `level`), read when `isLevelEnabled` is absent. */
  level?: string;
}

/** A complete logger: what {@link createLogger} returns, and {@link silentLogger}. */
export interface Logger extends LoggerLike {
  /** Finer than debug; the library doesn't use it. */
  trace: LogFn;
  /** Fatal errors; the library doesn't use it. */
  fatal: LogFn;
  /** A logger whose records carry `bindings` on top of this one's. A `name` binding renames it. */
  child(bindings: Record<string, unknown>): Logger;
  /** Whether records at `level` are output. */
  isLevelEnabled(level: string): boolean;
  /** The lowest level output; setting it takes effect at once (not on existing children). */
  level: LevelName;
}

const LEVEL_VALUES: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

const LOG_LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal"];

/**
 * Whether `logger` would output records of `level`. Call it once per
 * connection (not per record) and skip building records when it is false.
 *
 * Uses `logger.isLevelEnabled` when present, else compares with
 * `logger.level`; a logger with neither is assumed to output everything.
 */
export function isLevelEnabled(logger: LoggerLike | null | undefined, level: LogLevel): boolean {
  if (logger == null) return false;
  if (typeof logger.isLevelEnabled === "function") return logger.isLevelEnabled(level);
  const current = typeof logger.level === "string" ? LEVEL_VALUES[logger.level] : undefined;
  if (current !== undefined) return LEVEL_VALUES[level] >= current;
  return true;
}

// Every disabled level of every logger shares this function, so a call at a
// disabled level is one call to an empty function.
const NOOP: LogFn = () => {};

class SilentLogger implements Logger {
  readonly trace: LogFn = NOOP;
  readonly debug: LogFn = NOOP;
  readonly info: LogFn = NOOP;
  readonly warn: LogFn = NOOP;
  readonly error: LogFn = NOOP;
  readonly fatal: LogFn = NOOP;

  get level(): LevelName {
    return "silent";
  }

  set level(_level: LevelName) {}

  child(): Logger {
    return this;
  }

  isLevelEnabled(): boolean {
    return false;
  }
}

/** A logger that drops everything; `child()` returns itself and its level can't change. */
export const silentLogger: Logger = Object.freeze(new SilentLogger());

// ---------------------------------------------------------------------------
// The built-in logger

/** Where the built-in logger writes: `process.stderr`, a file stream, a test buffer... */
export interface LogStream {
  /** Writes one record, a line ending with `\n`. */
  write(chunk: string): unknown;
}

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Logger name, shown on every record: `websockets.server` or `websockets.client` for ours. */
  name: string;
  /**
   * Lowest level output. Default: `"debug"` when `NODE_DEBUG` names the
   * logger (`NODE_DEBUG=websockets`), else `"warn"`.
   */
  level?: LevelName;
  /**
   * `"text"` (default): `2026-11-23T18:00:00.000Z INFO websockets.server connection open connectionId=…`,
   * with an error's stack on the following lines. `"json"`: one object per line.
   */
  format?: "text" | "json";
  /** Default: `process.stderr`. */
  stream?: LogStream;
}

/**
 * Whether `NODE_DEBUG` turns on debug output for logger `name`, following
 * `util.debuglog`: a comma-separated list of names, `*` as a wildcard, case
 * insensitive. `websockets` (or `websockets*`) matches every logger of the
 * library; `websockets.server` only the server's.
 *
 * @param nodeDebug - Default: `process.env.NODE_DEBUG`, read at each call.
 */
export function nodeDebugEnabled(name: string, nodeDebug = readEnv("NODE_DEBUG")): boolean {
  if (nodeDebug === undefined || nodeDebug === "") return false;
  for (const part of nodeDebug.split(",")) {
    const pattern = part.trim();
    if (pattern === "") continue;
    const source = pattern.replace(/[|\\{}()[\]^$+?.]/g, "\\$&").replace(/\*/g, ".*");
    const regexp = new RegExp(`^(?:${source})$`, "i");
    if (regexp.test("websockets") || regexp.test(name)) return true;
  }
  return false;
}

function readEnv(name: string): string | undefined {
  return typeof process === "undefined" ? undefined : process.env[name];
}

function checkLevel(level: unknown): LevelName {
  if (typeof level !== "string" || !(level in LEVEL_VALUES)) {
    throw new TypeError(`invalid log level: ${JSON.stringify(level)}`);
  }
  return level as LevelName;
}

/** What a logger and all its children share. */
interface Sink {
  readonly stream: LogStream;
  readonly json: boolean;
}

/**
 * Creates the built-in logger.
 *
 * ```ts
 * const logger = createLogger({ name: "websockets.server", level: "info", format: "json" });
 * await serve(handler, { port: 8765, logger });
 * ```
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const { name, format: fmt = "text" } = options;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`invalid logger name: ${JSON.stringify(name)}`);
  }
  if (fmt !== "text" && fmt !== "json") {
    throw new TypeError(`invalid log format: ${JSON.stringify(fmt)}`);
  }
  const level = options.level ?? (nodeDebugEnabled(name) ? "debug" : "warn");
  const sink: Sink = { stream: options.stream ?? process.stderr, json: fmt === "json" };
  return new BuiltinLogger(sink, name, "", checkLevel(level));
}

/**
 * The logger the library uses for a `logger` option: a silent one for
 * `false` or `null`, the built-in default for `undefined`, else the given
 * logger, as a `child({ name })` when it has `child`.
 *
 * @throws TypeError when `option` lacks `debug`, `info`, `warn` or `error`.
 */
export function resolveLogger(
  option: LoggerLike | false | null | undefined,
  name: "websockets.server" | "websockets.client" | (string & {}),
): LoggerLike {
  if (option === undefined) return createLogger({ name });
  if (option === false || option === null) return silentLogger;
  if (
    typeof option !== "object" ||
    typeof option.debug !== "function" ||
    typeof option.info !== "function" ||
    typeof option.warn !== "function" ||
    typeof option.error !== "function"
  ) {
    throw new TypeError(`invalid logger: ${describe(option)}`);
  }
  return typeof option.child === "function" ? option.child({ name }) : option;
}

function describe(value: unknown): string {
  if (typeof value !== "object" || value === null) return safeString(value);
  return `object without debug/info/warn/error methods (keys: ${Object.keys(value).join(", ")})`;
}

// Keys the record layout owns; fields with these names are not repeated.
// `name` is shown as the logger; `err` is rendered on its own.
const RESERVED = new Set(["time", "level", "logger", "msg", "name", "err"]);

class BuiltinLogger implements Logger {
  declare trace: LogFn;
  declare debug: LogFn;
  declare info: LogFn;
  declare warn: LogFn;
  declare error: LogFn;
  declare fatal: LogFn;

  readonly #sink: Sink;
  readonly #name: string;
  // Bindings are rendered once, when the child is created, in the sink's
  // format only (a child per connection, then many records per connection).
  readonly #bindings: string;
  #level: LevelName = "silent";
  readonly #writers: Partial<Record<LogLevel, LogFn>> = {};

  constructor(sink: Sink, name: string, bindings: string, level: LevelName) {
    this.#sink = sink;
    this.#name = name;
    this.#bindings = bindings;
    this.level = level;
  }

  get level(): LevelName {
    return this.#level;
  }

  set level(level: LevelName) {
    this.#level = checkLevel(level);
    const threshold = LEVEL_VALUES[level];
    for (const method of LOG_LEVELS) {
      let fn = NOOP;
      if (LEVEL_VALUES[method] >= threshold) {
        fn = this.#writers[method] ??= (...params: unknown[]) => this.#write(method, params);
      }
      this[method] = fn;
    }
  }

  isLevelEnabled(level: string): boolean {
    const value = LEVEL_VALUES[level];
    return (
      value !== undefined && value !== LEVEL_VALUES.silent && value >= LEVEL_VALUES[this.#level]
    );
  }

  child(bindings: Record<string, unknown>): Logger {
    const name =
      typeof bindings.name === "string" && bindings.name !== "" ? bindings.name : this.#name;
    const rendered = this.#sink.json ? jsonFields(bindings) : textFields(bindings);
    return new BuiltinLogger(this.#sink, name, this.#bindings + rendered, this.#level);
  }

  #write(level: LogLevel, params: unknown[]): void {
    const first = params[0];
    let fields: Record<string, unknown> | null = null;
    let hasErr = false;
    let err: unknown;
    let msg: string;
    if (typeof first === "string") {
      msg = params.length > 1 ? format(...params) : first;
    } else if (first instanceof Error) {
      hasErr = true;
      err = first;
      msg = typeof params[1] === "string" ? formatRest(params) : first.message;
    } else if (typeof first === "object" && first !== null) {
      fields = first as Record<string, unknown>;
      if (Object.hasOwn(fields, "err") && fields.err !== undefined) {
        hasErr = true;
        err = fields.err;
      }
      msg = typeof params[1] === "string" ? formatRest(params) : "";
    } else {
      msg = params.length > 0 ? safeString(first) : "";
    }
    const time = isoNow();
    let line: string;
    if (this.#sink.json) {
      line = `{"time":"${time}","level":"${level}","logger":${JSON.stringify(this.#name)},"msg":${JSON.stringify(msg)}${this.#bindings}`;
      if (fields !== null) line += jsonFields(fields);
      if (hasErr) line += `,"err":${JSON.stringify(serializeError(err, 0))}`;
      line += "}\n";
    } else {
      line = `${time} ${level.toUpperCase()} ${this.#name}`;
      if (msg !== "") line += ` ${msg}`;
      line += this.#bindings;
      if (fields !== null) line += textFields(fields);
      if (hasErr) line += `\n${errorText(err, 0)}`;
      line += "\n";
    }
    this.#sink.stream.write(line);
  }
}

// Formatting a date costs more than the rest of a record; with debug on,
// many records share a millisecond.
let lastMs = Number.NaN;
let lastIso = "";

function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

function formatRest(params: unknown[]): string {
  return params.length > 2 ? format(...params.slice(1)) : (params[1] as string);
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function safeJson(value: unknown): string | undefined {
  if (value instanceof Error) return JSON.stringify(serializeError(value, 0));
  try {
    return JSON.stringify(value);
  } catch {
    // BigInt, circular structures, throwing toJSON: keep the record, lose the detail.
    return JSON.stringify(safeString(value));
  }
}

/** `,"key":value` for every field, for a JSON record. */
function jsonFields(fields: Record<string, unknown>): string {
  let out = "";
  for (const key of Object.keys(fields)) {
    if (RESERVED.has(key)) continue;
    const json = safeJson(fields[key]);
    if (json !== undefined) out += `,${JSON.stringify(key)}:${json}`;
  }
  return out;
}

// A value shown without quotes in text records: no spaces, quotes,
// backslashes, `=` or control characters, so `key=value` pairs stay parseable.
const BARE_VALUE = /^[^\s"'\\=\p{C}]+$/u;

/** ` key=value` for every field, for a text record. */
function textFields(fields: Record<string, unknown>): string {
  let out = "";
  for (const key of Object.keys(fields)) {
    if (RESERVED.has(key)) continue;
    const value = fields[key];
    if (value === undefined || typeof value === "function" || typeof value === "symbol") continue;
    out += ` ${key}=${textValue(value)}`;
  }
  return out;
}

function textValue(value: unknown): string {
  if (typeof value === "string") return BARE_VALUE.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (value === null) return "null";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "null" : value.toISOString();
  if (value instanceof Error) return JSON.stringify(firstLine(value));
  return safeJson(value) ?? "null";
}

/** The JSON shape of an error: `{ type, message, stack, code?, cause? }`. */
export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  code?: string | number;
  cause?: SerializedError;
}

// Causes are followed this deep, so a cycle of causes can't loop.
const MAX_CAUSE_DEPTH = 3;

function serializeError(err: unknown, depth: number): SerializedError {
  if (!(err instanceof Error)) return { type: typeof err, message: safeString(err) };
  const out: SerializedError = { type: err.name, message: err.message };
  if (typeof err.stack === "string") out.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out.code = code;
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    out.cause = serializeError(err.cause, depth + 1);
  }
  return out;
}

/** An error for a text record: its stack, its code, then its causes. */
function errorText(err: unknown, depth: number): string {
  if (!(err instanceof Error)) return `thrown value: ${safeString(err)}`;
  let out = typeof err.stack === "string" ? err.stack : firstLine(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out += `\n    code: ${code}`;
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    out += `\nCaused by: ${errorText(err.cause, depth + 1)}`;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The catalogue

/**
 * The first line of `Name: message` for an error, or of `String(value)` for
 * anything else thrown: what a one-line log record shows of an error.
 *
 * ```ts
 * firstLine(new TypeError("bad\nthings")); // "TypeError: bad"
 * ```
 */
export function firstLine(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    text = error.message === "" ? error.name : `${error.name}: ${error.message}`;
  } else {
    text = safeString(error);
  }
  const end = text.search(/\r|\n/);
  return end === -1 ? text : text.slice(0, end);
}

/** An address as `server.address()` or a socket gives it. */
export type AddressLike =
  | { address?: string | undefined; port?: number | undefined }
  | string
  | null
  | undefined;

/**
 * `127.0.0.1:8765`, `[::1]:8765` or `/path/to/unix.sock`; `unknown` when the
 * address isn't known (a socket already destroyed).
 */
export function formatAddress(address: AddressLike): string {
  if (typeof address === "string") return address;
  if (address == null || address.address === undefined || address.address === "") return "unknown";
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;
  return address.port === undefined ? host : `${host}:${address.port}`;
}

/**
 * The debug lines of a handshake request: `> GET /path HTTP/1.1`, then one
 * line per header; credentials show as `[redacted]` (see `redactHeaderValue`). `prefix` is `>` when sending (client), `<` when
 * receiving (server).
 */
export function formatRequestLines(request: Request, prefix: ">" | "<"): string[] {
  const lines = [
    `${prefix} ${request.method ?? "GET"} ${request.path} ${request.version ?? "HTTP/1.1"}`,
  ];
  for (const [name, value] of request.headers) {
    lines.push(`${prefix} ${name}: ${redactHeaderValue(name, value)}`);
  }
  return lines;
}

/**
 * The debug lines of a handshake response: `< HTTP/1.1 101 Switching
 * Protocols`, one line per header (credentials redacted), then `< [body] (N bytes)` when there is
 * a body. `prefix` is `>` when sending (server), `<` when receiving (client);
 * `version` is `HTTP/2` for an HTTP/2 response's header block.
 */
export function formatResponseLines(
  response: Response,
  prefix: ">" | "<",
  version = "HTTP/1.1",
): string[] {
  const statusLine = `${prefix} ${version} ${response.status} ${response.reason}`.trimEnd();
  const lines = [statusLine];
  for (const [name, value] of response.headers) {
    lines.push(`${prefix} ${name}: ${redactHeaderValue(name, value)}`);
  }
  if (response.body.length > 0) lines.push(`${prefix} [body] (${response.body.length} bytes)`);
  return lines;
}

function statusText(status: number, reason: string): string {
  return reason === "" ? `${status}` : `${status} ${reason}`;
}

/**
 * Every message the library logs, in one place. Fixed texts are strings;
 * texts with a value are functions. The level of each is in its section.
 * docs/logging.md lists them all (a test checks it).
 */
export const logMessages = {
  // ERROR, with the error as the `err` field.
  /** The connection handler threw; the connection is closed with 1011. */
  handlerFailed: "connection handler failed",
  processRequestFailed: "processRequest failed",
  processResponseFailed: "processResponse failed",
  /** An unexpected error during the handshake, e.g. a throwing `selectSubprotocol`. */
  handshakeFailed: "opening handshake failed",
  keepaliveFailed: "keepalive ping failed",
  internalError: "unexpected internal error",
  /** The 1011 sent then carries no reason: nothing internal leaks to the peer. */
  parserFailed: "parser failed",

  // WARN
  /**
   * The client offered subprotocols and the server selected none: browsers
   * (and `ws`) fail such a connection right after the 101.
   */
  subprotocolIgnored: (offered: readonly string[]): string =>
    `client offered subprotocols ${offered.join(", ")} and the server selected none: ` +
    "browsers fail this connection right after the handshake; " +
    "list the subprotocols you support in serve({ subprotocols }) or pick one in selectSubprotocol",
  /**
   * A handshake request with a `Sec-WebSocket-Key` but no `Upgrade`: a
   * proxy dropped the hop-by-hop headers.
   */
  upgradeStripped:
    "handshake request has Sec-WebSocket-Key but no Upgrade header: " +
    "a proxy in front of this server dropped Upgrade and Connection; configure it to forward them " +
    '(nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade")',
  /** Once per server that didn't set `origins`, at the first browser request with credentials. */
  originsUnset:
    "requests from browsers carry credentials (Cookie or Authorization) but origins isn't set: " +
    "any web page can open connections as its visitors (cross-site WebSocket hijacking); " +
    "set origins, or origins: null to accept any origin",
  broadcastFragmented: "skipped broadcast: sending a fragmented message",
  broadcastFailed: (error: unknown): string =>
    `skipped broadcast: failed to write message: ${firstLine(error)}`,
  /** A subscriber's write buffer is over the limit; see `slowSubscriber`. */
  slowSubscriber: (topic: string, action: "skipped" | "closed", limit: number): string =>
    `slow subscriber ${action}: write buffer over ${limit} bytes on publish to ${JSON.stringify(topic)}`,
  publishFailed: (topic: string, error: unknown): string =>
    `skipped publish to ${JSON.stringify(topic)}: failed to write message: ${firstLine(error)}`,
  /** Once per outage, with the backplane's name; local delivery goes on. */
  backplaneLost: (name: string, error: unknown): string =>
    `${name} backplane lost: ${firstLine(error)}; delivering locally, messages to other nodes are lost until it is back`,
  backplaneFailed: (name: string, action: string, error: unknown): string =>
    `${name} backplane: ${action} failed: ${firstLine(error)}`,
  backplaneMalformed: (name: string, channel: string, problem: string): string =>
    `${name} backplane: dropped malformed message on ${JSON.stringify(channel)}: ${problem}`,
  /**
   * Sends not awaited pile up behind a full write buffer (see
   * src/node/mistakes.ts); once per connection.
   */
  sendsPiling: (waiting: number, buffered: number, writeLimit: number): string =>
    `${waiting} send() calls wait for the write buffer to drain (${buffered} bytes buffered, ` +
    `writeLimit ${writeLimit}): sends that aren't awaited buffer without bound; ` +
    "await ws.send() to go at the peer's pace, or use broadcast() to send without waiting",
  /** A send failed because the connection closed, and nothing awaited its promise; once per connection. */
  sendLost: (error: unknown): string =>
    `a send failed and nothing awaited it, so the message is lost: ${firstLine(error)}; ` +
    "await ws.send(), or .catch() its promise, to know",
  /** Reading paused after a `for await` loop over the messages was left. */
  unreadAfterLoop: (unread: number): string =>
    `reading paused: ${unread} messages wait unread since a for await loop over this connection was left; ` +
    "keepalive pongs aren't read either, so keepalive will close the connection with 1011; " +
    "keep reading, or close the connection (await ws.close()) when you're done with it",
  /** Messages from another node never arrived (at-most-once delivery). */
  backplaneGap: (name: string, topic: string, node: string, missing: number): string =>
    `${name} backplane: ${missing} message(s) from node ${node} on ${JSON.stringify(topic)} were lost`,

  // INFO
  /** Once per listening socket. */
  serverListening: (address: AddressLike): string =>
    `server listening on ${formatAddress(address)}`,
  serverClosing: "server closing",
  serverClosed: "server closed",
  serverCloseTimeout: (connections: number, handlers: number): string =>
    `server close timed out: terminating ${connections} connections, ${handlers} handlers still running`,
  connectionOpen: "connection open",
  /** The backplane is connected again and resubscribed to every live topic. */
  backplaneBack: (name: string, topics: number, lost: number): string =>
    `${name} backplane is back; resubscribed to ${topics} topic(s); ${lost} message(s) published meanwhile were lost`,
  connectionRejected: (status: number, reason: string): string =>
    `connection rejected (${statusText(status, reason)})`,
  /** A response returned by `processRequest` was sent instead of upgrading. */
  httpResponseSent: (status: number, reason: string): string =>
    `HTTP response sent (${statusText(status, reason)})`,
  /** INFO after OPEN, with {@link ConnectionClosedFields}; DEBUG if the connection never opened. */
  connectionClosed: "connection closed",
  /** Client side: `break` (or return, throw) in `for await (const ws of connect(url))`. */
  reconnectLoopLeft:
    "left for await (const ws of connect(...)): the current connection is closed with 1000 " +
    "and no reconnection follows; to keep a connection after a loop, use await connect(url)",
  /** Client side, before waiting `delayMs` to reconnect. */
  reconnecting: (delayMs: number, error: unknown): string =>
    `connect failed; reconnecting in ${(delayMs / 1000).toFixed(1)} seconds: ${firstLine(error)}`,

  // DEBUG: `>` send, `<` receive, `=` state, `x` TCP shutdown, `%` keepalive,
  // `-` timeout, `!` error (with the error as `err`).
  state: (state: "CONNECTING" | "OPEN" | "CLOSING" | "CLOSED"): string =>
    `= connection is ${state}`,
  frameSent: (frame: Frame): string => `> ${formatFrame(frame)}`,
  frameReceived: (frame: Frame): string => `< ${formatFrame(frame)}`,
  eofSent: "> EOF",
  eofReceived: "< EOF",
  halfClosing: "x half-closing TCP connection",
  closingTcp: "x closing TCP connection",
  keepalivePingSent: "% sent keepalive ping",
  keepalivePongReceived: "% received keepalive pong",
  keepaliveTimeout: "- timed out waiting for keepalive pong",
  failing: (code: number): string => `! failing connection with code ${code}`,
  invalidOrigin: "! invalid origin",
  invalidUpgrade: "! invalid upgrade",
  invalidHandshake: "! invalid handshake",
  tlsHandshakeFailed: "! TLS handshake failed",
  requestLineTooLong: "! request line too long",
  headerFieldsTooLarge: "! header fields too large",
  sendFailed: "! error while sending data",
  receiveFailed: "! error while receiving data",
  /** Client side, `http2: "auto"`: the server can't carry this WebSocket over HTTP/2. */
  http2Fallback: (why: string): string => `! falling back to HTTP/1.1: ${why}`,
  /** Client side: the tunnel about to open; `proxy` has its password redacted. */
  proxyTunnel: (proxy: string, target: string): string =>
    `= connecting through proxy ${proxy} to ${target}`,
  openTimeout: "- timed out during opening handshake",
  closeTimeout: "- timed out waiting for TCP close",
  published: (topic: string, subscribers: number): string =>
    `> publish to ${JSON.stringify(topic)}: ${subscribers} local subscriber(s)`,
} as const;

/**
 * What the client's handshake errors add when a failure looks like one of
 * the usual mistakes (src/node/mistakes.ts), in words that name the fix;
 * the client's side of the WARN lines above. Each has an entry in
 * docs/faq.md (a test checks it).
 */
export const handshakeHints = {
  /** An HTTP server answered the upgrade request as a plain request. */
  noUpgradeHandler: (resource: string): string =>
    `: the server answered as plain HTTP; nothing handles WebSocket upgrades at ${resource} ` +
    "(attach a WebSocket server to the HTTP server's 'upgrade' event, e.g. serve(handler, { server })), " +
    "or a proxy in between dropped the Upgrade header",
  /** The server asked for an upgrade it was offered: something in between removed the offer. */
  upgradeStripped:
    ": the server got no Upgrade header; a proxy between this client and the server " +
    "probably dropped Upgrade and Connection (they are hop-by-hop): configure it to forward them",
  /** A 101 without `Upgrade: websocket`: something in between rewrote the response. */
  responseUpgradeStripped:
    ": a proxy between this client and the server probably dropped the response's " +
    "Upgrade and Connection headers (they are hop-by-hop): configure it to forward WebSocket upgrades",
  /** `ws://` to a port that speaks TLS: the server hangs up without a byte. */
  wsToTlsPort: (where: string): string =>
    `: ${where} closed the connection without answering; if it serves TLS, connect with wss://`,
  /** `wss://` to a port without TLS: its HTTP answer reads as a bad TLS record. */
  wssToPlainPort: (where: string): string =>
    `TLS handshake with ${where} failed: the server doesn't speak TLS there ` +
    "(wrong version number); connect with ws://, or serve TLS",
} as const;

/**
 * Fields of the INFO `connection closed` record, on top of the connection's
 * bindings (`connectionId`, `remoteAddress`, and `logContext` fields).
 */
export interface ConnectionClosedFields {
  /** The effective close code: the peer's, or 1006 when no close frame was received. */
  code: number;
  /** The effective close reason; empty when none. */
  reason: string;
  /** Code of the close frame received, or `null` when none was. */
  rcvdCode: number | null;
  rcvdReason: string | null;
  /** Code of the close frame sent, or `null` when none was. */
  sentCode: number | null;
  sentReason: string | null;
  /** Milliseconds from OPEN to CLOSED. */
  durationMs: number;
  /** Data messages received and sent. */
  messagesIn: number;
  messagesOut: number;
  /** Payload bytes of those messages (uncompressed). */
  bytesIn: number;
  bytesOut: number;
}

// ---------------------------------------------------------------------------
// Frame rendering: how much of a payload to show (the rendering is in
// frame-repr.ts)

const DEFAULT_MAX_LOG_SIZE = 75;

function parseMaxLogSize(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_MAX_LOG_SIZE;
  const size = Number(raw);
  if (!Number.isSafeInteger(size) || size <= 0) return DEFAULT_MAX_LOG_SIZE;
  return Math.max(size, MIN_MAX_LOG_SIZE);
}

/**
 * How many characters of a payload debug logs show: `WEBSOCKETS_MAX_LOG_SIZE`,
 * read once when the module loads, default 75, at least 6. Longer payloads
 * show their first 2/3 and last 1/3 around `...`.
 */
export const maxLogSize: number = parseMaxLogSize(readEnv("WEBSOCKETS_MAX_LOG_SIZE"));

/**
 * Renders a frame for debug logs: `OPCODE payload [metadata]`.
 *
 * ```text
 * TEXT 'hello' [5 bytes]
 * BINARY 00 01 02 03 [4 bytes]
 * CONT ' crème' [text, 7 bytes, continued]
 * PING d0 a9 13 8e [binary, 4 bytes]
 * CLOSE 1011 (internal error) keepalive ping timeout [24 bytes]
 * ```
 *
 * A payload that looks like printable UTF-8 is quoted, with control and
 * invisible characters escaped, whatever the opcode (pings often carry text);
 * anything else is shown in hex. The payload is elided to `maxLogSize`
 * characters, and only a bounded prefix and suffix of a large payload are
 * inspected, so rendering a 16 MiB frame costs as much as a 400-byte one.
 *
 * @param maxSize - Default: {@link maxLogSize}.
 */
export function formatFrame(frame: Frame, maxSize: number = maxLogSize): string {
  return renderFrame(frame, maxSize);
}
