/**
 * Topics: publish/subscribe over a server's connections, in-process by
 * default, across processes with a {@link Backplane}. A server owns one
 * {@link Topics}; `ServerConnection.subscribe()`, `server.publish()` and
 * friends delegate to it.
 *
 * Ordering: `publish()` writes to local subscribers synchronously, through
 * the same write queue as `send()`, so a connection receives one
 * publisher's messages in publish order, interleaved with its own
 * `send()`s in call order.
 *
 * @module
 */

import { CLOSE_POLICY_VIOLATION } from "../frames.ts";
import { isLevelEnabled, type LoggerLike, logMessages } from "../logging.ts";
import { CLOSED, OPEN } from "../protocol.ts";
import type { Backplane, BackplaneHost } from "./backplane.ts";
import { OutgoingMessage } from "./broadcast.ts";
import { Connection } from "./connection.ts";
import { publishSlowSubscriber } from "./diagnostics.ts";
import { describeType } from "./writer.ts";

/** What a publish does to a subscriber whose write buffer is over the limit. */
export type SlowSubscriberAction = "close" | "skip";

/** Default of `slowSubscriberLimit`: 1 MiB. */
export const DEFAULT_SLOW_SUBSCRIBER_LIMIT = 1_048_576;
/** Default of `slowSubscriber`. */
export const DEFAULT_SLOW_SUBSCRIBER: SlowSubscriberAction = "close";
/** Longest topic name, in UTF-8 bytes. */
export const MAX_TOPIC_LENGTH = 1024;

/** Options of `server.publish()`. */
export interface PublishOptions {
  /** A connection that doesn't get the message, e.g. its sender. Default: none. */
  except?: Connection | null;
}

/** What a server reads from its options for topics. @internal */
export interface TopicsSettings {
  slowSubscriberLimit?: number;
  slowSubscriber?: SlowSubscriberAction;
  backplane?: Backplane | null;
}

const RESOLVED: Promise<void> = Promise.resolve();
const NO_TOPICS: ReadonlySet<string> = Object.freeze(new Set<string>());
const SLOW_REASON = "subscriber too slow";

/**
 * The topics of one server: who subscribes to what, and delivery.
 * @internal
 */
export class Topics implements BackplaneHost {
  readonly logger: LoggerLike;
  readonly #limit: number;
  readonly #closeSlow: boolean;
  readonly #backplane: Backplane | null;
  readonly #debug: boolean;

  // Subscribers per topic, in subscription order.
  readonly #subscribers = new Map<string, Set<Connection>>();
  // Topics per connection; only connections with topics have an entry.
  readonly #joined = new Map<Connection, Set<string>>();
  // Per topic with local subscribers: resolves once live on the backplane.
  readonly #live = new Map<string, Promise<void>>();
  // Skipped slow subscribers already warned about, until they catch up.
  readonly #warned = new Set<Connection>();
  #started = false;

