/**
 * The TypeScript compiler run as a consumer of the built package runs it, in
 * this process through its API, sharing parsed files between programs.
 *
 * {@link compile} reports the diagnostics of the consumer's files and of
 * this package's declarations: what skipLibCheck: false adds for a consumer
 * because of us. @types/node's own files are left to @types/node (checking
 * them whole costs most of a minute of CPU per case, and says nothing about
 * this package).
 *
 * @module
 */

import { strict as assert } from "node:assert";
import { join, sep } from "node:path";
import ts from "typescript";
import { packageJson, ROOT } from "../../scripts/package-exports.ts";

// Parsed files shared by every program of this file (lib and @types/node
// are the bulk), keyed by what makes a parse differ.
const parsed = new Map<string, ts.SourceFile | undefined>();

/** A compiler host run from `cwd`, as tsc in a consumer's project would be. */
function host(options: ts.CompilerOptions, cwd: string): ts.CompilerHost {
  const base = ts.createCompilerHost(options);
  return {
    ...base,
    // Where type roots (node_modules/@types) are looked for from.
    getCurrentDirectory: () => cwd,
    getSourceFile(fileName, languageVersion, onError, shouldCreate) {
      const format =
        typeof languageVersion === "object" ? languageVersion.impliedNodeFormat : undefined;
      const version =
        typeof languageVersion === "object" ? languageVersion.languageVersion : languageVersion;
      const key = `${fileName}\0${version}\0${format}`;
      if (!parsed.has(key)) {
        parsed.set(key, base.getSourceFile(fileName, languageVersion, onError, shouldCreate));
      }
      return parsed.get(key);
    },
  };
}

/** The package built as `npm pack` builds it, into `outDir`. */
export function build(outDir: string): void {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, "tsconfig.build.json"),
    { outDir, declarationMap: false, sourceMap: false },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  assert.ok(config, "tsconfig.build.json is unreadable");
  const program = ts.createProgram({
    rootNames: config.fileNames,
    options: config.options,
    host: host(config.options, ROOT),
  });
  const result = program.emit();
  assert.deepEqual(result.diagnostics.map(format), [], "the build has errors");
}

function format(diagnostic: ts.Diagnostic): string {
  return ts.formatDiagnostic(diagnostic, {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => "\n",
  });
}

/**
 * Compiles `files` (in `cwd`) as a strict consumer with skipLibCheck: false
 * and types: []; returns the diagnostics of the consumer's own files and of
 * every declaration file of this package, formatted.
 */
export function compile(cwd: string, options: ts.CompilerOptions, files: string[]): string[] {
  const all: ts.CompilerOptions = {
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    types: [],
    ...options,
  };
  const program = ts.createProgram({
    rootNames: files.map((file) => join(cwd, file)),
    options: all,
    host: host(all, cwd),
  });
  const ours = program.getSourceFiles().filter((file) => {
    const path = file.fileName.split("/").join(sep);
    return path.startsWith(cwd) && !path.includes(`${sep}@types${sep}`);
  });
  return [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...ours.flatMap((file) => [
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ]),
  ].map(format);
}

/**
 * The @types/node releases the declarations are checked against: the
 * `@types/node` devDependency (the oldest major we support) and one
 * `types-nodeNN` npm alias per newer major, each pinned exactly. A new
 * major of @types/node gets an alias (`npm install -D -E
 * types-nodeNN@npm:@types/node@X.Y.Z`) and is checked from then on.
 */
export function typesNodeReleases(): { name: string; version: string; major: number }[] {
  const dev = packageJson().devDependencies as Record<string, string>;
  const out: { name: string; version: string; major: number }[] = [];
  for (const [name, spec] of Object.entries(dev)) {
    const version =
      name === "@types/node"
        ? spec
        : name.startsWith("types-node")
          ? /^npm:@types\/node@(.+)$/.exec(spec)?.[1]
          : undefined;
    if (version === undefined) continue;
    assert.match(version, /^\d+\.\d+\.\d+$/, `${name}: pin an exact version, not ${spec}`);
    out.push({ name, version, major: Number(version.split(".")[0]) });
  }
  return out.sort((a, b) => a.major - b.major);
}
