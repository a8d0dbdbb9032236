/**
 * The TypeScript snippets of a Markdown file, as a reader would paste them.
 *
 * A snippet is a fenced block tagged `ts` (or `typescript`, `mts`). The
 * comment `<!-- snippet: no-run REASON -->` on the line before the fence
 * marks one that is only type-checked (one that serves forever on a fixed
 * port, say); the reason is required, so the choice is visible where it is
 * made.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/package-exports.ts";

/** One fenced TypeScript block. */
export interface Snippet {
  /** `README.md:42`: the file and the line of the opening fence. */
  where: string;
  /** The code, as written. */
  code: string;
  /** Why it isn't run, when it is marked `no-run`; else null. */
  noRun: string | null;
}

const FENCE = /^```(ts|typescript|mts)\s*$/;
const NO_RUN = /^<!--\s*snippet:\s*no-run\s+(.+?)\s*-->\s*$/;

/** The snippets of `file` (relative to the repository root). */
export function snippets(file: string): Snippet[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith("```"); i++) body.push(lines[i]);
    const marker = start > 0 ? NO_RUN.exec(lines[start - 1]) : null;
    out.push({
      where: `${file}:${start + 1}`,
      code: `${body.join("\n")}\n`,
      noRun: marker?.[1] ?? null,
    });
  }
  return out;
}
