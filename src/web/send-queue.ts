/**
 * The send side of a `WebSocket`: messages go out in the order of `send()`
 * even when a Blob must be read first (WHATWG WebSockets §3.3), and
 * `bufferedAmount` counts their bytes until they are written.
 *
 * @module
 */

/** A message ready to go out: text or (copied) bytes. */
export type Outgoing = string | Buffer;

/** How the queue reaches the connection. */
export interface SendTarget {
  /** Sends a message; resolves once its bytes are written to the transport. */
  send(data: Outgoing): Promise<void>;
  /** Whether the transport is still open, i.e. a resolved send was written rather than dropped. */
  transportOpen(): boolean;
  /** A Blob couldn't be read: the connection must fail. */
  fail(error: unknown): void;
}

const noop = (): void => {};

/** Ordered sending with the byte count `bufferedAmount` reports. */
export class SendQueue {
  readonly #target: SendTarget;
  // Bytes given to send() and not yet written.
  #buffered = 0;
  // Bytes written since bufferedAmount was last updated: applied in a task,
  // as the Standard updates it "as of the last time the event loop reached
  // step 1", never in the middle of a script.
  #written = 0;
  #applyScheduled = false;
  // The last step waiting behind a Blob being read, or null when nothing waits.
  #tail: Promise<void> | null = null;

  constructor(target: SendTarget) {
    this.#target = target;
  }

  /** `bufferedAmount`. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Counts bytes that will never be sent: `send()` after the closing handshake started. */
  count(size: number): void {
    this.#buffered += size;
  }

  /** Sends `data` after every earlier message; `size` is counted now. */
  push(data: Outgoing | Blob, size: number): void {
    this.#buffered += size;
    if (this.#tail === null && !(data instanceof Blob)) {
      this.#transmit(data, size);
      return;
    }
    // Reading starts now, in parallel with the Blobs before it; sending waits its turn.
    const bytes = data instanceof Blob ? data.arrayBuffer() : data;
    if (bytes instanceof Promise) bytes.catch(noop);
    this.#then(async () => {
      let ready: Outgoing;
      try {
        const value = await bytes;
        ready = typeof value === "string" || Buffer.isBuffer(value) ? value : Buffer.from(value);
      } catch (error) {
        this.#target.fail(error);
        return;
      }
      this.#transmit(ready, size);
    });
  }

  /** Runs `step` (the closing handshake) after every message sent before it. */
  after(step: () => void): void {
    if (this.#tail === null) step();
    else this.#then(async () => step());
  }

  #then(step: () => Promise<void>): void {
    const next = (this.#tail ?? Promise.resolve()).then(step);
    this.#tail = next;
    next.then(() => {
      if (this.#tail === next) this.#tail = null;
    }, noop);
  }

  #transmit(data: Outgoing, size: number): void {
    this.#target.send(data).then(() => {
      // Resolved because the transport closed with bytes unwritten: they
      // stay counted, as the Standard's bufferedAmount never shrinks after close.
      if (!this.#target.transportOpen()) return;
      this.#written += size;
      if (!this.#applyScheduled) {
        this.#applyScheduled = true;
        setImmediate(() => {
          this.#applyScheduled = false;
          this.#buffered -= this.#written;
          this.#written = 0;
        });
      }
    }, noop);
  }
}
