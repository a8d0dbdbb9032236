// `npm run docs`: the API reference, generated from the TSDoc of every entry
// point of package.json's `exports` into docs/api/ (Markdown, one page per
// symbol). Fails when a public symbol has no documentation, when a comment
// links to something that isn't public, or when a public type is missing
// from the reference: CI runs it, so the reference can't rot.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { entryPoints, ROOT } from "./package-exports.ts";

const OUT = "docs/api";

const args = [
  "--plugin",
  "typedoc-plugin-markdown",
  "--tsconfig",
  "tsconfig.build.json",
  "--out",
  OUT,
  "--cleanOutputDir",
  "--readme",
  "none",
  "--name",
  "websockets-ts",
  // What consumers can't reach isn't part of the reference.
  "--excludeInternal",
  "--excludePrivate",
  "--excludeProtected",
  "--excludeExternals",
  // No "defined in" links: they would need a git remote, which a clone in CI
  // (or a tarball) need not have, and the sources ship with the package.
  "--disableSources",
  "--validation.notDocumented",
  "--validation.invalidLink",
  "--validation.notExported",
  "--treatWarningsAsErrors",
  // Types public symbols are built from, documented through them: the
  // router's pattern parser (RouteParams) and the class Node < 23 gets as
  // CloseEvent (CloseEvent).
  "--intentionallyNotExported",
  "PatternParams",
  "--intentionallyNotExported",
  "WebSocketCloseEvent",
  ...entryPoints().flatMap((entry) => ["--entryPoints", entry.source]),
];

const result = spawnSync(join(ROOT, "node_modules", ".bin", "typedoc"), args, {
  cwd: ROOT,
  stdio: "inherit",
});
if (result.status !== 0) {
  console.error(
    "\nnpm run docs failed: document each symbol named above with a TSDoc comment (/** ... */), " +
      "or export the type it references.",
  );
}
process.exit(result.status ?? 1);
