/**
 * Proxies: choosing one from the environment, and opening a tunnel to the
 * server through an HTTP(S) proxy (`CONNECT`) or a SOCKS4/4a/5/5h proxy.
 *
 * Written on `node:net` and `node:tls` rather than with agent packages: the
 * protocols are small, and owning them means the client's `openTimeout` and
 * `signal` cover the proxy handshake and every failure gets a precise error.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import * as net from "node:net";
import * as tls from "node:tls";
import { defaultUserAgent } from "../client.ts";
import {
  InvalidMessage,
  InvalidProxy,
  InvalidProxyMessage,
  InvalidProxyStatus,
  ProxyError,
  SecurityError,
  SocksProxyError,
} from "../errors.ts";
import { buildAuthorizationBasic, Headers } from "../headers.ts";
import { type Request, ResponseParser, serializeRequest } from "../http11.ts";
import {
  formatRequestLines,
  formatResponseLines,
  isLevelEnabled,
  type LoggerLike,
  logMessages,
} from "../logging.ts";
import { redactURL } from "../redact.ts";
import { waitForConnect } from "./sockets.ts";

/** Proxy schemes supported by {@link connectThroughProxy}. */
export type ProxyScheme = "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h";

const SCHEMES: readonly ProxyScheme[] = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/** A parsed proxy URL. */
export interface Proxy {
  /** The URL as given, for error messages (credentials included: don't log it). */
  readonly url: string;
  readonly scheme: ProxyScheme;
  /** Host name (lowercased), IPv4 address, or IPv6 address without brackets. */
  readonly host: string;
  /** Port: explicit, else 80 for `http`, 443 for `https`, 1080 for SOCKS. */
  readonly port: number;
  /** User name, percent-decoded, or `null`. */
  readonly username: string | null;
  /** Password, percent-decoded, or `null`. */
  readonly password: string | null;
}

/**
 * Parses and validates a proxy URL such as `http://user:pass@proxy:3128` or
 * `socks5h://127.0.0.1:1080`.
 *
 * @throws {@link InvalidProxy} naming the URL and what's wrong with it.
 */
export function parseProxy(url: string): Proxy {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not the URL parser's error as the cause: its `input` holds the password.
    throw new InvalidProxy(url, "not a valid URL");
  }
  const scheme = parsed.protocol.slice(0, -1) as ProxyScheme;
  if (!SCHEMES.includes(scheme)) {
    throw new InvalidProxy(url, `scheme ${scheme} isn't supported`);
  }
  let host = parsed.hostname;
  if (host === "") throw new InvalidProxy(url, "hostname isn't provided");
  if (host.startsWith("[")) host = host.slice(1, -1);
  if (parsed.pathname !== "" && parsed.pathname !== "/") {
    throw new InvalidProxy(url, "path is meaningless");
  }
  if (parsed.search !== "") throw new InvalidProxy(url, "query is meaningless");
  if (parsed.hash !== "") throw new InvalidProxy(url, "fragment is meaningless");
  const port =
    parsed.port !== ""
      ? Number(parsed.port)
      : scheme === "http"
        ? 80
        : scheme === "https"
          ? 443
          : 1080;

  let username: string | null = null;
  let password: string | null = null;
  try {
    if (parsed.username !== "") username = decodeURIComponent(parsed.username);
    if (parsed.password !== "") password = decodeURIComponent(parsed.password);
  } catch (error) {
    throw new InvalidProxy(url, "invalid percent-encoding in credentials", { cause: error });
  }
  if (password !== null && username === null) {
    throw new InvalidProxy(url, "password provided without username");
  }
  if (scheme === "socks4" || scheme === "socks4a") {
    // SOCKS4 only sends a user id; a password would be silently dropped.
    if (password !== null) throw new InvalidProxy(url, "SOCKS4 doesn't support passwords");
  } else if (username !== null) {
    password ??= "";
    if (scheme.startsWith("socks5")) {
      // RFC 1929 §2: each field is 1 to 255 bytes.
      if (Buffer.byteLength(username) > 255 || Buffer.byteLength(password) > 255) {
        throw new InvalidProxy(url, "SOCKS5 credentials are limited to 255 bytes each");
      }
    } else if (username.includes(":")) {
      // RFC 7617 §2: the user-id can't contain a colon.
      throw new InvalidProxy(url, "username contains a colon");
    }
  }
  return { url, scheme, host, port, username, password };
}

