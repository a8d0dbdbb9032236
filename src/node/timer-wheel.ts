/**
 * Timers shared by connections: the open timeout, keepalive pings and
 * pongs (keepalive.ts) and the close timeout (closing.ts) wait on a
 * {@link TimerWheel} each rather than on a `Timeout` of their own.
 *
 * @module
 */

import type { Connection } from "./connection.ts";

/** Connections due at one instant of a {@link TimerWheel}, and its timer. */
export interface Slot {
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
