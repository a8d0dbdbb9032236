// A short seeded run of every fuzzing target (`npm run fuzz` runs a million
// inputs each): no exception but the library's own errors, no broken
// invariant, and every difference with ws's frame verdicts explained.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { TARGETS } from "../../fuzz/targets.ts";
import { runRange } from "../../fuzz/worker.ts";

const INPUTS = 300;
const SEED = 20_261_207;

describe("fuzzing targets, a short seeded run", () => {
  for (const target of TARGETS.values()) {
    it(`${target.name}: ${INPUTS} inputs, no finding`, () => {
      const report = runRange(target, SEED, 0, INPUTS);
      assert.equal(report.inputs, INPUTS);
      assert.deepEqual(
        report.findings.map((finding) => `#${finding.index} ${finding.kind}: ${finding.message}`),
        [],
      );
      const unexplained = Object.keys(report.differences).filter((label) =>
        label.endsWith("unexplained"),
      );
      assert.deepEqual(unexplained, []);
      // Each target reaches more than one verdict: the inputs aren't all rejected the same way.
      assert.ok(Object.keys(report.verdicts).length > 1, JSON.stringify(report.verdicts));
    });
  }

  it("the same seed and index give the same input, so a finding can be replayed", () => {
    for (const target of TARGETS.values()) {
      const first = runRange(target, SEED, 40, 20);
      const again = runRange(target, SEED, 40, 20);
      assert.deepEqual(again.verdicts, first.verdicts, target.name);
    }
  });
});
