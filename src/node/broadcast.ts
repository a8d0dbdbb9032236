/**
 * `broadcast()`: one message to many connections, framed once.
 *
 * @module
 */

import { ConcurrencyError } from "../errors.ts";
import type { Extension } from "../extensions/base.ts";
import { PerMessageDeflate } from "../extensions/permessage-deflate.ts";
import { type DataOpcode, Frame, OP_BINARY, OP_TEXT, writeFrame } from "../frames.ts";
import { logMessages } from "../logging.ts";
import { OPEN } from "../protocol.ts";
import type { Connection } from "./connection.ts";
import { describeType, toBuffer } from "./writer.ts";

/** Options of {@link broadcast}. */
export interface BroadcastOptions {
  /**
   * Throw an `AggregateError` gathering the failures, instead of logging
   * each at WARN and carrying on. The message is still written to every
   * connection that could take it. Default: false.
   */
  raiseExceptions?: boolean;
  /**
   * Skip connections with more than this many bytes waiting to be written
   * (`connection.bufferedAmount`): a slow client misses messages instead of
   * buffering them without limit; it gets the next ones once its buffer
   * drains below the limit. The counterpart of `server.publish`'s
   * `slowSubscriberLimit` with `slowSubscriber: "skip"`. Skipping isn't a
   * failure: nothing is logged or raised. Default: `null` (no limit).
   */
  slowConnectionLimit?: number | null;
}

/**
 * Sends a message to every OPEN connection in `connections`, at once,
 * without waiting for flow control: a string as text, bytes as binary.
 *
 * The frame is serialized once and the same bytes are written to every
 * server-side connection without extensions; it is compressed once for
 * the server-side connections that negotiated permessage-deflate with
 * `server_no_context_takeover` and the same window. Connections with
 * context takeover (or another extension) and client-side connections
 * (which mask each frame with a fresh key) get the message framed for them.
 *
 * Connections that aren't OPEN are skipped silently (their closing
 * handshake is in progress). Connections in the middle of sending a
 * fragmented message are skipped too: WARN `skipped broadcast: sending a
 * fragmented message`. A connection that fails to take the message is
 * skipped: WARN `skipped broadcast: failed to write message: <error>`.
 *
 * Since it doesn't wait, messages pile up in the write buffer of a slow
 * connection: keep `pingInterval` and `pingTimeout` low so that dead
 * connections are dropped.
 *
 * ```ts
 * broadcast(server.connections, JSON.stringify({ type: "tick", at: Date.now() }));
 * ```
 *
 * @throws TypeError when `message` isn't a string or bytes; an
 *   `AggregateError` of per-connection errors with `raiseExceptions`.
 */
export function broadcast(
  connections: Iterable<Connection>,
  message: string | ArrayBufferView | ArrayBuffer,
  options: BroadcastOptions = {},
): void {
  const raiseExceptions = options.raiseExceptions === true;
  const slowLimit = options.slowConnectionLimit ?? null;
  if (slowLimit !== null && !(slowLimit >= 0)) {
    throw new RangeError(`slowConnectionLimit must be a number >= 0; got ${String(slowLimit)}`);
  }
  const outgoing = OutgoingMessage.from(message, "broadcast()");
  const errors: Error[] = [];
  for (const connection of connections) {
    if (connection.state !== OPEN) continue;
    if (slowLimit !== null && connection.writer.buffered > slowLimit) continue;
    if (connection.writer.fragmented !== null) {
      if (raiseExceptions) {
        errors.push(
          new ConcurrencyError(`connection ${connection.id} is sending a fragmented message`),
        );
      } else {
        connection.logger.warn(logMessages.broadcastFragmented);
      }
      continue;
    }
    try {
      outgoing.writeTo(connection);
    } catch (error) {
      if (raiseExceptions) {
        errors.push(
          new Error(`failed to write message to connection ${connection.id}`, { cause: error }),
        );
      } else {
        connection.logger.warn(logMessages.broadcastFailed(error));
      }
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, "skipped broadcast");
}

// RFC 7692 §6: RSV1 marks a compressed message, in the first byte of its frame.
const RSV1 = 0x40;

/**
 * One message for many connections (`broadcast()`, topics): serialized on
 * first need, then the same bytes for every server-side connection
 * without extensions, and compressed once for every server-side
 * connection whose permessage-deflate has the same
 * {@link PerMessageDeflate.sharingKey} (no context takeover on our side,
 * same window and zlib settings); framed per connection for the others
 * (clients mask each frame; context takeover makes each compressor's
 * output its own; other extensions may hold state). @internal
 */
export class OutgoingMessage {
  readonly opcode: DataOpcode;
  readonly payload: Buffer;
  #frame: Buffer[] | null = null;
  // Compressed frames per sharing key; a publish usually sees one key.
  #compressed: Map<string, Buffer[]> | null = null;

  constructor(payload: Buffer, binary: boolean) {
    this.opcode = binary ? OP_BINARY : OP_TEXT;
    this.payload = payload;
  }

  /**
   * A string as text (UTF-8), bytes as binary, without copying them.
   *
   * @throws TypeError naming `caller` and the type otherwise.
   */
  static from(message: unknown, caller: string): OutgoingMessage {
    if (typeof message === "string")
      return new OutgoingMessage(Buffer.from(message, "utf8"), false);
    const bytes = toBuffer(message);
    if (bytes === null) {
      throw new TypeError(`${caller} expects a string or bytes; got ${describeType(message)}`);
    }
    return new OutgoingMessage(bytes, true);
  }

  get binary(): boolean {
    return this.opcode === OP_BINARY;
  }

  /**
   * Writes the message to an OPEN connection that isn't sending a
   * fragmented message, without waiting for flow control.
   *
   * @throws Error when the connection's transport is gone.
   */
  writeTo(connection: Connection): void {
    if (connection.writer.ended) {
      throw new Error("transport is closed: the connection is being torn down");
    }
    const { opcode, payload } = this;
    const protocol = connection.protocol;
    const shared = protocol.side === "server" ? this.#sharedFrame(protocol.extensions) : null;
    if (shared !== null) {
      // The protocol's state doesn't change for a whole data frame, nor
      // permessage-deflate's without context takeover: they needn't see
      // it. Logged uncompressed, as the protocol logs frames it sends.
      if (connection.debug) {
        connection.logger.debug(logMessages.frameSent(new Frame(opcode, payload, true)));
      }
      connection.writer.writeShared(shared);
    } else {
      if (opcode === OP_TEXT) protocol.sendText(payload);
      else protocol.sendBinary(payload);
      connection.sendData();
    }
    connection.countSent(payload.length);
  }

  /** The frame serialized once that fits a server-side connection with `extensions`, or null. */
  #sharedFrame(extensions: readonly Extension[]): Buffer[] | null {
    if (extensions.length === 0) {
      if (this.#frame === null) {
        this.#frame = [];
        writeFrame(this.#frame, this.opcode, this.payload, true, false);
      }
      return this.#frame;
    }
    const deflate = extensions.length === 1 ? extensions[0] : null;
    if (!(deflate instanceof PerMessageDeflate) || deflate.sharingKey === null) return null;
    this.#compressed ??= new Map();
    let frame = this.#compressed.get(deflate.sharingKey);
    if (frame === undefined) {
      frame = [];
      writeFrame(frame, this.opcode, deflate.compressMessage(this.payload), true, false, RSV1);
      this.#compressed.set(deflate.sharingKey, frame);
    }
    return frame;
  }
}
