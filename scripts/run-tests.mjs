#!/usr/bin/env node
// Runs every *.test.ts under the given folder with Node's own test runner,
// through the tsx loader. Node 20's `--test` does not expand globs, so the
// files are listed here; the exit code is the runner's.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const root = process.argv[2] ?? "test";
const filter = process.argv.slice(3);

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...collect(path));
    else if (entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

let files = collect(root).sort();
if (filter.length > 0) files = files.filter((f) => filter.some((part) => f.includes(part)));
if (files.length === 0) {
  console.error(
    `run-tests: no test files under ${root}${filter.length ? ` matching ${filter.join(", ")}` : ""}`,
  );
  process.exit(1);
}

// Node applies --test-timeout to each file as a whole too. The peer suite
// installs packages from npm (test-peers/package.test.ts: one @types/node
// per major, a fresh checkout's npm install), which takes minutes.
const timeout = root === "test-peers" ? 900_000 : 120_000;

const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-timeout=${timeout}`, "--test-reporter=spec", ...files],
  { stdio: "inherit", env: process.env },
);
process.exit(result.status ?? 1);
