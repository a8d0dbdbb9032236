/**
 * Keepalive: the pings a connection sends on its own, the pongs it waits
 * for, and the round-trip time they measure; also the pings `ping()` sends,
 * since one pong may acknowledge both kinds (RFC 6455 §5.5.3), and the
 * server's open timeout, which shares the timers.
 *
 * One story per connection, told by {@link Keepalive}: wait `pingInterval`,
 * ping, wait at most `pingTimeout` for the pong (else fail with 1011), wait
 * the rest of the interval, ping again. Its timers are shared by the
 * connections due at about the same time ({@link TimerWheel}).
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
import { controlPayload } from "./writer.ts";

/** Connections due at one instant of a {@link TimerWheel}, and its timer. */
interface Slot {
  readonly at: number;
  readonly connections: Set<Connection>;
  timer: NodeJS.Timeout | null;
  readonly wheel: TimerWheel;
}

/**
 * Timers shared by connections: rather than a Timeout per connection (about
 * 150 bytes each, for 10,000 idle connections that mostly wait), deadlines
 * are rounded up to a grain of at most 1/16 of the delay (a power of two, at
 * most 1,024 ms) and connections due in the same grain share one timer.
 * Timers stay ref'ed, so a connection waiting for keepalive keeps the process
 * alive as its own timer did.
 */
export class TimerWheel {
  readonly #slots = new Map<number, Slot>();
  readonly #fire: (connection: Connection) => void;

  constructor(fire: (connection: Connection) => void) {
    this.#fire = fire;
  }

  /** Calls `fire(connection)` in `delay` ms, or up to a grain later. */
  add(connection: Connection, delay: number): Slot {
    const grain = grainOf(delay);
    const now = performance.now();
    const at = Math.ceil((now + delay) / grain) * grain;
    let slot = this.#slots.get(at);
    if (slot === undefined) {
      slot = { at, connections: new Set(), timer: null, wheel: this };
      slot.timer = setTimeout(TimerWheel.#expire, at - now, this, slot);
      this.#slots.set(at, slot);
    }
    slot.connections.add(connection);
    return slot;
  }

  /** Cancels what `add()` scheduled, on whichever wheel. */
  static remove(slot: Slot, connection: Connection): void {
    const connections = slot.connections;
    connections.delete(connection);
    if (connections.size === 0 && slot.timer !== null) {
      clearTimeout(slot.timer);
      slot.timer = null;
      slot.wheel.#slots.delete(slot.at);
    }
  }

  /** How many instants have a timer: for tests. */
  get size(): number {
    return this.#slots.size;
  }

  static #expire(wheel: TimerWheel, slot: Slot): void {
    slot.timer = null;
    wheel.#slots.delete(slot.at);
    // Connections removed while we iterate (one closing another) are skipped.
    let failure: { error: unknown } | null = null;
    for (const connection of slot.connections) {
      try {
        wheel.#fire(connection);
      } catch (error) {
        // The others are still due; the first error surfaces afterwards, as
        // it would have from a timer of its own.
        failure ??= { error };
      }
    }
    slot.connections.clear();
    if (failure !== null) throw failure.error;
  }
}

/** Rounding of a {@link TimerWheel} deadline: a power of two <= delay / 16, at most 1,024 ms. */
export function grainOf(delay: number): number {
  let grain = 1;
  while (grain < 1024 && grain * 32 <= delay) grain *= 2;
  return grain;
}

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
