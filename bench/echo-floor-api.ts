/**
 * `floor-async` and `floor-events` of the echo bench: the floor
 * (bench/echo-floor.ts: its handshake and its parsing, shared) with each
 * message handed to an application through the least that our two APIs
 * promise, so that ours − floor-async and compat − floor-events are what
 * our library adds beyond its API's contract, and floor-async − floor
 * what the contract itself costs on Node. Measuring tools, not products.
 *
 * - `floor-async`: the application is `for await (const m of conn) await
 *   conn.send(m)`, as ours' echo is. Each message is a fresh `Buffer`
 *   (binary) or string (text: validated with `isUtf8`, then `toString()`,
 *   as ours decodes), given by the smallest correct async iterator: a queue
 *   and one waiting `next()`, a promise per `next()`; `send()` frames the
 *   reply and returns a promise (rejected once the connection is closed).
 * - `floor-events`: an `EventEmitter` per connection emits `'message'` with
 *   a fresh `Buffer` and `isBinary` (text validated, not decoded), and the
 *   listener calls a synchronous `send(data, { binary })`, as `ws`'s echo
 *   does on compat.
 *
 * Both frame replies into a slab and send all the frames of a turn by one
 * `socket.write()` from a `process.nextTick()`, as ours coalesces its
 * writes; a payload is copied into its frame whatever its size. Pings are
 * answered in the same slab; a close is answered at once, the replies
 * framed so far before it. No back-pressure: the generator bounds what is
 * in flight.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { copyMasked } from "../src/masking.ts";
import { type FrameSink, serveFrames } from "./echo-floor.ts";

const SLAB = 64 * 1024;

/** Frames replies into a slab; the frames of one turn leave by one write. */
class FrameWriter {
  readonly #socket: Socket;
  #slab = Buffer.allocUnsafe(SLAB);
  // The frames not yet written are #slab[#start, #end).
  #start = 0;
  #end = 0;
  #scheduled = false;
  closed = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#write();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.once("close", () => {
      this.closed = true;
    });
  }

  /** A data frame of `data`: text for a string, else as `binary` says. */
  send(data: Buffer | string, binary: boolean): void {
    if (typeof data === "string") {
      const length = Buffer.byteLength(data);
      const start = this.#header(0x81, length);
      this.#slab.write(data, start);
    } else {
      const start = this.#header(binary ? 0x82 : 0x81, data.length);
      this.#slab.set(data, start);
    }
  }

  /** A pong of the masked payload of a ping. */
  pong(data: Buffer, payload: number, mask: number, length: number): void {
    const start = this.#header(0x8a, length);
    copyMasked(data, payload, this.#slab, start, length, data, mask, 0);
  }

  /** The frames so far and a close frame with `code`, then the end of the connection. */
  close(code: number): void {
    const start = this.#header(0x88, 2);
    this.closed = true;
    this.#slab.writeUInt16BE(code, start);
    this.#socket.end(this.#slab.subarray(this.#start, this.#end));
    this.#start = this.#end;
  }

  /** Reserves a frame of `length` payload bytes and writes its header; returns where its payload goes. */
  #header(b0: number, length: number): number {
    const h = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
    if (this.#end + h + length > this.#slab.length) {
      this.#write();
      this.#slab = Buffer.allocUnsafe(Math.max(SLAB, h + length));
      this.#start = 0;
      this.#end = 0;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flush);
    }
    const slab = this.#slab;
    const at = this.#end;
    slab[at] = b0;
    if (h === 2) {
      slab[at + 1] = length;
    } else if (h === 4) {
      slab[at + 1] = 126;
      slab.writeUInt16BE(length, at + 2);
    } else {
      slab[at + 1] = 127;
      slab.writeUInt32BE(0, at + 2);
      slab.writeUInt32BE(length, at + 6);
    }
    this.#end = at + h + length;
    return at + h;
  }

  #write(): void {
    if (this.#end > this.#start && !this.closed) {
      this.#socket.write(this.#slab.subarray(this.#start, this.#end));
    }
    this.#start = this.#end;
  }
}

