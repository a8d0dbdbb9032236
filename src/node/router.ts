/**
 * `route()`: one server, a handler per path pattern, chosen before the
 * upgrade.
 *
 * The matching itself ({@link Router.match}) knows nothing of sockets or
 * HTTP versions: it takes a request target and says what to answer.
 * {@link Router.mount} wires it into `serve()` through `processRequest`, so
 * it runs wherever the server reads a request: its own listener, an
 * `http.Server` it is attached to, `handleUpgrade`, or another transport.
 *
 * @module
 */

import type { Request } from "../http11.ts";
import type { ServerProtocolConfig } from "../server.ts";
import {
  type Handler,
  type MaybeResponse,
  type OriginPattern,
  type RequestRouter,
  type ServeOptions,
  type ServerConnection,
  serverProtocolConfig,
} from "./server.ts";

/** What each converter of a pattern gives the handler. */
export interface RouteConverters {
  /** One non-empty path segment, percent-decoded (the default). */
  string: string;
  /** A non-negative decimal integer that is a safe integer. */
  int: number;
  /** A UUID (RFC 9562), in lower case. */
  uuid: string;
}

type SegmentParams<S extends string> = S extends `:${infer Name}(${infer Converter})`
  ? { [K in Name]: Converter extends keyof RouteConverters ? RouteConverters[Converter] : never }
  : S extends `:${infer Name}`
    ? { [K in Name]: string }
    : S extends `*${infer Name}`
      ? { [K in Name extends "" ? "*" : Name]: string }
      : Record<never, never>;

type PatternParams<P extends string> = P extends `${infer Head}/${infer Rest}`
  ? SegmentParams<Head> & PatternParams<Rest>
  : SegmentParams<P>;

/**
 * The parameters a pattern captures, typed from the pattern:
 * `RouteParams<"/rooms/:room/:n(int)">` is `{ room: string; n: number }`.
 */
export type RouteParams<P extends string> = { [K in keyof PatternParams<P>]: PatternParams<P>[K] };

/** The handler of a route: the connection, then the parameters of its path. */
export type RouteHandler<Params> = (
  connection: ServerConnection,
  params: Params,
) => Promise<void> | void;

/**
 * A route with options of its own. Those given replace the server's for
 * the connections of this route; the others are the server's.
 */
export interface RouteOptions<Params> {
  /** Runs once the handshake of a connection of this route completes. */
  handler: RouteHandler<Params>;
  /**
   * Runs after the server's `processRequest` and the match, before the
   * handshake (e.g. authentication for this route): return a response to
   * send it instead of upgrading. May be async. A throw answers 500.
   */
  processRequest?:
    | ((
        connection: ServerConnection,
        request: Request,
        params: Params,
      ) => MaybeResponse | Promise<MaybeResponse>)
    | null;
  /** Subprotocols of this route, in order of preference. */
  subprotocols?: readonly string[] | null;
  /** Largest incoming message in bytes on this route; `null`: no limit. */
  maxSize?: number | null;
  /** `"deflate"` or `null` (off) on this route. */
  compression?: "deflate" | null;
  /** Accepted `Origin` values on this route (see `ServeOptions.origins`). */
  origins?: readonly OriginPattern[] | null;
}

/** A value of the table given to {@link route}: a handler, or a handler with options. */
export type RouteEntry<P extends string> =
  | RouteHandler<RouteParams<P>>
  | RouteOptions<RouteParams<P>>;

/** Options of {@link route}. */
export interface RouterOptions {
  /**
   * Longest request target (path and query string) the router matches, in
   * bytes; longer ones get 414 URI Too Long before any matching. Default:
   * 4096.
   */
  maxPathLength?: number;
}

/** Default of {@link RouterOptions.maxPathLength}. */
export const DEFAULT_MAX_PATH_LENGTH = 4096;

/**
 * What {@link Router.match} decides for a request target, as the HTTP
 * status to answer: 200 (the route, and its parameters), 308 (the same
 * path with a trailing slash, at `location`), or an error status with a
 * reason for the response body.
 */
