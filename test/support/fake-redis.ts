// In-memory stand-ins for the `redis` and `ioredis` clients, with the API
// surface the Redis backplane uses, over one fake broker that can go down
// and come back. They let `npm test` check the backplane's protocol
// (channels, envelopes, subscriptions, outages) without a Redis server;
// test-peers/redis.test.ts runs the same backplane against the real thing.
import { EventEmitter } from "node:events";

type Deliver = (channel: Buffer, message: Buffer) => void;

/** A pub/sub broker: channels to subscriber callbacks; sharded ones apart. */
export class FakeBroker {
  up = true;
  readonly clients = new Set<FakeClient>();
  readonly published: { channel: string; message: Buffer; sharded: boolean }[] = [];
  readonly #channels = new Map<string, Set<Deliver>>();

  key(channel: string, sharded: boolean): string {
    return `${sharded ? "s" : ""}:${channel}`;
  }

  subscribe(channel: string, sharded: boolean, deliver: Deliver): void {
    const key = this.key(channel, sharded);
    let set = this.#channels.get(key);
    if (set === undefined) {
      set = new Set();
      this.#channels.set(key, set);
    }
    set.add(deliver);
  }

  unsubscribe(channel: string, sharded: boolean, deliver: Deliver): void {
    this.#channels.get(this.key(channel, sharded))?.delete(deliver);
  }

  /** Channels with at least one subscriber. */
  channels(): string[] {
    return [...this.#channels].filter(([, set]) => set.size > 0).map(([key]) => key);
  }

  publish(channel: string, message: Buffer, sharded: boolean): number {
    this.published.push({ channel, message, sharded });
    const set = this.#channels.get(this.key(channel, sharded));
    if (set === undefined) return 0;
    for (const deliver of set) {
      // Like a network: later, and a copy.
      const copy = Buffer.from(message);
      setImmediate(() => deliver(Buffer.from(channel), copy));
    }
    return set.size;
  }

  /** Redis goes away: connections drop, subscriptions with them. */
  stop(): void {
    this.up = false;
    this.#channels.clear();
    for (const client of this.clients) client.dropped();
  }

  /** Redis is back: clients reconnect (without resubscribing: the backplane must). */
  start(): void {
    this.up = true;
    for (const client of this.clients) client.reconnect();
  }
}

/** What both fake families share: connection state and the broker. */
abstract class FakeClient extends EventEmitter {
  /** What it emits once connected: node-redis clusters say `connect`. */
  readyEvent = "ready";
  readonly broker: FakeBroker;
  connected = false;
  destroyed = false;
  connectCalls = 0;
  readonly duplicates: FakeClient[] = [];

  constructor(broker: FakeBroker) {
    super();
    this.broker = broker;
    broker.clients.add(this);
  }

  protected open(): void {
    this.connectCalls++;
    setImmediate(() => {
      if (this.destroyed) return;
      if (!this.broker.up) {
        this.emit("error", new Error("connect ECONNREFUSED /fake/redis.sock"));
        return;
      }
      this.connected = true;
      this.emit(this.readyEvent);
    });
  }

  dropped(): void {
    if (!this.connected) return;
    this.connected = false;
    this.lost();
  }

  reconnect(): void {
    if (this.destroyed || this.connected || this.connectCalls === 0) return;
    this.connected = true;
    this.emit(this.readyEvent === "ready" ? "ready" : "node-ready");
  }

  protected abstract lost(): void;

  protected deliverer(): Deliver {
    return (channel, message) => {
      if (this.connected) this.received(channel, message);
    };
  }

  protected abstract received(channel: Buffer, message: Buffer): void;

  end(): void {
    this.destroyed = true;
    this.connected = false;
    this.broker.clients.delete(this);
  }
}

/** Shaped like a node-redis v5 client (or cluster, with `masters`). */
export class FakeNodeRedis extends FakeClient {
  readonly options = { url: "redis://fake:6379" };
  readonly #listeners = new Map<string, Deliver>();
  readonly #deliver = this.deliverer();
  #callback: ((message: Buffer, channel: Buffer) => void) | null = null;

  get isOpen(): boolean {
    return this.connectCalls > 0 && !this.destroyed;
  }

  get isReady(): boolean {
    return this.connected;
  }

  async connect(): Promise<void> {
    this.open();
  }

  duplicate(): FakeNodeRedis {
    const copy = new (this.constructor as typeof FakeNodeRedis)(this.broker);
    this.duplicates.push(copy);
    return copy;
  }

  destroy(): void {
    this.end();
  }