/** Where a WebSocket client connects, as needed to choose a proxy. */
export interface ProxyTarget {
  /** Whether the URI is `wss://`. */
  secure: boolean;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
}

function readEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  // Lower case first, like curl: it's the historical spelling.
  let value = env[name];
  // httpoxy (CVE-2016-5385): in a CGI process (REQUEST_METHOD is set), a
  // client's `Proxy:` request header arrives as HTTP_PROXY. Go, Python and
  // curl ignore the upper-case name there; so do we.
  if (value === undefined && !(name === "http_proxy" && env.REQUEST_METHOD !== undefined)) {
    value = env[name.toUpperCase()];
  }
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * Returns the proxy URL to use for `target` according to the environment,
 * or `null` to connect directly.
 *
 * `wss://` uses `wss_proxy`, then `https_proxy`, then `all_proxy`; `ws://`
 * uses `ws_proxy`, then `http_proxy`, then `all_proxy`: the scheme-specific
 * variable first, then the one of the equivalent HTTP scheme, as curl does.
 * Lower case variables win over upper case ones. `no_proxy` lists hosts
 * reached directly: `*`, domains (with their subdomains), IP addresses and
 * CIDR ranges (matched against IP literals only), each but `*` and ranges
 * optionally with `:port` (see docs/proxies.md).
 * In a CGI process (`REQUEST_METHOD` set), `HTTP_PROXY` is ignored: there
 * it can come from a client's `Proxy:` header (httpoxy); `http_proxy` still
 * counts.
 */
export function getProxy(target: ProxyTarget, env: NodeJS.ProcessEnv = process.env): string | null {
  const names = target.secure
    ? ["wss_proxy", "https_proxy", "all_proxy"]
    : ["ws_proxy", "http_proxy", "all_proxy"];
  let proxy: string | undefined;
  for (const name of names) {
    proxy = readEnv(env, name);
    if (proxy !== undefined) break;
  }
  if (proxy === undefined) return null;
  const noProxy = readEnv(env, "no_proxy");
  if (noProxy !== undefined && bypassesProxy(target.host, target.port, noProxy)) return null;
  return proxy;
}

/**
 * Whether `host:port` matches an entry of `noProxy`, a list separated by
 * commas or whitespace of:
 *
 * - `*`: every host;
 * - a domain, `example.com`, `.example.com` or `*.example.com`: that domain
 *   and its subdomains;
 * - an IPv4 or IPv6 address, `[::1]` brackets allowed, or a CIDR range,
 *   `10.0.0.0/8`, `fd00::/8`: matched against IP literals only, as nothing
 *   is resolved;
 * - any of these but `*` and ranges followed by `:port`: only that port.
 *
 * Comparisons ignore case and a trailing dot.
 */
