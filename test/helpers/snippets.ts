/**
 * The TypeScript snippets of a Markdown file, as a reader would paste them.
 *
 * A snippet is a fenced block tagged `ts` (or `typescript`, `mts`). An HTML
 * comment on the line before the fence (invisible on GitHub and npm) tells
 * the test how to run it, in the snippet's place, so the choice is visible
 * where it is made:
 *
 * - `<!-- snippet: no-run REASON -->`: only type-checked (one that needs a
 *   browser or a Redis server, say); the reason is required.
 * - `<!-- snippet: peer=echo -->`: the snippet talks to a remote server
 *   (`wss://example.com/...`, or `ws://127.0.0.1:8765`); the test runs a
 *   local one of that kind (`echo`, `feed`, `reset`) and the address becomes
 *   the local server's.
 * - `<!-- snippet: serves=/path -->`: the snippet is a server that runs until
 *   stopped; its port (8765 or 8080) becomes a free one, the test opens a
 *   WebSocket connection to `/path` on it, then sends SIGTERM.
 * - `proxy=HOST:PORT`: the snippet names an HTTP proxy; the test runs one
 *   (user `alice`, password `s3cret`) and the address becomes its own.
 * - `prints="TEXT"`: what it prints contains TEXT.
 * - `until="TEXT"`: it runs until stopped (a reconnection loop): the test
 *   stops it once it printed TEXT.
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
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
  /** The `key=value` settings of its marker, if any. */
  settings: Record<string, string>;
}

const FENCE = /^```(ts|typescript|mts)\s*$/;
const MARKER = /^<!--\s*snippet:\s*(.+?)\s*-->\s*$/;
const SETTING = /([\w-]+)=(?:"([^"]*)"|(\S+))/g;

/** The snippets of `file` (relative to the repository root). */
export function snippets(file: string): Snippet[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!FENCE.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith("```"); i++) body.push(lines[i]);
    const marker = start > 0 ? (MARKER.exec(lines[start - 1])?.[1] ?? null) : null;
    const noRun = marker === null ? null : (/^no-run\s+(.+)$/.exec(marker)?.[1] ?? null);
    const settings: Record<string, string> = {};
    if (marker !== null && noRun === null) {
      for (const m of marker.matchAll(SETTING)) settings[m[1]] = m[2] ?? m[3];
      if (Object.keys(settings).length === 0) {
        throw new Error(`${file}:${start}: a snippet marker says neither no-run nor key=value`);
      }
    }
    out.push({ where: `${file}:${start + 1}`, code: `${body.join("\n")}\n`, noRun, settings });
  }
  return out;
}

/** The snippets of the README and of every page of docs/, in that order. */
export function allSnippets(): Snippet[] {
  const pages = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", ...pages].flatMap((file) => snippets(file));
}
