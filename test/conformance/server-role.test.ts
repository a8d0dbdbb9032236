// The server role: the fuzzing client plays every case against an echo
// server built with serve(), over TCP on 127.0.0.1, then over HTTP/2
// streams (RFC 8441), and prints the reports.
// Any failed case fails the test; non-strict results are listed in
// docs/conformance.md.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import type { SubjectDeflate } from "./cases/case.ts";
import { casesFor } from "./cases/index.ts";
import { type openSession, runClientCase } from "./fuzzing-client.ts";
import { openH2Session } from "./fuzzing-client-h2.ts";
import { selectedSubject } from "./subjects.ts";
import { type CaseResult, compareTransports, report } from "./verdict.ts";

const subject = selectedSubject();

/** Plays every selected case against echo servers; `open` opens each case's connection. */
async function playAll(http2: boolean, open?: typeof openSession): Promise<CaseResult[]> {
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
      server = await subject.startServer(deflate, { http2 });
      servers.set(key, server);
    }
    return server;
  };
  const results: CaseResult[] = [];
  try {
    for (const c of selected) {
      const server = await serverFor(c.serverRole?.server ?? "default");
      const started = performance.now();
      results.push(await runClientCase(c, "127.0.0.1", server.port, open));
      if (process.env.CONFORMANCE_TIMES) console.log(c.id, Math.round(performance.now() - started));
    }
  } finally {
    for (const server of servers.values()) await server.close();
  }
  return results;
}

function assertNoFailure(results: CaseResult[]): void {
  assert.ok(results.length > 0);
  const failed = results.filter((r) => r.verdict === "fail");
  assert.deepEqual(
    failed.map((r) => `${r.id}: ${r.reason}`),
    [],
  );
}

// The HTTP/1.1 results, which the HTTP/2 run must match case by case.
let http11Results: CaseResult[] | null = null;

test(`${subject.name} as a server passes every conformance case`, {
  timeout: 300_000,
}, async () => {
  const results = await playAll(false);
  console.log(report(`Conformance, ${subject.name} as a server (fuzzing client)`, results));
  http11Results = results;
  assertNoFailure(results);
});

// RFC 8441: the same cases over HTTP/2 streams (h2c), for the subjects that serve it.
if (subject.http2 === true) {
  test(`${subject.name} as a server over HTTP/2 gets the verdicts it gets over HTTP/1.1`, {
    timeout: 300_000,
  }, async () => {
    const results = await playAll(true, openH2Session);
    console.log(report(`Conformance, ${subject.name} as a server over HTTP/2`, results));
    assertNoFailure(results);
    assert.ok(http11Results !== null, "the HTTP/1.1 run comes first");
    const { unexplained, timing } = compareTransports(http11Results, results);
    for (const line of timing) console.log(line);
    assert.deepEqual(unexplained, []);
  });
}

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
