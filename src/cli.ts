#!/usr/bin/env node
/**
 * The `websockets-ts` command: an interactive WebSocket client, like
 * `python -m websockets`, that also works in pipes and speaks JSON for
 * scripts; and `websockets-ts serve`, a test server.
 *
 * ```sh
 * npx websockets-ts wss://echo.example/           # type lines, see replies
 * printf 'a\nb\n' | npx websockets-ts ws://host/  # each line sent, each message printed
 * npx websockets-ts serve --echo --port 8765
 * ```
 *
 * See docs/cli.md.
 *
 * @module
 */

import { createInterface, type Interface } from "node:readline";
import { ConnectionClosed, InvalidURI } from "./errors.ts";
import { createLogger } from "./logging.ts";
import { broadcast } from "./node/broadcast.ts";
import { type ClientConnection, type ConnectOptions, connect } from "./node/client.ts";
import { type Server, serve } from "./node/server.ts";
import { VERSION } from "./version.ts";

const USAGE = `Usage: websockets-ts [options] <uri>
       websockets-ts serve [--echo | --broadcast] [--host HOST] [--port PORT]

Connects to a WebSocket server, sends each line read from standard input as
a text message, and prints each message received.

Options (before the URI):
  --header "Name: value"  add a header to the request (repeatable)
  --subprotocol NAME       offer a subprotocol (repeatable)
  --no-compression         don't offer permessage-deflate
  --proxy URL              connect through this proxy; "none": directly
                           (default: from https_proxy, all_proxy... )
  --insecure               don't verify the server's TLS certificate
  --max-size BYTES         largest message accepted (default: 1048576); "none": no limit
  --json                   print one JSON object per event
  -h, --help               print this help
  --version                print the version

Commands, typed as a line:
  /ping                    send a ping and print the latency
  /close [code [reason]]   close the connection (default: 1000)
  /binary HEX              send a binary message, e.g. /binary 48690a
  /help                    list the commands
  //text                   send "/text"

Exit status: 0 after a close with 1000 or 1001, 1 when the connection fails
or closes otherwise, 2 for a usage error.
`;

const SERVE_USAGE = `Usage: websockets-ts serve [--echo | --broadcast] [--host HOST] [--port PORT]

A test server: --echo (default) sends each message back to its sender;
--broadcast sends it to every connected client. Listens on 127.0.0.1:8765
unless told otherwise; logs connections at INFO; stops on Ctrl-C.
`;

const COMMANDS_HELP =
  "commands: /ping, /close [code [reason]], /binary HEX, /help; //text sends /text";

/** Exit statuses. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A mistake in the command line: exit status 2, with the usage. */
class UsageError extends Error {}

/** What the client's command line says. */
interface ClientArgs {
  uri: string;
  json: boolean;
  options: ConnectOptions;
}

/** What `serve`'s command line says. */
interface ServeArgs {
  mode: "echo" | "broadcast";
  host: string;
  port: number;
}

/**
 * Reads `--name value` and `--name=value` options up to the first
 * argument that isn't one, handing each to `take`; returns the rest.
 */
function readOptions(
  args: readonly string[],
  takesValue: ReadonlySet<string>,
  take: (name: string, value: string | null) => void,
): string[] {
  let i = 0;
  while (i < args.length && args[i].startsWith("-") && args[i] !== "-") {
    const arg = args[i++];
    if (arg === "--") break;
    const equals = arg.indexOf("=");
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (!takesValue.has(name)) {
      if (equals !== -1) throw new UsageError(`option ${name} takes no value`);
      take(name, null);
    } else if (equals !== -1) {
      take(name, arg.slice(equals + 1));
    } else if (i < args.length) {
      take(name, args[i++]);
    } else {
      throw new UsageError(`option ${name} needs a value`);
    }
  }
  return args.slice(i);
}

