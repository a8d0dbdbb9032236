// The README's and docs/' snippets run as pasted, one test each (see
// test/helpers/snippet-runner.ts): here the README and the client-side
// pages; test/snippets-server.test.ts runs the server-side pages. Also: the
// README's links work on the npm page.
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { packageJson, ROOT } from "../scripts/package-exports.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";
import { runSnippets, SERVER_PAGES } from "./helpers/snippet-runner.ts";
import { allSnippets } from "./helpers/snippets.ts";

test("the README and docs/ have TypeScript snippets, each run or marked no-run with a reason", () => {
  const all = allSnippets();
  assert.ok(all.filter((s) => s.where.startsWith("README.md")).length >= 2);
  assert.ok(all.length >= 40, `found ${all.length}`);
  for (const snippet of all) {
    const reason = snippet.noRun;
    if (reason !== null) assert.ok(reason.length >= 10, `${snippet.where}: say why not`);
  }
});

runSnippets("README and client-side docs snippets, as pasted", (page) => !SERVER_PAGES.has(page));

test("the README's links are absolute, so they work on the npm page", () => {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const relativeLinks = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((url) => !/^(https?:|mailto:|#)/.test(url));
  assert.deepEqual(relativeLinks, []);
  // An image must be the file itself: a github.com/.../blob/ page isn't one.
  const images = [...text.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);
  assert.deepEqual(
    images.filter((url) => !url.startsWith("https://raw.githubusercontent.com/")),
    [],
  );
});

test("the README says up front that the package is ESM-only, and what require() and top-level await need", () => {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const format = text.indexOf("### Module format");
  assert.ok(format > 0 && format < text.indexOf("## Example"), "Module format before the examples");
  const section = text.slice(format, text.indexOf("\n## ", format));
  const engines = (packageJson().engines as { node: string }).node;
  for (const needed of [
    "ESM-only",
    "require(esm)",
    `\`${engines}\``,
    '"type": "module"',
    ".mts",
    "`await using`",
    "skipLibCheck: false",
  ]) {
    assert.ok(section.includes(needed), `the Module format section doesn't say ${needed}`);
  }
});

test("docs/ links to files and pages that exist", () => {
  const broken: string[] = [];
  for (const page of readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md"))) {
    const text = readFileSync(join(ROOT, "docs", page), "utf8");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const path = target.replace(/#.*$/, "");
      if (!existsSync(join(ROOT, "docs", path))) broken.push(`docs/${page}: ${target}`);
    }
  }
  assert.deepEqual(broken, []);
});

checkLeaksAfterAll();
