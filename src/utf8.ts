/**
 * Incremental UTF-8 validation, for text messages that arrive in pieces
 * (fragments, or a frame whose payload is still being received).
 *
 * Whole payloads are validated with `buffer.isUtf8`, which is native and fast.
 * A validator carries the trailing incomplete sequence (at most 3 bytes) from
 * one piece to the next, and rejects a piece as soon as it contains a byte
 * that can never be part of valid UTF-8 — including the prefix of a sequence
 * that no continuation could make valid (overlong, surrogate, > U+10FFFF).
 *
 * @module
 */

import { isUtf8 } from "node:buffer";

/**
 * Length of the sequence a lead byte starts, or 0 when the byte can never
 * start one (continuation bytes, C0/C1 overlong leads, F5..FF).
 */
function sequenceLength(byte: number): number {
  if (byte < 0x80) return 1;
  if (byte < 0xc2) return 0;
  if (byte < 0xe0) return 2;
  if (byte < 0xf0) return 3;
  if (byte < 0xf5) return 4;
  return 0;
}

/**
 * Whether `byte` may follow `lead` as the second byte of a sequence. RFC 3629
 * §4 narrows the range after E0 (overlong), ED (surrogates), F0 (overlong)
 * and F4 (beyond U+10FFFF).
 */
function validSecondByte(lead: number, byte: number): boolean {
  switch (lead) {
    case 0xe0:
      return byte >= 0xa0 && byte <= 0xbf;
    case 0xed:
      return byte >= 0x80 && byte <= 0x9f;
    case 0xf0:
      return byte >= 0x90 && byte <= 0xbf;
    case 0xf4:
      return byte >= 0x80 && byte <= 0x8f;
    default:
      return (byte & 0xc0) === 0x80;
  }
}

/**
 * Validates UTF-8 fed in arbitrary pieces.
 *
 * ```ts
 * const v = new Utf8Validator();
 * v.push(Buffer.from([0xce])); // true: may still become "κ"
 * v.push(Buffer.from([0xba])); // true
 * v.complete;                  // true: ends on a character boundary
 * ```
 */
export class Utf8Validator {
  /** Bytes of the incomplete sequence carried over; only the first `#pendingLength` matter. */
  readonly #pending = [0, 0, 0, 0];
  #pendingLength = 0;
  /** Length of the carried sequence once complete. */
  #expected = 0;

  /**
   * Feeds the next bytes. Returns `false` as soon as the bytes fed so far
   * cannot be the beginning of valid UTF-8; the validator must then be reset
   * before reuse.
   */
  push(data: Uint8Array): boolean {
    const end = data.length;
    let start = 0;
    if (this.#pendingLength > 0) {
      while (this.#pendingLength < this.#expected && start < end) {
        if (!this.#accepts(data[start])) return false;
        this.#pending[this.#pendingLength++] = data[start++];
      }
      if (this.#pendingLength < this.#expected) return true;
      // The carried sequence is now complete; its bytes were checked one by one.
      this.#pendingLength = 0;
    }
    if (start === end) return true;

    // Find a trailing sequence cut short by the end of this piece: its lead
    // byte is among the last 3 bytes.
    let tail = end;
    const stop = Math.max(start, end - 3);
    for (let i = end - 1; i >= stop; i--) {
      const byte = data[i];
      if ((byte & 0xc0) === 0x80) continue;
      if (sequenceLength(byte) > end - i) tail = i;
      break;
    }
    if (tail > start && !isUtf8(data.subarray(start, tail))) return false;
    if (tail < end) {
      const lead = data[tail];
      this.#pending[0] = lead;
      this.#pendingLength = 1;
      this.#expected = sequenceLength(lead);
      for (let i = tail + 1; i < end; i++) {
        if (!this.#accepts(data[i])) return false;
        this.#pending[this.#pendingLength++] = data[i];
      }
    }
    return true;
  }

  /** Whether the bytes fed so far end on a character boundary. */
  get complete(): boolean {
    return this.#pendingLength === 0;
  }

  /** Forgets any carried bytes, to validate a new text. */
  reset(): void {
    this.#pendingLength = 0;
    this.#expected = 0;
  }

  /** Whether `byte` may extend the carried incomplete sequence. */
  #accepts(byte: number): boolean {
    return this.#pendingLength === 1
      ? validSecondByte(this.#pending[0], byte)
      : (byte & 0xc0) === 0x80;
  }
}

/** Whether `data` is entirely valid UTF-8 (RFC 3629). */
export function isValidUtf8(data: Uint8Array): boolean {
  return isUtf8(data);
}
