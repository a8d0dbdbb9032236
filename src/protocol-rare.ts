/**
 * What a sans-I/O `Protocol` keeps only once it needs it: the closing
 * handshake, errors, the id, a fragmented message in progress, bytes held
 * while parsing is paused.
 *
 * @module
 */

import type { FragmentMerger } from "./fragment-run.ts";
import type { Close } from "./frames.ts";
import type { Utf8Validator } from "./utf8.ts";

/**
 * A connection's state that most connections need late or never: the
 * closing handshake, errors, the id, a fragmented message in progress. One
 * object created on first need rather than eight fields on each connection.
 */
export class RareState {
  id: string | null = null;
  closeRcvd: Close | null = null;
  closeSent: Close | null = null;
  closeRcvdThenSent: boolean | null = null;
  handshakeExc: Error | null = null;
  parserExc: Error | null = null;
  /** Size so far of the fragmented message being received, or null. */
  curSize: number | null = null;
  utf8Validator: Utf8Validator | null = null;
  /** Merges small fragments while mergeFragments is on (see fragment-run.ts). */
  merger: FragmentMerger | null = null;
  /** Bytes received while parsing is paused, in order, or null. */
  held: Buffer[] | null = null;
  /** Payload bytes extensions decoded in this batch (see `Protocol.boundDecoding`). */
  decoded = 0;

  /** Keeps bytes received while parsing is paused, after those kept before. */
  hold(data: Buffer): void {
    if (this.held === null) this.held = [data];
    else this.held.push(data);
  }
}
