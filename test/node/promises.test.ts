import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { noop, RESOLVED, rejected } from "../../src/node/promises.ts";

describe("rejected", () => {
  it("returns a rejected promise that isn't reported as unhandled", async () => {
    let unhandled = 0;
    const onUnhandled = (): void => {
      unhandled++;
    };
    process.on("unhandledRejection", onUnhandled);
    rejected(new Error("ignored"));
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", onUnhandled);
    assert.equal(unhandled, 0);
    await assert.rejects(rejected(new Error("seen")), /seen/);
  });
});

describe("RESOLVED", () => {
  it("is one resolved promise, shared", async () => {
    assert.equal(await RESOLVED, undefined);
  });
});

describe("noop", () => {
  it("returns undefined whatever it is given", () => {
    assert.equal((noop as (...args: unknown[]) => void)(1, "a"), undefined);
  });
});
