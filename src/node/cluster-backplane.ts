/**
 * `clusterBackplane()`: topics across the workers of `node:cluster` on one
 * machine. The primary relays: each worker tells it which topics it
 * subscribes to, and sends it what it publishes; the primary forwards each
 * message to the other workers subscribed to the topic, over the IPC
 * channels `node:cluster` already has. No broker, no port.
 *
 * @module
 */

import cluster, { type Worker } from "node:cluster";
import { logMessages } from "../logging.ts";
import type { Backplane, BackplaneHost } from "./backplane.ts";

/** Options of {@link clusterBackplane}. */
export interface ClusterBackplaneOptions {
  /**
   * In a worker: how long `serve()` waits for the primary's relay to
   * answer, in ms, before it rejects. Default: 5_000.
   */
  startTimeout?: number;
}

/** Default of {@link ClusterBackplaneOptions.startTimeout}. */
export const DEFAULT_CLUSTER_START_TIMEOUT = 5_000;

// Every IPC message of ours carries this tag, so the application's own
// messages on the same channel are left alone (and ours left to us).
const TAG = "websockets-ts:topics";

/**
 * A message on the IPC channel. Payloads travel as a string: text as is,
 * binary in base64 (`bin: true`), so that any `serialization` setting of
 * the cluster carries them.
 */
type IpcMessage =
  | { tag: typeof TAG; op: "hello" }
  | { tag: typeof TAG; op: "ready" }
  | { tag: typeof TAG; op: "sub"; topic: string; id: number }
  | { tag: typeof TAG; op: "ack"; id: number }
  | { tag: typeof TAG; op: "unsub"; topic: string }
  | { tag: typeof TAG; op: "pub" | "msg"; topic: string; data: string; bin: boolean };

function isOurs(message: unknown): message is IpcMessage {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { tag?: unknown }).tag === TAG &&
    typeof (message as { op?: unknown }).op === "string"
  );
}

function encode(payload: Buffer, binary: boolean): string {
  return binary ? payload.toString("base64") : payload.toString("utf8");
}

function decode(data: string, binary: boolean): Buffer {
  return Buffer.from(data, binary ? "base64" : "utf8");
}

/** Where the relay forwards a topic's messages: a worker, or a server in the primary. */
interface Member {
  forward(topic: string, data: string, bin: boolean): void;
}

/** The relay in the primary: one per process, started by the first `clusterBackplane()` there. */
class Relay {
  // Members subscribed to each topic.
  readonly #topics = new Map<string, Set<Member>>();
  readonly #workers = new Map<Worker, Member>();

  constructor() {
    cluster.on("message", (worker: Worker, message: unknown) => {
      if (isOurs(message)) this.#onMessage(worker, message);
    });
    // A worker that exits leaves its topics.
    cluster.on("exit", (worker: Worker) => {
      const member = this.#workers.get(worker);
      if (member === undefined) return;
      this.#workers.delete(worker);
      for (const topic of [...this.#topics.keys()]) this.unsubscribe(member, topic);
    });
  }

  subscribe(member: Member, topic: string): void {
    let members = this.#topics.get(topic);
    if (members === undefined) {
      members = new Set();
      this.#topics.set(topic, members);
    }
    members.add(member);
  }

  unsubscribe(member: Member, topic: string): void {
    const members = this.#topics.get(topic);
    if (members === undefined) return;
    members.delete(member);
    if (members.size === 0) this.#topics.delete(topic);
  }

  /** Forwards to every member subscribed to `topic` but `from`, in arrival order. */
  publish(from: Member, topic: string, data: string, bin: boolean): void {
    const members = this.#topics.get(topic);
    if (members === undefined) return;
    for (const member of members) if (member !== from) member.forward(topic, data, bin);
  }

  #onMessage(worker: Worker, message: IpcMessage): void {
    let member = this.#workers.get(worker);
    if (member === undefined) {
      member = {
        forward(topic, data, bin) {
          send(worker, { tag: TAG, op: "msg", topic, data, bin });
        },
      };
      this.#workers.set(worker, member);
    }
    switch (message.op) {
      case "hello":
        send(worker, { tag: TAG, op: "ready" });
        break;
      case "sub":
        this.subscribe(member, message.topic);
        send(worker, { tag: TAG, op: "ack", id: message.id });
        break;
      case "unsub":
        this.unsubscribe(member, message.topic);
        break;
      case "pub":
        this.publish(member, message.topic, message.data, message.bin === true);
        break;
    }
  }
}

/** Sends to a worker unless it's gone (it exits, its topics are dropped). */
function send(worker: Worker, message: IpcMessage): void {
  if (!worker.isConnected()) return;
  try {
    worker.send(message);
  } catch {
    // The channel closed between the check and the send: the worker is exiting.
  }
}

let relay: Relay | null = null;

/** A server in the primary itself: a member of the relay, without IPC. */
class PrimaryBackplane implements Backplane, Member {
  readonly name = "cluster";
  readonly #relay: Relay;
  readonly #topics = new Set<string>();
  #host: BackplaneHost | null = null;

  constructor(relay: Relay) {
    this.#relay = relay;
  }