export type RouteMatch =
  | {
      /** A route matches. */
      status: 200;
      /** The pattern of the route, as given to `route()`. */
      pattern: string;
      /** The parameters the path gives the route, converted. */
      params: Readonly<Record<string, string | number>>;
    }
  | {
      /** The path matches a route only with a trailing slash. */
      status: 308;
      /** The path with a trailing slash, and the query, for the `Location` header. */
      location: string;
    }
  | {
      /** 400: the target is malformed; 404: no route; 414: the target is too long. */
      status: 400 | 404 | 414;
      /** Why, naming the bad value: the body of the response. */
      reason: string;
    };

type Segment =
  | { kind: "literal"; value: string }
  | { kind: "param"; name: string; converter: keyof RouteConverters };

interface CompiledRoute {
  readonly pattern: string;
  readonly segments: readonly Segment[];
  // The name of a trailing `*name`, or null.
  readonly wildcard: string | null;
  readonly trailingSlash: boolean;
  readonly handler: RouteHandler<Record<string, string | number>>;
  readonly processRequest: RouteOptions<Record<string, string | number>>["processRequest"];
  // The protocol options given on the route, or null when it has none.
  readonly protocolOptions: ServeOptions | null;
  // Sort key: per segment, how specific it is (lower first).
  readonly rank: readonly number[];
  // The paths it matches, as a string: equal for two routes that conflict.
  readonly shape: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PARAM = /^:([^()]*)(?:\(([^()]*)\))?$/;
// Characters a literal segment may hold: RFC 3986 pchar, unencoded, plus
// any non-ASCII character (matched against the decoded path).
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|\P{ASCII})+$/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGITS = /^[0-9]+$/;
const PROTOCOL_OPTIONS = ["subprotocols", "maxSize", "compression", "origins"] as const;

// Ranks of segments: a literal beats a typed parameter, which beats a
// string parameter, which beats a wildcard.
const RANK_LITERAL = 0;
const RANK_TYPED = 1;
const RANK_STRING = 2;
const RANK_WILDCARD = 3;

/**
 * Routes WebSocket connections by request path. Build it with
 * {@link route}; pass it to `serve()` in place of a handler.
 */
export class Router implements RequestRouter {
  readonly #routes: readonly CompiledRoute[];
  readonly #maxPathLength: number;

  /** @internal Use {@link route}. */
  constructor(routes: Readonly<Record<string, unknown>>, options: RouterOptions = {}) {
    if (typeof routes !== "object" || routes === null) {
      throw new TypeError(`route() expects an object of patterns; got ${describe(routes)}`);
    }
    const maxPathLength = options.maxPathLength ?? DEFAULT_MAX_PATH_LENGTH;
    if (!Number.isSafeInteger(maxPathLength) || maxPathLength < 1) {
      throw new RangeError(`maxPathLength must be a positive integer; got ${maxPathLength}`);
    }
    this.#maxPathLength = maxPathLength;
    const compiled = Object.entries(routes).map(([pattern, entry]) => compile(pattern, entry));
    if (compiled.length === 0) throw new TypeError("route() needs at least one pattern");
    // Equal ranks then by shape, so that two routes of one shape are neighbours.
    compiled.sort(
      (a, b) =>
        compareRanks(a.rank, b.rank) || (a.shape < b.shape ? -1 : a.shape > b.shape ? 1 : 0),
    );
    for (let i = 1; i < compiled.length; i++) {
      const previous = compiled[i - 1];
      const current = compiled[i];
      if (previous.shape === current.shape) {
        throw new TypeError(
          `patterns ${JSON.stringify(previous.pattern)} and ${JSON.stringify(current.pattern)} match the same paths`,
        );
      }
    }
    this.#routes = compiled;
  }

  /** The patterns, in the order they are tried. */
  get patterns(): readonly string[] {
    return this.#routes.map((route) => route.pattern);
  }

