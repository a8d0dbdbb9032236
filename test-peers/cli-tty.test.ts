// The `websockets-ts` command in a real terminal: tmux runs it in a
// pseudo-terminal, the test types keys with `send-keys` and reads the
// screen with `capture-pane`, while a server in this process talks to it.

import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Server, type ServerConnection, serve } from "../src/index.ts";
import { requireTmux } from "./helpers/requirements.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WAIT_MS = 20_000;

/** One tmux server of our own (its own socket), so nothing else is touched. */
class Terminal {
  readonly #socket = `websockets-ts-cli-${randomBytes(4).toString("hex")}`;

  tmux(...args: string[]): string {
    const run = spawnSync("tmux", ["-L", this.#socket, "-f", "/dev/null", ...args], {
      encoding: "utf8",
      timeout: 10_000,
    });
    if (run.error !== undefined || run.status !== 0) {
      throw new Error(`tmux ${args.join(" ")} failed: ${run.error?.message ?? run.stderr}`);
    }
    return run.stdout;
  }

  /** Starts the command line in an 100x20 terminal; the pane stays after it exits. */
  start(args: string[]): void {
    const quoted = args.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ");
    this.tmux(
      "new-session",
      "-d",
      "-s",
      "cli",
      "-x",
      "100",
      "-y",
      "20",
      "-c",
      ROOT,
      `'${process.execPath}' --import tsx src/cli.ts ${quoted}; echo "EXIT=$?"; sleep 120`,
    );
  }

  keys(...keys: string[]): void {
    this.tmux("send-keys", "-t", "cli", ...keys);
  }

  /** Types text literally (no key names). */
  type(text: string): void {
    this.tmux("send-keys", "-t", "cli", "-l", text);
  }

  /** The visible lines, trailing blank lines dropped. */
  screen(): string[] {
    const lines = this.tmux("capture-pane", "-p", "-t", "cli").split("\n");
    while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
    return lines;
  }