function parseClientArgs(args: readonly string[]): ClientArgs | "help" | "version" {
  const headers: [string, string][] = [];
  const subprotocols: string[] = [];
  const options: ConnectOptions = {};
  let json = false;
  let help: "help" | "version" | null = null;
  const rest = readOptions(
    args,
    new Set(["--header", "--subprotocol", "--proxy", "--max-size"]),
    (name, value) => {
      switch (name) {
        case "--header": {
          const colon = value!.indexOf(":");
          if (colon <= 0) {
            throw new UsageError(`--header expects "Name: value"; got ${JSON.stringify(value)}`);
          }
          headers.push([value!.slice(0, colon).trim(), value!.slice(colon + 1).trim()]);
          break;
        }
        case "--subprotocol":
          subprotocols.push(value!);
          break;
        case "--no-compression":
          options.compression = null;
          break;
        case "--proxy":
          options.proxy = value === "none" ? null : value;
          break;
        case "--insecure":
          options.tls = { rejectUnauthorized: false };
          break;
        case "--max-size":
          options.maxSize = value === "none" ? null : positiveInteger("--max-size", value!);
          break;
        case "--json":
          json = true;
          break;
        case "-h":
        case "--help":
          help = "help";
          break;
        case "--version":
          help = "version";
          break;
        default:
          throw new UsageError(`unknown option ${name}`);
      }
    },
  );
  if (help !== null) return help;
  if (rest.length === 0) throw new UsageError("missing the URI to connect to");
  if (rest.length > 1) {
    throw new UsageError(
      `unexpected argument after the URI: ${JSON.stringify(rest[1])} (options come before the URI)`,
    );
  }
  if (headers.length > 0) options.additionalHeaders = headers;
  if (subprotocols.length > 0) options.subprotocols = subprotocols;
  return { uri: rest[0], json, options };
}