/** A message's payload, unmasked into a fresh `Buffer`. */
function unmasked(data: Buffer, payload: number, mask: number, length: number): Buffer {
  const message = Buffer.allocUnsafe(length);
  copyMasked(data, payload, message, 0, length, data, mask, 0);
  return message;
}

const DONE: IteratorResult<Buffer | string> = { value: undefined, done: true };

/** A connection of `floor-async`: an async iterator of messages, and `send()`. */
class AsyncConnection implements FrameSink, AsyncIterableIterator<Buffer | string> {
  readonly #writer: FrameWriter;
  // Messages not yet taken are #queue[#head...].
  #queue: (Buffer | string)[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<Buffer | string>) => void) | null = null;
  #done = false;

  constructor(socket: Socket) {
    this.#writer = new FrameWriter(socket);
    socket.once("close", () => this.#finish());
  }

  send(data: Buffer | string): Promise<void> {
    if (this.#writer.closed) return Promise.reject(new Error("connection closed"));
    this.#writer.send(data, true);
    return Promise.resolve();
  }

  next(): Promise<IteratorResult<Buffer | string>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head++];
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  begin(): void {}

  message(data: Buffer, payload: number, mask: number, length: number, binary: boolean): boolean {
    const bytes = unmasked(data, payload, mask, length);
    let value: Buffer | string = bytes;
    if (!binary) {
      if (!isUtf8(bytes)) return false;
      value = bytes.toString();
    }
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting({ value, done: false });
    } else {
      this.#queue.push(value);
    }
    return true;
  }

  ping(data: Buffer, payload: number, mask: number, length: number): void {
    this.#writer.pong(data, payload, mask, length);
  }

  end(): void {}

  close(code: number): void {
    this.#writer.close(code);
    this.#finish();
  }

  #finish(): void {
    this.#done = true;
    const waiting = this.#waiting;
    if (waiting !== null && this.#head === this.#queue.length) {
      this.#waiting = null;
      waiting(DONE);
    }
  }
}

/** A connection of `floor-events`: `'message'` events and a synchronous `send()`. */
class EventConnection extends EventEmitter implements FrameSink {
  readonly #writer: FrameWriter;

  constructor(socket: Socket) {
    super();
    this.#writer = new FrameWriter(socket);
  }

  send(data: Buffer | string, options: { binary: boolean }): void {
    if (!this.#writer.closed) this.#writer.send(data, options.binary);
  }

  begin(): void {}

  message(data: Buffer, payload: number, mask: number, length: number, binary: boolean): boolean {
    const bytes = unmasked(data, payload, mask, length);
    if (!binary && !isUtf8(bytes)) return false;
    this.emit("message", bytes, binary);
    return true;
  }

  ping(data: Buffer, payload: number, mask: number, length: number): void {
    this.#writer.pong(data, payload, mask, length);
  }

  end(): void {}

  close(code: number): void {
    this.#writer.close(code);
  }
}

async function echo(connection: AsyncConnection): Promise<void> {
  try {
    for await (const message of connection) await connection.send(message);
  } catch {
    // send() after the connection closed: the echo ends there.
  }
}

/** `floor-async`: the floor, each message given to `for await (...) await send(...)`. */
export function floorAsync(socket: Socket, sockets: Set<Socket>): void {
  serveFrames(socket, sockets, (s) => {
    const connection = new AsyncConnection(s);
    void echo(connection);
    return connection;
  });
}

/** `floor-events`: the floor, each message emitted to a listener that sends it back. */
export function floorEvents(socket: Socket, sockets: Set<Socket>): void {
  serveFrames(socket, sockets, (s) => {
    const connection = new EventConnection(s);
    connection.on("message", (data: Buffer, isBinary: boolean) =>
      connection.send(data, { binary: isBinary }),
    );
    return connection;
  });
}
