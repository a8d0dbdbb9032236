/**
 * The backplane interface: how a server's topics reach other processes
 * (other workers of a machine, other machines). `serve()` takes one as its
 * `backplane` option; the library ships `clusterBackplane()` (workers of
 * `node:cluster`) and `redisBackplane()` (`websockets-ts/redis`). Write your
 * own for another transport by implementing {@link Backplane}.
 *
 * Also here: the envelope drivers put around a message on a shared channel
 * (who sent it, its sequence number, text or binary) and the gap detector
 * that reads those sequence numbers.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { LoggerLike } from "../logging.ts";

/**
 * What a server gives its backplane when it starts: where messages from
 * other processes go, and the logger to use.
 */
export interface BackplaneHost {
  /** The server's logger. */
  readonly logger: LoggerLike;
  /**
   * Delivers a message published by another process to this process's
   * subscribers of `topic`. Call it in the order messages arrive.
   */
  deliver(topic: string, payload: Buffer, binary: boolean): void;
}

/**
 * Carries topic messages between processes. A server calls `start()` once,
 * `subscribe()` when the first local connection subscribes to a topic,
 * `unsubscribe()` when the last one leaves it, `publish()` for every
 * `server.publish()` (after delivering locally), and `close()` when it
 * closes.
 *
 * Contract: `publish()` returns at once and never throws; messages from one
 * process to one topic reach other processes in publish order, at most
 * once, and never come back to the publishing process. `subscribe()`
 * resolves once messages of the topic flow to this process and never
 * rejects: failures are logged and retried by the backplane.
 */
export interface Backplane {
  /** A short name for log lines: `"redis"`, `"cluster"`. */
  readonly name: string;
  /**
   * Connects. A rejection makes `serve()` reject with it: say what failed
   * and where.
   */
  start(host: BackplaneHost): Promise<void>;
  /** Starts receiving the messages of `topic` from other processes. */
  subscribe(topic: string): Promise<void>;
  /** Stops receiving the messages of `topic`. */
  unsubscribe(topic: string): void;
  /** Sends a message to the subscribers of `topic` in other processes. */
  publish(topic: string, payload: Buffer, binary: boolean): void;
  /** Disconnects what `start()` connected. Never rejects. */
  close(): Promise<void>;
}

// --- Envelope ------------------------------------------------------------------

/** First byte of an envelope: its format version. */
const ENVELOPE_VERSION = 1;
const FLAG_BINARY = 1;
/** Length of a node id, in bytes. */
export const NODE_ID_LENGTH = 8;
/** version, flags, node id, sequence number (uint64). */
export const ENVELOPE_HEADER = 2 + NODE_ID_LENGTH + 8;

/** A message as read from a shared channel. */
export interface Envelope {
  /** The publishing process's node id, in hex. */
  node: string;
  seq: number;
  binary: boolean;
  payload: Buffer;
}

/** A random id for this process's backplane: who published, in envelopes and logs. */
export function newNodeId(): Buffer {
  return randomBytes(NODE_ID_LENGTH);
}

/**
 * Wraps a message for a shared channel: version (1 byte), flags (1 byte,
 * bit 0 = binary), node id (8 bytes), sequence number (8 bytes, big
 * endian), then the payload as is. Binary-safe; one copy of the payload.
 */
export function encodeEnvelope(
  node: Buffer,
  seq: number,
  payload: Buffer,
  binary: boolean,
): Buffer {
  const envelope = Buffer.allocUnsafe(ENVELOPE_HEADER + payload.length);
  envelope[0] = ENVELOPE_VERSION;
  envelope[1] = binary ? FLAG_BINARY : 0;
  node.copy(envelope, 2, 0, NODE_ID_LENGTH);
  envelope.writeUInt32BE(Math.floor(seq / 2 ** 32), 2 + NODE_ID_LENGTH);
  envelope.writeUInt32BE(seq >>> 0, 6 + NODE_ID_LENGTH);
  payload.copy(envelope, ENVELOPE_HEADER);
  return envelope;
}

