// Every TypeScript snippet of the README, run as pasted into a fresh ES
// module of a project that depends on websockets-ts (here: tsx, with
// `websockets-ts` mapped to the sources). The only change is the address of
// a remote server, which becomes a local one doing what the snippet expects.
// Type-checking the same snippets against the built declarations is done by
// test/types/package.test.ts. Also: the README's links work on the npm page.
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, test } from "node:test";
import { entryPoints, ROOT } from "../scripts/package-exports.ts";
import { type Server, serve } from "../src/index.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";
import { snippets } from "./helpers/snippets.ts";

const RUN_MS = 30_000;
const readme = snippets("README.md");

mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const project = mkdtempSync(join(ROOT, ".tmp", "readme-"));
writeFileSync(join(project, "package.json"), '{ "type": "module", "private": true }\n');
const paths = Object.fromEntries(
  entryPoints().map((e) => [e.specifier, [relative(project, join(ROOT, e.source))]]),
);
writeFileSync(
  join(project, "tsconfig.json"),
  JSON.stringify({ compilerOptions: { module: "nodenext", target: "es2022", paths } }),
);

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(project, { recursive: true, force: true });
});

/**
 * Runs `code` as a module of the project until it exits or `done(output)`
 * says enough was seen (then it is killed); bounded by RUN_MS.
 */
function runSnippet(
  name: string,
  code: string,
  done: (output: string) => boolean = () => false,
): Promise<{ code: number | null; output: string; stopped: boolean }> {
  const file = join(project, `${name}.mts`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    cwd: project,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  let stopped = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
    const onData = (text: string) => {
      output += text;
      if (!stopped && done(output)) {
        stopped = true;
        child.kill("SIGTERM");
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    child.once("exit", (exitCode) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: exitCode, output, stopped });
    });
  });
}

test("the README has TypeScript snippets, each run below", () => {
  assert.ok(readme.length >= 2, `found ${readme.length}`);
});

test("the echo example runs as pasted: prints the echoed hello and exits 0", async () => {
  const snippet = readme.find((s) => s.code.includes("await using ws = await connect("));
  assert.ok(snippet, "no echo example in the README");
  const result = await runSnippet("echo", snippet.code);
  assert.equal(result.code, 0, `${snippet.where}:\n${result.output}`);
  assert.equal(result.output.trim(), "hello");
});

test("the reconnection example runs as pasted and reconnects after the server closes", async () => {
  const snippet = readme.find((s) => s.code.includes("for await (const ws of connect("));
  assert.ok(snippet, "no reconnection example in the README");
  const remote = /"(wss:\/\/example\.com\/[^"]*)"/.exec(snippet.code)?.[1];
  assert.ok(remote, `${snippet.where}: expected a wss://example.com/ URL`);
  // The feed: one message per connection, then a normal close.
  let connections = 0;
  const server: Server = await serve(
    async (ws) => {
      connections++;
      await ws.send(`tick ${connections}`);
    },
    { host: "127.0.0.1", port: 0, logger: false },
  );
  try {
    const code = snippet.code.replace(remote, `ws://127.0.0.1:${server.port}/feed`);
    const result = await runSnippet("reconnect", code, (output) => output.includes("tick 2"));
    assert.ok(result.stopped, `${snippet.where} ended on its own:\n${result.output}`);
    assert.match(result.output, /^tick 1\ntick 2\n/);
  } finally {
    await server.close();
  }
});

// Any other snippet: it runs to completion. (One marked no-run is only
// type-checked, by test/types/package.test.ts.)
for (const [i, snippet] of readme.entries()) {
  if (snippet.noRun !== null) continue;
  if (snippet.code.includes("await using ws = await connect(")) continue; // above
  if (snippet.code.includes("for await (const ws of connect(")) continue; // above
  test(`${snippet.where} runs as pasted and exits 0`, async () => {
    const result = await runSnippet(`snippet-${i}`, snippet.code);
    assert.equal(result.code, 0, `${snippet.where}:\n${result.output}`);
  });
}

test("the README's links are absolute, so they work on the npm page", () => {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const relativeLinks = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((url) => !/^(https?:|mailto:|#)/.test(url));
  assert.deepEqual(relativeLinks, []);
});

checkLeaksAfterAll();
