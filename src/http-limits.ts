/**
 * Limits of the HTTP parsers (RFC 7230 §3.1.1 and §3.2.5 leave them to
 * implementations; values and variables as in Python websockets). Each is
 * read from the environment when a parser is created, so a change to
 * `process.env` applies to the next connection (a server's
 * `ServerProtocolConfig` reads them once, when it's created, for all its
 * connections); options override them per parser:
 *
 * | limit | default | variable |
 * | --- | --- | --- |
 * | line length (request/status line, header line, chunk line), CRLF excluded | 8192 bytes | `WEBSOCKETS_MAX_LINE_LENGTH` |
 * | number of headers (and of chunked trailers) | 128 | `WEBSOCKETS_MAX_NUM_HEADERS` |
 * | response body | 1 MiB | `WEBSOCKETS_MAX_BODY_SIZE` |
 *
 * Exceeding a limit throws `SecurityError`, checked before buffering: an
 * incomplete line is rejected as soon as it's longer than the limit.
 *
 * @module
 */

/** Limits of the HTTP parsers; see the module documentation. */
export interface HttpLimits {
  /** Longest line, CRLF excluded, in bytes. Default 8192 (`WEBSOCKETS_MAX_LINE_LENGTH`). */
  maxLineLength: number;
  /** Most headers in a message. Default 128 (`WEBSOCKETS_MAX_NUM_HEADERS`). */
  maxNumHeaders: number;
  /** Largest response body, in bytes. Default 1 MiB (`WEBSOCKETS_MAX_BODY_SIZE`). */
  maxBodySize: number;
}

/** The default limits, before environment variables. */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxLineLength: 8192,
  maxNumHeaders: 128,
  maxBodySize: 1_048_576,
});

/**
 * The limits in force: the defaults, overridden by `WEBSOCKETS_MAX_LINE_LENGTH`,
 * `WEBSOCKETS_MAX_NUM_HEADERS` and `WEBSOCKETS_MAX_BODY_SIZE` when set.
 *
 * @throws RangeError when a variable is set to anything but a non-negative integer.
 */
export function httpLimitsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): HttpLimits {
  return {
    maxLineLength: envInt(env, "WEBSOCKETS_MAX_LINE_LENGTH", DEFAULT_HTTP_LIMITS.maxLineLength),
    maxNumHeaders: envInt(env, "WEBSOCKETS_MAX_NUM_HEADERS", DEFAULT_HTTP_LIMITS.maxNumHeaders),
    maxBodySize: envInt(env, "WEBSOCKETS_MAX_BODY_SIZE", DEFAULT_HTTP_LIMITS.maxBodySize),
  };
}

/**
 * Complete limits from partial ones: those given, the environment's (read
 * only when one is missing: reading process.env is slow), the defaults.
 */
export function resolveHttpLimits(limits: Partial<HttpLimits> | undefined): HttpLimits {
  return isComplete(limits)
    ? {
        maxLineLength: limits.maxLineLength,
        maxNumHeaders: limits.maxNumHeaders,
        maxBodySize: limits.maxBodySize,
      }
    : { ...httpLimitsFromEnv(), ...limits };
}

/** Whether `limits` has every limit. @internal */
export function isComplete(limits: Partial<HttpLimits> | undefined): limits is HttpLimits {
  return (
    limits?.maxLineLength !== undefined &&
    limits.maxNumHeaders !== undefined &&
    limits.maxBodySize !== undefined
  );
}

function envInt(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}
