// The package as a consumer meets it: built as published, then every entry
// point of package.json's `exports` (read from it, so a new entry is covered
// as soon as it is added) is compiled against under strict settings with
// skipLibCheck: false for moduleResolution node16, nodenext and bundler, and
// loaded at run time with import() and require().
// (The compiler runs in this process: see test/helpers/consumer.ts.)
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import ts from "typescript";
import { type EntryPoint, entryPoints, packageJson, ROOT } from "../../scripts/package-exports.ts";
import { build, compile, typesNodeReleases } from "../helpers/consumer.ts";
import { allSnippets } from "../helpers/snippets.ts";

const run = promisify(execFile);
const FIXTURES = join(ROOT, "test", "types", "fixtures");
const entries: EntryPoint[] = entryPoints();
// The README's and docs/' snippets, each a module of the consumer, as pasted.
const pasted = allSnippets().map((snippet, i) => ({ ...snippet, file: `snippet-${i}.ts` }));

// The consumer lives under the repository's .tmp/ (git-ignored) so that
// @types/node and any optional peer an entry's declarations name resolve
// from the repository's node_modules, as they would from the consumer's.
mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const consumer = mkdtempSync(join(ROOT, ".tmp", "consumer-"));
const installed = join(consumer, "node_modules", "websockets-ts");

before(() => {
  mkdirSync(installed, { recursive: true });
  writeFileSync(join(installed, "package.json"), JSON.stringify(packageJson(), null, 2));
  build(join(installed, "dist"));
  writeFileSync(join(consumer, "package.json"), '{ "type": "module", "private": true }\n');
  cpSync(join(FIXTURES, "consumer.ts"), join(consumer, "consumer.ts"));
  cpSync(join(FIXTURES, "require-consumer.cts"), join(consumer, "require-consumer.cts"));
  cpSync(join(FIXTURES, "ws-consumer.ts"), join(consumer, "ws-consumer.ts"));
  for (const snippet of pasted) writeFileSync(join(consumer, snippet.file), snippet.code);
  // One import of every entry point, so each one's declarations are checked.
  writeFileSync(
    join(consumer, "entries.ts"),
    entries
      .map((e, i) => `import * as entry${i} from "${e.specifier}";\nvoid entry${i};\n`)
      .join(""),
  );
});

after(() => rmSync(consumer, { recursive: true, force: true }));

