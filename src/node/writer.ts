/**
 * The write side of a connection: bytes the protocol produced are gathered
 * and written once per event-loop turn; the write buffer's limit
 * (`writeLimit`) makes senders wait, and pauses reading while the frames
 * the library writes on its own (pongs, close frames) pile up; fragmented
 * messages go out one frame per fragment.
 *
 * Reading is paused here too, for either of two reasons (too many messages
 * unread, too many bytes unwritten), and resumes when neither holds.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { FastBuffer } from "../buffers.ts";
import { CLOSE_INTERNAL_ERROR, EMPTY } from "../frames.ts";
import { frameLent, releaseFrame } from "../masking.ts";
import { OPEN, type Protocol } from "../protocol.ts";
import type { ConnectionSettings, Sendable, SendData, SendOptions } from "./options.ts";
import { noop, RESOLVED, rejected } from "./promises.ts";

// Below this total, the buffers of one flush are concatenated into one
// write; above, they go out as one writev (cork/uncork) without copying.
const COALESCE_LIMIT = 65_536;

// Bits of Writer's #flags.
const FLUSH_SCHEDULED = 1;
/** Reading paused: the message queue is full. */
export const PAUSED_BY_QUEUE = 2;
/** Reading paused: the write buffer is over its limit. */
export const PAUSED_BY_WRITES = 4;
/** Reading paused: the application asked (`pause()` of `websockets-ts/ws`). */
export const PAUSED_BY_USER = 8;
const PAUSED = PAUSED_BY_QUEUE | PAUSED_BY_WRITES | PAUSED_BY_USER;

/**
 * What only a connection whose sends wait needs: senders waiting for the
 * write buffer to drain, the write callback that wakes them, and the
 * fragmented message other sends wait for.
 */
class Backpressure {
  waiters: (() => void)[] = [];
  /** Writes carry {@link onWritten} while true. */
  active = false;
  /** Waiters wake when the buffer drains to this many bytes: a quarter of `writeLimit`. */
  lowWater = 0;
  readonly onWritten: () => void;
  fragmented: Promise<void> | null = null;
  /** Whether sends piling up were reported (mistakes.ts): once per connection. */
  pilingReported = false;

  constructor(writer: Writer) {
    this.onWritten = () => writer.written(this.lowWater);
  }
}

/**
 * `list` as one buffer of `size` bytes: a view when its buffers lie end to
 * end in one `ArrayBuffer`, as the frames a server serializes one after the
 * other do (frames.ts, `slabStart`), else a copy. The view has the very
 * bytes the copy would have, without allocating and copying them.
 */
function join(list: Buffer[], size: number): Buffer {
  const first = list[0];
  const memory = first.buffer;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < list.length; i++) {
    const buf = list[i];
    if (buf.buffer !== memory || buf.byteOffset !== end) return Buffer.concat(list, size);
    end += buf.length;
  }
  return new FastBuffer(memory, first.byteOffset, size);
}

/**
 * Coalesces and writes a connection's bytes to its transport, and applies
 * the write buffer's limit.
 *
 * @internal
 */
export class Writer {
  /** The byte stream: a TCP or TLS socket, or any other Duplex. */
  readonly transport: Duplex;
  // Buffers produced during this event-loop turn, flushed once. One
  // buffer, or several, or none: most turns write one frame, and an idle
  // connection keeps no array.
  #pending: Buffer | Buffer[] | null = null;
  #pendingBytes = 0;
  #flags = 0;
  // Created the first time a send waits.
  #backpressure: Backpressure | null = null;

  constructor(transport: Duplex) {
    this.transport = transport;
  }

  /** A fragmented message being sent: other sends wait for it. */
  get fragmented(): Promise<void> | null {
    const backpressure = this.#backpressure;
    return backpressure === null ? null : backpressure.fragmented;
  }

