/**
 * Delays between reconnection attempts: randomized first delay, then
 * exponential backoff with a cap.
 *
 * @module
 */

/** Parameters of {@link backoff}, in milliseconds. */
export interface BackoffOptions {
  /**
   * Upper bound of the first delay, drawn uniformly in `[0, initialDelay)`.
   * Default: 5 000 ms, or `WEBSOCKETS_BACKOFF_INITIAL_DELAY` seconds.
   */
  initialDelay?: number;
  /**
   * The second delay; each following one is multiplied by `factor`.
   * Default: 3 100 ms, or `WEBSOCKETS_BACKOFF_MIN_DELAY` seconds.
   */
  minDelay?: number;
  /**
   * The largest delay; once reached, every following delay equals it.
   * Default: 90 000 ms, or `WEBSOCKETS_BACKOFF_MAX_DELAY` seconds.
   */
  maxDelay?: number;
  /**
   * Growth factor between two delays, at least 1.
   * Default: 1.618, or `WEBSOCKETS_BACKOFF_FACTOR`.
   */
  factor?: number;
  /** Source of randomness in `[0, 1)` for the first delay. Default: `Math.random`. */
  random?: () => number;
}

/** Defaults of {@link backoff}, in milliseconds. */
export const BACKOFF_DEFAULTS = {
  initialDelay: 5_000,
  minDelay: 3_100,
  maxDelay: 90_000,
  factor: 1.618,
} as const;

/**
 * Reads the backoff parameters from `WEBSOCKETS_BACKOFF_INITIAL_DELAY`,
 * `WEBSOCKETS_BACKOFF_MIN_DELAY`, `WEBSOCKETS_BACKOFF_MAX_DELAY` (seconds) and
 * `WEBSOCKETS_BACKOFF_FACTOR`, converted to milliseconds. Unset or empty
 * variables are left out, so the defaults apply.
 *
 * @throws RangeError when a variable isn't a finite, non-negative number.
 */
export function backoffFromEnv(env: NodeJS.ProcessEnv = process.env): BackoffOptions {
  const options: BackoffOptions = {};
  const initialDelay = readNumber(env, "WEBSOCKETS_BACKOFF_INITIAL_DELAY");
  if (initialDelay !== undefined) options.initialDelay = initialDelay * 1000;
  const minDelay = readNumber(env, "WEBSOCKETS_BACKOFF_MIN_DELAY");
  if (minDelay !== undefined) options.minDelay = minDelay * 1000;
  const maxDelay = readNumber(env, "WEBSOCKETS_BACKOFF_MAX_DELAY");
  if (maxDelay !== undefined) options.maxDelay = maxDelay * 1000;
  const factor = readNumber(env, "WEBSOCKETS_BACKOFF_FACTOR");
  if (factor !== undefined) options.factor = factor;
  return options;
}

function readNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Yields the delays, in milliseconds, to wait before each reconnection
 * attempt: first a random delay in `[0, initialDelay)`, then `minDelay`,
 * multiplied by `factor` after each attempt, up to `maxDelay` forever.
 *
 * RFC 6455 §7.2.3: the first reconnection is delayed by a random amount so
 * that clients dropped together by a server don't all come back at once;
 * the following ones back off so a server that stays down isn't hammered.
 *
 * Options not given come from the environment (`WEBSOCKETS_BACKOFF_*`,
 * see docs/reconnection.md), then from the defaults.
 *
 * @throws RangeError when a parameter is negative or not finite, or `factor` is below 1.
 */
export function backoff(options: BackoffOptions = {}): Generator<number, never, undefined> {
  const env = backoffFromEnv();
  const initialDelay = options.initialDelay ?? env.initialDelay ?? BACKOFF_DEFAULTS.initialDelay;
  const minDelay = options.minDelay ?? env.minDelay ?? BACKOFF_DEFAULTS.minDelay;
  const maxDelay = options.maxDelay ?? env.maxDelay ?? BACKOFF_DEFAULTS.maxDelay;
  const factor = options.factor ?? env.factor ?? BACKOFF_DEFAULTS.factor;
  const random = options.random ?? Math.random;
  for (const [name, value] of [
    ["initialDelay", initialDelay],
    ["minDelay", minDelay],
    ["maxDelay", maxDelay],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`backoff ${name} must be a non-negative number of ms, got ${value}`);
    }
  }
  if (!Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`backoff factor must be a number >= 1, got ${factor}`);
  }

  return delays(initialDelay, minDelay, maxDelay, factor, random);
}

function* delays(
  initialDelay: number,
  minDelay: number,
  maxDelay: number,
  factor: number,
  random: () => number,
): Generator<number, never, undefined> {
  yield random() * initialDelay;
  let delay = minDelay;
  // A zero minDelay would never grow; the loop still ends because the cap is reached at once.
  while (delay < maxDelay && delay > 0 && factor > 1) {
    yield delay;
    delay *= factor;
  }
  while (true) yield Math.min(delay, maxDelay);
}
