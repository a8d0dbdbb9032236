/**
 * `redisBackplane()`: topics across processes and machines on Redis
 * pub/sub, with a `redis` or `ioredis` client the user passes (see
 * `redis-clients.ts`). Exported from `websockets-ts/redis` only.
 *
 * One channel per topic, `prefix + topic`, plain SUBSCRIBE (SSUBSCRIBE on
 * a cluster client). Each message is an envelope (see `backplane.ts`):
 * the publishing node's id, a per-topic sequence number, text or binary.
 *
 * Failures: delivery is at most once. While Redis is unreachable, local
 * delivery goes on, publishes to other nodes are dropped (counted, never
 * queued: memory stays bounded), the clients reconnect with their own
 * backoff, and every live topic is subscribed again when they're back.
 * Receivers tell lost messages by the sequence numbers and log them.
 *
 * @module
 */

import { firstLine, logMessages } from "../logging.ts";
import {
  type Backplane,
  type BackplaneHost,
  decodeEnvelope,
  encodeEnvelope,
  GapDetector,
  newNodeId,
  Sequences,
} from "./backplane.ts";
import { adapterFor, type RedisAdapter, type RedisClientLike } from "./redis-clients.ts";

export type { RedisClientLike } from "./redis-clients.ts";

/** Options of {@link redisBackplane}. */
export interface RedisBackplaneOptions {
  /**
   * A `redis` client (`createClient()`, or `createCluster()` for sharded
   * pub/sub) or an `ioredis` one (`new Redis()`, `new Cluster()`),
   * connected or not. The backplane connects it if needed, listens for its
   * errors, publishes with it, and subscribes with a duplicate it creates
   * and closes. The client itself stays yours: `server.close()` leaves it
   * open.
   */
  client: RedisClientLike;
  /** Prefix of the channel names: channel = prefix + topic. Default: `"websockets-ts:"`. */
  prefix?: string;
  /**
   * How long `serve()` waits for Redis, in ms, before it rejects (and
   * disconnects the clients it connected). Default: 10_000.
   */
  connectTimeout?: number;
}

/** Default of {@link RedisBackplaneOptions.prefix}. */
export const DEFAULT_REDIS_PREFIX = "websockets-ts:";
/** Default of {@link RedisBackplaneOptions.connectTimeout}. */
export const DEFAULT_REDIS_CONNECT_TIMEOUT = 10_000;

/** A topic subscribed on Redis, or being subscribed. */
interface Subscription {
  readonly channel: string;
  readonly live: Promise<void>;
  resolve: () => void;
}

class RedisBackplane implements Backplane {
  readonly name = "redis";
  readonly #adapter: RedisAdapter;
  readonly #prefix: string;
  readonly #connectTimeout: number;
  readonly #node = newNodeId();
  readonly #nodeHex = this.#node.toString("hex");
  readonly #sequences = new Sequences();
  readonly #gaps = new GapDetector();
  readonly #subscriptions = new Map<string, Subscription>();
  #host: BackplaneHost | null = null;
  #started = false;
  #closed = false;
  // An outage: WARN once when it starts, INFO when it ends.
  #down = false;
  #lostMessages = 0;
  #lastError: unknown = null;