  /** Waits until the screen satisfies `done` (bounded); returns it. */
  async waitFor(done: (lines: string[]) => boolean, what: string): Promise<string[]> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const lines = this.screen();
      if (done(lines)) return lines;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; screen:\n${lines.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  stop(): void {
    try {
      this.tmux("kill-server");
    } catch {
      // Already gone.
    }
  }
}

describe("websockets-ts in a terminal", { timeout: 120_000 }, () => {
  let server: Server;
  let url: string;
  // The server side of the connection the current test opened.
  let peer: Promise<ServerConnection>;
  let gotPeer: (ws: ServerConnection) => void;
  const received: string[] = [];

  before(async () => {
    requireTmux();
    server = await serve(
      async (ws) => {
        gotPeer(ws);
        for await (const message of ws) {
          received.push(typeof message === "string" ? message : "(binary)");
          if (message === "echo me") await ws.send("echo me");
        }
      },
      { host: "127.0.0.1", port: 0, logger: false },
    );
    url = `ws://127.0.0.1:${(server.address as { port: number }).port}/`;
  });
  after(() => server.close());

  async function open(): Promise<{ terminal: Terminal; ws: ServerConnection }> {
    peer = new Promise((resolve) => {
      gotPeer = resolve;
    });
    const terminal = new Terminal();
    terminal.start([url]);
    let timer: NodeJS.Timeout | undefined;
    try {
      const ws = await Promise.race([
        peer,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`the CLI didn't connect; screen:\n${terminal.screen().join("\n")}`));
          }, WAIT_MS);
        }),
      ]);
      await terminal.waitFor((lines) => lines.at(-1) === ">", "the prompt");
      return { terminal, ws };
    } catch (error) {
      terminal.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  test("says it's connected, shows a prompt, sends lines and prints replies", async () => {
    const { terminal } = await open();
    try {
      assert.deepEqual(terminal.screen(), [`Connected to ${url}.`, ">"]);
      terminal.type("echo me");
      terminal.keys("Enter");
      const lines = await terminal.waitFor((l) => l.includes("< echo me"), "the reply");
      assert.deepEqual(lines, [`Connected to ${url}.`, "> echo me", "< echo me", ">"]);
    } finally {
      terminal.stop();
    }
  });

  test("prints a message above the line being typed without breaking it", async () => {
    const { terminal, ws } = await open();
    try {
      terminal.type("half a li");
      await terminal.waitFor((l) => l.at(-1) === "> half a li", "the typed text");
      await ws.send("news arrives");
      await ws.send(Buffer.from([1, 2, 0xff]));
      // A server can't drive the terminal: control characters are shown escaped.
      await ws.send("\x1b[2J\x1b[31mred\nnext");
      const lines = await terminal.waitFor(
        (l) => l.at(-1) === "> half a li" && l.length === 5,
        "the messages",
      );
      assert.deepEqual(lines, [
        `Connected to ${url}.`,
        "< news arrives",
        "< (binary) 0102ff",
        "< \\x1b[2J\\x1b[31mred\\nnext",
        "> half a li",
      ]);
      // The line goes on where it was.
      terminal.type("ne");
      terminal.keys("Enter");
      await terminal.waitFor((l) => l.at(-1) === ">", "a new prompt");
      const deadline = Date.now() + WAIT_MS;
      while (received.at(-1) !== "half a line" && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(received.at(-1), "half a line");
    } finally {
      terminal.stop();
    }
  });

  test("/ping prints the latency", async () => {
    const { terminal } = await open();
    try {
      terminal.type("/ping");
      terminal.keys("Enter");
      const lines = await terminal.waitFor(
        (l) => l.some((line) => line.startsWith("Pong")),
        "the pong",
      );
      assert.match(lines.join("\n"), /\n> \/ping\nPong received after \d+\.\d{3} ms\.\n>$/);
    } finally {
      terminal.stop();
    }
  });

  for (const [key, name] of [
    ["C-c", "Ctrl-C"],
    ["C-d", "Ctrl-D"],
  ]) {
    test(`${name} closes with 1000, prints the close codes and exits 0`, async () => {
      const { terminal, ws } = await open();
      try {
        terminal.keys(key);
        const lines = await terminal.waitFor(
          (l) => l.some((line) => line.startsWith("EXIT=")),
          "the exit",
        );
        assert.deepEqual(lines, [
          `Connected to ${url}.`,
          "Connection closed: sent 1000 (OK); then received 1000 (OK).",
          "EXIT=0",
        ]);
        await ws.closed;
        assert.equal(ws.closeCode, 1000);
      } finally {
        terminal.stop();
      }
    });
  }

  test("the server closing with 1011 ends the session with exit status 1", async () => {
    const { terminal, ws } = await open();
    try {
      await ws.close(1011, "oops");
      const lines = await terminal.waitFor(
        (l) => l.some((line) => line.startsWith("EXIT=")),
        "the exit",
      );
      assert.deepEqual(lines, [
        `Connected to ${url}.`,
        "Connection closed: received 1011 (internal error) oops; then sent 1011 (internal error) oops.",
        "EXIT=1",
      ]);
    } finally {
      terminal.stop();
    }
  });

  test("a connection refused prints why and exits 1", async () => {
    const probe = await serve(() => {}, { host: "127.0.0.1", port: 0, logger: false });
    const { port } = probe.address as { port: number };
    await probe.close();
    const terminal = new Terminal();
    try {
      terminal.start([`ws://127.0.0.1:${port}/`]);
      const lines = await terminal.waitFor(
        (l) => l.some((line) => line.startsWith("EXIT=")),
        "the exit",
      );
      assert.deepEqual(lines, [
        `Failed to connect to ws://127.0.0.1:${port}/: connect ECONNREFUSED 127.0.0.1:${port}.`,
        "EXIT=1",
      ]);
    } finally {
      terminal.stop();
    }
  });
});
