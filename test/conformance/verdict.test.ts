// compareTransports: the rule both roles apply to their HTTP/1.1 and HTTP/2
// runs (same verdict per case; the before/after-echo timing excepted).

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { FAILED_BEFORE_ECHO } from "./cases/case.ts";
import { type CaseResult, compareTransports, type Verdict } from "./verdict.ts";

function result(id: string, verdict: Verdict, reason = ""): CaseResult {
  return { id, description: `case ${id}`, verdict, reason };
}

test("compareTransports accepts equal verdicts and the before/after-echo timing, either way", () => {
  const overHttp1 = [
    result("1.1", "pass"),
    result("3.3", "non-strict", FAILED_BEFORE_ECHO),
    result("4.1", "pass"),
    result("7.1", "informational", "observed nothing"),
  ];
  const overHttp2 = [
    result("1.1", "pass"),
    result("3.3", "pass"),
    result("4.1", "non-strict", FAILED_BEFORE_ECHO),
    result("7.1", "informational", "observed nothing"),
  ];
  assert.deepEqual(compareTransports(overHttp1, overHttp2), {
    unexplained: [],
    timing: [
      "3.3: non-strict over HTTP/1.1, pass over HTTP/2",
      "4.1: pass over HTTP/1.1, non-strict over HTTP/2",
    ],
  });
});

test("compareTransports reports any other difference and any case played on one side only", () => {
  const overHttp1 = [
    result("1.1", "pass"),
    result("2.1", "non-strict", "close code 1001"),
    result("5.1", "pass"),
  ];
  const overHttp2 = [
    result("1.1", "informational", "observed nothing"),
    result("2.1", "pass"),
    result("6.1", "pass"),
  ];
  assert.deepEqual(compareTransports(overHttp1, overHttp2).unexplained, [
    "1.1: pass over HTTP/1.1, informational over HTTP/2 (observed nothing)",
    "2.1: non-strict over HTTP/1.1, pass over HTTP/2 (close code 1001)",
    "5.1: not played over HTTP/2",
    "6.1: played over HTTP/2 only",
  ]);
});
