/**
 * The seam with event-driven APIs (`websockets-ts/ws`): an {@link EventSink}
 * gets the frames a connection receives as they are parsed, instead of its
 * message queue, and {@link sendFrame} sends frames one at a time.
 *
 * @module
 */

import {
  type DataOpcode,
  Frame,
  OP_BINARY,
  type OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "../frames.ts";
import type { Connection } from "./connection.ts";

/**
 * Internal: where an event-driven API (`websockets-ts/ws`) gets the frames
 * a connection receives, as they are parsed. @internal
 */
export interface EventSink {
  /** A TEXT, BINARY or CONT frame, decoded by extensions. */
  data(frame: Frame): void;
  /**
   * A whole message, outside any fragmented one: what `data()` gets as one
   * frame with FIN set, without the frame. Without it, `data()` gets the frame.
   */
  message?(data: Buffer, binary: boolean): void;
  /** The payload of a ping (answered already). */
  ping(payload: Buffer): void;
  /** The payload of a pong. */
  pong(payload: Buffer): void;
  /**
   * The transport closed: the connection's close frames and failure tell
   * how. No `ConnectionClosed` is built for the sink: it captures a stack,
   * a cost per connection the sink rarely needs.
   */
  closed(): void;
}

/** Internal: installs an {@link EventSink}. @internal */
export const kEventSink: unique symbol = Symbol("websockets-ts.eventSink");

/**
 * The sinks of the few connections that have one: a field would cost every
 * connection 8 bytes (docs/performance.md, "Memory layout"). @internal
 */
export const sinks = new WeakMap<Connection, EventSink>();

// A sink's listener threw during a read, in sinkMessage(): the error is
// thrown once the read is processed, where the connection's loop over the
// read's frames would throw it. One read is processed at a time.
let failure: { connection: Connection; error: unknown } | null = null;

/**
 * Gives a whole message, parsed without a `Frame`, to the connection's sink
 * (`message()`, else `data()` with a frame). After a listener threw, the
 * rest of the read is lost, as it is for frames. @internal
 */
export function sinkMessage(connection: Connection, opcode: DataOpcode, data: Buffer): void {
  if (failure !== null && failure.connection === connection) return;
  try {
    const sink = sinks.get(connection)!;
    if (sink.message !== undefined) sink.message(data, opcode === OP_BINARY);
    else sink.data(new Frame(opcode, data, true));
  } catch (error) {
    failure = { connection, error };
  }
}

/** Gives a frame received to the connection's sink: data, a ping or a pong. @internal */
export function sinkFrame(connection: Connection, frame: Frame): void {
  const sink = sinks.get(connection)!;
  if (frame.opcode === OP_PING) sink.ping(frame.data);
  else if (frame.opcode === OP_PONG) sink.pong(frame.data);
  else sink.data(frame);
}

/** Throws what a listener threw in {@link sinkMessage} during this read, once it is processed. @internal */
export function throwSinkFailure(connection: Connection): void {
  const failed = failure;
  if (failed === null || failed.connection !== connection) return;
  failure = null;
  throw failed.error;
}

/** The opcodes {@link sendFrame} sends. @internal */
export type SinkOpcode =
  | typeof OP_TEXT
  | typeof OP_BINARY
  | typeof OP_CONT
  | typeof OP_PING
  | typeof OP_PONG;

/**
 * Sends one frame as given: a ping awaiting no pong, a pong, or a data
 * frame of a message the caller fragments itself (`OP_TEXT`/`OP_BINARY`
 * first, then `OP_CONT`). No flow control: the writer's buffered bytes
 * tell. @internal
 */
export function sendFrame(
  connection: Connection,
  opcode: SinkOpcode,
  payload: Buffer,
  fin: boolean,
): void {
  const protocol = connection.protocol;
  if (opcode === OP_PING) protocol.sendPing(payload);
  else if (opcode === OP_PONG) protocol.sendPong(payload);
  else {
    if (opcode === OP_TEXT) protocol.sendText(payload, fin);
    else if (opcode === OP_BINARY) protocol.sendBinary(payload, fin);
    else protocol.sendContinuation(payload, fin);
    connection.countSent(payload.length, fin ? 1 : 0);
  }
  connection.sendData();
}
