/**
 * Where the external peers live, and the checks that turn a missing peer
 * into a failure that says how to install it (no peer is ever skipped).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";

/** The Debian interpreter, which sees the Debian python3-* packages (a pyenv `python3` on PATH would not). */
export const PYTHON = process.env.PEERS_PYTHON ?? "/usr/bin/python3";
/** Debian's redis-server. */
export const REDIS_SERVER = process.env.PEERS_REDIS_SERVER ?? "/usr/bin/redis-server";
/** Debian's redis-cli (redis-tools, a dependency of redis-server). */
export const REDIS_CLI = process.env.PEERS_REDIS_CLI ?? "/usr/bin/redis-cli";
/** Debian's chromium. */
export const CHROMIUM = process.env.PEERS_CHROMIUM ?? "/usr/bin/chromium";
/** Flags every Chromium of the tests runs with: headless, nothing fetched, no QUIC. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const HINT = "(or run `sudo .ci/install-peers`, which installs every Debian peer)";

/** Throws with an install hint unless `PYTHON` can import `module`. */
export function requirePythonModule(module: string, debianPackage: string): void {
  const run = spawnSync(PYTHON, ["-c", `import ${module}`], { encoding: "utf8" });
  if (run.error || run.status !== 0) {
    throw new Error(
      `peer missing: ${PYTHON} cannot import ${module} (${(run.error?.message ?? run.stderr).trim()}); ` +
        `install it with \`apt-get install ${debianPackage}\` ${HINT}`,
    );
  }
}

/** Throws with an install hint unless Chromium is there. */
export function requireChromium(): void {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `peer missing: no Chromium at ${CHROMIUM}; install it with \`apt-get install chromium\` ${HINT}`,
    );
  }
}

/** Throws with an install hint unless redis-server is there. */
export function requireRedisServer(): void {
  try {
    accessSync(REDIS_SERVER, constants.X_OK);
  } catch {
    throw new Error(
      `peer missing: no redis-server at ${REDIS_SERVER}; install it with \`apt-get install redis-server\` ${HINT}`,
    );
  }
}

/** Throws with an install hint unless the npm package resolves; returns its version. */
export function requireNpmPackage(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    throw new Error(`peer missing: the npm package ${name} is not installed; run \`npm ci\``);
  }
}

/** Throws with an install hint unless tmux runs. */
export function requireTmux(): string {
  const run = spawnSync("tmux", ["-V"], { encoding: "utf8" });
  if (run.error || run.status !== 0) {
    throw new Error(
      `peer missing: tmux doesn't run; install it with \`apt-get install tmux\` ${HINT}`,
    );
  }
  return run.stdout.trim();
}
