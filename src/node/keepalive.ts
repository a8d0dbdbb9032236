/**
 * Keepalive: the pings a connection sends on its own, the pongs it waits
 * for, and the round-trip time they measure; also the pings `ping()` sends,
 * since one pong may acknowledge both kinds (RFC 6455 §5.5.3), and the
 * server's open timeout, which shares the timers.
 *
 * One story per connection, told by {@link Keepalive}: wait `pingInterval`,
 * ping, wait at most `pingTimeout` for the pong (else fail with 1011), wait
 * the rest of the interval, ping again. Its timers are shared by the
 * connections due at about the same time (`TimerWheel`, timer-wheel.ts).
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { ConcurrencyError } from "../errors.ts";
import { CLOSE_INTERNAL_ERROR } from "../frames.ts";
import { logMessages } from "../logging.ts";
import { OPEN } from "../protocol.ts";
import type { Connection } from "./connection.ts";
import { warnUnreadAfterLoop } from "./mistakes.ts";
import type { Sendable } from "./options.ts";
import { noop, rejected } from "./promises.ts";
import { type Slot, TimerWheel } from "./timer-wheel.ts";
import { controlPayload } from "./writer.ts";

/** A ping awaiting its pong. */
interface PingWaiter {
  /** The payload, as a latin1 string. */
  key: string;
  sentAt: number;
  /** `null` for keepalive pings. */
  resolve: ((latency: number) => void) | null;
  reject: ((error: unknown) => void) | null;
}

const keepaliveWheel = new TimerWheel((connection) => connection.keepalive!.pingNow(connection));
const pongWheel = new TimerWheel((connection) => connection.keepalive!.pongTimedOut(connection));
const openWheel = new TimerWheel((connection) => connection.keepalive!.openTimedOut(connection));

/**
 * The keepalive of one connection, created when first needed: by the open
 * timeout, by keepalive once the connection opens, or by `ping()`. A
 * connection without any pays nothing. Its methods take the connection
 * rather than keeping a reference to it: 8 bytes less per connection.
 *
 * @internal
 */
export class Keepalive {
  // The one timer this connection waits for: the open timeout, the next
  // keepalive ping, or the pong of the last one. They never overlap; the
  // slot's wheel tells which it is.
  #slot: Slot | null = null;
  // Keepalive and user pings awaiting their pong, in the order they were
  // sent; `null` rather than an empty array between pings.
  #pings: PingWaiter[] | null = null;
  /** Round-trip time of the last ping answered, in ms; 0 before the first. */
  latency = 0;

  // --- The open timeout ------------------------------------------------------