  set fragmented(value: Promise<void> | null) {
    if (value !== null || this.#backpressure !== null) this.state(null).fragmented = value;
  }

  /** Whether the transport can't be written to any more. */
  get ended(): boolean {
    const transport = this.transport;
    return transport.destroyed || transport.writableEnded;
  }

  /** Bytes queued and not yet written by the transport. */
  get buffered(): number {
    return this.#pendingBytes + this.transport.writableLength;
  }

  /** Queues bytes for the next flush. */
  queue(buf: Buffer): void {
    const pending = this.#pending;
    if (pending === null) this.#pending = buf;
    else if (Array.isArray(pending)) pending.push(buf);
    else this.#pending = [pending, buf];
    this.#pendingBytes += buf.length;
  }

  /**
   * Flushes at the end of this event-loop turn: a tick scheduled now runs
   * after the current microtask chain (e.g. a handler echoing every message
   * of a chunk), so all its frames leave together.
   */
  schedule(): void {
    if (this.#pendingBytes > 0 && (this.#flags & FLUSH_SCHEDULED) === 0) {
      this.#flags |= FLUSH_SCHEDULED;
      process.nextTick(Writer.#flushTick, this);
    }
  }

  static #flushTick(writer: Writer): void {
    writer.#flags &= ~FLUSH_SCHEDULED;
    writer.flush();
  }

  /** Writes what is queued now. */
  flush(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    const size = this.#pendingBytes;
    this.#pendingBytes = 0;
    const transport = this.transport;
    if (transport.destroyed || transport.writableEnded) return;
    // A callback only while the buffer is over its limit.
    const backpressure = this.#backpressure;
    const onWritten =
      backpressure === null || !backpressure.active ? undefined : backpressure.onWritten;
    if (!Array.isArray(pending)) {
      transport.write(pending, onWritten);
    } else if (size <= COALESCE_LIMIT) {
      transport.write(join(pending, size), onWritten);
    } else {
      transport.cork();
      for (let i = 0; i < pending.length; i++) transport.write(pending[i], onWritten);
      transport.uncork();
    }
    // A socket's write completes before write() returns when the kernel
    // took every byte: then nothing refers to the frames any more, and a
    // large masked frame's buffer can take the next one.
    if (frameLent() && transport.writableLength === 0 && transport instanceof Socket) {
      if (!Array.isArray(pending)) releaseFrame(pending);
      else for (let i = 0; i < pending.length; i++) releaseFrame(pending[i]);
    }
  }

  /**
   * Queues frames serialized once for many connections (`broadcast()`,
   * `publish()`), for the end of this turn. The writers of one turn's
   * publishes are flushed by one tick, not one tick each: a publish to
   * 10,000 subscribers schedules one callback.
   */
  writeShared(bytes: readonly Buffer[]): void {
    for (let i = 0; i < bytes.length; i++) this.queue(bytes[i]);
    if ((this.#flags & FLUSH_SCHEDULED) !== 0) return;
    this.#flags |= FLUSH_SCHEDULED;
    if (Writer.#batch.length === 0) process.nextTick(Writer.#flushBatch);
    Writer.#batch.push(this);
  }

  // Writers with shared frames queued this turn, flushed together.
  static #batch: Writer[] = [];

  static #flushBatch(): void {
    const batch = Writer.#batch;
    Writer.#batch = [];
    let failure: { error: unknown } | null = null;
    // Subscribers of the same publishes queued the same frames, in the
    // same order: they're joined once and the one buffer is written to
    // each, instead of one concatenation per subscriber.
    let parts: Buffer[] | null = null;
    let joined: Buffer | null = null;
    for (let i = 0; i < batch.length; i++) {
      const writer = batch[i];
      writer.#flags &= ~FLUSH_SCHEDULED;
      // A transport that throws (a bug: sockets report errors by event)
      // mustn't keep the others' bytes back; it's thrown after.
      try {
        const pending = writer.#pending;
        if (Array.isArray(pending) && writer.#pendingBytes <= COALESCE_LIMIT) {
          if (parts === null || !sameBuffers(parts, pending)) {
            parts = pending;
            joined = Buffer.concat(pending, writer.#pendingBytes);
          }
          writer.#pending = joined;
        }
        writer.flush();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== null) throw failure.error;
  }

  /** Forgets what is queued: the transport is gone. */
  discard(): void {
    this.#pending = null;
    this.#pendingBytes = 0;
  }

  /**
   * Flow control for senders: flushes if more than `writeLimit` bytes are
   * buffered, and resolves once the buffer drained to a quarter of it.
   */
  drained(settings: ConnectionSettings): Promise<void> {
    const limit = settings.writeLimit;
    const transport = this.transport;
    if (this.#pendingBytes + transport.writableLength <= limit) return RESOLVED;
    const backpressure = this.state(settings);
    backpressure.active = true;
    this.flush();
    if (transport.writableLength <= limit || transport.destroyed) {
      this.settle(backpressure);
      return RESOLVED;
    }
    return new Promise<void>((resolve) => {
      backpressure.waiters.push(resolve);
    });
  }

  /**
   * How many sends wait for the buffer to drain, the first time it reaches
   * `threshold` on this connection; else 0.
   */
  pilingUp(threshold: number): number {
    const backpressure = this.#backpressure;
    if (backpressure === null || backpressure.pilingReported) return 0;
    const waiting = backpressure.waiters.length;
    if (waiting < threshold) return 0;
    backpressure.pilingReported = true;
    return waiting;
  }

  /**
   * After a read: if what it made us write (pongs, a close frame) took the
   * buffer over `writeLimit`, stops reading until it drains, so a peer that
   * pings and never reads can't make us buffer without bound.
   */
  limitReading(settings: ConnectionSettings): void {
    if (this.#pendingBytes === 0) return;
    if (this.#pendingBytes + this.transport.writableLength <= settings.writeLimit) return;
    // The pending bytes go out carrying the callback that resumes reading.
    this.state(settings).active = true;
    this.pauseReading(PAUSED_BY_WRITES);
  }

  // Helpers are TypeScript-private, not #private: a class with #private
  // methods gives each instance a brand, 8 bytes (docs/decisions.md).

  /** The rare state, created on first need; `settings` tell the low-water mark. */
  private state(settings: ConnectionSettings | null): Backpressure {
    this.#backpressure ??= new Backpressure(this);
    if (settings !== null) this.#backpressure.lowWater = settings.writeLowWater;
    return this.#backpressure;
  }

  /** Stops writes carrying the callback once nothing waits for it. */
  private settle(backpressure: Backpressure): void {
    if (backpressure.waiters.length === 0 && (this.#flags & PAUSED_BY_WRITES) === 0) {
      backpressure.active = false;
    }
  }

  /** @internal A write completed while over the limit. */
  written(lowWater: number): void {
    if (this.transport.writableLength <= lowWater) this.release();
  }

  /** Wakes the senders waiting for the buffer to drain, and resumes reading. */
  release(): void {
    const backpressure = this.#backpressure;
    if (backpressure === null || !backpressure.active) return;
    backpressure.active = false;
    const waiters = backpressure.waiters;
    if (waiters.length > 0) {
      backpressure.waiters = [];
      for (const wake of waiters) wake();
    }
    this.resumeReading(PAUSED_BY_WRITES);
  }

  /** Stops reading from the transport for `reason` ({@link PAUSED_BY_QUEUE}, {@link PAUSED_BY_WRITES} or {@link PAUSED_BY_USER}). */
  pauseReading(reason: number): void {
    const flags = this.#flags;
    if ((flags & reason) !== 0) return;
    this.#flags = flags | reason;
    if ((flags & PAUSED) === 0) this.transport.pause();
  }

  /** Reads again, unless paused for another reason too. */
  resumeReading(reason: number): void {
    const flags = this.#flags;
    if ((flags & reason) === 0) return;
    this.#flags = flags & ~reason;
    if ((this.#flags & PAUSED) === 0) this.transport.resume();
  }
}

// --- Sending data --------------------------------------------------------------

/** What the functions sending data need of their connection. @internal */
export interface FragmentSender {
  readonly protocol: Protocol;
  readonly writer: Writer;
  afterWrite(frame?: Buffer | null): Promise<void>;
  notOpen(): Promise<never>;
  failWith(code: number, reason: string): void;
  countSent(bytes: number): void;
}

/**
 * Sends one message (`Connection.send`): a string or bytes at once, an
 * iterable as a fragmented message. While a fragmented message is being
 * sent, waits for it to finish. @internal
 */
export function sendMessage(
  connection: FragmentSender,
  data: SendData,
  options: SendOptions | undefined,
): Promise<void> {
  if (connection.writer.fragmented !== null) return sendLater(connection, data, options);
  const text = options?.text;
  const protocol = connection.protocol;
  // A whole message the protocol can frame at once skips its write queue
  // (Protocol.frameMessage); otherwise it sends the usual way.
  if (typeof data === "string") {
    const frame = text === false ? null : protocol.frameMessage(data, true);
    if (frame === null) {
      if (protocol.state !== OPEN) return connection.notOpen();
      if (text === false) protocol.sendBinary(Buffer.from(data));
      else protocol.sendText(data);
    }
    connection.countSent(data.length);
    return connection.afterWrite(frame);
  }
  const bytes = toBuffer(data);
  if (bytes !== null) {
    const frame = protocol.frameMessage(bytes, text === true);
    if (frame === null) {
      if (protocol.state !== OPEN) return connection.notOpen();
      if (text === true) protocol.sendText(bytes);
      else protocol.sendBinary(bytes);
    }
    connection.countSent(bytes.length);
    return connection.afterWrite(frame);
  }
  if (data !== null && typeof data === "object") {
    if (typeof (data as AsyncIterable<Sendable>)[Symbol.asyncIterator] === "function") {
      return sendFragments(
        connection,
        (data as AsyncIterable<Sendable>)[Symbol.asyncIterator](),
        text,
      );
    }
    if (typeof (data as Iterable<Sendable>)[Symbol.iterator] === "function") {
      return sendFragments(connection, (data as Iterable<Sendable>)[Symbol.iterator](), text);
    }
  }
  return rejected(
    new TypeError(
      `send() expects a string, bytes, or an iterable of them; got ${describeType(data)}`,
    ),
  );
}

async function sendLater(
  connection: FragmentSender,
  data: SendData,
  options: SendOptions | undefined,
): Promise<void> {
  while (connection.writer.fragmented !== null) await connection.writer.fragmented;
  return sendMessage(connection, data, options);
}

/** Sends an unsolicited pong (`Connection.pong`). @internal */
export function sendPong(connection: FragmentSender, data: Sendable | undefined): Promise<void> {
  const payload = data === undefined ? EMPTY : controlPayload(data, "pong");
  if (payload instanceof TypeError) return rejected(payload);
  if (connection.protocol.state !== OPEN) return connection.notOpen();
  try {
    connection.protocol.sendPong(payload);
  } catch (error) {
    return rejected(error);
  }
  return connection.afterWrite();
}

/**
 * Sends the fragments an iterator yields as one message, one frame each.
 * Other sends wait for it (`writer.fragmented`). If it can't be completed
 * (the iterator throws, or mixes strings and bytes), the connection fails
 * with 1011, as RFC 6455 §5.4 forbids interleaving another message, and the
 * error is thrown.
 *
 * @internal
 */
export async function sendFragments(
  connection: FragmentSender,
  iterator: Iterator<Sendable> | AsyncIterator<Sendable>,
  text: boolean | undefined,
): Promise<void> {
  const first = await iterator.next();
  if (first.done) return;
  const isString = typeof first.value === "string";
  const firstBytes = isString ? null : toBuffer(first.value);
  if (!isString && firstBytes === null) {
    closeIterator(iterator);
    throw new TypeError(
      `send() expects fragments to be strings or bytes; got ${describeType(first.value)}`,
    );
  }
  const writer = connection.writer;
  const protocol = connection.protocol;
  // Another fragmented message may have started while we awaited.
  while (writer.fragmented !== null) await writer.fragmented;
  if (protocol.state !== OPEN) {
    closeIterator(iterator);
    return connection.notOpen();
  }

  let done!: () => void;
  writer.fragmented = new Promise<void>((resolve) => {
    done = resolve;
  });
  let finished = false;
  try {
    let size = 0;
    if (isString) {
      const chunk = first.value as string;
      size += chunk.length;
      if (text === false) protocol.sendBinary(Buffer.from(chunk), false);
      else protocol.sendText(chunk, false);
    } else {
      size += firstBytes!.length;
      if (text === true) protocol.sendText(firstBytes!, false);
      else protocol.sendBinary(firstBytes!, false);
    }
    await connection.afterWrite();
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      const bytes = nextFragment(next.value, isString);
      if (protocol.state !== OPEN) return await connection.notOpen();
      size += bytes.length;
      protocol.sendContinuation(bytes, false);
      await connection.afterWrite();
    }
    finished = true;
    if (protocol.state !== OPEN) return await connection.notOpen();
    protocol.sendContinuation(EMPTY, true);
    connection.countSent(size);
    await connection.afterWrite();
  } catch (error) {
    if (!finished) closeIterator(iterator);
    if (protocol.state === OPEN) {
      // Half a message was sent and the rest can't be: the connection is unusable.
      connection.failWith(CLOSE_INTERNAL_ERROR, "error in fragmented message");
    }
    throw error;
  } finally {
    writer.fragmented = null;
    done();
  }
}

/** The bytes of a fragment after the first, which must be of the same kind. */
function nextFragment(chunk: Sendable, isString: boolean): Buffer {
  if (isString) {
    if (typeof chunk !== "string") {
      throw new TypeError(
        `send() expects all fragments to be strings like the first one; got ${describeType(chunk)}`,
      );
    }
    return Buffer.from(chunk);
  }
  const bytes = typeof chunk === "string" ? null : toBuffer(chunk);
  if (bytes === null) {
    throw new TypeError(
      `send() expects all fragments to be bytes like the first one; got ${describeType(chunk)}`,
    );
  }
  return bytes;
}

function closeIterator(iterator: Iterator<unknown> | AsyncIterator<unknown>): void {
  try {
    const result = iterator.return?.();
    if (result instanceof Promise) result.catch(noop);
  } catch {
    // The iterator's cleanup failed; the error that stopped the send matters more.
  }
}

/** Whether two lists hold the same Buffer objects in the same order. */
function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A Buffer view of bytes-like `data`, without copying; `null` if it isn't bytes. */
export function toBuffer(data: unknown): Buffer | null {
  if (Buffer.isBuffer(data)) return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return Buffer.from(data);
  return null;
}

/** Names the type of a value for TypeError messages: `number`, `Map`, `null`. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = (value as object).constructor?.name;
  return name === undefined || name === "" ? "object" : name;
}

/**
 * The payload of a ping or pong: a string as UTF-8, bytes as they are; a
 * TypeError naming the type otherwise (returned, so the caller rejects).
 */
export function controlPayload(data: Sendable, method: "ping" | "pong"): Buffer | TypeError {
  const bytes = typeof data === "string" ? Buffer.from(data) : toBuffer(data);
  return bytes ?? new TypeError(`${method}() expects a string or bytes; got ${describeType(data)}`);
}
