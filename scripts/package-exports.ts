// The package's entry points, read from the `exports` of package.json, so
// that every check (publint, attw, the declaration and require() tests, the
// API reference) covers an entry point as soon as it is added there.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** One subpath of `exports` that leads to code. */
export interface EntryPoint {
  /** The key in `exports`: `"."`, `"./protocol"`... */
  subpath: string;
  /** What a consumer imports: `"websockets-ts"`, `"websockets-ts/protocol"`... */
  specifier: string;
  /** The declaration file, relative to the package root: `"dist/index.d.ts"`. */
  types: string;
  /** The JavaScript file, relative to the package root: `"dist/index.js"`. */
  js: string;
  /** The TypeScript source it is built from: `"src/index.ts"`. */
  source: string;
}

/** The parsed package.json of the repository. */
export function packageJson(): {
  name: string;
  exports: Record<string, unknown>;
  [key: string]: unknown;
} {
  return JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
}

/**
 * Every code entry point of `exports` (`./package.json` and other non-code
 * subpaths are left out). Throws, naming the subpath, on a shape the checks
 * don't understand, so a new entry can't slip past them unchecked.
 */
export function entryPoints(): EntryPoint[] {
  const pkg = packageJson();
  const out: EntryPoint[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === "string" && !target.endsWith(".js")) continue; // ./package.json
    if (typeof target !== "object" || target === null) {
      throw new Error(
        `exports["${subpath}"] should be { types, default }; got ${JSON.stringify(target)}`,
      );
    }
    const conditions = target as Record<string, unknown>;
    const types = conditions.types;
    const js = conditions.import ?? conditions.default;
    if (typeof types !== "string" || typeof js !== "string") {
      throw new Error(
        `exports["${subpath}"] needs a "types" and an "import" or "default" path; got ${JSON.stringify(target)}`,
      );
    }
    const match = /^\.\/dist\/(.+)\.js$/.exec(js);
    if (match === null) throw new Error(`exports["${subpath}"] points outside dist/: ${js}`);
    out.push({
      subpath,
      specifier: subpath === "." ? pkg.name : `${pkg.name}${subpath.slice(1)}`,
      types: types.replace(/^\.\//, ""),
      js: js.replace(/^\.\//, ""),
      source: `src/${match[1]}.ts`,
    });
  }
  return out;
}
