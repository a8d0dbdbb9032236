import { strict as assert } from "node:assert";
import { afterEach, describe, it } from "node:test";
import { BACKOFF_DEFAULTS, backoff, backoffFromEnv } from "../../src/node/backoff.ts";

function take(iterator: Iterator<number>, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(iterator.next().value);
  return out;
}

const ENV_NAMES = [
  "WEBSOCKETS_BACKOFF_INITIAL_DELAY",
  "WEBSOCKETS_BACKOFF_MIN_DELAY",
  "WEBSOCKETS_BACKOFF_MAX_DELAY",
  "WEBSOCKETS_BACKOFF_FACTOR",
];
const saved = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));

afterEach(() => {
  for (const name of ENV_NAMES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe("backoff", () => {
  it("has the defaults of Python websockets, in milliseconds", () => {
    assert.deepEqual(BACKOFF_DEFAULTS, {
      initialDelay: 5_000,
      minDelay: 3_100,
      maxDelay: 90_000,
      factor: 1.618,
    });
  });

  it("draws the first delay uniformly in [0, 5 s)", () => {
    for (const draw of [0, 0.5, 0.999999]) {
      const [first] = take(backoff({ random: () => draw }), 1);
      assert.equal(first, draw * 5_000);
    }
    for (let i = 0; i < 100; i++) {
      const [first] = take(backoff(), 1);
      assert.ok(first >= 0 && first < 5_000, `first delay ${first} out of [0, 5000)`);
    }
  });

  it("then starts at 3.1 s and multiplies by 1.618 up to 90 s, forever", () => {
    const delays = take(backoff({ random: () => 0 }), 12);
    const expected = [0, 3_100];
    while (expected.length < 9) expected.push(expected[expected.length - 1] * 1.618);
    assert.equal(delays.length, 12);
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(delays[i] - expected[i]) < 1e-6, `delay ${i}`);
    // 3100 * 1.618^7 = 89 994 ms is the last one under the cap.
    assert.ok(delays[8] < 90_000);
    assert.deepEqual(delays.slice(9), [90_000, 90_000, 90_000]);
  });

  it("accepts explicit parameters", () => {
    const delays = take(
      backoff({ initialDelay: 10, minDelay: 1, maxDelay: 8, factor: 2, random: () => 0.5 }),
      7,
    );
    assert.deepEqual(delays, [5, 1, 2, 4, 8, 8, 8]);
  });

  it("yields the minimum delay forever when the factor is 1", () => {
    assert.deepEqual(take(backoff({ minDelay: 7, factor: 1, random: () => 0 }), 4), [0, 7, 7, 7]);
  });

  it("yields zeros forever when every delay is zero", () => {
    const delays = take(
      backoff({ initialDelay: 0, minDelay: 0, maxDelay: 0, random: () => 0.3 }),
      5,
    );
    assert.deepEqual(delays, [0, 0, 0, 0, 0]);
  });

  it("caps a minimum delay larger than the maximum", () => {
    assert.deepEqual(
      take(backoff({ minDelay: 50, maxDelay: 20, random: () => 0 }), 3),
      [0, 20, 20],
    );
  });

  it("reads overrides in seconds from the environment", () => {
    process.env.WEBSOCKETS_BACKOFF_INITIAL_DELAY = "0.01";
    process.env.WEBSOCKETS_BACKOFF_MIN_DELAY = "0.002";
    process.env.WEBSOCKETS_BACKOFF_MAX_DELAY = "0.005";
    process.env.WEBSOCKETS_BACKOFF_FACTOR = "2";
    const delays = take(backoff({ random: () => 0.5 }), 5);
    assert.deepEqual(
      delays.map((d) => Math.round(d * 1000) / 1000),
      [5, 2, 4, 5, 5],
    );
  });

  it("lets explicit options win over the environment", () => {
    process.env.WEBSOCKETS_BACKOFF_MIN_DELAY = "1";
    assert.deepEqual(take(backoff({ minDelay: 3, factor: 1, random: () => 0 }), 2), [0, 3]);
  });

  it("ignores empty environment variables", () => {
    process.env.WEBSOCKETS_BACKOFF_MIN_DELAY = "";
    assert.deepEqual(backoffFromEnv(), {});
  });

  it("names the variable and the value when the environment is invalid", () => {
    assert.throws(() => backoffFromEnv({ WEBSOCKETS_BACKOFF_MAX_DELAY: "soon" }), {
      name: "RangeError",
      message: 'WEBSOCKETS_BACKOFF_MAX_DELAY must be a non-negative number, got "soon"',
    });
    assert.throws(() => backoffFromEnv({ WEBSOCKETS_BACKOFF_FACTOR: "-1" }), {
      message: /WEBSOCKETS_BACKOFF_FACTOR .* got "-1"/,
    });
  });

  it("rejects invalid parameters when called, not when iterated", () => {
    assert.throws(() => backoff({ minDelay: -1 }), {
      name: "RangeError",
      message: "backoff minDelay must be a non-negative number of ms, got -1",
    });
    assert.throws(() => backoff({ maxDelay: Number.POSITIVE_INFINITY }), /maxDelay/);
    assert.throws(() => backoff({ factor: 0.5 }), {
      message: "backoff factor must be a number >= 1, got 0.5",
    });
  });
});
