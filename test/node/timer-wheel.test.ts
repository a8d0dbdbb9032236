import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Connection } from "../../src/node/connection.ts";
import { grainOf, TimerWheel } from "../../src/node/timer-wheel.ts";
import { withTimeout } from "../helpers/net.ts";

/** Stand-ins for connections: a wheel only keeps them and passes them back. */
const tokens = (count: number): Connection[] =>
  Array.from({ length: count }, (_, i) => ({ id: String(i) }) as unknown as Connection);

describe("grainOf", () => {
  it("rounds to a power of two of at most 1/16 of the delay, at most 1,024 ms", () => {
    assert.equal(grainOf(0), 1);
    assert.equal(grainOf(31), 1);
    assert.equal(grainOf(64), 4);
    assert.equal(grainOf(20_000), 1024);
    assert.equal(grainOf(3_600_000), 1024);
    for (const delay of [50, 1000, 20_000, 90_000]) assert.ok(grainOf(delay) <= delay / 16);
  });
});

describe("TimerWheel", () => {
  it("gives connections due in the same grain one timer", () => {
    const wheel = new TimerWheel(() => assert.fail("fired"));
    const [a, b] = tokens(2);
    // A grain of 1,024 ms: both calls fall in the same one, unless a grain
    // boundary passed between them; then, bounded, again.
    let slotA = wheel.add(a, 60_000);
    let slotB = wheel.add(b, 60_000);
    for (let attempt = 0; attempt < 5 && slotA !== slotB; attempt++) {
      TimerWheel.remove(slotA, a);
      TimerWheel.remove(slotB, b);
      slotA = wheel.add(a, 60_000);
      slotB = wheel.add(b, 60_000);
    }
    assert.equal(slotA, slotB);
    assert.equal(wheel.size, 1);
    TimerWheel.remove(slotA, a);
    assert.equal(wheel.size, 1);
    TimerWheel.remove(slotB, b);
    assert.equal(wheel.size, 0);
  });

  it("fires the connections still due, once", async () => {
    const fired: Connection[] = [];
    const wheel = new TimerWheel((connection) => fired.push(connection));
    const [a, b, c] = tokens(3);
    wheel.add(a, 5);
    wheel.add(b, 5);
    TimerWheel.remove(wheel.add(c, 5), c);
    await withTimeout(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (wheel.size === 0) {
            clearInterval(poll);
            resolve();
          }
        }, 5);
      }),
      2000,
      "the wheel didn't fire within 2 s",
    );
    assert.deepEqual(fired, [a, b]);
  });

  it("clears the timer when its last connection is removed", () => {
    const wheel = new TimerWheel(() => assert.fail("fired"));
    const [a] = tokens(1);
    TimerWheel.remove(wheel.add(a, 10_000), a);
    assert.equal(wheel.size, 0);
  });

  it("fires every due connection even if one throws, then throws the first error", async () => {
    const fired: string[] = [];
    const wheel = new TimerWheel((connection) => {
      fired.push(connection.id);
      throw new Error(`boom ${connection.id}`);
    });
    const [a, b] = tokens(2);
    // Both in one slot, whatever the clock did between two add() calls: a
    // millisecond boundary passing between them (a loaded machine) would
    // give each its own timer, and each error its own uncaught exception.
    wheel.add(a, 1).connections.add(b);
    assert.equal(wheel.size, 1);
    const thrown = await withTimeout(
      new Promise<Error>((resolve) => {
        const listeners = process.listeners("uncaughtException");
        process.removeAllListeners("uncaughtException");
        process.once("uncaughtException", (error) => {
          for (const listener of listeners) process.on("uncaughtException", listener);
          resolve(error);
        });
      }),
      10_000,
      "no error within 10 s",
    );
    assert.deepEqual(fired, ["0", "1"]);
    assert.equal(thrown.message, "boom 0");
  });
});
