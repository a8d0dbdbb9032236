#!/usr/bin/env node
// `npm run bench -- <name> [options]` builds dist/, then runs bench/<name>.ts through tsx;
// with no name it lists the benchmarks. Helper modules of a benchmark are
// named bench/<name>-*.ts and are not benchmarks themselves.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bench = join(dirname(fileURLToPath(import.meta.url)), "..", "bench");
const names = readdirSync(bench)
  .filter((file) => file.endsWith(".ts") && !file.includes("-"))
  .map((file) => file.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || name.startsWith("-")) {
  console.error(`usage: npm run bench -- <name> [options]\nbenchmarks: ${names.join(", ")}`);
  process.exit(name === undefined ? 0 : 2);
}
const file = join(bench, `${name}.ts`);
if (!existsSync(file)) {
  console.error(`run-bench: no benchmark ${name} (benchmarks: ${names.join(", ")})`);
  process.exit(2);
}
// The benchmarks that compare our server and client with others load the
// build (bench/support/library.ts), so it is made from the sources first.
const root = join(bench, "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const build = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});
if (build.status !== 0) {
  console.error("run-bench: the build failed (npm run build)");
  process.exit(build.status ?? 1);
}
const result = spawnSync(process.execPath, ["--import", "tsx", file, ...args], {
  stdio: "inherit",
  env: process.env,
});
process.exit(result.status ?? 1);