  /** @throws TypeError naming an invalid option. */
  constructor(settings: TopicsSettings, logger: LoggerLike) {
    this.logger = logger;
    const limit = settings.slowSubscriberLimit ?? DEFAULT_SLOW_SUBSCRIBER_LIMIT;
    if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 0) {
      throw new TypeError(`slowSubscriberLimit must be an integer >= 0; got ${String(limit)}`);
    }
    this.#limit = limit;
    const action = settings.slowSubscriber ?? DEFAULT_SLOW_SUBSCRIBER;
    if (action !== "close" && action !== "skip") {
      throw new TypeError(`slowSubscriber must be "close" or "skip"; got ${String(action)}`);
    }
    this.#closeSlow = action === "close";
    const backplane = settings.backplane ?? null;
    if (backplane !== null && !isBackplane(backplane)) {
      throw new TypeError(
        `backplane must implement start, subscribe, unsubscribe, publish and close; got ${describeType(backplane)}`,
      );
    }
    this.#backplane = backplane;
    this.#debug = isLevelEnabled(logger, "debug");
  }

  /** Starts the backplane, if any: `serve()` rejects with its error. */
  async start(): Promise<void> {
    if (this.#backplane === null || this.#started) return;
    await this.#backplane.start(this);
    this.#started = true;
  }

  /** Stops the backplane. */
  async close(): Promise<void> {
    if (this.#backplane === null || !this.#started) return;
    this.#started = false;
    try {
      await this.#backplane.close();
    } catch (error) {
      this.logger.warn(logMessages.backplaneFailed(this.#backplane.name, "close", error));
    }
  }

  /** See `ServerConnection.subscribe()`. */
  subscribe(connection: Connection, topic: string): Promise<void> {
    checkTopic(topic, "subscribe()");
    // Closed: its topics stay empty. (CLOSING: subscribed, but it isn't
    // OPEN, so it gets nothing, and it leaves every topic once CLOSED.)
    if (connection.state === CLOSED) return RESOLVED;
    let topics = this.#joined.get(connection);
    if (topics === undefined) {
      topics = new Set();
      this.#joined.set(connection, topics);
    }
    topics.add(topic);
    let subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#subscribers.set(topic, subscribers);
      if (this.#backplane !== null) this.#live.set(topic, this.#subscribeRemote(topic));
    }
    subscribers.add(connection);
    return this.#live.get(topic) ?? RESOLVED;
  }

  /** See `ServerConnection.unsubscribe()`. */
  unsubscribe(connection: Connection, topic: string): void {
    checkTopic(topic, "unsubscribe()");
    const topics = this.#joined.get(connection);
    if (topics === undefined || !topics.delete(topic)) return;
    if (topics.size === 0) this.#joined.delete(connection);
    this.#leave(connection, topic);
  }

  /** The topics `connection` subscribes to: a live set, empty once it's closed. */
  topicsOf(connection: Connection): ReadonlySet<string> {
    return this.#joined.get(connection) ?? NO_TOPICS;
  }

  /** A closed connection leaves every topic. */
  leaveAll(connection: Connection): void {
    this.#warned.delete(connection);
    const topics = this.#joined.get(connection);
    if (topics === undefined) return;
    this.#joined.delete(connection);
    for (const topic of topics) this.#leave(connection, topic);
    // Someone may hold the set (`ws.topics`): it reads empty now.
    topics.clear();
  }

  /** Number of local connections subscribed to `topic`. */
  subscribers(topic: string): number {
    return this.#subscribers.get(topic)?.size ?? 0;
  }

  /** See `Server.publish()`. */
  publish(topic: string, data: unknown, options?: PublishOptions): void {
    checkTopic(topic, "publish()");
    const except = options?.except ?? null;
    if (except !== null && !(except instanceof Connection)) {
      throw new TypeError(
        `publish() expects except to be a connection; got ${describeType(except)}`,
      );
    }
    const message = OutgoingMessage.from(data, "publish()");
    this.#deliverLocally(topic, message, except);
    const backplane = this.#backplane;
    if (backplane === null || !this.#started) return;
    try {
      backplane.publish(topic, message.payload, message.binary);
    } catch (error) {
      // The contract says it doesn't throw; a bug there mustn't break publish().
      this.logger.warn(logMessages.backplaneFailed(backplane.name, "publish", error));
    }
  }

  /** A message from another process (see {@link BackplaneHost}). */
  deliver(topic: string, payload: Buffer, binary: boolean): void {
    this.#deliverLocally(topic, new OutgoingMessage(payload, binary), null);
  }

  #deliverLocally(topic: string, message: OutgoingMessage, except: Connection | null): void {
    const subscribers = this.#subscribers.get(topic);
    if (this.#debug) this.logger.debug(logMessages.published(topic, subscribers?.size ?? 0));
    if (subscribers === undefined) return;
    const limit = this.#limit;
    for (const connection of subscribers) {
      if (connection === except || connection.state !== OPEN) continue;
      // Checked before writing: a message larger than the limit still
      // reaches a subscriber that was below it.
      const buffered = connection.writer.buffered;
      if (buffered > limit) {
        this.#slow(connection, topic, buffered);
        continue;
      }
      if (this.#warned.size > 0) this.#warned.delete(connection);
      try {
        if (connection.writer.fragmented !== null) {
          // After the fragmented message, in call order with other sends.
          connection
            .send(message.payload, { text: !message.binary })
            .catch((error: unknown) => this.#failed(connection, topic, error));
        } else {
          message.writeTo(connection);
        }
      } catch (error) {
        this.#failed(connection, topic, error);
      }
    }
  }

  #failed(connection: Connection, topic: string, error: unknown): void {
    // Closed meanwhile: `connection closed` says why; nothing to add.
    if (connection.state === OPEN) connection.logger.warn(logMessages.publishFailed(topic, error));
  }

  #slow(connection: Connection, topic: string, buffered: number): void {
    if (this.#closeSlow) {
      connection.logger.warn(logMessages.slowSubscriber(topic, "closed", this.#limit));
      publishSlowSubscriber(connection, topic, buffered, "closed");
      connection.close(CLOSE_POLICY_VIOLATION, SLOW_REASON).catch(noop);
      return;
    }
    // WARN once until it catches up; the channel hears every skip.
    if (!this.#warned.has(connection)) {
      this.#warned.add(connection);
      connection.logger.warn(logMessages.slowSubscriber(topic, "skipped", this.#limit));
    }
    publishSlowSubscriber(connection, topic, buffered, "skipped");
  }

  #leave(connection: Connection, topic: string): void {
    const subscribers = this.#subscribers.get(topic);
    if (subscribers === undefined) return;
    subscribers.delete(connection);
    if (subscribers.size > 0) return;
    this.#subscribers.delete(topic);
    this.#live.delete(topic);
    const backplane = this.#backplane;
    if (backplane === null) return;
    try {
      backplane.unsubscribe(topic);
    } catch (error) {
      this.logger.warn(logMessages.backplaneFailed(backplane.name, "unsubscribe", error));
    }
  }

  async #subscribeRemote(topic: string): Promise<void> {
    const backplane = this.#backplane!;
    try {
      await backplane.subscribe(topic);
    } catch (error) {
      // The contract says it doesn't reject; a bug there mustn't either.
      this.logger.warn(logMessages.backplaneFailed(backplane.name, "subscribe", error));
    }
  }
}

/**
 * Checks a topic name: a non-empty string of at most 1 KiB in UTF-8.
 *
 * @throws TypeError for a non-string; RangeError for an empty or too long one.
 */
export function checkTopic(topic: unknown, caller: string): asserts topic is string {
  if (typeof topic !== "string") {
    throw new TypeError(`${caller} expects a topic string; got ${describeType(topic)}`);
  }
  if (topic.length === 0) throw new RangeError(`${caller} expects a non-empty topic`);
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes: count only when it may matter.
  if (topic.length > MAX_TOPIC_LENGTH / 3) {
    const bytes = Buffer.byteLength(topic, "utf8");
    if (bytes > MAX_TOPIC_LENGTH) {
      throw new RangeError(
        `${caller}: topic of ${bytes} bytes exceeds the limit of ${MAX_TOPIC_LENGTH} bytes (UTF-8)`,
      );
    }
  }
}

function isBackplane(value: unknown): value is Backplane {
  if (value === null || typeof value !== "object") return false;
  const b = value as Record<string, unknown>;
  return ["start", "subscribe", "unsubscribe", "publish", "close"].every(
    (method) => typeof b[method] === "function",
  );
}

function noop(): void {}
