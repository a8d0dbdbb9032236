/**
 * The two Redis clients the Redis backplane drives, told apart by shape:
 * `redis` (node-redis v5+: `isOpen`, `isReady`, `subscribe(channel,
 * listener, bufferMode)`) and `ioredis` (`status`, `messageBuffer`
 * events). Each adapter connects the client it was given if needed,
 * duplicates it for subscribing, and speaks sharded pub/sub (SSUBSCRIBE,
 * SPUBLISH) when the client is a cluster client. Neither package is
 * imported: only the objects the user passes are used.
 *
 * @module
 */

/**
 * A `redis` (node-redis v5 or v6) client or cluster, or an `ioredis`
 * (v5 or v6) `Redis` or `Cluster`. Typed loosely on purpose: both
 * packages are optional peer dependencies, and their types aren't imported.
 */
export interface RedisClientLike {
  /** Creates the second connection, used for subscribing. */
  duplicate(...args: never[]): unknown;
  /** Publishes a message on a channel. */
  publish(...args: never[]): unknown;
}

/** What the backplane hears from the clients. */
export interface ClientEvents {
  /** A message on a channel: both as bytes. */
  message(channel: Buffer, message: Buffer): void;
  /** A client reported an error or lost its connection. */
  lost(error: unknown): void;
  /** A client is ready (again). */
  ready(): void;
}

/** One client family, driven the same way by the backplane. */
export interface RedisAdapter {
  /** `redis`, `redis cluster`, `ioredis` or `ioredis cluster`, for log lines. */
  readonly kind: string;
  /** Where the client connects, for errors: `127.0.0.1:6379`, a URL... */
  readonly target: string;
  /** Whether both clients are ready: publishes are dropped when not. */
  ready(): boolean;
  /** Connects the given client if needed, creates and connects the subscriber. Resolves when both are ready. */
  connect(): Promise<void>;
  publish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  /**
   * Disconnects what the adapter created (the subscriber), and the given
   * client if `failed` and the adapter connected it; removes its listeners
   * from the given client.
   */
  close(failed: boolean): Promise<void>;
}

type Listener = (...args: unknown[]) => void;

/** The methods both families have, as the adapters call them. */
interface Emitter {
  on(event: string, listener: Listener): unknown;
  off?(event: string, listener: Listener): unknown;
  removeListener(event: string, listener: Listener): unknown;
}

interface NodeRedis extends Emitter {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  readonly options?: { url?: string; socket?: { host?: string; port?: number; path?: string } };
  connect(): Promise<unknown>;
  duplicate(): NodeRedis;
  destroy?(): void;
  disconnect?(): Promise<void>;
  publish(channel: string, message: Buffer): Promise<unknown>;
  sPublish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channel: string, listener: Listener, bufferMode: true): Promise<unknown>;
  sSubscribe(channel: string, listener: Listener, bufferMode: true): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  sUnsubscribe(channel: string): Promise<unknown>;
}

interface IoRedis extends Emitter {
  readonly status: string;
  readonly isCluster?: boolean;
  readonly options?: { host?: string; port?: number; path?: string };
  connect(): Promise<unknown>;
  duplicate(startupNodes?: unknown[], options?: { shardedSubscribers?: boolean }): IoRedis;
  disconnect(): void;
  publish(channel: string, message: Buffer): Promise<unknown>;
  spublish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  ssubscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
}

/**
 * Picks the adapter for `client` by its shape.
 *
 * @throws TypeError when it's neither a `redis` nor an `ioredis` client.
 */
export function adapterFor(client: unknown, events: ClientEvents): RedisAdapter {
  if (typeof client === "object" && client !== null) {
    const c = client as Record<string, unknown>;
    if (
      typeof c.isOpen === "boolean" &&
      typeof c.duplicate === "function" &&
      typeof c.subscribe === "function"
    ) {
      return new NodeRedisAdapter(client as NodeRedis, events);
    }
    if (
      typeof c.status === "string" &&
      typeof c.duplicate === "function" &&
      typeof c.subscribe === "function"
    ) {
      return new IoRedisAdapter(client as IoRedis, events);
    }
  }
  const shape =
    typeof client === "object" && client !== null
      ? `an object with ${Object.keys(client).slice(0, 6).join(", ") || "no keys"}`
      : typeof client;
  throw new TypeError(
    `redisBackplane() expects a client from the redis package (createClient, createCluster) or from ioredis (new Redis, new Cluster); got ${shape}`,
  );
}

