// The package against what only the npm registry has: its declarations
// compiled with every @types/node major from 20 to the newest, and a fresh
// checkout that imports `websockets-ts` right after `npm install`.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import ts from "typescript";
import { entryPoints, packageJson, ROOT } from "../scripts/package-exports.ts";
import { build, compile, typesNodeReleases } from "../test/helpers/consumer.ts";

const run = promisify(execFile);
const FIRST_MAJOR = 20; // engines: Node >= 20
const NPM_TIMEOUT = 300_000;
const SLOW = { timeout: 900_000 };

mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const work = mkdtempSync(join(ROOT, ".tmp", "peers-package-"));
const built = join(work, "websockets-ts");
after(() => rmSync(work, { recursive: true, force: true }));

describe("declarations with every @types/node major", () => {
  // Every major npm has, from FIRST_MAJOR (some majors were never published).
  let majors: number[] = [];

  before(async () => {
    mkdirSync(built, { recursive: true });
    writeFileSync(join(built, "package.json"), JSON.stringify(packageJson(), null, 2));
    build(join(built, "dist"));
    const { stdout } = await run("npm", ["view", "@types/node", "versions", "--json"], {
      timeout: NPM_TIMEOUT,
      maxBuffer: 16 * 1024 * 1024,
    });
    const versions = JSON.parse(stdout) as string[];
    majors = [...new Set(versions.map((v) => Number.parseInt(v, 10)))]
      .filter((major) => major >= FIRST_MAJOR)
      .sort((a, b) => a - b);
  }, SLOW);

  test("every major on npm is pinned as a devDependency, so npm test checks it offline", () => {
    const pinned = typesNodeReleases().map((r) => r.major);
    const missing = majors.filter((major) => !pinned.includes(major));
    assert.deepEqual(
      missing,
      [],
      `add each: npm install -D -E types-nodeNN@npm:@types/node@<newest NN.x> (test/types/package.test.ts compiles against it)`,
    );
  });

  test(`from ${FIRST_MAJOR} to the newest on npm, strict, skipLibCheck: false`, SLOW, async () => {
    assert.ok(majors.length > 1, `@types/node majors on npm: ${majors.join(", ")}`);
    const failures: string[] = [];
    for (const major of majors) {
      // Under the repository's .tmp/: anything else the declarations name
      // resolves from its node_modules; @types/node from the nearest one.
      const consumer = join(work, `types-node-${major}`);
      mkdirSync(consumer, { recursive: true });
      writeFileSync(join(consumer, "package.json"), '{ "type": "module", "private": true }\n');
      await run(
        "npm",
        [
          "install",
          "--no-save",
          "--no-package-lock",
          "--no-audit",
          "--no-fund",
          `@types/node@${major}`,
        ],
        { cwd: consumer, timeout: NPM_TIMEOUT },
      );
      cpSync(built, join(consumer, "node_modules", "websockets-ts"), { recursive: true });
      cpSync(join(ROOT, "test", "types", "fixtures", "consumer.ts"), join(consumer, "consumer.ts"));
      writeFileSync(
        join(consumer, "entries.ts"),
        entryPoints()
          .map((e, i) => `import * as entry${i} from "${e.specifier}";\nvoid entry${i};\n`)
          .join(""),
      );
      const errors = compile(
        consumer,
        { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
        ["entries.ts", "consumer.ts"],
      );
      console.log(
        `@types/node@${major}: ${errors.length === 0 ? "ok" : `${errors.length} errors`}`,
      );
      if (errors.length > 0) failures.push(`@types/node@${major}:\n${errors.join("\n")}`);
    }
    assert.deepEqual(failures, []);
  });
});

describe("a fresh checkout", () => {
  test("imports websockets-ts right after npm install (prepare builds dist/)", SLOW, async () => {
    // Outside the repository, so nothing resolves from its node_modules or dist/.
    const checkout = mkdtempSync(join(tmpdir(), "websockets-ts-checkout-"));
    try {
      // What a clone of this tree holds: tracked and new files, not ignored ones.
      const { stdout } = await run("git", ["ls-files", "-z", "-co", "--exclude-standard"], {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
      });
      for (const file of stdout.split("\0").filter((f) => f !== "")) {
        mkdirSync(dirname(join(checkout, file)), { recursive: true });
        cpSync(join(ROOT, file), join(checkout, file));
      }
      await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], {
        cwd: checkout,
        timeout: NPM_TIMEOUT,
      });
      const script = join("test-peers", "fixtures", "import-after-install.mjs");
      const result = await run(process.execPath, [script], { cwd: checkout, timeout: 60_000 });
      assert.equal(result.stdout.trim(), "from a fresh checkout");
    } finally {
      rmSync(checkout, { recursive: true, force: true });
    }
  });
});
