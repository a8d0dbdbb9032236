/**
 * Plays a case on an open fuzzing session and judges it the way
 * Autobahn|Testsuite does: the events observed against the expected ones
 * (pass, non-strict, fail), then the close behaviour (who closed, with which
 * code, whether the closing handshake completed, who closed TCP). Also
 * prints the per-role report table.
 *
 * @module
 */

import { type ConformanceCase, type Expectation, FAILED_BEFORE_ECHO } from "./cases/case.ts";
import type { FuzzSession, Observed } from "./fuzzer.ts";

export type Verdict = "pass" | "non-strict" | "informational" | "fail";

export interface CaseResult {
  id: string;
  description: string;
  verdict: Verdict;
  /** Why, for anything but a plain pass. */
  reason: string;
}

function same(a: Observed, b: Observed): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "timeout" && b.type === "timeout") return a.label === b.label;
  if (a.type === "message" && b.type === "message")
    return a.binary === b.binary && a.data.equals(b.data);
  if (a.type === "pong" && b.type === "pong") return a.data.equals(b.data);
  return false;
}

function matches(observed: readonly Observed[], expected: readonly Observed[]): boolean {
  return observed.length === expected.length && observed.every((o, i) => same(o, expected[i]));
}

function show(o: Observed): string {
  if (o.type === "timeout") return `timeout ${o.label}`;
  const data =
    o.data.length <= 24 ? JSON.stringify(o.data.toString("latin1")) : `${o.data.length} B`;
  return o.type === "pong" ? `pong ${data}` : `${o.binary ? "binary" : "text"} ${data}`;
}

function showAll(list: readonly Observed[]): string {
  if (list.length === 0) return "nothing";
  if (list.length > 6) return `${list.length} events (${list.slice(0, 3).map(show).join(", ")}, …)`;
  return list.map(show).join(", ");
}

/** Explains the first difference between what was observed and what was expected. */
function difference(observed: readonly Observed[], expected: readonly Observed[]): string {
  for (let i = 0; i < Math.max(observed.length, expected.length); i++) {
    const o = observed[i];
    const e = expected[i];
    if (o === undefined) return `missing ${show(e)} (event ${i + 1} of ${expected.length})`;
    if (e === undefined)
      return `unexpected ${show(o)} after the ${expected.length} expected events`;
    if (!same(o, e)) {
      if (
        o.type === "message" &&
        e.type === "message" &&
        o.binary === e.binary &&
        o.data.length === e.data.length
      ) {
        let at = 0;
        while (o.data[at] === e.data[at]) at++;
        return `event ${i + 1}: ${show(e)} differs at byte ${at}`;
      }
      return `event ${i + 1}: expected ${show(e)}, observed ${show(o)}`;
    }
  }
  return "no difference";
}

/**
 * Plays the rest of a case after its script: waits for the expected events,
 * starts the closing handshake when the fuzzer should, then waits for the
 * connection to end (dropping it after a while, as Autobahn's killAfter).
 */
export async function play(c: ConformanceCase, s: FuzzSession): Promise<Expectation> {
  const e = await c.run(s);
  if (e.close.closedByMe && !e.suppressClose && s.open) {
    await s.waitFor(() => matches(s.received, e.ok) || !s.open, e.waitMs ?? 3000);
    if (s.open) await s.sendClose(e.closeWith ?? 1000);
  }
  await s.waitClosed(e.killAfterMs ?? 2000);
  return e;
}

/** The verdict on a played case. */
export function judge(c: ConformanceCase, e: Expectation, s: FuzzSession): CaseResult {
  const result = (verdict: Verdict, reason = ""): CaseResult => ({
    id: c.id,
    description: c.description,
    verdict,
    reason,
  });
  const failures: string[] = [];
  const nonStrict: string[] = [];

  let behaviour: "ok" | "non-strict" | "fail";
  if (matches(s.received, e.ok)) behaviour = "ok";
  else if (e.nonStrict && matches(s.received, e.nonStrict)) {
    behaviour = "non-strict";
    nonStrict.push(e.nonStrictReason ?? `observed ${showAll(s.received)}`);
  } else {
    behaviour = "fail";
    failures.push(difference(s.received, e.ok));
  }

  const code = s.closeReceived?.code ?? null;
  const closeText =
    s.closeReceived === null
      ? "no close frame"
      : code === null
        ? "an empty close frame"
        : `close ${code}`;
  if (e.close.closedByMe !== s.closedByMe) {
    failures.push(
      e.close.closedByMe
        ? `the peer failed the connection (${closeText}) instead of waiting for the fuzzer to close`
        : `the peer did not fail the connection (${s.droppedByMe ? "the fuzzer had to drop it" : closeText})`,
    );
  } else if (e.close.requireClean && !s.wasClean) {
    failures.push(`the closing handshake did not complete (${closeText})`);
  } else if (code !== null && !e.close.codes.includes(code)) {
    if (e.close.nonStrictCodes?.includes(code))
      nonStrict.push(e.close.nonStrictCodesReason ?? `close code ${code}`);
    else failures.push(`the peer closed with ${code}, expected ${e.close.codes.join(" or ")}`);
  } else if (s.role === "client" && s.droppedByMe) {
    // RFC 6455 §7.1.1: the server SHOULD close the TCP connection first.
    nonStrict.push("the server did not close the TCP connection; the fuzzing client dropped it");
  }
  failures.push(...s.violations);

  if (e.informational) {
    const what =
      behaviour === "ok"
        ? "everything sent before the close was echoed"
        : `observed ${showAll(s.received)}`;
    return result(
      "informational",
      `${what}; ${closeText}${failures.length ? `; ${failures.join("; ")}` : ""}`,
    );
  }
  if (failures.length > 0) return result("fail", failures.join("; "));
  if (nonStrict.length > 0) return result("non-strict", nonStrict.join("; "));
  return result("pass");
}

