/**
 * Message assembly: turns the data frames a connection receives (TEXT,
 * BINARY, CONT) into messages, queues them until the application reads them,
 * and pauses reading from the network when too many wait.
 *
 * Internal to the Node I/O layer; `Connection.recv()` and
 * `Connection.recvStreaming()` are its public face.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { ConcurrencyError } from "../errors.ts";
import { type DataOpcode, Frame, OP_BINARY, OP_CONT, OP_TEXT } from "../frames.ts";
import type { Protocol } from "../protocol.ts";
import { Fragments } from "./fragments.ts";
import { rejected } from "./promises.ts";

/** A message: a string for a text message, a `Buffer` for a binary one. */
export type Data = string | Buffer;

/** Internal method keys of {@link MessageQueueHooks}. */
export const kPause: unique symbol = Symbol("websockets-ts.pause");
export const kResume: unique symbol = Symbol("websockets-ts.resume");
export const kInvalidUtf8: unique symbol = Symbol("websockets-ts.invalidUtf8");

/**
 * What the queue calls to act on the connection: methods of the connection
 * itself, so a queue costs no closures.
 */
export interface MessageQueueHooks {
  /** Stop reading from the network: too many frames wait unread. */
  [kPause](): void;
  /** Read from the network again. */
  [kResume](): void;
  /**
   * A binary message read with `decode: true` isn't valid UTF-8: the
   * connection must fail with 1007. The pending read then ends when the
   * connection closes, through {@link MessageQueue.close}.
   */
  [kInvalidUtf8](reason: string): void;
}

// The empty queue of every MessageQueue that never queued a frame. Never
// written to: a queue gets an array of its own before its first push.
const NO_FRAMES: (Frame | undefined)[] = [];

// Bits of MessageQueue's #flags.
// Reading from the network is paused by the queue.
const PAUSED = 1;
// The connection is closing on our initiative: from then on, frames beyond
// the high-water mark are dropped instead of pausing, so the peer's close
// frame can still be read.
const DRAINING = 2;
// Frames put from then on are dropped: the queue went over the high-water
// mark while draining, or the connection is failing (waitForClose()).
const DROPPING = 4;
// A streaming reader gave up in the middle of a message: the rest of that
// message is discarded.
const SKIPPING = 8;
// A recvStreaming() iterator holds the reader's lock.
const STREAMING = 16;
// #error holds the error readers get, no longer the function that builds it.
const ERROR_MADE = 32;
// The error is a ConnectionClosedOK: iteration then just ends, without
// building the error.
const NORMAL = 64;
// close() was called: no more frames come, any put is dropped.
const CLOSED = 128;

/** Settles a pending read: with a message, an iterator result, or a promise of either. */
type Resolve = (
  value: Data | IteratorResult<Data> | PromiseLike<Data | IteratorResult<Data>>,
) => void;

// Bits of #flags describing the pending read.
const ITERATE = 256;
const DECODE_SET = 512;
const DECODE_TEXT = 1024;
// And one more: a `for await` loop over the messages was left, and nothing
// read since (src/node/mistakes.ts).
const LOOP_LEFT = 2048;

/**
 * What only some pending reads need: the fragments of a message consumed so
 * far, and the abort listener of a `signal`.
 */
class ReadState {
  // Bytes, not frames: see fragments.ts.
  fragments: Fragments | null = null;
  signal: AbortSignal | null = null;
  onAbort: (() => void) | null = null;
}

/** A pending `next()` of a `recvStreaming()` iterator. */
interface StreamWaiter {
  resolve: (frame: Frame) => void;
  reject: (error: unknown) => void;
}

/**
 * Queue of received frames, read one message at a time.
 *
 * Only one reader at a time: a second `get()` or `stream()` while one is in
 * progress fails with `ConcurrencyError`. Flow control counts frames, which
 * is messages when they aren't fragmented: above `high` frames waiting,
 * `pause()` is called; at `low` or below, `resume()`.
 */
