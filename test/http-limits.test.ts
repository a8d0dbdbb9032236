/**
 * The HTTP parsers' limits (src/http-limits.ts) on their own: how each
 * environment variable is read and checked, and how partial limits are
 * completed. http11-parser.test.ts covers the parsers enforcing them and
 * the defaults with an empty environment.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_HTTP_LIMITS,
  httpLimitsFromEnv,
  isComplete,
  resolveHttpLimits,
} from "../src/http-limits.ts";
import { withEnv } from "./support/env.ts";

const VARIABLES = [
  ["WEBSOCKETS_MAX_LINE_LENGTH", "maxLineLength"],
  ["WEBSOCKETS_MAX_NUM_HEADERS", "maxNumHeaders"],
  ["WEBSOCKETS_MAX_BODY_SIZE", "maxBodySize"],
] as const;

describe("DEFAULT_HTTP_LIMITS", () => {
  it("is frozen: no caller can change the defaults of every parser", () => {
    assert.ok(Object.isFrozen(DEFAULT_HTTP_LIMITS));
  });
});

describe("httpLimitsFromEnv", () => {
  for (const [variable, field] of VARIABLES) {
    it(`reads ${variable} into ${field} only`, () => {
      const limits = httpLimitsFromEnv({ [variable]: "77" });
      assert.equal(limits[field], 77);
      for (const [, other] of VARIABLES) {
        if (other !== field) assert.equal(limits[other], DEFAULT_HTTP_LIMITS[other]);
      }
    });

    it(`rejects a ${variable} that isn't a non-negative integer, naming the variable and the value`, () => {
      for (const raw of ["-1", "1.5", "1e3", "+5", " 5", "5 ", "0x10", "8k", "1".repeat(16)]) {
        assert.throws(
          () => httpLimitsFromEnv({ [variable]: raw }),
          (error: unknown) =>
            error instanceof RangeError &&
            error.message ===
              `${variable} must be a non-negative integer, got ${JSON.stringify(raw)}`,
          `${variable}=${JSON.stringify(raw)}`,
        );
      }
    });
  }

  it("accepts 0 and integers of up to 15 digits", () => {
    assert.equal(httpLimitsFromEnv({ WEBSOCKETS_MAX_BODY_SIZE: "0" }).maxBodySize, 0);
    assert.equal(
      httpLimitsFromEnv({ WEBSOCKETS_MAX_BODY_SIZE: "999999999999999" }).maxBodySize,
      999_999_999_999_999,
    );
    assert.equal(httpLimitsFromEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "007" }).maxNumHeaders, 7);
  });

  it("ignores unrelated variables, and reads process.env by default", () => {
    assert.deepEqual(httpLimitsFromEnv({ WEBSOCKETS_MAX_SIZE: "1", OTHER: "x" }), {
      ...DEFAULT_HTTP_LIMITS,
    });
    withEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "12" }, () => {
      assert.equal(httpLimitsFromEnv().maxNumHeaders, 12);
    });
  });

  it("returns a fresh object each time", () => {
    const first = httpLimitsFromEnv({});
    first.maxLineLength = 1;
    assert.equal(httpLimitsFromEnv({}).maxLineLength, DEFAULT_HTTP_LIMITS.maxLineLength);
  });
});

describe("isComplete", () => {
  it("is true only when every limit is given", () => {
    assert.equal(isComplete(undefined), false);
    assert.equal(isComplete({}), false);
    assert.equal(isComplete({ maxLineLength: 1, maxNumHeaders: 2 }), false);
    assert.equal(isComplete({ maxNumHeaders: 2, maxBodySize: 3 }), false);
    assert.equal(isComplete({ maxLineLength: 1, maxBodySize: 3 }), false);
    assert.equal(isComplete({ maxLineLength: 0, maxNumHeaders: 0, maxBodySize: 0 }), true);
  });
});

describe("resolveHttpLimits", () => {
  it("takes complete limits as given without reading the environment", () => {
    const given = { maxLineLength: 10, maxNumHeaders: 20, maxBodySize: 30 };
    // A bad variable would throw if it were read.
    withEnv({ WEBSOCKETS_MAX_LINE_LENGTH: "bad" }, () => {
      const resolved = resolveHttpLimits(given);
      assert.deepEqual(resolved, given);
      assert.notEqual(resolved, given, "a copy: the caller's object stays theirs");
    });
  });

  it("keeps only the three limits of an object that has more", () => {
    const given = { maxLineLength: 10, maxNumHeaders: 20, maxBodySize: 30, extra: true };
    assert.deepEqual(resolveHttpLimits(given), {
      maxLineLength: 10,
      maxNumHeaders: 20,
      maxBodySize: 30,
    });
  });

  it("completes partial limits from the environment, then the defaults", () => {
    withEnv({ WEBSOCKETS_MAX_NUM_HEADERS: "5", WEBSOCKETS_MAX_LINE_LENGTH: "600" }, () => {
      assert.deepEqual(resolveHttpLimits({ maxLineLength: 100 }), {
        maxLineLength: 100,
        maxNumHeaders: 5,
        maxBodySize: DEFAULT_HTTP_LIMITS.maxBodySize,
      });
      assert.deepEqual(resolveHttpLimits(undefined), {
        maxLineLength: 600,
        maxNumHeaders: 5,
        maxBodySize: DEFAULT_HTTP_LIMITS.maxBodySize,
      });
    });
  });

  it("throws the environment's RangeError when it must read a bad variable", () => {
    withEnv({ WEBSOCKETS_MAX_BODY_SIZE: "lots" }, () => {
      assert.throws(
        () => resolveHttpLimits({ maxLineLength: 100 }),
        /WEBSOCKETS_MAX_BODY_SIZE must be a non-negative integer, got "lots"/,
      );
    });
  });
});