/**
 * Compares one role's suite played over HTTP/1.1 and over HTTP/2 (RFC
 * 8441): the same cases with the same verdicts. One difference is the
 * transport's, not the peer's: a case that accepts a peer failing before
 * or after it echoed the message sent just before the bad frame
 * ({@link FAILED_BEFORE_ECHO}) may get either. TCP may hand a peer frames
 * written one by one in a single read, where node:http2 hands it each DATA
 * frame in a callback of its own, so the echo goes out first.
 *
 * @returns `unexplained`: the other differences, which the suite must not
 *   have; `timing`: those explained so, to print. One line each.
 */
export function compareTransports(
  overHttp1: readonly CaseResult[],
  overHttp2: readonly CaseResult[],
): { unexplained: string[]; timing: string[] } {
  const unexplained: string[] = [];
  const timing: string[] = [];
  const http2ById = new Map(overHttp2.map((r) => [r.id, r]));
  for (const h1 of overHttp1) {
    const h2 = http2ById.get(h1.id);
    http2ById.delete(h1.id);
    if (h2 === undefined) {
      unexplained.push(`${h1.id}: not played over HTTP/2`);
      continue;
    }
    if (h2.verdict === h1.verdict) continue;
    const line = `${h1.id}: ${h1.verdict} over HTTP/1.1, ${h2.verdict} over HTTP/2`;
    const eitherOutcome = (a: CaseResult, b: CaseResult): boolean =>
      a.verdict === "non-strict" && a.reason === FAILED_BEFORE_ECHO && b.verdict === "pass";
    if (eitherOutcome(h1, h2) || eitherOutcome(h2, h1)) timing.push(line);
    else unexplained.push(`${line} (${h2.reason || h1.reason})`);
  }
  for (const id of http2ById.keys()) unexplained.push(`${id}: played over HTTP/2 only`);
  return { unexplained, timing };
}

/** A failed case without a session (connection refused, handshake failed, ...). */
export function broken(c: ConformanceCase, reason: string): CaseResult {
  return { id: c.id, description: c.description, verdict: "fail", reason };
}

const MARK: Record<Verdict, string> = {
  pass: "ok",
  "non-strict": "NS",
  informational: "i",
  fail: "FAIL",
};

/** The report: a summary per category, a grid of every case, and the reasons of the others. */
export function report(title: string, results: readonly CaseResult[]): string {
  const lines: string[] = [];
  const count = (list: readonly CaseResult[], v: Verdict) =>
    list.filter((r) => r.verdict === v).length;
  const categories = new Map<string, CaseResult[]>();
  for (const r of results) {
    const cat = r.id.split(".")[0];
    if (!categories.has(cat)) categories.set(cat, []);
    categories.get(cat)!.push(r);
  }
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  lines.push(`\n${title}: ${results.length} cases`);
  lines.push("category   cases   pass   non-strict   informational   fail");
  for (const [cat, list] of categories) {
    lines.push(
      `${cat.padEnd(8)} ${pad(list.length, 7)} ${pad(count(list, "pass"), 6)} ${pad(count(list, "non-strict"), 12)} ${pad(count(list, "informational"), 15)} ${pad(count(list, "fail"), 6)}`,
    );
  }
  lines.push(
    `${"total".padEnd(8)} ${pad(results.length, 7)} ${pad(count(results, "pass"), 6)} ${pad(count(results, "non-strict"), 12)} ${pad(count(results, "informational"), 15)} ${pad(count(results, "fail"), 6)}`,
  );
  lines.push("");
  const cells = results.map((r) => `${r.id} ${MARK[r.verdict]}`.padEnd(15));
  for (let i = 0; i < cells.length; i += 8)
    lines.push(
      cells
        .slice(i, i + 8)
        .join("")
        .trimEnd(),
    );
  const others = results.filter((r) => r.verdict !== "pass");
  if (others.length > 0) {
    lines.push("");
    for (const r of others) lines.push(`${r.id} ${r.verdict}: ${r.description} — ${r.reason}`);
  }
  return lines.join("\n");
}