  /**
   * Matches a request target (`/path?query`, or the absolute form
   * `ws://host/path`): the route and its parameters, a redirect when only
   * the path with a trailing slash matches, or why nothing matches.
   *
   * Each segment is percent-decoded once (`%2F` inside a segment is part
   * of its value, not a separator); a path with a `.` or `..` segment,
   * encoded or not, matches nothing.
   */
  match(target: string): RouteMatch {
    if (target.length > this.#maxPathLength) {
      return {
        status: 414,
        reason: `request target of ${target.length} bytes exceeds limit of ${this.#maxPathLength} bytes`,
      };
    }
    const path = pathOf(target);
    if (path === null) {
      return { status: 400, reason: `unsupported request target: ${JSON.stringify(target)}` };
    }
    const trailingSlash = path.length > 1 && path.endsWith("/");
    const raw = path.length === 1 ? [] : path.slice(1, trailingSlash ? -1 : undefined).split("/");
    const segments: string[] = [];
    for (const part of raw) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(part);
      } catch {
        return { status: 400, reason: `invalid percent-encoding in path: ${JSON.stringify(path)}` };
      }
      // RFC 3986 §3.3: dot segments. Browsers remove them before sending;
      // one that arrives is an attempt to step out of a pattern.
      if (decoded === "." || decoded === "..") {
        return { status: 404, reason: `no route for ${JSON.stringify(path)}` };
      }
      segments.push(decoded);
    }
    let redirect = false;
    for (const route of this.#routes) {
      const params = matchRoute(route, segments, trailingSlash);
      if (params === null) continue;
      if (route.wildcard !== null || route.trailingSlash === trailingSlash) {
        return { status: 200, pattern: route.pattern, params };
      }
      if (route.trailingSlash) redirect = true;
    }
    if (redirect) {
      const query = target.indexOf("?");
      // A backslash reads as a slash to browsers: `/\host/` would leave the origin.
      const location = `${path.replaceAll("\\", "%5C")}/${query === -1 ? "" : target.slice(query)}`;
      return { status: 308, location };
    }
    return { status: 404, reason: `no route for ${JSON.stringify(path)}` };
  }

  /**
   * The handler and options `serve()` runs: the options' `processRequest`
   * first, then the match (answering 308, 400, 404 or 414 itself), then
   * the route's `processRequest`. Called by `serve()`; you don't need to.
   */
  mount(options: ServeOptions): {
    /** Runs the handler of the route matched for the connection, with its parameters. */
    handler: Handler;
    /** `options`, with a `processRequest` that runs theirs, then matches the path, then runs the route's. */
    options: ServeOptions;
  } {
    const configs = new Map<CompiledRoute, ServerProtocolConfig>();
    for (const route of this.#routes) {
      if (route.protocolOptions !== null) {
        configs.set(route, serverProtocolConfig({ ...options, ...route.protocolOptions }));
      }
    }
    const byPattern = new Map(this.#routes.map((route) => [route.pattern, route]));
    // Set by processRequest, read once by the handler.
    const matched = new WeakMap<ServerConnection, [CompiledRoute, RouteParamsOf]>();
    const serverProcessRequest = options.processRequest;

    const processRequest = async (
      connection: ServerConnection,
      request: Request,
    ): Promise<MaybeResponse> => {
      if (serverProcessRequest != null) {
        const response = await serverProcessRequest(connection, request);
        if (response != null) return response;
      }
      const match = this.match(request.path);
      if (match.status === 308) {
        const response = connection.respond(308, `Moved to ${match.location}\n`);
        response.headers.set("Location", match.location);
        return response;
      }
      if (match.status !== 200) return connection.respond(match.status, `${match.reason}\n`);
      const route = byPattern.get(match.pattern)!;
      const config = configs.get(route);
      if (config !== undefined) connection.useProtocolConfig(config);
      matched.set(connection, [route, match.params]);
      if (route.processRequest != null) {
        return route.processRequest(connection, request, match.params);
      }
      return undefined;
    };

    const handler = (connection: ServerConnection): Promise<void> | void => {
      const entry = matched.get(connection);
      if (entry === undefined) {
        // Only reachable if a processRequest upstream bypassed routing by
        // calling the handler itself; never run an unrouted connection.
        throw new Error(`no route was matched for ${connection.request?.path ?? "a connection"}`);
      }
      matched.delete(connection);
      return entry[0].handler(connection, entry[1]);
    };
    return { handler, options: { ...options, processRequest } };
  }
}

