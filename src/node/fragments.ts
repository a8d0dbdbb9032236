/**
 * The fragments of a message received so far (RFC 6455 §5.4), held in
 * memory proportional to their bytes, not to their number.
 *
 * `maxSize` bounds the bytes of a message, not its frames: a peer may send
 * a message as a million empty or 1-byte fragments. Keeping each fragment's
 * frame until the last one arrives costs a Frame and a Buffer object per
 * fragment, and a view pins the whole socket chunk it was cut from: about
 * 200 bytes for each byte of the message. So small fragments are copied into
 * blocks, empty ones are dropped, and only large ones are kept as they are.
 *
 * Internal to the Node I/O layer (see `messages.ts`).
 *
 * @module
 */

import { EMPTY, type Frame, OP_TEXT } from "../frames.ts";

/**
 * Fragments at least this large are kept as they are: the object that holds
 * one is small next to its bytes, and the chunk it may be a view of (64 KiB
 * at most for a socket) at most 4 times its size.
 */
const KEEP_AT_LEAST = 16 * 1024;

/** Capacity of a block that collects smaller fragments. */
const BLOCK_SIZE = 16 * 1024;

/** The fragments of one message, in order, read back as one Buffer. */
export class Fragments {
  /** Whether the message is text (its first frame is TEXT). */
  readonly text: boolean;
  /** Bytes held. */
  size = 0;
  // Completed pieces, in order: kept fragments and full blocks.
  readonly #pieces: Buffer[] = [];
  // The block being filled with small fragments, and how much of it is.
  #block: Buffer | null = null;
  #blockLength = 0;

  /** @param first - The first frame of the message (TEXT or BINARY). */
  constructor(first: Frame) {
    this.text = first.opcode === OP_TEXT;
    this.push(first.data);
  }

  /** Adds the payload of the next fragment. */
  push(data: Buffer): void {
    const length = data.length;
    if (length === 0) return;
    this.size += length;
    if (length >= KEEP_AT_LEAST) {
      this.#closeBlock();
      this.#pieces.push(data);
      return;
    }
    let block = this.#block;
    let offset = 0;
    while (offset < length) {
      if (block === null || this.#blockLength === block.length) {
        this.#closeBlock();
        // allocUnsafeSlow: a block of its own, not a slice of Node's shared pool.
        block = Buffer.allocUnsafeSlow(BLOCK_SIZE);
        this.#block = block;
      }
      const copied = data.copy(block, this.#blockLength, offset);
      this.#blockLength += copied;
      offset += copied;
    }
  }

  /** The message: every fragment's bytes, in one Buffer. */
  take(): Buffer {
    this.#closeBlock();
    const pieces = this.#pieces;
    if (pieces.length === 0) return EMPTY;
    if (pieces.length === 1) return pieces[0];
    return Buffer.concat(pieces, this.size);
  }

  /** Moves the block being filled, if any, to the pieces. */
  #closeBlock(): void {
    const block = this.#block;
    if (block === null) return;
    this.#block = null;
    if (this.#blockLength > 0) this.#pieces.push(block.subarray(0, this.#blockLength));
    this.#blockLength = 0;
  }
}