export class MessageQueue implements AsyncIterator<Data> {
  readonly #high: number | null;
  readonly #low: number | null;
  readonly #hooks: MessageQueueHooks;

  // Frames waiting to be read, from #head on. An index instead of shift()
  // keeps dequeuing O(1) when the queue is long (maxQueue: null).
  // NO_FRAMES, shared, until a frame must wait: most idle connections have
  // a reader waiting, and frames go straight to it.
  #frames: (Frame | undefined)[] = NO_FRAMES;
  #head = 0;

  // Twelve bits in one small integer (the queue's state, the mode of the
  // pending read, whether a loop was left): a field each would cost 8 bytes
  // per connection.
  // See docs/performance.md, "Memory layout".
  #flags = 0;

  // The pending read, if any: its promise's resolve function (also its
  // identity; it rejects the read by resolving it with a rejected promise,
  // so the reject function isn't kept), mode bits in #flags, and what only
  // fragmented messages and aborted reads need. Fields rather than a record:
  // a waiting reader is the usual state of an idle connection.
  #resolve: Resolve | null = null;
  #read: ReadState | null = null;
  #streamWaiter: StreamWaiter | null = null;

  // The ConnectionClosed error, built on first use: building an error
  // captures a stack, and most connections close without anyone reading.
  // Until ERROR_MADE is set, the function that builds it; then the error.
  #error: unknown = makeNoError;

  /** Whether `bit` (one of the bits above) is set in #flags. */
  private flag(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }

  private setFlag(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }

  constructor(high: number | null, low: number | null, hooks: MessageQueueHooks) {
    this.#high = high;
    this.#low = low;
    this.#hooks = hooks;
  }

  /** Whether reading from the network is paused by this queue. */
  get paused(): boolean {
    return this.flag(PAUSED);
  }

  /** Number of frames waiting to be read. */
  get length(): number {
    return this.#frames.length - this.#head;
  }