  protected lost(): void {
    this.emit("error", new Error("Socket closed unexpectedly"));
  }

  protected received(channel: Buffer, message: Buffer): void {
    this.#callback?.(message, channel);
  }

  #check(): void {
    if (!this.connected) throw new Error("The client is closed");
  }

  async publish(channel: string, message: Buffer): Promise<number> {
    this.#check();
    return this.broker.publish(channel, message, false);
  }

  async sPublish(channel: string, message: Buffer): Promise<number> {
    this.#check();
    return this.broker.publish(channel, message, true);
  }

  async subscribe(channel: string, listener: (m: Buffer, c: Buffer) => void, buffers: boolean) {
    this.#subscribe(channel, listener, buffers, false);
  }

  async sSubscribe(channel: string, listener: (m: Buffer, c: Buffer) => void, buffers: boolean) {
    this.#subscribe(channel, listener, buffers, true);
  }

  #subscribe(
    channel: string,
    listener: (m: Buffer, c: Buffer) => void,
    buffers: boolean,
    sharded: boolean,
  ): void {
    this.#check();
    if (buffers !== true) throw new Error("the backplane must ask for buffers");
    this.#callback = listener;
    this.#listeners.set(channel, this.#deliver);
    this.broker.subscribe(channel, sharded, this.#deliver);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.broker.unsubscribe(channel, false, this.#deliver);
  }

  async sUnsubscribe(channel: string): Promise<void> {
    this.broker.unsubscribe(channel, true, this.#deliver);
  }
}

/** A node-redis cluster client: sharded pub/sub, `connect` and `node-ready` events. */
export class FakeNodeRedisCluster extends FakeNodeRedis {
  override readyEvent = "connect";

  get masters(): unknown[] {
    return [];
  }
}

/** Shaped like an ioredis v5 `Redis` (or `Cluster`, with `isCluster`). */
export class FakeIoRedis extends FakeClient {
  readonly options = { host: "fake", port: 6379 };
  readonly isCluster: boolean = false;
  status = "wait";
  readonly #deliver = this.deliverer();

  constructor(broker: FakeBroker, lazy = true) {
    super(broker);
    this.on("ready", () => {
      this.status = "ready";
    });
    if (!lazy) {
      this.status = "connecting";
      this.open();
    }
  }

  async connect(): Promise<void> {
    this.status = "connecting";
    this.open();
  }

  duplicate(): FakeIoRedis {
    // ioredis duplicates connect at once.
    const copy = new (this.constructor as typeof FakeIoRedis)(this.broker, false);
    this.duplicates.push(copy);
    return copy;
  }

  disconnect(): void {
    this.status = "end";
    this.end();
  }

  protected lost(): void {
    this.status = "reconnecting";
    this.emit("close");
  }

  protected received(channel: Buffer, message: Buffer): void {
    this.emit(this.isCluster ? "smessageBuffer" : "messageBuffer", channel, message);
  }

  #check(): void {
    if (!this.connected) throw new Error("Connection is closed.");
  }

  async publish(channel: string, message: Buffer): Promise<number> {
    this.#check();
    return this.broker.publish(channel, message, false);
  }

  async spublish(channel: string, message: Buffer): Promise<number> {
    this.#check();
    return this.broker.publish(channel, message, true);
  }

  async subscribe(channel: string): Promise<void> {
    this.#check();
    this.broker.subscribe(channel, false, this.#deliver);
  }

  async ssubscribe(channel: string): Promise<void> {
    this.#check();
    this.broker.subscribe(channel, true, this.#deliver);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.broker.unsubscribe(channel, false, this.#deliver);
  }

  async sunsubscribe(channel: string): Promise<void> {
    this.broker.unsubscribe(channel, true, this.#deliver);
  }
}

/** An ioredis Cluster: sharded pub/sub, which needs `shardedSubscribers` to route SSUBSCRIBE. */
export class FakeIoRedisCluster extends FakeIoRedis {
  override readonly isCluster = true;
  shardedSubscribers = false;

  override duplicate(_nodes?: unknown[], options?: { shardedSubscribers?: boolean }): FakeIoRedis {
    const copy = super.duplicate() as FakeIoRedisCluster;
    copy.shardedSubscribers = options?.shardedSubscribers === true;
    return copy;
  }

  override async ssubscribe(channel: string): Promise<void> {
    if (!this.shardedSubscribers) {
      throw new Error("Too many Cluster redirections. Last error: MOVED");
    }
    return super.ssubscribe(channel);
  }
}
