/**
 * Automatic reconnection: what `connect()` returns, awaited for one
 * connection or iterated with `for await` for a new connection each time
 * the previous one is lost; and which errors are worth retrying.
 *
 * @module
 */

import { setTimeout as sleep } from "node:timers/promises";
import {
  InvalidHandshake,
  InvalidMessage,
  InvalidProxyMessage,
  InvalidProxyStatus,
  InvalidStatus,
  SocksProxyError,
} from "../errors.ts";
import { isLevelEnabled, type LoggerLike, logMessages } from "../logging.ts";
import { backoff as defaultBackoff } from "./backoff.ts";

/** Options of `connect()` for the reconnecting iterator. */
export interface ReconnectOptions {
  /**
   * Tells whether an error while connecting is worth retrying, when iterating
   * over `connect()`: return `undefined` to retry after a delay, or an error
   * (`error` itself or another one) to throw from the loop. Default:
   * {@link processException}.
   */
  processException?: ((error: Error) => Error | null | undefined) | null;
  /**
   * Delays before reconnection attempts, in milliseconds: an iterable (an
   * array restarts from its first delay after each successful connection; a
   * generator continues where it stopped), or a function called for a fresh
   * iterable after each successful connection. When the delays run out, the
   * last error is thrown: `[1000, 2000, 4000]` allows three retries. Default:
   * {@link defaultBackoff | backoff()} — a random delay in [0, 5 s), then
   * 3.1 s growing by 1.618 up to 90 s, forever, with the
   * `WEBSOCKETS_BACKOFF_*` environment variables applied.
   */
  backoff?: Iterable<number> | (() => Iterable<number>) | null;
  /**
   * Stops connecting: aborts the opening handshake in progress, or a wait
   * between attempts, and rejects with the signal's reason. While iterating,
   * it also closes the current connection (code 1000), and the next
   * iteration rejects with the reason. Default: none.
   */
  signal?: AbortSignal | null;
}

// Errors from the network stack (libuv / getaddrinfo codes) that may go away
// by themselves: the server is restarting, the network is flapping, DNS is
// slow. Certificate errors, EACCES, EINVAL... won't, so they aren't here.
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENETRESET",
  "EADDRNOTAVAIL",
  "EAI_AGAIN",
  "ENOTFOUND",
  // A Unix socket whose server isn't listening (yet).
  "ENOENT",
]);

// Server errors and gateways failing to reach the server: transient by nature.
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);

// SOCKS5 replies (RFC 1928 §6) about reaching the server, not about the
// request: general failure, network or host unreachable, refused, TTL expired.
const RETRYABLE_SOCKS5_REPLIES: ReadonlySet<number> = new Set([1, 3, 4, 5, 6]);

/**
 * The default of {@link ReconnectOptions.processException}: returns
 * `undefined` (retry) for
 *
 * - network errors: `ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`,
 *   `EHOSTUNREACH`, `ENETUNREACH`, DNS failures (`ENOTFOUND`, `EAI_AGAIN`)...;
 * - `openTimeout` expiring (a `TimeoutError`);
 * - the server or a proxy closing the connection before its answer;
 * - `InvalidStatus` and `InvalidProxyStatus` 500, 502, 503 or 504;
 * - SOCKS5 replies about reaching the server (1, 3, 4, 5, 6);
 *
 * and returns `error` (fatal) for anything else: other statuses,
 * `InvalidURI`, `SecurityError`, negotiation errors, TLS certificate errors,
 * proxy authentication failures...
 */
export function processException(error: Error): Error | undefined {
  if (isRetryable(error)) return undefined;
  return error;
}

function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string" && RETRYABLE_CODES.has(code)) return true;
  if (error.name === "TimeoutError") return true;
  if (error instanceof InvalidStatus || error instanceof InvalidProxyStatus) {
    return RETRYABLE_STATUSES.has(error.response.status);
  }
  if (error instanceof SocksProxyError) {
    return error.socksVersion === 5 && RETRYABLE_SOCKS5_REPLIES.has(error.reply);
  }
  if (error instanceof InvalidProxyMessage) {
    // The proxy closed the connection before answering, like a server
    // dropping connections: HTTP parser "connection closed while reading
    // ...", or our SOCKS reader "closed the connection while sending ...".
    return /connection closed while reading|closed the connection while sending/.test(
      error.message,
    );
  }
  if (error instanceof InvalidMessage || error.constructor === InvalidHandshake) {
    // The server closed the connection before its response was complete:
    // the HTTP parser's "connection closed while reading ...", or the I/O
    // layer's "connection closed during the opening handshake".
    if (/^connection closed (while reading|during the opening handshake)/.test(error.message)) {
      return true;
    }
  }
  // A network error wrapped by a layer that added context.
  return error.cause !== undefined && error.cause !== error && isRetryable(error.cause);
}

