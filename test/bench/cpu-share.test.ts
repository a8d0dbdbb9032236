import assert from "node:assert/strict";
import { test } from "node:test";
import { busySeconds, othersShare, QUIET, quietRounds } from "../../bench/support/cpu-share.ts";

test("othersShare: the CPU's busy time less the measured process's, over the window", () => {
  assert.equal(othersShare(10, 11.5, 0.5, 2), 0.5);
  // Ticks are coarse: more own time than busy time reads as nobody else.
  assert.equal(othersShare(10, 10.01, 0.02, 1), 0);
  assert.equal(othersShare(null, 11, 0.5, 1), null);
  assert.equal(othersShare(10, null, 0.5, 1), null);
});

test("quietRounds keeps the quiet rounds when there are any, else all, and says which", () => {
  const quiet = { others: QUIET };
  const busy = { others: 0.5 };
  const unknown = { others: null };
  assert.deepEqual(quietRounds([busy, quiet, busy]), { kept: [quiet], label: "1/3 quiet" });
  assert.deepEqual(quietRounds([busy, busy]), { kept: [busy, busy], label: "! none quiet" });
  assert.deepEqual(quietRounds([unknown, unknown]), {
    kept: [unknown, unknown],
    label: "load unknown",
  });
  assert.deepEqual(quietRounds([unknown, busy]).label, "! none quiet");
});

test("busySeconds reads a CPU of /proc/stat on Linux", {
  skip: process.platform !== "linux",
}, () => {
  const busy = busySeconds("0");
  assert.ok(busy !== null && busy > 0);
  assert.equal(busySeconds("9999"), null);
  assert.equal(busySeconds(null), null);
});
