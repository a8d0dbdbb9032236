import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Extension } from "../../src/extensions/base.ts";
import {
  IDLE_RELEASE_DELAY,
  setIdleReleaseDelay,
  unwatchIdle,
  watchIdle,
} from "../../src/node/idle-release.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

before(() => setIdleReleaseDelay(10));
after(() => setIdleReleaseDelay(IDLE_RELEASE_DELAY));
checkLeaksAfterAll();

const releasable: Extension = {
  name: "x-test",
  decode: (frame) => frame,
  encode: (frame) => frame,
  release: () => {},
};
const plain: Extension = { name: "x-plain", decode: (frame) => frame, encode: (frame) => frame };

/** A connection as the sweep sees it: a message count, and a release counter. */
function connection(): { activity: number; releases: number; releaseIdle(): void } {
  return {
    activity: 0,
    releases: 0,
    releaseIdle() {
      this.releases++;
    },
  };
}

/** Waits until `done()` (a sweep runs every 10 ms), at most 2 s. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await sleep(10);
}

describe("idle release", () => {
  it("releases a connection whose activity didn't change between two sweeps", async () => {
    const idle = connection();
    watchIdle(idle, [releasable]);
    await until(() => idle.releases > 0);
    assert.ok(idle.releases >= 1);
    unwatchIdle(idle);
  });

  it("doesn't release a connection busy at every sweep", async () => {
    // A message between any two sweeps: its count differs at each read.
    let messages = 0;
    let releases = 0;
    const busy = {
      get activity() {
        return messages++;
      },
      releaseIdle() {
        releases++;
      },
    };
    watchIdle(busy, [releasable]);
    await until(() => messages > 5);
    assert.ok(messages > 5);
    assert.equal(releases, 0);
    unwatchIdle(busy);
  });

  it("ignores connections with nothing to release, and stops when unwatched", async () => {
    const none = connection();
    watchIdle(none, [plain]);
    const gone = connection();
    watchIdle(gone, [releasable]);
    unwatchIdle(gone);
    // The watched one proves sweeps ran meanwhile.
    const idle = connection();
    watchIdle(idle, [releasable]);
    await until(() => idle.releases > 0);
    unwatchIdle(idle);
    assert.equal(none.releases, 0);
    assert.equal(gone.releases, 0);
  });
});