  constructor(options: RedisBackplaneOptions) {
    this.#adapter = adapterFor(options.client, {
      message: (channel, message) => this.#onMessage(channel, message),
      lost: (error) => this.#onLost(error),
      ready: () => this.#onReady(),
    });
    const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    if (typeof prefix !== "string") {
      throw new TypeError(`prefix must be a string; got ${typeof prefix}`);
    }
    this.#prefix = prefix;
    const timeout = options.connectTimeout ?? DEFAULT_REDIS_CONNECT_TIMEOUT;
    if (typeof timeout !== "number" || !(timeout > 0) || !Number.isFinite(timeout)) {
      throw new TypeError(
        `connectTimeout must be a number of milliseconds > 0; got ${String(timeout)}`,
      );
    }
    this.#connectTimeout = timeout;
  }

  get #label(): string {
    return `${this.name} (${this.#adapter.kind})`;
  }

  async start(host: BackplaneHost): Promise<void> {
    if (this.#host !== null) throw new Error("this redisBackplane() is already used by a server");
    this.#host = host;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = this.#lastError;
        const why = cause === null ? "no answer" : firstLine(cause);
        reject(
          new Error(
            `redisBackplane(): cannot connect to Redis at ${this.#adapter.target} within ${this.#connectTimeout} ms: ${why}`,
            { cause },
          ),
        );
      }, this.#connectTimeout);
    });
    try {
      await Promise.race([this.#adapter.connect(), timeout]);
    } catch (error) {
      this.#closed = true;
      await this.#adapter.close(true);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.#started = true;
  }

  subscribe(topic: string): Promise<void> {
    const existing = this.#subscriptions.get(topic);
    if (existing !== undefined) return existing.live;
    let resolve!: () => void;
    const live = new Promise<void>((r) => {
      resolve = r;
    });
    const subscription: Subscription = { channel: this.#prefix + topic, live, resolve };
    this.#subscriptions.set(topic, subscription);
    this.#subscribe(topic, subscription);
    return live;
  }

  #subscribe(topic: string, subscription: Subscription): void {
    this.#adapter.subscribe(subscription.channel).then(
      () => subscription.resolve(),
      (error: unknown) => {
        // Retried when the clients are back; meanwhile the topic is local only.
        if (this.#subscriptions.get(topic) === subscription) this.#onLost(error);
      },
    );
  }

  unsubscribe(topic: string): void {
    const subscription = this.#subscriptions.get(topic);
    if (subscription === undefined) return;
    this.#subscriptions.delete(topic);
    this.#gaps.forget(topic);
    subscription.resolve();
    if (this.#closed) return;
    this.#adapter.unsubscribe(subscription.channel).catch(noop);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    // Counted even when dropped, so that receivers see the gap.
    const seq = this.#sequences.next(topic);
    if (this.#closed || !this.#started) return;
    if (this.#down || !this.#adapter.ready()) {
      // Never handed to the client: its offline queue doesn't grow.
      this.#lostMessages++;
      if (!this.#down) this.#onLost(new Error("Redis client isn't ready"));
      return;
    }
    const envelope = encodeEnvelope(this.#node, seq, payload, binary);
    this.#adapter.publish(this.#prefix + topic, envelope).catch((error: unknown) => {
      this.#lostMessages++;
      this.#onLost(error);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of this.#subscriptions.values()) subscription.resolve();
    this.#subscriptions.clear();
    await this.#adapter.close(false);
  }

  #onMessage(channelBytes: Buffer, message: Buffer): void {
    const host = this.#host;
    if (host === null || this.#closed) return;
    const channel = channelBytes.toString();
    const topic = channel.startsWith(this.#prefix) ? channel.slice(this.#prefix.length) : null;
    // Not ours, or unsubscribed meanwhile.
    if (topic === null || !this.#subscriptions.has(topic)) return;
    const envelope = decodeEnvelope(Buffer.isBuffer(message) ? message : Buffer.from(message));
    if (typeof envelope === "string") {
      host.logger.warn(logMessages.backplaneMalformed(this.#label, channel, envelope));
      return;
    }
    // Our own publish: local subscribers got it already.
    if (envelope.node === this.#nodeHex) return;
    const check = this.#gaps.check(topic, envelope.node, envelope.seq);
    if (check.kind === "duplicate") return;
    if (check.kind === "gap") {
      host.logger.warn(logMessages.backplaneGap(this.#label, topic, envelope.node, check.missing));
    }
    host.deliver(topic, envelope.payload, envelope.binary);
  }

  #onLost(error: unknown): void {
    this.#lastError = error;
    if (!this.#started || this.#closed || this.#down) return;
    this.#down = true;
    this.#host?.logger.warn(logMessages.backplaneLost(this.#label, error));
  }

  #onReady(): void {
    if (!this.#started || this.#closed || !this.#down || !this.#adapter.ready()) return;
    this.#down = false;
    // Both clients resubscribe by themselves; subscribing again is
    // harmless, and covers a subscribe that failed during the outage.
    for (const [topic, subscription] of this.#subscriptions) this.#subscribe(topic, subscription);
    const lost = this.#lostMessages;
    this.#lostMessages = 0;
    this.#host?.logger.info(logMessages.backplaneBack(this.#label, this.#subscriptions.size, lost));
  }
}

/**
 * Topics across processes and machines on Redis pub/sub: pass it as
 * `serve()`'s `backplane`, one per server.
 *
 * ```ts
 * import { serve } from "websockets-ts";
 * import { redisBackplane } from "websockets-ts/redis";
 * import { createClient } from "redis";
 *
 * const server = await serve(handler, {
 *   port: 8765,
 *   backplane: redisBackplane({ client: createClient({ url: "redis://127.0.0.1:6379" }) }),
 * });
 * ```
 *
 * `serve()` rejects when Redis can't be reached within `connectTimeout`.
 * Later outages don't stop local delivery: see docs/topics.md for the
 * guarantees.
 *
 * @throws TypeError when `client` is neither a `redis` nor an `ioredis`
 *   client, or for an invalid option.
 */
export function redisBackplane(options: RedisBackplaneOptions): Backplane {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`redisBackplane() expects options with a client; got ${String(options)}`);
  }
  return new RedisBackplane(options);
}

function noop(): void {}
