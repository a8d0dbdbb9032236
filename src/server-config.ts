/**
 * What a server's handshake is configured with: accepted origins,
 * extensions, subprotocols, the `Server` header, HTTP limits, checked once
 * into a {@link ServerProtocolConfig} shared by the server's connections.
 *
 * @module
 */

import type { ServerExtensionFactory } from "./extensions/base.ts";
import { isFieldValue } from "./headers.ts";
import { type HttpLimits, resolveHttpLimits } from "./http11.ts";
import { DEFAULT_MAX_SIZE } from "./protocol.ts";
import type { ServerProtocol } from "./server.ts";
import { VERSION } from "./version.ts";

/**
 * The default `Server` header: `WEBSOCKETS_SERVER` when set, else
 * `websockets-ts/<version>`. Read when a {@link ServerProtocolConfig} is
 * created: once per server that shares one, else once per connection.
 */
export function defaultServerHeader(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return env.WEBSOCKETS_SERVER ?? `websockets-ts/${VERSION}`;
}

/**
 * An acceptable `Origin`: a string compared exactly, a regular expression
 * that must match the whole origin, or `null` for requests without `Origin`
 * (non-browser clients).
 */
export type OriginPattern = string | RegExp | null;

/**
 * Picks the subprotocol among those the client offered (in the client's
 * order), or returns `null` to go on without one. Throwing a
 * `NegotiationError` rejects the handshake with 400; any other error
 * propagates to the caller of {@link ServerProtocol.accept}.
 */
export type SelectSubprotocol = (
  protocol: ServerProtocol,
  subprotocols: readonly string[],
) => string | null;

/**
 * Options of {@link ServerProtocolConfig}: those of {@link ServerProtocol}
 * that are the same for every connection of a server.
 */
export interface ServerProtocolConfigOptions {
  /**
   * Acceptable values of the `Origin` header, to defend against Cross-Site
   * WebSocket Hijacking; include `null` to accept requests without one.
   * `null` accepts any origin, or none. Default: any origin, or none, and a
   * WARN hint, once, when a browser's request carries `Cookie` or
   * `Authorization` (see docs/security.md).
   */
  origins?: readonly OriginPattern[] | null;
  /** Extensions supported, in order of preference. Default: none. */
  extensions?: readonly ServerExtensionFactory[] | null;
  /** Subprotocols supported, in order of preference. Default: none. */
  subprotocols?: readonly string[] | null;
  /**
   * Replaces the default subprotocol selection
   * ({@link ServerProtocol.selectSubprotocol}). Default: none.
   */
  selectSubprotocol?: SelectSubprotocol | null;
  /** `Server` header; `null` sends none. Default: {@link defaultServerHeader}. */
  serverHeader?: string | null;
  /**
   * Limits of the HTTP request parser. Default: from the environment, see
   * `httpLimitsFromEnv` in `http11.ts`, read when the config is created.
   * `maxBodySize` also bounds the bytes a client may send after its request
   * and before the response.
   */
  httpLimits?: Partial<HttpLimits>;
  /**
   * Largest incoming message, in bytes, summed over its fragments; `null`
   * for no limit. Default: 1 MiB (1_048_576).
   */
  maxSize?: number | null;
}

/**
 * The options of {@link ServerProtocol} that every connection of a server
 * shares, checked and prepared once: origin patterns compiled, the `Server`
 * header and the HTTP limits resolved — reading the environment here, not
 * per connection. Each connection keeps a reference to it rather than a copy
 * of each option. Its fields don't change.
 *
 * ```ts
 * const config = new ServerProtocolConfig({ subprotocols: ["chat"] });
 * // For each connection:
 * const protocol = new ServerProtocol({ config, logger });
 * ```
 *
 * @throws TypeError when `serverHeader` isn't a valid header value;
 *   RangeError when an environment variable of a limit isn't an integer.
 */
export class ServerProtocolConfig {
  /** Acceptable origins, or `null` for any. */
  readonly origins: readonly OriginPattern[] | null;
  /** Extensions supported, or `null`. */
  readonly extensions: readonly ServerExtensionFactory[] | null;
  /** Subprotocols supported, or `null`. */
  readonly subprotocols: readonly string[] | null;
  /** The subprotocol selection replacing the default one, or `null`. */
  readonly selectSubprotocol: SelectSubprotocol | null;
  /** The `Server` header, or `null` for none. */
  readonly serverHeader: string | null;
  /** Limits of the HTTP request parser, all three resolved (frozen). */
  readonly httpLimits: Readonly<HttpLimits>;
  /** Largest incoming message in bytes, or `null` for no limit. */
  readonly maxSize: number | null;
  /** @internal */
  readonly originMatchers: readonly ((origin: string | undefined) => boolean)[] | null;
  /**
   * Whether the hint about unset `origins` is still to be logged: once per
   * config, only when `origins` wasn't given at all. @internal
   */
  originHintPending: boolean;

  constructor(options: ServerProtocolConfigOptions = {}) {
    this.origins = options.origins ?? null;
    this.originHintPending = options.origins === undefined;
    this.originMatchers = this.origins === null ? null : this.origins.map(originMatcher);
    this.extensions = options.extensions ?? null;
    this.subprotocols = options.subprotocols ?? null;
    this.selectSubprotocol = options.selectSubprotocol ?? null;
    const serverHeader =
      options.serverHeader === undefined ? defaultServerHeader() : options.serverHeader;
    // Checked once, here: responses then add it without checking.
    if (serverHeader !== null && !isFieldValue(serverHeader)) {
      throw new TypeError(`invalid value for header Server: ${JSON.stringify(serverHeader)}`);
    }
    this.serverHeader = serverHeader;
    const limits = options.httpLimits;
    this.httpLimits = Object.freeze(resolveHttpLimits(limits));
    this.maxSize = options.maxSize === undefined ? DEFAULT_MAX_SIZE : options.maxSize;
  }
}

// A string matches exactly; a RegExp must match the whole origin, like
// Python's re.fullmatch: a search would let "https://evil.example/?https://good.example" in.
function originMatcher(pattern: OriginPattern): (origin: string | undefined) => boolean {
  if (pattern === null) return (origin) => origin === undefined;
  if (typeof pattern === "string") return (origin) => origin === pattern;
  const full = new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, ""));
  return (origin) => origin !== undefined && full.test(origin);
}
