// The client role: a client built with connect() connects to the fuzzing
// server once per case and echoes every message it receives
// (`for await (const m of ws) await ws.send(m)`); the fuzzing server plays
// the case and judges it. Any failed case fails the test; non-strict results
// are listed in docs/conformance.md. The suite runs over HTTP/1.1, then over
// HTTP/2 (RFC 8441, h2c) where the subject can, with the same verdicts.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { casesFor } from "./cases/index.ts";
import { FuzzingServer } from "./fuzzing-server.ts";
import { selectedSubject } from "./subjects.ts";
import { type CaseResult, compareTransports, report } from "./verdict.ts";

const subject = selectedSubject();
// Results per transport, compared once both ran.
const resultsOver = new Map<string, CaseResult[]>();

for (const http2 of subject.http2 === true ? [false, true] : [false]) {
  const over = http2 ? " over HTTP/2" : "";
  test(`${subject.name} as a client passes every conformance case${over}`, {
    timeout: 300_000,
  }, async () => {
    const cases = casesFor("server");
    const filter = process.env.CONFORMANCE_CASES;
    const selected = filter
      ? cases.filter((c) => filter.split(",").some((p) => c.id === p || c.id.startsWith(`${p}.`)))
      : cases;
    const server = await FuzzingServer.start({ http2 });
    const results: CaseResult[] = [];
    try {
      for (const c of selected) {
        const started = performance.now();
        const outcome = subject.runClient(server.url(c), c.clientRole?.client ?? "default", http2);
        results.push(await server.play(c, outcome));
        // The client's own account must be in before the next case starts.
        await outcome;
        if (process.env.CONFORMANCE_TIMES)
          console.log(c.id, Math.round(performance.now() - started));
      }
    } finally {
      await server.close();
    }
    console.log(
      report(`Conformance, ${subject.name} as a client${over} (fuzzing server)`, results),
    );
    resultsOver.set(over, results);
    assert.ok(results.length > 0);
    const failed = results.filter((r) => r.verdict === "fail");
    assert.deepEqual(
      failed.map((r) => `${r.id}: ${r.reason}`),
      [],
    );
  });
}

if (subject.http2 === true) {
  test("the verdicts over HTTP/2 are those over HTTP/1.1", () => {
    const overHttp1 = resultsOver.get("");
    const overHttp2 = resultsOver.get(" over HTTP/2");
    assert.ok(overHttp1 !== undefined && overHttp2 !== undefined, "both runs finished");
    const { unexplained, timing } = compareTransports(overHttp1, overHttp2);
    for (const line of timing) console.log(line);
    assert.deepEqual(unexplained, []);
  });
}

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
