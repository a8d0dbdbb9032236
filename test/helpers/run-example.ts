/**
 * Runs a program of examples/ to completion with tsx, for the tests that
 * check what it prints.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

/**
 * Runs `examples/<name>` with `args` and `env` added to this process's
 * environment; killed after `timeoutMs`. Resolves with its exit code and
 * its stdout and stderr, interleaved.
 */
export async function runExample(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  return runProgram(
    process.execPath,
    ["--import", "tsx", join(EXAMPLES, name), ...args],
    env,
    timeoutMs,
  );
}

/**
 * Runs `command` with `args` and `env` added to this process's environment;
 * killed after `timeoutMs`. Resolves with its exit code and its stdout and
 * stderr, interleaved.
 */
export async function runProgram(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, output };
}