interface Closable {
  close(): Promise<void>;
}

/** Opens one connection (following redirects), aborted by `signal`. */
export type Opener<C> = (signal: AbortSignal | null) => Promise<C>;

/**
 * What `connect()` returns: await it for one connection, or iterate over it
 * to reconnect automatically. Nothing happens until one of those starts.
 *
 * ```ts
 * await using ws = await connect(uri);
 *
 * for await (const ws of connect(uri)) {
 *   try {
 *     for await (const message of ws) handle(message);
 *   } catch (error) {
 *     if (error instanceof ConnectionClosed) continue;
 *     throw error;
 *   }
 * }
 * ```
 */
export class Connecting<C extends Closable> implements Promise<C>, AsyncIterable<C> {
  readonly [Symbol.toStringTag] = "Connecting";
  readonly #open: Opener<C>;
  readonly #options: ReconnectOptions;
  readonly #logger: () => LoggerLike;
  #promise: Promise<C> | null = null;

  /**
   * @param open - opens one connection.
   * @param options - reconnection options.
   * @param logger - returns the client's logger (only called to log a retry).
   * @internal
   */
  constructor(open: Opener<C>, options: ReconnectOptions, logger: () => LoggerLike) {
    this.#open = open;
    this.#options = options;
    this.#logger = logger;
  }

  #once(): Promise<C> {
    this.#promise ??= this.#open(this.#options.signal ?? null);
    return this.#promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: connect() is awaited like a promise, by design.
  then<T = C, U = never>(
    onFulfilled?: ((value: C) => T | PromiseLike<T>) | null,
    onRejected?: ((reason: unknown) => U | PromiseLike<U>) | null,
  ): Promise<T | U> {
    return this.#once().then(onFulfilled, onRejected);
  }

  catch<U = never>(onRejected?: ((reason: unknown) => U | PromiseLike<U>) | null): Promise<C | U> {
    return this.#once().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<C> {
    return this.#once().finally(onFinally);
  }

  /**
   * Yields a connection, then, once the loop body is done with it, closes
   * it and connects again: immediately after a connection that opened;
   * after the next backoff delay when connecting failed with an error that
   * `processException` deems retryable. Leaving the loop closes the current
   * connection.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<C, void, undefined> {
    const signal = this.#options.signal ?? null;
    const decide = this.#options.processException ?? processException;
    const delaysFrom = this.#options.backoff ?? defaultBackoff;
    let delays: Iterator<number> | null = null;
    while (true) {
      signal?.throwIfAborted();
      let connection: C;
      try {
        connection = await this.#open(signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const fatal = verdict(decide, error);
        if (fatal !== undefined) throw fatal;
        // First failure since the last connection that opened: start over.
        delays ??= (typeof delaysFrom === "function" ? delaysFrom() : delaysFrom)[
          Symbol.iterator
        ]();
        const next = delays.next();
        if (next.done) throw error;
        const delay = Math.max(0, next.value);
        const logger = this.#logger();
        // Formatted only when INFO is on.
        if (isLevelEnabled(logger, "info")) logger.info(logMessages.reconnecting(delay, error));
        await sleep(delay, undefined, signal === null ? undefined : { signal }).catch(
          (sleepError: unknown) => {
            throw signal?.aborted ? signal.reason : sleepError;
          },
        );
        continue;
      }
      delays = null;
      const onAbort = () => void connection.close();
      signal?.addEventListener("abort", onAbort, { once: true });
      let resumed = false;
      try {
        yield connection;
        resumed = true;
      } finally {
        signal?.removeEventListener("abort", onAbort);
        // Left by break, return or a throw in the body, rather than by the
        // next iteration: said, as a loop doesn't look like it closes.
        if (!resumed && !signal?.aborted) {
          const logger = this.#logger();
          if (isLevelEnabled(logger, "info")) logger.info(logMessages.reconnectLoopLeft);
        }
        await connection.close();
      }
    }
  }
}

// The API is "return an error or undefined"; a processException that throws
// is honoured too, as it's an easy mistake to make.
function verdict(decide: (error: Error) => Error | null | undefined, error: unknown): unknown {
  const asError = error instanceof Error ? error : new Error(String(error), { cause: error });
  try {
    const result = decide(asError);
    if (result === undefined || result === null) return undefined;
    return result === asError ? error : result;
  } catch (thrown) {
    return thrown;
  }
}