type RouteParamsOf = Readonly<Record<string, string | number>>;

/**
 * Builds a router: each key is a path pattern, each value the handler of
 * the connections whose path matches it (or an object with a `handler`
 * and options of the route). Pass it to `serve()` in place of a handler.
 *
 * ```ts
 * await serve(route({
 *   "/rooms/:room": (ws, { room }) => chat(ws, room),      // room: string
 *   "/items/:id(int)": (ws, { id }) => item(ws, id),       // id: number
 *   "/files/*path": (ws, { path }) => files(ws, path),     // the rest of the path
 *   "/admin/": { handler: admin, processRequest: basicAuth({ credentials }) },
 * }), { port: 8765 });
 * ```
 *
 * Patterns: literal segments, `:name` (one segment), `:name(int)` or
 * `:name(uuid)` (converted, see {@link RouteConverters}), and a last
 * segment `*name` (or `*`, named `"*"`) matching the rest of the path. A
 * literal beats a parameter, a converted parameter beats a plain one,
 * which beats a wildcard. A pattern ending in `/` matches only paths
 * ending in `/`; the same path without it is redirected (308).
 *
 * @throws TypeError naming the pattern when one is invalid, or when two
 *   match the same paths.
 */
export function route<const K extends string>(
  routes: { [P in K]: RouteEntry<P> },
  options: RouterOptions = {},
): Router {
  return new Router(routes, options);
}

function compile(pattern: string, entry: unknown): CompiledRoute {
  const fail = (why: string): never => {
    throw new TypeError(`invalid route pattern ${JSON.stringify(pattern)}: ${why}`);
  };
  if (!pattern.startsWith("/")) fail("it must start with /");
  const trailingSlash = pattern.length > 1 && pattern.endsWith("/");
  const parts =
    pattern.length === 1 ? [] : pattern.slice(1, trailingSlash ? -1 : undefined).split("/");
  const segments: Segment[] = [];
  const rank: number[] = [];
  const names = new Set<string>();
  let wildcard: string | null = null;
  const useName = (name: string): void => {
    if (!NAME.test(name)) fail(`invalid parameter name ${JSON.stringify(name)}`);
    if (names.has(name)) fail(`parameter ${JSON.stringify(name)} appears twice`);
    names.add(name);
  };
  parts.forEach((part, index) => {
    if (part === "") fail("empty segment");
    if (part.startsWith("*")) {
      if (index !== parts.length - 1 || trailingSlash) fail("a wildcard must be the last segment");
      const name = part.slice(1);
      if (name === "") wildcard = "*";
      else {
        useName(name);
        wildcard = name;
      }
      rank.push(RANK_WILDCARD);
      return;
    }
    if (part.startsWith(":")) {
      const param = PARAM.exec(part);
      if (param === null) fail(`invalid parameter ${JSON.stringify(part)}`);
      const [, name, converter = "string"] = param!;
      useName(name);
      if (!Object.hasOwn(CONVERTERS, converter)) {
        fail(
          `unknown converter ${JSON.stringify(converter)} (known: ${Object.keys(CONVERTERS).join(", ")})`,
        );
      }
      segments.push({ kind: "param", name, converter: converter as keyof RouteConverters });
      rank.push(converter === "string" ? RANK_STRING : RANK_TYPED);
      return;
    }
    if (part === "." || part === "..") fail(`dot segment ${JSON.stringify(part)}`);
    if (!LITERAL.test(part)) fail(`invalid character in segment ${JSON.stringify(part)}`);
    segments.push({ kind: "literal", value: part });
    rank.push(RANK_LITERAL);
  });
  // A pattern ending in `/` ranks after the same path without it.
  if (trailingSlash) rank.push(RANK_LITERAL);

  let options: RouteOptions<RouteParamsOf>;
  if (typeof entry === "function") {
    options = { handler: entry as RouteHandler<RouteParamsOf> };
  } else if (typeof entry === "object" && entry !== null) {
    options = entry as RouteOptions<RouteParamsOf>;
    if (typeof options.handler !== "function") {
      fail(`its handler must be a function; got ${describe(options.handler)}`);
    }
  } else {
    return fail(`expected a handler function or { handler, ... }; got ${describe(entry)}`);
  }
  let protocolOptions: ServeOptions | null = null;
  for (const name of PROTOCOL_OPTIONS) {
    if (options[name] !== undefined) {
      protocolOptions ??= {};
      (protocolOptions as Record<string, unknown>)[name] = options[name];
    }
  }
  if (protocolOptions !== null) {
    // Checked now, rather than when serve() builds the route's config.
    try {
      serverProtocolConfig(protocolOptions);
    } catch (error) {
      fail((error as Error).message);
    }
  }
  return {
    pattern,
    segments,
    wildcard,
    trailingSlash,
    handler: options.handler,
    processRequest: options.processRequest ?? null,
    protocolOptions,
    rank,
    shape: shapeOf(segments, wildcard, trailingSlash),
  };
}

