#!/usr/bin/env node
// Installs the runtimes bench/echo.ts compares against (Bun and Deno, whose
// npm packages ship their binaries) into a cache directory outside the
// checkout, and prints where they are. They are not project dependencies:
// about 100 MB each, and only the benchmarks use them.
//
//   node scripts/install-bench-peers.mjs          # install what is missing, print paths
//   node scripts/install-bench-peers.mjs --check  # install nothing; exit 1 if one is missing
//   node scripts/install-bench-peers.mjs --json   # the same, machine-readable (bench/echo.ts)
//
// Cache directory: $BENCH_PEERS_DIR, else <os.tmpdir()>/websockets-ts-bench-peers.
// Idempotent: a runtime already installed at its pinned version is left alone.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

const dir = process.env.BENCH_PEERS_DIR || join(tmpdir(), "websockets-ts-bench-peers");

// The pinned versions: the only place they are written down. Bump them here.
const PEERS = [
  {
    name: "bun",
    pkg: "@oven/bun-linux-x64",
    version: "1.4.5",
    bin: "bin/bun",
    args: ["bench/peers/bun-echo.ts"],
    // No crash reports or other calls home from a benchmark run.
    env: { DO_NOT_TRACK: "1" },
  },
  {
    name: "deno",
    pkg: "@deno/linux-x64-glibc",
    version: "2.9.6",
    bin: "deno",
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env=HOST,PORT,TLS_KEY,TLS_CERT",
      // The TLS rows' key and certificate, written by bench/echo.ts to a temporary directory.
      "--allow-read",
      "--no-config",
      "--no-lock",
      "bench/peers/deno-echo.ts",
    ],
    // No update check over the network; Deno's own cache stays in the cache directory.
    env: { DENO_NO_UPDATE_CHECK: "1", DENO_DIR: join(dir, "deno-dir") },
  },
];

const INSTALL_TIMEOUT_MS = 300_000;
const VERSION_TIMEOUT_MS = 20_000;

/** The version of `pkg` installed in the cache directory, or null. */
function installedVersion(peer) {
  const manifest = join(dir, "node_modules", peer.pkg, "package.json");
  if (!existsSync(manifest) || !existsSync(binPath(peer))) return null;
  return JSON.parse(readFileSync(manifest, "utf8")).version ?? null;
}

function binPath(peer) {
  return join(dir, "node_modules", peer.pkg, peer.bin);
}

/** "<name> <version>" as the binary reports it (`--version`), or null if it does not run. */
function runtimeVersion(peer) {
  const result = spawnSync(binPath(peer), ["--version"], {
    encoding: "utf8",
    timeout: VERSION_TIMEOUT_MS,
  });
  // Bun prints "1.4.5", Deno "deno 2.9.6 (stable, ...)" and more lines.
  const match = result.status === 0 ? /\d+\.\d+\.\d+\S*/.exec(result.stdout) : null;
  return match === null ? null : `${peer.name} ${match[0]}`;
}

const supported = process.platform === "linux" && process.arch === "x64";
const missing = PEERS.filter((peer) => installedVersion(peer) !== peer.version);

if (missing.length > 0 && !values.check) {
  if (!supported) {
    console.error(
      `install-bench-peers: the pinned packages are for linux x64 (glibc), not ${process.platform} ${process.arch}`,
    );
    process.exit(1);
  }
  mkdirSync(dir, { recursive: true });
  // Every peer in one command: with no package.json in the prefix, a later
  // `npm install` of one package would prune the other as extraneous.
  const specs = PEERS.map((peer) => `${peer.pkg}@${peer.version}`);
  if (!values.json) console.error(`install-bench-peers: installing ${specs.join(", ")} in ${dir}`);
  const result = spawnSync(
    "npm",
    [
      "install",
      "--prefix",
      dir,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      ...specs,
    ],
    { stdio: ["ignore", "ignore", "inherit"], timeout: INSTALL_TIMEOUT_MS },
  );
  if (result.status !== 0) {
    console.error(
      `install-bench-peers: npm install failed (${result.error?.message ?? `exit ${result.status}`})`,
    );
    process.exit(1);
  }
}

const report = PEERS.map((peer) => {
  const installed = installedVersion(peer) === peer.version;
  return {
    name: peer.name,
    pkg: peer.pkg,
    version: peer.version,
    installed,
    runtime: installed ? runtimeVersion(peer) : null,
    bin: binPath(peer),
    args: peer.args,
    env: peer.env,
  };
});

if (values.json) {
  console.log(JSON.stringify({ dir, peers: report }, null, 2));
} else {
  console.log(`bench peers in ${dir}`);
  for (const peer of report) {
    const state = peer.installed ? (peer.runtime ?? "installed, but --version failed") : "missing";
    console.log(
      `  ${peer.name.padEnd(5)} ${peer.pkg}@${peer.version}: ${state}\n        ${peer.bin}`,
    );
  }
  if (report.every((peer) => peer.installed)) {
    console.log("\nrun: npm run bench -- echo --peers");
  }
}
process.exit(report.every((peer) => peer.installed && peer.runtime !== null) ? 0 : 1);