describe("declarations", () => {
  test("every entry point of exports is checked", () => {
    const subpaths = entries.map((e) => e.subpath);
    assert.ok(subpaths.includes("."), `no "." in ${subpaths.join(", ")}`);
    assert.ok(subpaths.includes("./protocol"), `no "./protocol" in ${subpaths.join(", ")}`);
  });

  const cases: { name: string; options: ts.CompilerOptions; extra?: string[] }[] = [
    {
      name: "node16",
      options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 },
    },
    {
      name: "nodenext",
      options: {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
      },
      // A CommonJS consumer's require(), typed since TypeScript 5.8, and
      // the README's and docs' snippets.
      extra: ["require-consumer.cts", ...pasted.map((snippet) => snippet.file)],
    },
    {
      name: "bundler",
      options: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
    },
  ];
  for (const c of cases) {
    test(`compile strict with skipLibCheck: false under moduleResolution ${c.name}, websockets-ts/ws's objects where @types/ws's are expected${c.extra ? ", with a CommonJS require() and every README and docs snippet" : ""}`, () => {
      const files = ["entries.ts", "consumer.ts", "ws-consumer.ts", ...(c.extra ?? [])];
      assert.deepEqual(compile(consumer, c.options, files), []);
    });
  }

  test("each entry point's declarations reference Node's types", () => {
    for (const entry of entries) {
      const text = readFileSync(join(installed, entry.types), "utf8");
      assert.match(
        text,
        /^\/\/\/ <reference types="node"/m,
        `${entry.types}: add /// <reference types="node" preserve="true" /> to ${entry.source}`,
      );
    }
  });

  test("no member documented @internal is in the declarations (nor in consumers' autocomplete)", () => {
    const leaks: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".d.ts") && readFileSync(path, "utf8").includes("@internal")) {
          leaks.push(relative(installed, path));
        }
      }
    };
    walk(join(installed, "dist"));
    assert.deepEqual(leaks, [], "stripInternal should drop them (tsconfig.build.json)");
  });

  // With @types/node installed, types: [] is fine (the cases above); without
  // it, the reference names what is missing before the errors it causes.
  test("without @types/node installed, the consumer is told the 'node' type definitions are missing", () => {
    // Outside the repository: no node_modules above to find @types/node in.
    const bare = mkdtempSync(join(tmpdir(), "websockets-ts-bare-"));
    try {
      cpSync(join(consumer, "package.json"), join(bare, "package.json"));
      cpSync(join(consumer, "entries.ts"), join(bare, "entries.ts"));
      cpSync(installed, join(bare, "node_modules", "websockets-ts"), { recursive: true });
      const output = compile(
        bare,
        { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
        ["entries.ts"],
      ).join("\n");
      assert.match(output, /error TS2688: Cannot find type definition file for 'node'/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe("declarations against every @types/node major", () => {
  const releases = typesNodeReleases();

  test("from the oldest supported (20) on, one release per major", () => {
    const majors = releases.map((r) => r.major);
    assert.equal(majors[0], 20, `majors: ${majors.join(", ")}`);
    assert.deepEqual(majors, [...new Set(majors)], "two releases of one major");
    assert.ok(majors.length >= 4, `majors: ${majors.join(", ")}`);
  });

  for (const release of releases) {
    test(`compile strict with skipLibCheck: false against @types/node ${release.version}`, () => {
      // A consumer of its own whose node_modules/@types/node is that
      // release: the declarations' reference to "node" resolves to it.
      const dir = join(consumer, `types-node-${release.major}`);
      mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
      cpSync(installed, join(dir, "node_modules", "websockets-ts"), { recursive: true });
      symlinkSync(
        join(ROOT, "node_modules", ...release.name.split("/")),
        join(dir, "node_modules", "@types", "node"),
        "dir",
      );
      for (const file of ["package.json", "entries.ts", "consumer.ts", "require-consumer.cts"]) {
        cpSync(join(consumer, file), join(dir, file));
      }
      const options = {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
      };
      const files = ["entries.ts", "consumer.ts", "require-consumer.cts"];
      assert.deepEqual(compile(dir, options, files), []);
      // ... against that release, not the repository's @types/node.
      const resolved = ts.resolveTypeReferenceDirective(
        "node",
        join(dir, "node_modules", "websockets-ts", "dist", "index.d.ts"),
        options,
        // Type roots are looked for from the current folder, as compile() does.
        { ...ts.sys, getCurrentDirectory: () => dir },
      ).resolvedTypeReferenceDirective;
      assert.equal(resolved?.packageId?.version, release.version);
    });
  }
});

describe("package.json", () => {
  test("says where the code, the docs and the issues are, in absolute URLs", () => {
    const pkg = packageJson() as {
      repository?: { url?: string };
      homepage?: string;
      bugs?: { url?: string };
    };
    assert.match(pkg.repository?.url ?? "", /^git\+https:\/\//);
    assert.match(pkg.homepage ?? "", /^https:\/\//);
    assert.match(pkg.bugs?.url ?? "", /^https:\/\//);
  });

  test("builds dist/ before packing and on install from git", () => {
    const scripts = packageJson().scripts as Record<string, string>;
    assert.equal(scripts.prepack, "npm run build");
    assert.equal(scripts.prepare, "npm run build");
  });
});

describe("loading", () => {
  /** Runs a script in the consumer folder; resolves to its parsed JSON output. */
  async function evaluate(file: string, source: string): Promise<Record<string, string[]>> {
    writeFileSync(join(consumer, file), source);
    const { stdout } = await run(process.execPath, [join(consumer, file)], { cwd: consumer });
    return JSON.parse(stdout);
  }

  test("import() of every entry point gives its exports", async () => {
    const names = await evaluate(
      "import-all.mjs",
      `const out = {};\nfor (const s of ${JSON.stringify(entries.map((e) => e.specifier))}) out[s] = Object.keys(await import(s)).sort();\nconsole.log(JSON.stringify(out));\n`,
    );
    for (const entry of entries) {
      assert.ok((names[entry.specifier] ?? []).length > 0, `${entry.specifier} exports nothing`);
    }
    assert.ok(names["websockets-ts"].includes("serve"));
    assert.ok(names["websockets-ts/protocol"].includes("ServerProtocol"));
  });

  test("require() of every entry point gives the same exports as import() (Node's require(esm))", async () => {
    const imported = await evaluate(
      "import-names.mjs",
      `const out = {};\nfor (const s of ${JSON.stringify(entries.map((e) => e.specifier))}) out[s] = Object.keys(await import(s)).filter((k) => k !== "default").sort();\nconsole.log(JSON.stringify(out));\n`,
    );
    const required = await evaluate(
      "require-all.cjs",
      `const out = {};\nfor (const s of ${JSON.stringify(entries.map((e) => e.specifier))}) out[s] = Object.keys(require(s)).filter((k) => k !== "__esModule" && k !== "module.exports" && k !== "default").sort();\nconsole.log(JSON.stringify(out));\n`,
    );
    assert.deepEqual(required, imported);
  });
});
