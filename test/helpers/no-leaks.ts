/**
 * Leak checks for test files: a file ends with no more open sockets, servers
 * or timers than it started with.
 *
 * `process.getActiveResourcesInfo()` lists the resources keeping the event
 * loop alive (ref'ed handles and timers) by type: `TCPSocketWrap`,
 * `TCPServerWrap`, `PipeWrap`, `Timeout`, ... The check compares counts per
 * type with a baseline, retrying for a bounded time because closing a socket
 * or a server completes a few event-loop turns later.
 *
 * Usage, at the top of a test file:
 *
 * ```ts
 * import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
 * checkLeaksAfterAll();
 * ```
 *
 * `after` hooks run in the order they are registered: call it after any
 * `after` hook of the file that closes servers, or those count as leaks.
 *
 * @module
 */

import { after, before } from "node:test";

/** Resource counts by type. */
export type ResourceCounts = Map<string, number>;

// In flight requests that finish on their own, never a leak by themselves.
const TRANSIENT = new Set(["CloseReq", "FSReqCallback", "FSReqPromise", "GetAddrInfoReqWrap"]);

/** The active resources now, counted by type. */
export function activeResources(): ResourceCounts {
  const counts: ResourceCounts = new Map();
  for (const type of process.getActiveResourcesInfo()) {
    if (TRANSIENT.has(type)) continue;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

/** Descriptions of the resources in `now` beyond `baseline`, e.g. `2 x TCPSocketWrap`. */
export function leaksSince(
  baseline: ResourceCounts,
  now: ResourceCounts = activeResources(),
): string[] {
  const extra: string[] = [];
  for (const [type, count] of now) {
    const more = count - (baseline.get(type) ?? 0);
    if (more > 0) extra.push(`${more} x ${type}`);
  }
  return extra;
}

/**
 * Waits until no resource beyond `baseline` is active, polling every 20 ms
 * for at most `settleMs`; then throws naming what is still open.
 */
export async function assertNoLeaks(
  baseline: ResourceCounts,
  options: { settleMs?: number } = {},
): Promise<void> {
  const { settleMs = 3000 } = options;
  const deadline = Date.now() + settleMs;
  let extra = leaksSince(baseline);
  while (extra.length > 0 && Date.now() < deadline) {
    // This timer has fired (and is no longer active) by the time we count again.
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    extra = leaksSince(baseline);
  }
  if (extra.length > 0) {
    throw new Error(`leaked after ${settleMs} ms: ${extra.join(", ")}`);
  }
}

/**
 * Registers a `before` hook taking the baseline and an `after` hook
 * asserting that every socket, server and timer the file opened is gone.
 */
export function checkLeaksAfterAll(options: { settleMs?: number } = {}): void {
  let baseline: ResourceCounts = new Map();
  let baselineHandles = new Set<unknown>();
  before(() => {
    baseline = activeResources();
    baselineHandles = new Set(activeHandles());
  });
  after(async () => {
    try {
      await assertNoLeaks(baseline, options);
    } catch (err) {
      // Report the leak, then release what leaked so the file fails now
      // instead of hanging until the runner's timeout.
      releaseHandlesOutside(baselineHandles);
      throw err;
    }
  });
}

interface Releasable {
  destroy?(): void;
  close?(): void;
  unref?(): void;
}

// Node's undocumented handle list, used only to release leaks after reporting them.
function activeHandles(): unknown[] {
  const proc = process as unknown as { _getActiveHandles?: () => unknown[] };
  return proc._getActiveHandles?.() ?? [];
}

function releaseHandlesOutside(baseline: Set<unknown>): void {
  for (const handle of activeHandles()) {
    if (baseline.has(handle) || handle === null || typeof handle !== "object") continue;
    const h = handle as Releasable;
    if (typeof h.destroy === "function") h.destroy();
    else if (typeof h.close === "function") h.close();
    else if (typeof h.unref === "function") h.unref();
  }
}