  async start(host: BackplaneHost): Promise<void> {
    if (this.#host !== null) throw new Error("this clusterBackplane() is already used by a server");
    this.#host = host;
  }

  async subscribe(topic: string): Promise<void> {
    this.#topics.add(topic);
    this.#relay.subscribe(this, topic);
  }

  unsubscribe(topic: string): void {
    this.#topics.delete(topic);
    this.#relay.unsubscribe(this, topic);
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    this.#relay.publish(this, topic, encode(payload, binary), binary);
  }

  forward(topic: string, data: string, bin: boolean): void {
    this.#host?.deliver(topic, decode(data, bin), bin);
  }

  async close(): Promise<void> {
    for (const topic of this.#topics) this.#relay.unsubscribe(this, topic);
    this.#topics.clear();
    this.#host = null;
  }
}

/** A server in a worker: talks to the relay over the worker's IPC channel. */
class WorkerBackplane implements Backplane {
  readonly name = "cluster";
  readonly #startTimeout: number;
  #host: BackplaneHost | null = null;
  #nextId = 1;
  // Subscriptions waiting for the relay's ack.
  readonly #pending = new Map<number, () => void>();
  #onReady: (() => void) | null = null;
  readonly #listener = (message: unknown): void => {
    if (isOurs(message)) this.#onMessage(message);
  };

  constructor(startTimeout: number) {
    this.#startTimeout = startTimeout;
  }

  async start(host: BackplaneHost): Promise<void> {
    if (this.#host !== null) throw new Error("this clusterBackplane() is already used by a server");
    this.#host = host;
    process.on("message", this.#listener);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#onReady = resolve;
        timer = setTimeout(() => {
          reject(
            new Error(
              `clusterBackplane(): the primary's relay didn't answer within ${this.#startTimeout} ms; call clusterBackplane() in the primary before forking workers`,
            ),
          );
        }, this.#startTimeout);
        this.#send({ tag: TAG, op: "hello" });
      });
    } catch (error) {
      process.off("message", this.#listener);
      this.#host = null;
      throw error;
    } finally {
      clearTimeout(timer);
      this.#onReady = null;
    }
  }

  subscribe(topic: string): Promise<void> {
    const id = this.#nextId++;
    return new Promise<void>((resolve) => {
      this.#pending.set(id, resolve);
      this.#send({ tag: TAG, op: "sub", topic, id });
    });
  }

  unsubscribe(topic: string): void {
    this.#send({ tag: TAG, op: "unsub", topic });
  }

  publish(topic: string, payload: Buffer, binary: boolean): void {
    this.#send({ tag: TAG, op: "pub", topic, data: encode(payload, binary), bin: binary });
  }

  async close(): Promise<void> {
    process.off("message", this.#listener);
    // Nothing will ack them now: don't leave anyone waiting.
    for (const resolve of this.#pending.values()) resolve();
    this.#pending.clear();
    this.#host = null;
  }

  #send(message: IpcMessage): void {
    if (process.send === undefined || process.connected === false) return;
    try {
      process.send(message);
    } catch (error) {
      this.#host?.logger.warn(logMessages.backplaneFailed(this.name, message.op, error));
    }
  }

  #onMessage(message: IpcMessage): void {
    switch (message.op) {
      case "ready":
        this.#onReady?.();
        break;
      case "ack": {
        const resolve = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        resolve?.();
        break;
      }
      case "msg":
        this.#host?.deliver(message.topic, decode(message.data, message.bin), message.bin);
        break;
    }
  }
}

/**
 * Topics across the workers of `node:cluster`. Call it in the primary
 * before forking, which starts the relay (and returns a backplane for a
 * server in the primary, if you run one there); call it in each worker
 * and pass the result to `serve()`.
 *
 * ```ts
 * import cluster from "node:cluster";
 * import { clusterBackplane, serve } from "websockets-ts";
 *
 * if (cluster.isPrimary) {
 *   clusterBackplane();
 *   for (let i = 0; i < 4; i++) cluster.fork();
 * } else {
 *   const server = await serve(handler, { port: 8765, backplane: clusterBackplane() });
 * }
 * ```
 *
 * Guarantees: messages of one worker to a topic reach the other workers in
 * publish order, exactly once while they run (the IPC channels are
 * reliable); the primary forwards in the order it receives, so all
 * receiving workers see messages of different publishers in the same
 * order. A worker that exits leaves its topics.
 *
 * @throws TypeError for an invalid `startTimeout`.
 */
export function clusterBackplane(options: ClusterBackplaneOptions = {}): Backplane {
  const startTimeout = options.startTimeout ?? DEFAULT_CLUSTER_START_TIMEOUT;
  if (typeof startTimeout !== "number" || !(startTimeout > 0) || !Number.isFinite(startTimeout)) {
    throw new TypeError(
      `startTimeout must be a number of milliseconds > 0; got ${String(startTimeout)}`,
    );
  }
  if (cluster.isPrimary) {
    relay ??= new Relay();
    return new PrimaryBackplane(relay);
  }
  return new WorkerBackplane(startTimeout);
}