/**
 * Waits until `isReady()`, checked at once and on each of `events`. The
 * listeners stay until the adapter closes (a start that timed out too).
 */
function whenReady(
  listeners: Listeners,
  emitter: Emitter,
  events: readonly string[],
  isReady: () => boolean,
): Promise<void> {
  if (isReady()) return Promise.resolve();
  return new Promise((resolve) => {
    for (const event of events) {
      listeners.on(emitter, event, () => {
        if (isReady()) resolve();
      });
    }
  });
}

// node-redis: a client emits `ready`; a cluster client `connect` once its
// slots are known, and `node-ready` as each node (re)connects.
const NODE_REDIS_READY = ["ready", "connect", "node-ready"] as const;

/** Adds listeners to an emitter and remembers them, to remove them later. */
class Listeners {
  readonly #added: [Emitter, string, Listener][] = [];

  on(emitter: Emitter, event: string, listener: Listener): void {
    emitter.on(event, listener);
    this.#added.push([emitter, event, listener]);
  }

  removeAll(): void {
    for (const [emitter, event, listener] of this.#added) emitter.removeListener(event, listener);
    this.#added.length = 0;
  }
}

class NodeRedisAdapter implements RedisAdapter {
  readonly kind: string;
  readonly target: string;
  readonly #client: NodeRedis;
  readonly #events: ClientEvents;
  readonly #sharded: boolean;
  readonly #listeners = new Listeners();
  #subscriber: NodeRedis | null = null;
  #connectedGiven = false;
  // One listener for every channel: node-redis calls it (message, channel).
  readonly #onMessage = (message: unknown, channel: unknown): void => {
    this.#events.message(channel as Buffer, message as Buffer);
  };

  constructor(client: NodeRedis, events: ClientEvents) {
    this.#client = client;
    this.#events = events;
    this.#sharded = "masters" in client;
    this.kind = this.#sharded ? "redis cluster" : "redis";
    const options = client.options;
    const socket = options?.socket;
    this.target =
      options?.url ??
      socket?.path ??
      (socket?.host !== undefined || socket?.port !== undefined
        ? `${socket?.host ?? "localhost"}:${socket?.port ?? 6379}`
        : "the client's server");
  }

  ready(): boolean {
    return this.#client.isReady && this.#subscriber?.isReady === true;
  }

