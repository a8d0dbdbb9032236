/**
 * Small fragments of one message that arrive in the same batch of events,
 * merged into one frame as they are received.
 *
 * A peer may send a message as a million empty or 1-byte fragments, all
 * within `maxSize`. The parser makes a `Frame` (and a view or a copy of its
 * payload) for each, and the protocol keeps every event of a read until the
 * I/O layer collects them: tens of thousands of small objects alive at once
 * per 64 KiB read, which V8 answers by growing its young generation to the
 * maximum, tens of MiB of RSS the process keeps. Merged as they arrive, the
 * fragments of a read leave one frame and their bytes; the frames the parser
 * made die at once.
 *
 * RFC 6455 §5.4 lets an intermediary change the fragmentation of a message
 * when no extension gives fragments a meaning, and the receiver's extensions
 * decoded each frame before it gets here: its boundaries mean nothing any
 * more. Large fragments are left as they are: their objects are small next
 * to their bytes, and merging them would only cost a copy: from 128 bytes
 * on, a 64 KiB read holds at most a few hundred frames. So are the first
 * {@link KEEP_FRAGMENTS} small ones of a batch: a few frames cost nothing.
 *
 * @module
 */

import { EMPTY, Frame, OP_CONT } from "./frames.ts";
import type { Event } from "./protocol-types.ts";

/**
 * Small fragments a batch of events keeps as they are before merging starts:
 * ordinary traffic keeps its frames (`recvStreaming()` yields them, `ws`'s
 * `binaryType: "fragments"` lists them), a flood is merged.
 */
export const KEEP_FRAGMENTS = 16;

/** Payloads at most this large are merged with their neighbours. */
export const MERGE_AT_MOST = 128;

/** Largest payload a merged frame is given. */
export const RUN_CAPACITY = 16 * 1024;

/** First capacity of the buffer a run copies payloads into. */
const FIRST_CAPACITY = 256;

/**
 * Whether `next`, received right after `last` with no event in between, may
 * be merged into it: both small, `last` a data frame its message continues.
 */
export function canMerge(last: Frame, next: Frame): boolean {
  return (
    next.opcode === OP_CONT &&
    !last.fin &&
    last.opcode <= 0x2 &&
    last.data.length <= MERGE_AT_MOST &&
    next.data.length <= MERGE_AT_MOST
  );
}

/**
 * A frame that fragments after it are being merged into. The frame is
 * updated by {@link FragmentRun.finish}, once no more can be merged.
 */
export class FragmentRun {
  /** The frame the run started with, which becomes the merged frame. */
  readonly frame: Frame;
  // The payloads so far, in bytes[0..length]; EMPTY until one has bytes.
  #bytes: Buffer = EMPTY;
  #length = 0;
  #fin = false;

  /** Starts a run: `next` merged into `first` (check {@link canMerge} first). */
  constructor(first: Frame, next: Frame) {
    this.frame = first;
    this.#append(first.data);
    this.#append(next.data);
    this.#fin = next.fin;
  }

  /**
   * Merges `next`, the next fragment of the message, if it is small and the
   * run has room; returns whether it did.
   */
  add(next: Frame): boolean {
    const size = next.data.length;
    if (this.#fin || size > MERGE_AT_MOST || this.#length + size > RUN_CAPACITY) return false;
    this.#append(next.data);
    this.#fin = next.fin;
    return true;
  }

  /** Gives the frame its merged payload and `fin`. Call once, when the run ends. */
  finish(): void {
    const frame = this.frame;
    frame.data = this.#length === 0 ? EMPTY : this.#bytes.subarray(0, this.#length);
    frame.fin = this.#fin;
  }

  #append(data: Buffer): void {
    const size = data.length;
    if (size === 0) return;
    const needed = this.#length + size;
    if (needed > this.#bytes.length) {
      // Room for a few more of the same at once: a run rarely stops at two.
      let capacity = Math.max(FIRST_CAPACITY, this.#bytes.length * 2);
      while (capacity < 4 * needed && capacity < RUN_CAPACITY) capacity *= 2;
      const bytes = Buffer.allocUnsafe(capacity);
      // The whole old buffer: cheaper than making a view of its used part.
      bytes.set(this.#bytes);
      this.#bytes = bytes;
    }
    // set(), not copy(): for a few bytes, a call into C++ costs more than the copy.
    this.#bytes.set(data, this.#length);
    this.#length = needed;
  }
}

/**
 * Merges small fragments into the last event of a protocol's batch of
 * events: what `Protocol` keeps while `mergeFragments` is on.
 */
export class FragmentMerger {
  // The run being merged into, always the batch's last event; or null.
  #run: FragmentRun | null = null;
  // Small fragments that could have been merged in this batch.
  #small = 0;

  /**
   * Merges `frame`, a continuation about to be pushed to `events`, into the
   * last of them if it may; returns whether it did.
   */
  merge(events: readonly Event[], frame: Frame): boolean {
    const run = this.#run;
    if (run !== null) return run.add(frame);
    const last = events[events.length - 1];
    if (!(last instanceof Frame) || !canMerge(last, frame)) return false;
    if (this.#small++ < KEEP_FRAGMENTS) return false;
    this.#run = new FragmentRun(last, frame);
    return true;
  }

  /** Another event is pushed: the run, if any, ends and its frame gets its payload. */
  endRun(): void {
    if (this.#run === null) return;
    this.#run.finish();
    this.#run = null;
  }

  /** The events are collected: the next batch keeps its first small fragments again. */
  endBatch(): void {
    this.endRun();
    this.#small = 0;
  }
}