function parseServeArgs(args: readonly string[]): ServeArgs | "help" {
  const parsed: ServeArgs = { mode: "echo", host: "127.0.0.1", port: 8765 };
  let modes = 0;
  let help = false;
  const rest = readOptions(args, new Set(["--host", "--port"]), (name, value) => {
    switch (name) {
      case "--echo":
      case "--broadcast":
        parsed.mode = name === "--echo" ? "echo" : "broadcast";
        modes++;
        break;
      case "--host":
        parsed.host = value!;
        break;
      case "--port":
        parsed.port = value === "0" ? 0 : positiveInteger("--port", value!);
        if (parsed.port > 65535) throw new UsageError(`--port must be at most 65535; got ${value}`);
        break;
      case "-h":
      case "--help":
        help = true;
        break;
      default:
        throw new UsageError(`unknown option ${name} for serve`);
    }
  });
  if (help) return "help";
  if (modes > 1) throw new UsageError("--echo and --broadcast exclude each other");
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${JSON.stringify(rest[0])}`);
  return parsed;
}

function positiveInteger(name: string, value: string): number {
  const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1) {
    throw new UsageError(`${name} expects a positive integer; got ${JSON.stringify(value)}`);
  }
  return number;
}

/** Bytes from hex digits, spaces allowed between bytes; null if invalid. */
function parseHex(text: string): Buffer | null {
  const digits = text.replace(/\s+/g, "");
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) return null;
  return Buffer.from(digits, "hex");
}

/**
 * Control characters shown escaped, so that a message can't move the
 * cursor or recolour the terminal, nor break the one-line layout.
 */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it escapes.
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/**
 * Where events go: above the prompt on a terminal, one line each in a
 * pipe, or one JSON object each.
 */
class Output {
  readonly #mode: "tty" | "plain" | "json";
  #prompt: Interface | null = null;

  constructor(mode: "tty" | "plain" | "json") {
    this.#mode = mode;
  }

  get mode(): "tty" | "plain" | "json" {
    return this.#mode;
  }

  /** On a terminal: the line editor whose input line is kept under printed lines. */
  attach(prompt: Interface): void {
    if (this.#mode === "tty") this.#prompt = prompt;
  }

  /** Leaves the prompt: its line is erased, and lines are printed plainly from now on. */
  detach(): void {
    if (this.#prompt === null) return;
    this.#prompt = null;
    process.stdout.write("\r\x1b[K");
  }

  /** A line for the user: on stdout on a terminal, on stderr otherwise (stdout holds messages). */
  say(line: string): void {
    if (this.#mode === "tty") this.#line(line);
    else if (this.#mode === "plain") process.stderr.write(`${line}\n`);
  }

  /** An error: always on stderr, above the prompt on a terminal. */
  problem(line: string): void {
    if (this.#mode === "tty") this.#line(line, process.stderr);
    else process.stderr.write(`${line}\n`);
  }

  open(uri: string): void {
    if (this.#mode === "json") this.#json({ event: "open", url: uri });
    else this.say(`Connected to ${uri}.`);
  }

  message(data: string | Uint8Array): void {
    if (this.#mode === "json") {
      if (typeof data === "string") this.#json({ event: "message", text: data });
      else this.#json({ event: "message", binary: Buffer.from(data).toString("base64") });
      return;
    }
    const shown = typeof data === "string" ? data : `(binary) ${Buffer.from(data).toString("hex")}`;
    if (this.#mode === "tty") this.#line(`< ${printable(shown)}`);
    else process.stdout.write(`${shown}\n`);
  }

  pong(latency: number): void {
    if (this.#mode === "json") this.#json({ event: "pong", latency });
    else this.say(`Pong received after ${latency.toFixed(3)} ms.`);
  }

  close(connection: ClientConnection, description: string): void {
    if (this.#mode === "json") {
      this.#json({
        event: "close",
        code: connection.closeCode,
        reason: connection.closeReason ?? "",
      });
    } else this.say(`Connection closed: ${description}.`);
  }

  #json(event: Record<string, unknown>): void {
    process.stdout.write(`${JSON.stringify(event)}\n`);
  }

  /** Prints a line above the line being typed, then redraws the prompt and what was typed. */
  #line(line: string, stream: NodeJS.WriteStream = process.stdout): void {
    const prompt = this.#prompt;
    if (prompt === null) {
      stream.write(`${line}\n`);
      return;
    }
    // Erase the prompt line, print, and draw it again with the cursor where it was.
    process.stdout.write("\r\x1b[K");
    stream.write(`${line}\n`);
    prompt.prompt(true);
  }
}

/** The client: connects, then pumps lines out and messages in until the close. */
async function runClient(args: ClientArgs): Promise<number> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const output = new Output(args.json ? "json" : tty ? "tty" : "plain");
  let ws: ClientConnection;
  try {
    ws = await connect(args.uri, args.options);
  } catch (error) {
    if (error instanceof InvalidURI) throw new UsageError(error.message);
    output.problem(`Failed to connect to ${args.uri}: ${describe(error)}.`);
    return EXIT_FAILED;
  }
  output.open(args.uri);

  const input = createInterface({
    input: process.stdin,
    output: output.mode === "tty" ? process.stdout : undefined,
    terminal: output.mode === "tty",
    prompt: "> ",
  });
  output.attach(input);
  // Lines are handled one at a time, in order, each after the previous
  // one's send (or ping) completed.
  let queue: Promise<void> = Promise.resolve();
  let closing = false;
  const closeWith = (code = 1000, reason = ""): void => {
    if (closing) return;
    closing = true;
    ws.close(code, reason).catch(() => {});
  };
  input.on("line", (line) => {
    queue = queue.then(async () => {
      if (closing) return;
      await handleLine(ws, line, output, closeWith);
      if (output.mode === "tty" && !closing) input.prompt();
    });
  });
  // Ctrl-D, or the end of piped input: close once every line is handled.
  input.on("close", () => {
    queue = queue.then(() => closeWith());
  });
  // Ctrl-C on a terminal (readline's raw mode turns it into this event).
  input.on("SIGINT", () => closeWith());
  const onSignal = (): void => closeWith();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  if (output.mode === "tty") input.prompt();

  let description: string;
  try {
    for await (const message of ws) output.message(message);
    description = await closeDescription(ws);
  } catch (error) {
    if (!(error instanceof ConnectionClosed)) throw error;
    description = error.message;
  }
  output.detach();
  output.close(ws, description);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  input.close();
  // Stop reading: a terminal or a pipe that never ends mustn't keep us alive.
  process.stdin.destroy();
  return ws.closeCode === 1000 || ws.closeCode === 1001 ? EXIT_OK : EXIT_FAILED;
}

/** How a connection that closed normally closed: the error its next recv() throws says it. */
async function closeDescription(ws: ClientConnection): Promise<string> {
  try {
    await ws.recv();
  } catch (error) {
    if (error instanceof ConnectionClosed) return error.message;
    throw error;
  }
  return `code ${ws.closeCode}`;
}

async function handleLine(
  ws: ClientConnection,
  line: string,
  output: Output,
  closeWith: (code?: number, reason?: string) => void,
): Promise<void> {
  try {
    if (!line.startsWith("/")) {
      await ws.send(line);
    } else if (line.startsWith("//")) {
      await ws.send(line.slice(1));
    } else {
      await runCommand(ws, line, output, closeWith);
    }
  } catch (error) {
    // The connection closed under us: the receive loop reports it.
    if (!(error instanceof ConnectionClosed)) output.problem(`Error: ${describe(error)}.`);
  }
}

async function runCommand(
  ws: ClientConnection,
  line: string,
  output: Output,
  closeWith: (code?: number, reason?: string) => void,
): Promise<void> {
  const space = line.indexOf(" ");
  const command = space === -1 ? line : line.slice(0, space);
  const rest = space === -1 ? "" : line.slice(space + 1).trim();
  switch (command) {
    case "/ping":
      output.pong(await ws.ping());
      return;
    case "/binary": {
      const data = parseHex(rest);
      if (data === null) {
        output.problem(`Error: /binary expects hex digits; got ${JSON.stringify(rest)}.`);
        return;
      }
      await ws.send(data);
      return;
    }
    case "/close": {
      if (rest === "") {
        closeWith();
        return;
      }
      const match = /^([0-9]+)(?:\s+(.*))?$/.exec(rest);
      const code = match === null ? Number.NaN : Number(match[1]);
      // RFC 6455 §7.4: codes an endpoint may send.
      if (!(code === 1000 || (code >= 3000 && code <= 4999))) {
        output.problem(
          `Error: /close expects 1000 or a code from 3000 to 4999; got ${JSON.stringify(rest)}.`,
        );
        return;
      }
      const reason = match![2] ?? "";
      if (Buffer.byteLength(reason) > 123) {
        output.problem(
          `Error: a close reason is at most 123 bytes; got ${Buffer.byteLength(reason)}.`,
        );
        return;
      }
      closeWith(code, reason);
      return;
    }
    case "/help":
      output.say(COMMANDS_HELP);
      return;
    default:
      output.problem(`Error: unknown command ${command} (${COMMANDS_HELP}).`);
  }
}

/** `websockets-ts serve`: runs until SIGINT or SIGTERM. */
async function runServer(args: ServeArgs): Promise<number> {
  const logger = createLogger({ name: "websockets.server", level: "info" });
  let server: Server;
  try {
    server = await serve(
      async (ws) => {
        for await (const message of ws) {
          if (args.mode === "echo") await ws.send(message);
          else broadcast(ws.server.connections, message);
        }
      },
      { host: args.host, port: args.port, logger },
    );
  } catch (error) {
    process.stderr.write(`Failed to listen on ${args.host}:${args.port}: ${describe(error)}.\n`);
    return EXIT_FAILED;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void server.close());
  }
  await server.serveForever();
  return EXIT_OK;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the command; resolves to the exit status. */
async function main(argv: readonly string[]): Promise<number> {
  try {
    if (argv[0] === "serve") {
      const args = parseServeArgs(argv.slice(1));
      if (args === "help") {
        process.stdout.write(SERVE_USAGE);
        return EXIT_OK;
      }
      return await runServer(args);
    }
    const args = parseClientArgs(argv);
    if (args === "help") {
      process.stdout.write(USAGE);
      return EXIT_OK;
    }
    if (args === "version") {
      process.stdout.write(`websockets-ts ${VERSION}\n`);
      return EXIT_OK;
    }
    return await runClient(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(
      `websockets-ts: ${error.message}\n\n${argv[0] === "serve" ? SERVE_USAGE : USAGE}`,
    );
    return EXIT_USAGE;
  }
}

process.exitCode = await main(process.argv.slice(2));