export function bypassesProxy(host: string, port: number, noProxy: string): boolean {
  let target = host.toLowerCase();
  if (target.startsWith("[") && target.endsWith("]")) target = target.slice(1, -1);
  if (target.endsWith(".")) target = target.slice(0, -1);
  const targetFamily = net.isIP(target);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;

    let entryPort: number | null = null;
    if (entry.startsWith("[")) {
      const close = entry.indexOf("]");
      if (close === -1) continue;
      const after = entry.slice(close + 1);
      if (after !== "") {
        if (!/^:\d+$/.test(after)) continue;
        entryPort = Number(after.slice(1));
      }
      entry = entry.slice(1, close);
    } else if (net.isIPv6(entry.split("/")[0])) {
      // A bare IPv6 address or range has no port.
    } else {
      const match = /^(.*):(\d+)$/.exec(entry);
      if (match !== null) {
        entry = match[1];
        entryPort = Number(match[2]);
      }
    }
    if (entryPort !== null && entryPort !== port) continue;

    const slash = entry.indexOf("/");
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const family = net.isIP(address);
    if (family !== 0) {
      if (targetFamily === 0) continue;
      const list = new net.BlockList();
      const type = family === 4 ? "ipv4" : "ipv6";
      if (slash === -1) {
        list.addAddress(address, type);
      } else {
        const prefix = Number(entry.slice(slash + 1));
        if (!/^\d+$/.test(entry.slice(slash + 1)) || prefix > (family === 4 ? 32 : 128)) continue;
        list.addSubnet(address, prefix, type);
      }
      if (list.check(target, targetFamily === 4 ? "ipv4" : "ipv6")) return true;
      continue;
    }

    if (entry.startsWith("*.")) entry = entry.slice(2);
    else if (entry.startsWith(".")) entry = entry.slice(1);
    if (entry.endsWith(".")) entry = entry.slice(0, -1);
    if (entry === "") continue;
    if (target === entry || target.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** Options of {@link connectThroughProxy}. */
export interface ProxyConnectOptions {
  /** Aborts the connection to the proxy and its handshake; rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * TLS options for the connection to an `https://` proxy (`ca`, `cert`...).
   * `servername` defaults to the proxy's host name.
   */
  proxyTls?: tls.ConnectionOptions;
  /** `User-Agent` of the `CONNECT` request; `null` or absent sends none. */
  userAgent?: string | null;
  /**
   * Receives, at DEBUG, the proxy in use (its password redacted) and the
   * lines of the `CONNECT` exchange, `Proxy-Authorization` shown as
   * `[redacted]`. Absent or `null`: nothing is logged.
   */
  logger?: LoggerLike | null;
}

/**
 * Opens a TCP connection to `target` through `proxy`: an HTTP `CONNECT`
 * tunnel (over TLS to the proxy for `https://`), or a SOCKS tunnel. For
 * `socks5` and `socks4` the target's name is resolved locally; `socks5h` and
 * `socks4a` let the proxy resolve it.
 *
 * The socket is returned paused, with any bytes received after the proxy's
 * answer pushed back into it; `resume()` it or attach a reader. For a
 * `wss://` server, run TLS over it (`tls.connect({ socket })`).
 *
 * @throws {@link InvalidProxy} for an invalid proxy URL.
 * @throws {@link InvalidProxyStatus} when the proxy answers `CONNECT` with a non-2xx status.
 * @throws {@link InvalidProxyMessage} when the proxy's answer is malformed or missing.
 * @throws {@link SocksProxyError} when a SOCKS proxy refuses or fails the connection.
 * @throws {@link ProxyError} for other proxy failures (authentication...).
 * @throws network errors from `node:net` (`ECONNREFUSED`...) and TLS errors as they are.
 */
export async function connectThroughProxy(
  proxy: string | Proxy,
  target: { host: string; port: number },
  options: ProxyConnectOptions = {},
): Promise<net.Socket> {
  const parsed = typeof proxy === "string" ? parseProxy(proxy) : proxy;
  const { signal } = options;
  signal?.throwIfAborted();
  const debug = isLevelEnabled(options.logger, "debug") ? (options.logger ?? null) : null;
  debug?.debug(logMessages.proxyTunnel(redactURL(parsed.url), authority(target.host, target.port)));

  let socket: net.Socket | null = null;
  const onAbort = () => socket?.destroy(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    let address: string | null = null;
    if (parsed.scheme === "socks5" || parsed.scheme === "socks4") {
      // Resolve before connecting to the proxy: a DNS failure is then a
      // plain ENOTFOUND, and no proxy connection is opened for nothing.
      address = await resolve(target.host, parsed.scheme === "socks4" ? 4 : 0, signal);
    }
    socket = await openSocket(parsed, options);
    signal?.throwIfAborted();
    const reader = new Reader(socket, parsed);
    switch (parsed.scheme) {
      case "http":
      case "https":
        await httpConnect(socket, reader, parsed, target, options.userAgent ?? null, debug);
        break;
      case "socks5":
      case "socks5h":
        await socks5Connect(socket, reader, parsed, target, address);
        break;
      case "socks4":
      case "socks4a":
        await socks4Connect(socket, reader, parsed, target, address);
        break;
    }
    const rest = reader.detach();
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    return socket;
  } catch (error) {
    socket?.destroy();
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

async function resolve(host: string, family: 0 | 4, signal?: AbortSignal): Promise<string> {
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  if (net.isIP(literal) !== 0) return literal;
  const pending = lookup(host, { family });
  if (signal === undefined) return (await pending).address;
  // dns.lookup can't be cancelled; stop waiting for it instead.
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return (await Promise.race([pending, aborted])).address;
  } finally {
    signal.removeEventListener("abort", onAbort);
    pending.catch(() => {});
  }
}

function openSocket(proxy: Proxy, options: ProxyConnectOptions): Promise<net.Socket> {
  if (proxy.scheme === "https") {
    const socket = tls.connect({
      host: proxy.host,
      port: proxy.port,
      servername: net.isIP(proxy.host) === 0 ? proxy.host : undefined,
      ALPNProtocols: ["http/1.1"],
      ...options.proxyTls,
    });
    return waitForConnect(socket, "secureConnect", options.signal);
  }
  return waitForConnect(
    net.connect({ host: proxy.host, port: proxy.port }),
    "connect",
    options.signal,
  );
}

/**
 * Buffers what the proxy sends until the handshake needs it; hands back
 * what's left when the tunnel is up.
 */
class Reader {
  readonly #socket: net.Socket;
  readonly #proxy: Proxy;
  #chunks: Buffer[] = [];
  #length = 0;
  #eof = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(socket: net.Socket, proxy: Proxy) {
    this.#socket = socket;
    this.#proxy = proxy;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    this.#notify();
  };

  #onEnd = (): void => {
    this.#eof = true;
    this.#notify();
  };

  #onError = (error: Error): void => {
    this.#error ??= error;
    this.#notify();
  };

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #wait(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  /** The next bytes received, or `null` at the end of the stream. */
  async readSome(): Promise<Buffer | null> {
    while (this.#length === 0) {
      if (this.#error !== null) throw this.#error;
      if (this.#eof) return null;
      await this.#wait();
    }
    return this.#take(this.#length);
  }

  /** Exactly `n` bytes; `what` names them in the error when the proxy closes first. */
  async readExactly(n: number, what: string): Promise<Buffer> {
    while (this.#length < n) {
      if (this.#error !== null) throw this.#error;
      if (this.#eof) {
        throw new InvalidProxyMessage(
          `proxy ${describe(this.#proxy)} closed the connection while sending ${what}`,
        );
      }
      await this.#wait();
    }
    return this.#take(n);
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
    this.#chunks = n < all.length ? [all.subarray(n)] : [];
    this.#length -= n;
    return all.subarray(0, n);
  }

  /** Puts bytes back in front of those not consumed yet. */
  unread(data: Buffer): void {
    this.#chunks.unshift(data);
    this.#length += data.length;
  }

  /** Stops listening; returns bytes not consumed, which belong to the tunnel. */
  detach(): Buffer {
    this.#socket.off("data", this.#onData);
    this.#socket.off("end", this.#onEnd);
    this.#socket.off("close", this.#onEnd);
    this.#socket.off("error", this.#onError);
    return this.#take(this.#length);
  }
}

function describe(proxy: Proxy): string {
  const host = proxy.host.includes(":") ? `[${proxy.host}]` : proxy.host;
  return `${proxy.scheme}://${host}:${proxy.port}`;
}

function authority(host: string, port: number): string {
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  return net.isIPv6(literal) ? `[${literal}]:${port}` : `${literal}:${port}`;
}

// RFC 9110 §9.3.6: CONNECT host:port, answered by a 2xx once the tunnel is up.
async function httpConnect(
  socket: net.Socket,
  reader: Reader,
  proxy: Proxy,
  target: { host: string; port: number },
  userAgent: string | null,
  debug: LoggerLike | null,
): Promise<void> {
  const hostPort = authority(target.host, target.port);
  const headers = new Headers();
  headers.append("Host", hostPort);
  if (userAgent !== null) headers.append("User-Agent", userAgent);
  if (proxy.username !== null) {
    // RFC 9110 §11.7.2, with the Basic scheme of RFC 7617.
    headers.append(
      "Proxy-Authorization",
      buildAuthorizationBasic(proxy.username, proxy.password ?? ""),
    );
  }
  const request: Request = { method: "CONNECT", path: hostPort, headers };
  if (debug !== null) for (const line of formatRequestLines(request, ">")) debug.debug(line);
  socket.write(serializeRequest(request));

  // Some proxies (tinyproxy among them) answer in HTTP/1.0.
  const parser = new ResponseParser({ requestMethod: "CONNECT", allowHttp10: true });
  try {
    while (true) {
      const chunk = await reader.readSome();
      const parsed = chunk === null ? parser.feedEof() : parser.feed(chunk);
      if (parsed === null) continue;
      const { message: response, rest } = parsed;
      if (debug !== null) for (const line of formatResponseLines(response, "<")) debug.debug(line);
      if (response.status < 200 || response.status >= 300) {
        throw new InvalidProxyStatus(response);
      }
      if (rest.length > 0) reader.unread(rest);
      return;
    }
  } catch (error) {
    if (error instanceof InvalidMessage || error instanceof SecurityError) {
      throw new InvalidProxyMessage(
        `did not receive a valid HTTP response from proxy ${describe(proxy)}: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** SOCKS5 reply codes (RFC 1928 §6), phrased for error messages. */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused by destination host",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

/** SOCKS4 reply codes, phrased for error messages. */
export const SOCKS4_REPLIES: Readonly<Record<number, string>> = {
  91: "request rejected or failed",
  92: "request rejected because the proxy cannot connect to identd on the client",
  93: "request rejected because identd and the client reported different user ids",
};

async function socks5Connect(
  socket: net.Socket,
  reader: Reader,
  proxy: Proxy,
  target: { host: string; port: number },
  address: string | null,
): Promise<void> {
  const where = describe(proxy);
  // RFC 1928 §3: version, number of methods, methods. 0x00 is no
  // authentication, 0x02 username/password (RFC 1929).
  const withAuth = proxy.username !== null;
  socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]));
  const choice = await reader.readExactly(2, "its SOCKS5 method selection");
  if (choice[0] !== 5) {
    throw new InvalidProxyMessage(
      `proxy ${where} answered with SOCKS version ${choice[0]} instead of 5`,
    );
  }
  if (choice[1] === 0xff) {
    throw new ProxyError(
      withAuth
        ? `SOCKS5 proxy ${where} accepts neither username/password nor no authentication`
        : `SOCKS5 proxy ${where} requires authentication`,
    );
  }
  if (choice[1] === 2 && withAuth) {
    // RFC 1929 §2: version 1, username and password, each length-prefixed.
    const username = Buffer.from(proxy.username ?? "");
    const password = Buffer.from(proxy.password ?? "");
    socket.write(
      Buffer.concat([
        Buffer.from([1, username.length]),
        username,
        Buffer.from([password.length]),
        password,
      ]),
    );
    const status = await reader.readExactly(2, "its SOCKS5 authentication status");
    if (status[0] !== 1) {
      throw new InvalidProxyMessage(
        `proxy ${where} answered authentication with version ${status[0]} instead of 1`,
      );
    }
    if (status[1] !== 0) {
      throw new ProxyError(
        `SOCKS5 proxy ${where} rejected username ${JSON.stringify(proxy.username)} (status ${status[1]})`,
      );
    }
  } else if (choice[1] !== 0) {
    throw new InvalidProxyMessage(
      `SOCKS5 proxy ${where} selected authentication method ${choice[1]}, which wasn't offered`,
    );
  }

  // RFC 1928 §4: CONNECT to an IPv4 address (1), a domain name (3) or an IPv6 address (4).
  let destination: Buffer;
  const host = address ?? target.host;
  const family = net.isIP(host);
  if (family === 4) {
    destination = Buffer.from([1, ...host.split(".").map(Number)]);
  } else if (family === 6) {
    destination = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
  } else {
    const name = Buffer.from(host);
    if (name.length > 255) {
      throw new ProxyError(`host name ${host} is too long for SOCKS5 (${name.length} bytes)`);
    }
    destination = Buffer.concat([Buffer.from([3, name.length]), name]);
  }
  const port = Buffer.alloc(2);
  port.writeUInt16BE(target.port);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), destination, port]));

  // RFC 1928 §6: version, reply, reserved, bound address, bound port.
  const head = await reader.readExactly(5, "its SOCKS5 reply");
  if (head[0] !== 5) {
    throw new InvalidProxyMessage(
      `proxy ${where} replied with SOCKS version ${head[0]} instead of 5`,
    );
  }
  if (head[1] !== 0) {
    const reason = SOCKS5_REPLIES[head[1]] ?? "unassigned reply code";
    throw new SocksProxyError(
      `SOCKS5 proxy ${where} couldn't connect to ${authority(target.host, target.port)}: ${reason} (SOCKS5 reply ${head[1]})`,
      5,
      head[1],
    );
  }
  // head[4] is the first byte of the bound address, or the length of a name.
  const remaining =
    head[3] === 1 ? 3 + 2 : head[3] === 4 ? 15 + 2 : head[3] === 3 ? head[4] + 2 : -1;
  if (remaining === -1) {
    throw new InvalidProxyMessage(`proxy ${where} replied with unknown address type ${head[3]}`);
  }
  await reader.readExactly(remaining, "its SOCKS5 reply");
}

