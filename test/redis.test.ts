/**
 * The `websockets-ts/redis` entry point (src/redis.ts): the backplane
 * factory and its documented defaults. The backplane itself is tested in
 * node/redis-backplane.test.ts, its client adapters in
 * node/redis-clients.test.ts.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as backplane from "../src/node/redis-backplane.ts";
import * as redis from "../src/redis.ts";

describe("websockets-ts/redis", () => {
  it("exports redisBackplane and its defaults, the objects of node/redis-backplane.ts", () => {
    assert.deepEqual(Object.keys(redis).sort(), [
      "DEFAULT_REDIS_CONNECT_TIMEOUT",
      "DEFAULT_REDIS_PREFIX",
      "redisBackplane",
    ]);
    assert.equal(typeof redis.redisBackplane, "function");
    assert.equal(redis.redisBackplane, backplane.redisBackplane);
    assert.equal(redis.DEFAULT_REDIS_PREFIX, "websockets-ts:");
    assert.equal(redis.DEFAULT_REDIS_CONNECT_TIMEOUT, 10_000);
  });

  it("redisBackplane refuses what isn't a Redis client when called, before any I/O", () => {
    assert.throws(
      () => redis.redisBackplane({ client: {} as unknown as backplane.RedisClientLike }),
      TypeError,
    );
  });
});
