// `npm run check:package`: packs the package as npm would publish it, then
// lints the tarball with publint and "Are the Types Wrong?" over every entry
// point of `exports`, and checks that each entry's declarations reference
// Node's types. Run by CI; offline (npm pack, no registry).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entryPoints, ROOT } from "./package-exports.ts";

const NODE_REFERENCE = /^\/\/\/ <reference types="node"/m;
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);
const failures: string[] = [];

function run(title: string, command: string, args: string[]): void {
  console.log(`\n--- ${title}: ${[command.replace(`${ROOT}/`, ""), ...args].join(" ")}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) failures.push(`${title} (exit ${result.status ?? result.signal})`);
}

const entries = entryPoints();
const work = mkdtempSync(join(tmpdir(), "websockets-ts-pack-"));
try {
  // `npm pack` runs `prepack`, so the tarball holds a fresh build.
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", work], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0].filename);
  const files = new Set(packed[0].files.map((file) => file.path));
  console.log(`packed ${tarball}: ${files.size} files`);
  console.log(`entry points from exports: ${entries.map((e) => e.subpath).join(", ")}`);

  run("publint", bin("publint"), ["run", tarball, "--strict"]);
  // esm-only: the package is ESM; CommonJS callers use require(esm) on
  // Node >= 20.19 (see README, "Module format"), which attw can't model.
  // No DefinitelyTyped lookup: the check stays offline.
  run("attw", bin("attw"), [
    tarball,
    "--profile",
    "esm-only",
    "--no-definitely-typed",
    "--entrypoints",
    ...entries.map((e) => e.subpath),
  ]);

  execFileSync("tar", ["-xzf", tarball, "-C", work]);
  console.log("\n--- entry points");
  for (const entry of entries) {
    const problems: string[] = [];
    for (const file of [entry.types, entry.js]) {
      if (!files.has(file)) problems.push(`${file} is not in the tarball`);
    }
    if (problems.length === 0) {
      const declarations = readFileSync(join(work, "package", entry.types), "utf8");
      if (!NODE_REFERENCE.test(declarations)) {
        problems.push(
          `${entry.types} lacks /// <reference types="node" />: add it with preserve="true" at the top of ${entry.source}`,
        );
      }
    }
    console.log(`${problems.length === 0 ? "ok  " : "FAIL"} ${entry.specifier}`);
    for (const problem of problems) failures.push(`${entry.specifier}: ${problem}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`\ncheck:package failed:\n${failures.map((f) => `  - ${f}`).join("\n")}`);
  process.exit(1);
}
console.log(`\ncheck:package: ${entries.length} entry points ok`);