function ipv6Bytes(address: string): Buffer {
  // Expand "::" into the missing groups; an embedded IPv4 tail becomes two groups.
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const left = head === "" ? [] : head.split(":");
  const right = tail === null || tail === "" ? [] : tail.split(":");
  const groups =
    tail === null ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  });
  return bytes;
}

async function socks4Connect(
  socket: net.Socket,
  reader: Reader,
  proxy: Proxy,
  target: { host: string; port: number },
  address: string | null,
): Promise<void> {
  const where = describe(proxy);
  const version = proxy.scheme === "socks4a" ? "SOCKS4a" : "SOCKS4";
  const host = address ?? target.host;
  const family = net.isIP(host);
  if (family === 6) {
    throw new ProxyError(`${version} can't connect to IPv6 address ${host}; use socks5`);
  }
  // SOCKS4: VN 4, CD 1 (CONNECT), DSTPORT, DSTIP, USERID, NUL. SOCKS4a: an
  // invalid DSTIP 0.0.0.x asks the proxy to resolve the name after USERID.
  const port = Buffer.alloc(2);
  port.writeUInt16BE(target.port);
  const ip = family === 4 ? Buffer.from(host.split(".").map(Number)) : Buffer.from([0, 0, 0, 1]);
  const userId = Buffer.from(proxy.username ?? "");
  const parts = [Buffer.from([4, 1]), port, ip, userId, Buffer.from([0])];
  if (family === 0) parts.push(Buffer.from(host), Buffer.from([0]));
  socket.write(Buffer.concat(parts));

  const reply = await reader.readExactly(8, `its ${version} reply`);
  if (reply[0] !== 0) {
    throw new InvalidProxyMessage(`proxy ${where} replied with version ${reply[0]} instead of 0`);
  }
  if (reply[1] !== 90) {
    const reason = SOCKS4_REPLIES[reply[1]] ?? "unassigned reply code";
    throw new SocksProxyError(
      `${version} proxy ${where} couldn't connect to ${authority(target.host, target.port)}: ${reason} (SOCKS4 reply ${reply[1]})`,
      4,
      reply[1],
    );
  }
}

