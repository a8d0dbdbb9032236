// The server-side pages' snippets run as pasted, one test each (see
// test/helpers/snippet-runner.ts); test/snippets.test.ts runs the others.
import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../scripts/package-exports.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";
import { runSnippets, SERVER_PAGES } from "./helpers/snippet-runner.ts";

test("every server-side page exists", () => {
  for (const page of SERVER_PAGES) assert.ok(existsSync(join(ROOT, page)), page);
});

runSnippets("server-side docs snippets, as pasted", (page) => SERVER_PAGES.has(page));

checkLeaksAfterAll();
