/**
 * Memory of idle connections: permessage-deflate keeps its zlib streams
 * after a message (about 155 KiB per connection with the defaults) so that
 * the next messages go faster. A connection without messages for
 * {@link IDLE_RELEASE_DELAY} lets its extensions free what they can
 * rebuild (`Extension.release`), whatever keepalive does — with
 * `pingInterval: null` too. permessage-deflate then keeps only its windows,
 * replayed as a preset dictionary when the next message comes.
 *
 * One shared sweep, not a timer per connection: every
 * {@link IDLE_RELEASE_DELAY}, the connections whose message count didn't
 * change since the previous sweep are released. So memory is released
 * between one and two delays after the last message.
 *
 * @module
 */

import type { Extension } from "../extensions/base.ts";

/** Time without messages after which extension memory is released, in ms. */
export const IDLE_RELEASE_DELAY = 15_000;

/** What the sweep needs of a connection. @internal */
export interface IdleReleasable {
  /** Messages received and sent so far: unchanged means idle. */
  readonly activity: number;
  /** Lets the connection's extensions free what they can rebuild. */
  releaseIdle(): void;
}

// Each watched connection, with its activity at the previous sweep.
const watched = new Map<IdleReleasable, number>();
let timer: NodeJS.Timeout | null = null;
let delay = IDLE_RELEASE_DELAY;

/**
 * Starts watching a connection that just opened, if one of its
 * `extensions` has something to release. @internal
 */
export function watchIdle(connection: IdleReleasable, extensions: readonly Extension[]): void {
  if (!extensions.some((extension) => extension.release !== undefined)) return;
  watched.set(connection, -1);
  if (timer === null) {
    timer = setInterval(sweep, delay);
    // Sockets keep the process alive; this timer alone must not.
    timer.unref();
  }
}

/** Stops watching a connection that closed. @internal */
export function unwatchIdle(connection: IdleReleasable): void {
  if (!watched.delete(connection) || watched.size > 0 || timer === null) return;
  clearInterval(timer);
  timer = null;
}

function sweep(): void {
  for (const [connection, previous] of watched) {
    const activity = connection.activity;
    if (activity === previous) {
      connection.releaseIdle();
    } else {
      watched.set(connection, activity);
    }
  }
}

/**
 * Changes the delay of the sweeps to come, for tests that can't wait 15 s.
 * @internal
 */
export function setIdleReleaseDelay(ms: number): void {
  delay = ms;
  if (timer !== null) {
    clearInterval(timer);
    timer = setInterval(sweep, delay);
    timer.unref();
  }
}
