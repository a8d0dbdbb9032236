/**
 * The client's HTTP/2 sessions, pooled so that WebSockets to one origin
 * share one connection (RFC 8441): keyed by origin and by everything that
 * makes two connections to it differ (TLS options, proxy, Unix socket).
 *
 * @module
 */

import { type ClientHttp2Session, connect as http2Connect, type Settings } from "node:http2";
import type { Duplex } from "node:stream";
import type { ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { InvalidHandshake } from "../errors.ts";
import type { WebSocketURI } from "../uri.ts";
import { type ProxyOptions, proxyFor } from "./proxy.ts";

/** Why a session can't carry WebSockets: the client may fall back to HTTP/1.1. */
export type FallbackReason =
  | "alpn" // TLS negotiated another protocol than h2 (or none)
  | "settings" // the peer's first SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL
  | "refused" // the extended CONNECT got 405 or 501
  | "refused-stream"; // the extended CONNECT was reset with REFUSED_STREAM

/**
 * Thrown inside the client when HTTP/2 can't carry the WebSocket and
 * HTTP/1.1 may: `http2: "auto"` falls back, `http2: true` reports
 * {@link Http2Unavailable.message}. `socket` is a TLS connection that
 * ALPN gave to HTTP/1.1, usable as is.
 */
export class Http2Unavailable extends InvalidHandshake {
  readonly reason: FallbackReason;
  readonly socket: Duplex | null;

  constructor(reason: FallbackReason, message: string, socket: Duplex | null = null) {
    super(message);
    this.reason = reason;
    this.socket = socket;
  }
}

/** Opens the transport a session runs over: TCP, TLS (ALPN offered), proxy tunnel, Unix socket. */
export type SocketOpener = (signal: AbortSignal) => Promise<Duplex>;

/** A use of a pooled session by one WebSocket, from its CONNECT to its stream's close. */
export interface Lease {
  readonly session: ClientHttp2Session;
  /** Ends this use; the session closes when no use is left. Idempotent. */
  release(): void;
  /** Takes the session out of the pool: it can't carry WebSockets. Its users go on. */
  retire(): void;
}

/** A session being set up or ready, with the WebSockets using it. */
class Entry {
  readonly key: string;
  users = 0;
  /** Set once the peer's first SETTINGS arrived (and allow extended CONNECT). */
  session: ClientHttp2Session | null = null;
  /** Settled when the session is ready or failed. */
  readonly ready: Promise<ClientHttp2Session>;
  /** Aborts the set-up when every would-be user gave up. */
  readonly setup = new AbortController();
  pooled = true;

  constructor(key: string, open: (entry: Entry) => Promise<ClientHttp2Session>) {
    this.key = key;
    this.ready = open(this);
    // A set-up nobody waits for any more fails quietly.
    this.ready.catch(() => undefined);
  }

  /** Whether one more WebSocket may use it (the peer's stream limit). */
  get hasRoom(): boolean {
    const session = this.session;
    if (session === null) return true;
    const limit = session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
    return !session.closed && !session.destroyed && this.users < limit;
  }
}

/**
 * Sessions by pool key. A session is created on first use, ready once the
 * peer's first SETTINGS arrived, shared while it has room for another
 * stream and hasn't received GOAWAY, and closed when its last WebSocket
 * closes; it keeps the process alive only while WebSockets use it.
 */
export class SessionPool {
  readonly #entries = new Map<string, Entry[]>();

  /** Sessions in the pool (ready or being set up), for tests and diagnostics. */
  get size(): number {
    let size = 0;
    for (const entries of this.#entries.values()) size += entries.length;
    return size;
  }

  /**
   * A session ready for an extended CONNECT to `uri`: a pooled one, or a
   * new one over the socket `openSocket` opens. Resolves once the peer's
   * first SETTINGS allow extended CONNECT.
   *
   * @throws Http2Unavailable when ALPN doesn't pick h2 or SETTINGS lack
   *   SETTINGS_ENABLE_CONNECT_PROTOCOL; the socket's or session's error;
   *   the signal's reason when it aborts.
   */
  async acquire(
    key: string,
    uri: WebSocketURI,
    openSocket: SocketOpener,
    signal: AbortSignal,
  ): Promise<Lease> {
    signal.throwIfAborted();
    let entry = this.#entries.get(key)?.find((candidate) => candidate.hasRoom);
    if (entry === undefined) {
      entry = new Entry(key, (entry) => this.#open(entry, uri, openSocket));
      const entries = this.#entries.get(key);
      if (entries === undefined) this.#entries.set(key, [entry]);
      else entries.push(entry);
    }
    const lease = this.#lease(entry);
    try {
      const session = await abortable(entry.ready, signal);
      return { ...lease, session };
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  #lease(entry: Entry): Omit<Lease, "session"> {
    entry.users += 1;
    entry.session?.ref();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        entry.users -= 1;
        if (entry.users > 0) return;
        this.#remove(entry);
        const session = entry.session;
        if (session === null) {
          entry.setup.abort(new InvalidHandshake("HTTP/2 session set-up abandoned"));
        } else {
          // Closing waits for nothing (no stream is left), yet the GOAWAY's
          // write must not hold the process.
          session.unref();
          session.close();
        }
      },
      retire: () => this.#remove(entry),
    };
  }

  #remove(entry: Entry): void {
    if (!entry.pooled) return;
    entry.pooled = false;
    const entries = this.#entries.get(entry.key);
    if (entries === undefined) return;
    const index = entries.indexOf(entry);
    if (index >= 0) entries.splice(index, 1);
    if (entries.length === 0) this.#entries.delete(entry.key);
  }

  async #open(
    entry: Entry,
    uri: WebSocketURI,
    openSocket: SocketOpener,
  ): Promise<ClientHttp2Session> {
    const signal = entry.setup.signal;
    let socket: Duplex;
    try {
      socket = await openSocket(signal);
    } catch (error) {
      this.#remove(entry);
      throw error;
    }
    // RFC 9113 §3.2: over TLS, h2 is chosen by ALPN; over TCP (h2c) it is
    // spoken with prior knowledge.
    const alpn = (socket as { alpnProtocol?: string | false | null }).alpnProtocol;
    if (uri.secure && alpn !== "h2") {
      this.#remove(entry);
      throw new Http2Unavailable(
        "alpn",
        `${uri.host}:${uri.port} doesn't speak HTTP/2: TLS ALPN chose ${alpn ? JSON.stringify(alpn) : "no protocol"}`,
        socket,
      );
    }
    const origin = `${uri.secure ? "https" : "http"}://${uri.host.includes(":") ? `[${uri.host}]` : uri.host}:${uri.port}`;
    const session = http2Connect(origin, {
      createConnection: () => socket,
      settings: { enablePush: false },
    });
    // Errors are reported through the set-up, then through each stream.
    session.on("error", noop);
    session.once("goaway", () => this.#remove(entry));
    session.once("close", () => this.#remove(entry));
    try {
      const settings = await firstSettings(session, uri, signal);
      // RFC 8441 §3: without the setting, a CONNECT can't carry :protocol.
      if (settings.enableConnectProtocol !== true) {
        throw new Http2Unavailable(
          "settings",
          `${uri.host}:${uri.port} speaks HTTP/2 but doesn't allow WebSockets over it: ` +
            "its SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)",
        );
      }
    } catch (error) {
      this.#remove(entry);
      session.destroy();
      throw error;
    }
    entry.session = session;
    // Everyone who waited gave up as it became ready: nobody will close it.
    if (entry.users === 0) {
      this.#remove(entry);
      session.unref();
      session.close();
    }
    return session;
  }
}

/** The peer's first SETTINGS frame (RFC 9113 §3.4: it opens the server's preface). */
function firstSettings(
  session: ClientHttp2Session,
  uri: WebSocketURI,
  signal: AbortSignal,
): Promise<Settings> {
  return settled<Settings>(signal, (resolve, reject) => {
    const onError = (error: Error): void =>
      reject(
        new InvalidHandshake(
          `HTTP/2 session with ${uri.host}:${uri.port} failed before its SETTINGS: ${error.message}`,
          { cause: error },
        ),
      );
    const onClose = (): void =>
      onError(new Error("the connection closed without an HTTP/2 SETTINGS frame"));
    session.once("remoteSettings", resolve);
    session.once("error", onError);
    session.once("close", onClose);
    return () => {
      session.off("remoteSettings", resolve);
      session.off("error", onError);
      session.off("close", onClose);
    };
  });
}

/** `promise`, or the signal's reason if it aborts first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return settled<T>(signal, (resolve, reject) => {
    promise.then(resolve, reject);
    return noop;
  });
}

/**
 * A promise settled by the callbacks `listen` hands to its listeners, or
 * rejected with the signal's reason when it aborts first. `listen`
 * returns what removes its listeners: called once, when settled.
 */
export function settled<T>(
  signal: AbortSignal,
  listen: (resolve: (value: T) => void, reject: (error: unknown) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let unlisten: (() => void) | null = null;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      unlisten?.();
      signal.removeEventListener("abort", onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (finish()) reject(signal.reason);
    };
    const remove = listen(
      (value) => {
        if (finish()) resolve(value);
      },
      (error) => {
        if (finish()) reject(error);
      },
    );
    if (done) remove();
    else unlisten = remove;
    if (signal.aborted) onAbort();
    else if (!done) signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The pool key of a connection to `uri`: its origin, and what else makes
 * two connections to it differ: the Unix socket, the proxy, the TLS options
 * (objects such as certificates and callbacks by identity).
 */
export function poolKey(
  uri: WebSocketURI,
  options: ProxyOptions & { path?: string; tls?: TlsConnectionOptions },
): string {
  const proxy = options.path === undefined ? proxyFor(uri, options.proxy) : null;
  return JSON.stringify([
    uri.secure ? "wss" : "ws",
    uri.host,
    uri.port,
    options.path ?? null,
    proxy?.url ?? null,
    proxy === null ? null : keyOf(options.proxyTls ?? null),
    uri.secure ? keyOf(options.tls ?? null) : null,
  ]);
}

const identities = new WeakMap<object, number>();
let lastIdentity = 0;

function keyOf(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object" && typeof value !== "function") return value;
  if (Array.isArray(value)) return value.map(keyOf);
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return Object.keys(value)
      .sort()
      .map((name) => [name, keyOf((value as Record<string, unknown>)[name])]);
  }
  // Buffers, secure contexts, callbacks: the same object, the same session.
  let id = identities.get(value);
  if (id === undefined) {
    id = ++lastIdentity;
    identities.set(value, id);
  }
  return `#${id}`;
}

function noop(): void {}

/** The pool of `connect()`. @internal */
export const sessionPool = new SessionPool();
