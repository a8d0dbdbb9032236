// The server role: the fuzzing client plays every case against an echo
// server built with serve(), over TCP on 127.0.0.1, and prints the report.
// Any failed case fails the test; non-strict results are listed in
// docs/conformance.md.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import type { SubjectDeflate } from "./cases/case.ts";
import { casesFor } from "./cases/index.ts";
import { runClientCase } from "./fuzzing-client.ts";
import { selectedSubject } from "./subjects.ts";
import { type CaseResult, report } from "./verdict.ts";

const subject = selectedSubject();

test(`${subject.name} as a server passes every conformance case`, {
  timeout: 300_000,
}, async () => {
  const cases = casesFor("client");
  const filter = process.env.CONFORMANCE_CASES;
  const selected = filter
    ? cases.filter((c) => filter.split(",").some((p) => c.id === p || c.id.startsWith(`${p}.`)))
    : cases;
  // One echo server per permessage-deflate setting.
  const servers = new Map<string, Awaited<ReturnType<typeof subject.startServer>>>();
  const serverFor = async (deflate: SubjectDeflate) => {
    const key = JSON.stringify(deflate);
    let server = servers.get(key);
    if (!server) {
      server = await subject.startServer(deflate);
      servers.set(key, server);
    }
    return server;
  };
  const results: CaseResult[] = [];
  try {
    for (const c of selected) {
      const server = await serverFor(c.serverRole?.server ?? "default");
      const started = performance.now();
      results.push(await runClientCase(c, "127.0.0.1", server.port));
      if (process.env.CONFORMANCE_TIMES) console.log(c.id, Math.round(performance.now() - started));
    }
  } finally {
    for (const server of servers.values()) await server.close();
  }
  console.log(report(`Conformance, ${subject.name} as a server (fuzzing client)`, results));
  assert.ok(results.length > 0);
  const failed = results.filter((r) => r.verdict === "fail");
  assert.deepEqual(
    failed.map((r) => `${r.id}: ${r.reason}`),
    [],
  );
});

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