  /** Adds a data frame received from the peer. */
  put(frame: Frame): void {
    // One bit test for the three rare states: this runs per frame, and each
    // private accessor call costs a brand check.
    if ((this.#flags & (CLOSED | SKIPPING | DROPPING)) !== 0 && !this.accepts(frame)) return;

    if (this.#resolve !== null && this.#frames.length === this.#head) {
      // Fast path: a reader is waiting and nothing is queued; hand over the
      // frame without queuing it.
      this.consume(frame);
      return;
    }
    this.putSlow(frame);
  }

  /**
   * Adds a whole message received outside any fragmented one: what
   * {@link MessageQueue.put} does with it as a frame with FIN set, without
   * the frame when a reader waits for it (docs/performance.md, "Hot paths").
   */
  putMessage(opcode: DataOpcode, data: Buffer): void {
    const resolve = this.#resolve;
    const flags = this.#flags;
    const text = opcode === OP_TEXT;
    if (
      resolve === null ||
      this.#read !== null ||
      this.#frames.length !== this.#head ||
      (flags & (CLOSED | SKIPPING | DROPPING)) !== 0 ||
      // A binary message read as text is checked on the way that can fail.
      (!text && (flags & DECODE_TEXT) !== 0)
    ) {
      this.put(new Frame(opcode, data, true));
      return;
    }
    this.#resolve = null;
    const value = this.decodeData(
      data,
      text,
      (flags & DECODE_SET) === 0 ? undefined : (flags & DECODE_TEXT) !== 0,
    )!;
    resolve((flags & ITERATE) !== 0 ? { done: false, value } : value);
  }

  /** Whether a frame put while closed, skipping or dropping is kept. */
  private accepts(frame: Frame): boolean {
    if (this.flag(CLOSED)) return false;
    if (this.flag(SKIPPING)) {
      if (frame.opcode === OP_CONT) {
        if (frame.fin) this.setFlag(SKIPPING, false);
        return false;
      }
      // The protocol guarantees a CONT frame ends the message; a new message
      // here means there was nothing left to skip.
      this.setFlag(SKIPPING, false);
    }
    return !this.flag(DROPPING);
  }

  private putSlow(frame: Frame): void {
    const waiter = this.#streamWaiter;
    if (waiter !== null && this.length === 0) {
      this.#streamWaiter = null;
      waiter.resolve(frame);
      return;
    }

    if (this.flag(DRAINING) && this.#high !== null && this.length > this.#high) {
      this.setFlag(DROPPING, true);
      return;
    }
    if (this.#frames === NO_FRAMES) this.#frames = [];
    this.#frames.push(frame);
    if (this.#high !== null && !this.flag(PAUSED) && this.length > this.#high) {
      this.setFlag(PAUSED, true);
      this.#hooks[kPause]();
    }
  }

  /**
   * Reads the next message, waiting until all its frames arrived.
   *
   * `decode`: `undefined` returns a string for text and a Buffer for binary;
   * `true` always a string; `false` always a Buffer. When `signal` aborts,
   * the promise rejects with its reason and no frame is lost.
   */
  get(decode?: boolean, signal?: AbortSignal): Promise<Data> {
    return this.getNext(decode, signal, false) as Promise<Data>;
  }

  /**
   * Like {@link MessageQueue.get}, for async iteration: resolves to an
   * iterator result, `done` when the connection closed normally (the error
   * is a `ConnectionClosedOK`), and rejects with any other error.
   */
  next(): Promise<IteratorResult<Data>> {
    return this.getNext(undefined, undefined, true) as Promise<IteratorResult<Data>>;
  }

  /** {@link MessageQueue.next} with `decode` as in {@link MessageQueue.get}. */
  nextDecoded(decode: boolean | undefined): Promise<IteratorResult<Data>> {
    return this.getNext(decode, undefined, true) as Promise<IteratorResult<Data>>;
  }

  /**
   * Ends one loop over the messages (`break` in `for await`); the queue and
   * the connection go on: a later loop or `recv()` reads the next message.
   */
  return(): Promise<IteratorResult<Data>> {
    this.#flags |= LOOP_LEFT;
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Whether a loop was left (see {@link return}) and nothing read since; forgets it. */
  takeLoopLeft(): boolean {
    const left = (this.#flags & LOOP_LEFT) !== 0;
    this.#flags &= ~LOOP_LEFT;
    return left;
  }

  private getNext(
    decode: boolean | undefined,
    signal: AbortSignal | undefined,
    iterate: boolean,
  ): Promise<Data | IteratorResult<Data>> {
    // Flag bits tested directly: this runs per message, and a private
    // accessor call costs a brand check.
    if (this.#resolve !== null || (this.#flags & STREAMING) !== 0) {
      return rejected(
        new ConcurrencyError(
          "cannot call recv while another call is already running recv or recvStreaming",
        ),
      );
    }
    if ((this.#flags & LOOP_LEFT) !== 0) this.#flags &= ~LOOP_LEFT;
    if (signal?.aborted) return rejected(signal.reason);

    // Fast path: a whole message is queued.
    const first = this.#frames[this.#head];
    if (first?.fin) {
      this.shift();
      const result = this.decodeOne(first, decode);
      if (result === null) return this.waitForClose();
      return Promise.resolve(iterate ? { done: false, value: result } : result);
    }
    if (first === undefined && (this.#flags & CLOSED) !== 0) return this.ended(iterate);

    // A shared executor rather than a closure per read: it only hands over
    // the settle functions.
    const promise = new Promise<Data | IteratorResult<Data>>(capture);
    const resolve = captured.resolve!;
    const reject = captured.reject!;
    captured.resolve = null;
    captured.reject = null;
    this.wait(resolve, iterate, decode);
    // Consume what is already queued: the beginning of a fragmented message.
    let frame = first === undefined ? undefined : this.shift();
    while (frame !== undefined) {
      this.consume(frame);
      if (this.#resolve !== resolve) return promise;
      frame = this.shift();
    }
    if (this.flag(CLOSED)) {
      this.putBack(this.#read === null ? null : this.#read.fragments);
      this.end();
      return promise;
    }
    if (signal !== undefined) {
      const read = this.readState();
      read.signal = signal;
      read.onAbort = () => {
        if (this.#resolve !== resolve) return;
        const fragments = read.fragments;
        this.clearRead();
        // Put consumed fragments back so the next reader gets the whole message.
        this.putBack(fragments);
        reject(signal.reason);
      };
      signal.addEventListener("abort", read.onAbort, { once: true });
    }
    return promise;
  }

  /** Makes a read the pending one. */
  private wait(resolve: Resolve, iterate: boolean, decode: boolean | undefined): void {
    this.#resolve = resolve;
    let mode = iterate ? ITERATE : 0;
    if (decode !== undefined) mode |= decode ? DECODE_SET | DECODE_TEXT : DECODE_SET;
    this.#flags = (this.#flags & ~(ITERATE | DECODE_SET | DECODE_TEXT)) | mode;
  }

  private readState(): ReadState {
    this.#read ??= new ReadState();
    return this.#read;
  }

  /** The pending read is over: forgets it and its abort listener. */
  private clearRead(): void {
    this.#resolve = null;
    const read = this.#read;
    if (read !== null) {
      this.#read = null;
      if (read.onAbort !== null) read.signal!.removeEventListener("abort", read.onAbort);
    }
  }

  /** The error readers get once the queue is closed and empty. */
  private closedError(): unknown {
    if (!this.flag(ERROR_MADE)) {
      this.setFlag(ERROR_MADE, true);
      this.#error = (this.#error as () => unknown)();
    }
    return this.#error;
  }

  /** What a read returns once the queue is closed and empty. */
  private ended(iterate: boolean): Promise<never> | Promise<IteratorResult<Data>> {
    if (iterate && this.flag(NORMAL)) return Promise.resolve({ done: true, value: undefined });
    return rejected(this.closedError());
  }

  /** Settles the pending read: the queue just closed. */
  private end(): void {
    const resolve = this.#resolve!;
    this.clearRead();
    if (this.flag(ITERATE) && this.flag(NORMAL)) resolve({ done: true, value: undefined });
    else resolve(rejected(this.closedError()));
  }

  /**
   * Reads the next message fragment by fragment. The iterator takes the
   * reader's lock on its first `next()` and releases it after the last
   * fragment; leaving the loop early discards the rest of the message.
   */
  stream(decode?: boolean): AsyncIterableIterator<Data> {
    // 0: not started, 1: in the message, 2: done.
    let phase = 0;
    let textDecoder: InstanceType<typeof TextDecoder> | null = null;
    let asText = false;
    const finish = (): void => {
      phase = 2;
      this.setFlag(STREAMING, false);
    };
    const iterator: AsyncIterableIterator<Data> = {
      next: async (): Promise<IteratorResult<Data>> => {
        if (phase === 2) return { done: true, value: undefined };
        if (phase === 0) {
          if (this.#resolve !== null || this.flag(STREAMING)) {
            throw new ConcurrencyError(
              "cannot call recvStreaming while another call is already running recv or recvStreaming",
            );
          }
          this.setFlag(STREAMING, true);
          phase = 1;
        }
        let frame: Frame;
        try {
          frame = await this.nextFrame();
        } catch (error) {
          finish();
          throw error;
        }
        if (frame.opcode !== OP_CONT) {
          asText = decode ?? frame.opcode === OP_TEXT;
          if (asText) textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
        }
        if (frame.fin) finish();
        if (!asText) return { done: false, value: frame.data };
        try {
          return {
            done: false,
            value: textDecoder!.decode(frame.data, { stream: !frame.fin }),
          };
        } catch {
          // Only binary frames read with decode: true get here: the protocol
          // validated text frames already.
          if (!frame.fin) this.setFlag(SKIPPING, true);
          finish();
          this.#hooks[kInvalidUtf8]("invalid UTF-8 in a binary message read as text");
          return this.waitForClose();
        }
      },
      return: async (): Promise<IteratorResult<Data>> => {
        if (phase === 1) {
          // Abandoning a message half-way: drop its remaining fragments so
          // the next reader starts at the next message.
          this.skipQueuedRest();
          finish();
        } else {
          phase = 2;
        }
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * The connection is closing on our initiative: make sure the peer's close
   * frame can be read even if the application stopped reading.
   */
  drain(): void {
    this.setFlag(DRAINING, true);
    if (this.flag(PAUSED)) {
      this.setFlag(PAUSED, false);
      this.#hooks[kResume]();
    }
  }

  /**
   * No more frames will come. Readers waiting on an empty queue reject with
   * the error `makeError` returns (a `ConnectionClosed`), called at most
   * once and only if needed; frames already queued stay readable. `normal`
   * says whether that error is a `ConnectionClosedOK`: iteration then ends.
   */
  close(makeError: () => unknown, normal: boolean): void {
    if (this.flag(CLOSED)) return;
    this.setFlag(CLOSED, true);
    this.#error = makeError;
    this.setFlag(NORMAL, normal);
    if (this.#resolve !== null) this.end();
    const waiter = this.#streamWaiter;
    if (waiter !== null) {
      this.#streamWaiter = null;
      waiter.reject(this.closedError());
    }
  }

  /**
   * Removes and returns every queued frame, for a connection whose frames
   * go elsewhere from now on (see `Connection[kEventSink]`); reading
   * resumes if the queue had paused it.
   */
  takeAll(): Frame[] {
    const frames: Frame[] = [];
    for (let frame = this.shift(); frame !== undefined; frame = this.shift()) frames.push(frame);
    return frames;
  }

  private peek(): Frame | undefined {
    return this.#frames[this.#head];
  }

  private shift(): Frame | undefined {
    const frames = this.#frames;
    const frame = frames[this.#head];
    if (frame === undefined) return undefined;
    frames[this.#head] = undefined;
    this.#head += 1;
    if (this.#head === frames.length) {
      frames.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > frames.length) {
      this.#frames = frames.slice(this.#head);
      this.#head = 0;
    }
    if (this.flag(PAUSED) && this.#low !== null && this.length <= this.#low) {
      this.setFlag(PAUSED, false);
      this.#hooks[kResume]();
    }
    return frame;
  }

  /** Puts the fragments a read consumed back at the head of the queue, as one unfinished frame. */
  private putBack(fragments: Fragments | null): void {
    if (fragments === null) return;
    const frame = new Frame(fragments.text ? OP_TEXT : OP_BINARY, fragments.take(), false);
    this.#frames = [frame, ...this.#frames.slice(this.#head)];
    this.#head = 0;
  }

  /** Drops the queued fragments of the message being streamed, and later ones. */
  private skipQueuedRest(): void {
    let frame = this.peek();
    while (frame !== undefined && frame.opcode === OP_CONT) {
      this.shift();
      if (frame.fin) return;
      frame = this.peek();
    }
    // The end of the message hasn't arrived yet.
    this.setFlag(SKIPPING, true);
  }

  private nextFrame(): Promise<Frame> {
    const frame = this.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.flag(CLOSED)) return rejected(this.closedError());
    return new Promise<Frame>((resolve, reject) => {
      this.#streamWaiter = { resolve, reject };
    });
  }

  /** Adds a frame to the message the pending read assembles; completes it on fin. */
  private consume(frame: Frame): void {
    if (!frame.fin) {
      const read = this.readState();
      if (read.fragments === null) read.fragments = new Fragments(frame);
      else read.fragments.push(frame.data);
      return;
    }
    const resolve = this.#resolve!;
    const flags = this.#flags;
    const iterate = (flags & ITERATE) !== 0;
    const decode = (flags & DECODE_SET) === 0 ? undefined : (flags & DECODE_TEXT) !== 0;
    const fragments = this.#read === null ? null : this.#read.fragments;
    this.clearRead();
    let result: Data | null;
    if (fragments === null) {
      result = this.decodeOne(frame, decode);
    } else {
      fragments.push(frame.data);
      result = this.decodeData(fragments.take(), fragments.text, decode);
    }
    if (result !== null) {
      resolve(iterate ? { done: false, value: result } : result);
      return;
    }
    resolve(this.waitForClose());
  }

  private decodeOne(frame: Frame, decode: boolean | undefined): Data | null {
    return this.decodeData(frame.data, frame.opcode === OP_TEXT, decode);
  }

  /** Decodes a message; `null` when a binary message read as text isn't UTF-8. */
  private decodeData(data: Buffer, text: boolean, decode: boolean | undefined): Data | null {
    if (text) {
      // The protocol validated text messages (RFC 6455 §8.1), so decoding
      // can't meet invalid UTF-8 here. toString() without arguments is
      // UTF-8 straight away; naming the encoding costs a lookup per message.
      return decode === false ? data : data.toString();
    }
    if (decode !== true) return data;
    if (!isUtf8(data)) {
      this.#hooks[kInvalidUtf8]("invalid UTF-8 in a binary message read as text");
      return null;
    }
    return data.toString();
  }

  /** A read that ends only when the connection closes (then rejects). */
  private waitForClose(): Promise<never> {
    if (this.flag(CLOSED)) return rejected(this.closedError());
    return new Promise<never>((resolve) => {
      // Occupies the reader's slot: the connection is failing, and close()
      // rejects it.
      this.wait(resolve as Resolve, false, undefined);
      this.setFlag(DROPPING, true);
    });
  }
}

// Where `capture`, the executor of every pending read, leaves the settle
// functions of the promise it was given; taken at once by the caller.
const captured: {
  resolve: Resolve | null;
  reject: ((error: unknown) => void) | null;
} = { resolve: null, reject: null };

function capture(resolve: Resolve, reject: (error: unknown) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

// Shared by every queue until close() gives it the real error builder.
function makeNoError(): unknown {
  return null;
}

/**
 * A copy of exactly the message's bytes: a received Buffer may be a view of
 * a larger, pooled one. @internal
 */
export function exactArrayBuffer(data: Data): Data | ArrayBuffer {
  if (typeof data === "string") return data;
  const copy = new ArrayBuffer(data.length);
  new Uint8Array(copy).set(data);
  return copy;
}

/**
 * Streams one message with `maxSize` as the protocol's message limit
 * instead of its own, from the first `next()` to the end of the message.
 *
 * @throws RangeError unless `maxSize` is a positive integer or `null`.
 * @internal
 */
export function streamWithLimit(
  protocol: Protocol,
  stream: AsyncIterableIterator<Data>,
  maxSize: number | null,
): AsyncIterableIterator<Data> {
  if (maxSize !== null && !(Number.isSafeInteger(maxSize) && maxSize > 0)) {
    throw new RangeError(`maxSize must be a positive integer or null; got ${String(maxSize)}`);
  }
  return withLimit(protocol, stream, maxSize);
}

async function* withLimit(
  protocol: Protocol,
  stream: AsyncIterableIterator<Data>,
  maxSize: number | null,
): AsyncIterableIterator<Data> {
  const previous = protocol.maxSize;
  protocol.maxSize = maxSize;
  try {
    yield* stream;
  } finally {
    protocol.maxSize = previous;
  }
}

/** `Connection.messages()`: the queue's messages, decoded as `decode` says. */
export async function* decodedMessages(
  queue: MessageQueue,
  decode: boolean | undefined,
): AsyncIterableIterator<Data> {
  while (true) {
    const result = await queue.nextDecoded(decode);
    if (result.done === true) return;
    yield result.value;
  }
}