  /** Calls `connection.openTimedOut()` if the handshake isn't over in `delay` ms (or a grain later). */
  startOpenTimer(connection: Connection, delay: number): void {
    if (this.#slot !== null || connection.isClosed) return;
    this.#slot = openWheel.add(connection, delay);
  }

  /** Cancels {@link startOpenTimer}. */
  stopOpenTimer(connection: Connection): void {
    if (this.#slot !== null && this.#slot.wheel === openWheel) this.cancel(connection);
  }

  /** @internal Called by the open wheel. */
  openTimedOut(connection: Connection): void {
    this.#slot = null;
    connection.openTimedOut();
  }

  // --- Keepalive pings -------------------------------------------------------

  /** Sends the next keepalive ping in `delay` ms (or a grain later); `null` disables it. */
  schedule(connection: Connection, delay: number | null): void {
    if (delay === null || this.#slot !== null || connection.isClosed) return;
    this.#slot = keepaliveWheel.add(connection, Math.max(0, delay));
  }

  /** @internal Called by the keepalive wheel: the interval elapsed. */
  pingNow(connection: Connection): void {
    this.#slot = null;
    const protocol = connection.protocol;
    if (protocol.state !== OPEN) return;
    const payload = this.uniquePayload();
    try {
      protocol.sendPing(payload);
    } catch (error) {
      connection.logger.error({ err: error }, logMessages.keepaliveFailed);
      return;
    }
    this.track(payload.toString("latin1"), null, null);
    connection.sendData();
    if (connection.debug) connection.logger.debug(logMessages.keepalivePingSent);
    const { pingTimeout, pingInterval } = connection.settings;
    if (pingTimeout !== null) this.#slot = pongWheel.add(connection, pingTimeout);
    else this.schedule(connection, pingInterval);
  }

  /** @internal Called by the pong wheel: the pong didn't come in time. */
  pongTimedOut(connection: Connection): void {
    this.#slot = null;
    if (connection.protocol.state !== OPEN) return;
    if (connection.debug) connection.logger.debug(logMessages.keepaliveTimeout);
    // The pong may be among messages nobody reads since a loop was left.
    if (connection.queue.paused) warnUnreadAfterLoop(connection);
    connection.failWith(CLOSE_INTERNAL_ERROR, "keepalive ping timeout");
  }

  private keepalivePong(connection: Connection, latency: number): void {
    if (connection.debug) connection.logger.debug(logMessages.keepalivePongReceived);
    if (this.#slot === null || this.#slot.wheel !== pongWheel) return;
    this.cancel(connection);
    // Pings are sent every pingInterval, measured from ping to ping.
    this.schedule(connection, connection.settings.pingInterval! - latency);
  }

  // --- The ping registry -----------------------------------------------------

  // Helpers are TypeScript-private, not #private: a class with #private
  // methods gives each instance a brand, 8 bytes (docs/decisions.md).

  /** `Connection.ping()`: sends a ping; resolves to its round-trip time. */
  ping(connection: Connection, data: Sendable | undefined): Promise<number> {
    const payload = data === undefined ? this.uniquePayload() : controlPayload(data, "ping");
    if (payload instanceof TypeError) return rejected(payload);
    if (connection.protocol.state !== OPEN) return connection.notOpen();
    const key = payload.toString("latin1");
    if (this.find(key) !== -1) {
      return rejected(
        new ConcurrencyError(
          `already waiting for a pong with the same data: ${payload.toString("hex")}`,
        ),
      );
    }
    try {
      connection.protocol.sendPing(payload);
    } catch (error) {
      return rejected(error);
    }
    const promise = new Promise<number>((resolve, reject) => {
      this.track(key, resolve, reject);
    });
    promise.catch(noop);
    connection.sendData();
    return promise;
  }

  /** 4 random bytes no ping awaiting its pong uses. */
  uniquePayload(): Buffer {
    for (;;) {
      const payload = randomBytes(4);
      if (this.find(payload.toString("latin1")) === -1) return payload;
    }
  }

  private track(key: string, resolve: PingWaiter["resolve"], reject: PingWaiter["reject"]): void {
    this.#pings ??= [];
    this.#pings.push({ key, sentAt: performance.now(), resolve, reject });
  }

  private find(key: string): number {
    const pings = this.#pings;
    if (pings === null) return -1;
    for (let i = 0; i < pings.length; i++) if (pings[i].key === key) return i;
    return -1;
  }

  /** A pong arrived: settles the pings it acknowledges. */
  pongReceived(connection: Connection, data: Buffer): void {
    const pings = this.#pings;
    if (pings === null || pings.length === 0) return;
    // Unsolicited pongs are allowed (RFC 6455 §5.5.3) and ignored.
    const index = this.find(data.toString("latin1"));
    if (index === -1) return;
    const now = performance.now();
    // RFC 6455 §5.5.3: a pong may answer only the latest ping; it
    // acknowledges all earlier ones too.
    const acknowledged = pings.splice(0, index + 1);
    if (pings.length === 0) this.#pings = null;
    this.latency = now - acknowledged[index].sentAt;
    for (const waiter of acknowledged) {
      const latency = now - waiter.sentAt;
      if (waiter.resolve === null) this.keepalivePong(connection, latency);
      else waiter.resolve(latency);
    }
  }

  /** The connection closed: no more timers; pings awaiting a pong fail with `error()`. */
  stop(connection: Connection, error: () => unknown): void {
    if (this.#slot !== null) this.cancel(connection);
    const pings = this.#pings;
    if (pings === null || pings.length === 0) return;
    this.#pings = null;
    const reason = error();
    for (const waiter of pings) waiter.reject?.(reason);
  }

  private cancel(connection: Connection): void {
    TimerWheel.remove(this.#slot!, connection);
    this.#slot = null;
  }
}