const CONVERTERS: {
  readonly [C in keyof RouteConverters]: (value: string) => RouteConverters[C] | null;
} = {
  string: (value) => value,
  int: (value) => {
    if (!DIGITS.test(value)) return null;
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : null;
  },
  uuid: (value) => (UUID.test(value) ? value.toLowerCase() : null),
};

/** The parameters if the decoded segments fit the route, ignoring the trailing slash; else null. */
function matchRoute(
  route: CompiledRoute,
  segments: readonly string[],
  trailingSlash: boolean,
): Record<string, string | number> | null {
  const fixed = route.segments;
  if (route.wildcard === null ? segments.length !== fixed.length : segments.length < fixed.length) {
    return null;
  }
  const params: Record<string, string | number> = {};
  for (let i = 0; i < fixed.length; i++) {
    const segment = fixed[i];
    const value = segments[i];
    if (segment.kind === "literal") {
      if (value !== segment.value) return null;
      continue;
    }
    if (value === "") return null;
    const converted = CONVERTERS[segment.converter](value);
    if (converted === null) return null;
    params[segment.name] = converted;
  }
  if (route.wildcard !== null) {
    const rest = segments.slice(fixed.length);
    // Each segment of the rest stays one segment for whoever joins it to a
    // directory: none empty, none holding a (decoded) separator.
    if (rest.some((part) => part === "" || part.includes("/") || part.includes("\\"))) {
      return null;
    }
    params[route.wildcard] = rest.join("/") + (trailingSlash && rest.length > 0 ? "/" : "");
  }
  return params;
}

/** The path of a request target in origin form or absolute form; null for others. */
function pathOf(target: string): string | null {
  let path = target;
  if (!path.startsWith("/")) {
    // RFC 9112 §3.2.2: absolute-form, e.g. through a proxy.
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(path);
    if (scheme === null) return null;
    path = path.slice(scheme[0].length);
    if (!path.startsWith("/")) path = `/${path}`;
  }
  const query = path.search(/[?#]/);
  return query === -1 ? path : path.slice(0, query);
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function shapeOf(
  segments: readonly Segment[],
  wildcard: string | null,
  trailingSlash: boolean,
): string {
  const parts = segments.map((segment) =>
    segment.kind === "literal" ? `=${segment.value}` : `:${segment.converter}`,
  );
  if (wildcard !== null) parts.push("*");
  return parts.join("/") + (trailingSlash ? "/" : "");
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