  async connect(): Promise<void> {
    const client = this.#client;
    this.#watch(client);
    if (!client.isOpen) {
      this.#connectedGiven = true;
      // Errors reach the 'error' listener; the client retries by itself.
      client.connect().catch(noop);
    }
    await whenReady(this.#listeners, client, NODE_REDIS_READY, () => client.isReady);
    const subscriber = client.duplicate();
    this.#subscriber = subscriber;
    this.#watch(subscriber);
    subscriber.connect().catch(noop);
    await whenReady(this.#listeners, subscriber, NODE_REDIS_READY, () => subscriber.isReady);
  }

  #watch(client: NodeRedis): void {
    this.#listeners.on(client, "error", (error) => this.#events.lost(error));
    for (const event of NODE_REDIS_READY) {
      this.#listeners.on(client, event, () => this.#events.ready());
    }
  }

  publish(channel: string, message: Buffer): Promise<unknown> {
    return this.#sharded
      ? this.#client.sPublish(channel, message)
      : this.#client.publish(channel, message);
  }

  subscribe(channel: string): Promise<unknown> {
    const subscriber = this.#subscriber!;
    return this.#sharded
      ? subscriber.sSubscribe(channel, this.#onMessage, true)
      : subscriber.subscribe(channel, this.#onMessage, true);
  }

  unsubscribe(channel: string): Promise<unknown> {
    const subscriber = this.#subscriber!;
    return this.#sharded ? subscriber.sUnsubscribe(channel) : subscriber.unsubscribe(channel);
  }

  async close(failed: boolean): Promise<void> {
    this.#listeners.removeAll();
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    // node-redis emits 'error' while it tears down: keep one listener.
    if (subscriber !== null) await destroyNodeRedis(subscriber);
    if (failed && this.#connectedGiven) await destroyNodeRedis(this.#client);
  }
}

async function destroyNodeRedis(client: NodeRedis): Promise<void> {
  client.on("error", noop);
  if (!client.isOpen) return;
  try {
    if (typeof client.destroy === "function") client.destroy();
    else await client.disconnect?.();
  } catch {
    // Already closed.
  }
}

class IoRedisAdapter implements RedisAdapter {
  readonly kind: string;
  readonly target: string;
  readonly #client: IoRedis;
  readonly #events: ClientEvents;
  readonly #sharded: boolean;
  readonly #listeners = new Listeners();
  #subscriber: IoRedis | null = null;
  #connectedGiven = false;

  constructor(client: IoRedis, events: ClientEvents) {
    this.#client = client;
    this.#events = events;
    this.#sharded = client.isCluster === true;
    this.kind = this.#sharded ? "ioredis cluster" : "ioredis";
    const options = client.options;
    this.target =
      options?.path ??
      (options?.host !== undefined
        ? `${options.host}:${options.port ?? 6379}`
        : "the client's server");
  }

  ready(): boolean {
    return (
      this.#client.status === "ready" &&
      this.#subscriber !== null &&
      this.#subscriber.status === "ready"
    );
  }

  async connect(): Promise<void> {
    const client = this.#client;
    this.#watch(client);
    if (client.status === "wait") {
      this.#connectedGiven = true;
      client.connect().catch(noop);
    }
    await whenReady(this.#listeners, client, ["ready"], () => client.status === "ready");
    // A Cluster routes SSUBSCRIBE to the shard of each channel only with
    // sharded subscribers (one connection per master); else MOVED errors.
    const subscriber = this.#sharded
      ? client.duplicate([], { shardedSubscribers: true })
      : client.duplicate();
    this.#subscriber = subscriber;
    this.#watch(subscriber);
    this.#listeners.on(subscriber, this.#sharded ? "smessageBuffer" : "messageBuffer", (c, m) =>
      this.#events.message(c as Buffer, m as Buffer),
    );
    if (subscriber.status === "wait") subscriber.connect().catch(noop);
    await whenReady(this.#listeners, subscriber, ["ready"], () => subscriber.status === "ready");
  }

  #watch(client: IoRedis): void {
    this.#listeners.on(client, "error", (error) => this.#events.lost(error));
    // ioredis reports a lost connection as 'close' (errors come with retries).
    this.#listeners.on(client, "close", () =>
      this.#events.lost(new Error(`connection to ${this.target} closed`)),
    );
    this.#listeners.on(client, "ready", () => this.#events.ready());
  }

  publish(channel: string, message: Buffer): Promise<unknown> {
    return this.#sharded
      ? this.#client.spublish(channel, message)
      : this.#client.publish(channel, message);
  }

  subscribe(channel: string): Promise<unknown> {
    const subscriber = this.#subscriber!;
    return this.#sharded ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel);
  }

  unsubscribe(channel: string): Promise<unknown> {
    const subscriber = this.#subscriber!;
    return this.#sharded ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel);
  }

  async close(failed: boolean): Promise<void> {
    this.#listeners.removeAll();
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    if (subscriber !== null) disconnectIoRedis(subscriber);
    if (failed && this.#connectedGiven) disconnectIoRedis(this.#client);
  }
}

function disconnectIoRedis(client: IoRedis): void {
  client.on("error", noop);
  if (client.status !== "end") client.disconnect();
}

function noop(): void {}
