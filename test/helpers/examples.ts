/**
 * Runs the programs of examples/ for real: spawned with tsx, on a free port
 * unless told otherwise, stopped with a signal. Children still running when
 * the test file ends are killed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

/** How long an example may take to start. */
export const STARTUP_MS = 20_000;

/** A server example that printed the port it listens on. */
export interface Running {
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

/** Spawns `examples/<name>` with HOST=127.0.0.1 and PORT=0 unless `env` says otherwise. */
export function spawnExample(
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
export async function startServer(
  name: string,
  env: Record<string, string> = {},
): Promise<Running> {
  const { child, output, exited } = spawnExample(name, [], env);
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