/** Options of `connect()` about proxies. */
export interface ProxyOptions {
  /**
   * The proxy to connect through: `true` to choose one from the environment
   * ({@link getProxy}: `wss_proxy`/`ws_proxy`, `https_proxy`/`http_proxy`,
   * `all_proxy`, `no_proxy`), a proxy URL (`http://`, `https://`,
   * `socks5://`, `socks5h://`, `socks4://`, `socks4a://`, with optional
   * `user:password@`), or `null` (or `false`) to connect directly. Ignored
   * with `path` or `sock`. Default: `true`.
   */
  proxy?: string | boolean | null;
  /**
   * TLS options for the connection to an `https://` proxy (`ca`...), as
   * `tls` is for the server. Default: none.
   */
  proxyTls?: tls.ConnectionOptions | null;
}

/**
 * The proxy URL to use for `uri` given the `proxy` option, or `null`.
 *
 * @throws {@link InvalidProxy} when the URL (given or from the environment) is invalid.
 */
export function proxyFor(
  uri: ProxyTarget,
  option: string | boolean | null | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Proxy | null {
  const url =
    option === undefined || option === true
      ? getProxy(uri, env)
      : typeof option === "string"
        ? option
        : null;
  return url === null ? null : parseProxy(url);
}

/** What {@link openTunnel} needs from the options of `connect()`. */
export interface TunnelOptions extends ProxyOptions {
  /** TLS options for a `wss://` server. */
  tls?: tls.ConnectionOptions;
  /** `User-Agent`, also sent to HTTP proxies; `null` for none. Default: the client's. */
  userAgentHeader?: string | null;
}

/**
 * Opens the transport of a connection to `uri` through `proxy`: the tunnel,
 * then, for `wss://`, TLS to the server over it; `logger` gets the tunnel's
 * DEBUG lines. A `ws://` tunnel comes back
 * paused (see {@link connectThroughProxy}).
 */
export async function openTunnel(
  proxy: Proxy,
  uri: ProxyTarget,
  options: TunnelOptions,
  signal: AbortSignal,
  logger: LoggerLike | null = null,
): Promise<net.Socket> {
  const tunnel = await connectThroughProxy(
    proxy,
    { host: uri.host, port: uri.port },
    {
      signal,
      proxyTls: options.proxyTls ?? undefined,
      userAgent:
        options.userAgentHeader === undefined ? defaultUserAgent() : options.userAgentHeader,
      logger,
    },
  );
  if (!uri.secure) return tunnel;
  const socket = tls.connect({
    ALPNProtocols: ["http/1.1"],
    // RFC 6066 §3: SNI takes a host name, never an IP address.
    servername: net.isIP(uri.host) === 0 ? uri.host : undefined,
    ...options.tls,
    socket: tunnel,
    // Not used to connect; the certificate is checked against it, where
    // Node would otherwise fall back to the proxy's host for IP addresses.
    host: uri.host,
  });
  try {
    return await waitForConnect(socket, "secureConnect", signal);
  } catch (error) {
    tunnel.destroy();
    throw error;
  }
}
