/// <reference types="node" preserve="true" />
/**
 * websockets-ts/redis: the Redis backplane for topics, in its own entry
 * point so that the core never imports a Redis client.
 *
 * ```ts
 * import { redisBackplane } from "websockets-ts/redis";
 * ```
 *
 * @module
 */

export {
  DEFAULT_REDIS_CONNECT_TIMEOUT,
  DEFAULT_REDIS_PREFIX,
  type RedisBackplaneOptions,
  type RedisClientLike,
  redisBackplane,
} from "./node/redis-backplane.ts";