/**
 * Reads an envelope; a string saying what is wrong with it otherwise (the
 * caller drops it with a WARN). The payload is a view, not a copy.
 */
export function decodeEnvelope(data: Buffer): Envelope | string {
  if (data.length < ENVELOPE_HEADER) {
    return `${data.length} bytes is shorter than the ${ENVELOPE_HEADER}-byte header`;
  }
  if (data[0] !== ENVELOPE_VERSION) return `unknown envelope version ${data[0]}`;
  const flags = data[1];
  if ((flags & ~FLAG_BINARY) !== 0) return `unknown flags 0x${flags.toString(16)}`;
  const high = data.readUInt32BE(2 + NODE_ID_LENGTH);
  if (high >= 2 ** 21) return "sequence number over 2^53";
  const seq = high * 2 ** 32 + data.readUInt32BE(6 + NODE_ID_LENGTH);
  if (seq === 0) return "sequence number 0";
  const binary = (flags & FLAG_BINARY) !== 0;
  const payload = data.subarray(ENVELOPE_HEADER);
  if (!binary && !isUtf8(payload)) return "text payload isn't valid UTF-8";
  return {
    node: data.toString("hex", 2, 2 + NODE_ID_LENGTH),
    seq,
    binary,
    payload,
  };
}

// Bounds of the sequence bookkeeping: topics published to by this process,
// publishers remembered per subscribed topic. Past them, the oldest entry
// is forgotten: a sequence restarting at 1 is never reported as a gap.
const MAX_PUBLISHED_TOPICS = 100_000;
const MAX_PUBLISHERS_PER_TOPIC = 1_024;

/** Sequence numbers of this process's publishes, one series per topic, from 1. */
export class Sequences {
  readonly #next = new Map<string, number>();

  /** The next sequence number for `topic`. */
  next(topic: string): number {
    const seq = (this.#next.get(topic) ?? 0) + 1;
    if (seq === 1 && this.#next.size >= MAX_PUBLISHED_TOPICS) {
      const oldest = this.#next.keys().next().value as string;
      this.#next.delete(oldest);
    }
    this.#next.set(topic, seq);
    return seq;
  }
}

/** What {@link GapDetector.check} found. */
export type SequenceCheck =
  /** The next message, or the first seen from that node: deliver it. */
  | { kind: "next" }
  /** `missing` messages never arrived before this one: deliver it, report them. */
  | { kind: "gap"; missing: number }
  /** Seen already (or older than the last seen): drop it. */
  | { kind: "duplicate" };

const NEXT: SequenceCheck = { kind: "next" };
const DUPLICATE: SequenceCheck = { kind: "duplicate" };

/**
 * Tracks, per subscribed topic and publishing node, the last sequence
 * number received, to tell lost messages (at-most-once delivery on Redis
 * pub/sub) and never deliver one twice.
 */
export class GapDetector {
  readonly #last = new Map<string, Map<string, number>>();

  /** Checks and records a message. */
  check(topic: string, node: string, seq: number): SequenceCheck {
    let nodes = this.#last.get(topic);
    if (nodes === undefined) {
      nodes = new Map();
      this.#last.set(topic, nodes);
    }
    const last = nodes.get(node);
    if (last === undefined) {
      if (nodes.size >= MAX_PUBLISHERS_PER_TOPIC) {
        nodes.delete(nodes.keys().next().value as string);
      }
      nodes.set(node, seq);
      return NEXT;
    }
    // The publisher forgot the topic (its own bound) and started again.
    if (seq === 1 && last > 1) {
      nodes.set(node, seq);
      return NEXT;
    }
    if (seq <= last) return DUPLICATE;
    nodes.set(node, seq);
    return seq === last + 1 ? NEXT : { kind: "gap", missing: seq - last - 1 };
  }

  /** Forgets a topic this process no longer subscribes to. */
  forget(topic: string): void {
    this.#last.delete(topic);
  }
}
