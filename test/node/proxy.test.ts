import { strict as assert } from "node:assert";
import { once } from "node:events";
import * as net from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import * as tls from "node:tls";
import {
  InvalidProxy,
  InvalidProxyMessage,
  InvalidProxyStatus,
  ProxyError,
  SocksProxyError,
} from "../../src/errors.ts";
import { type ConnectOptions, connect } from "../../src/node/client.ts";
import {
  bypassesProxy,
  connectThroughProxy,
  getProxy,
  parseProxy,
  SOCKS4_REPLIES,
  SOCKS5_REPLIES,
} from "../../src/node/proxy.ts";
import { type ServerConnection, serve } from "../../src/node/server.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { runExample } from "../helpers/run-example.ts";

// ---------------------------------------------------------------------------
// Test peers: an echo server, and fake proxies that record what they receive.

/** Reads exact byte counts or lines from a socket, for the fake proxies. */
class Bytes {
  #buffer = Buffer.alloc(0);
  #wake: (() => void) | null = null;
  #ended = false;

  constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", () => {});
  }

  async #until(ready: () => boolean): Promise<boolean> {
    while (!ready()) {
      if (this.#ended) return false;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    return true;
  }

  async exactly(n: number): Promise<Buffer | null> {
    if (!(await this.#until(() => this.#buffer.length >= n))) return null;
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  async through(delimiter: string): Promise<string | null> {
    if (!(await this.#until(() => this.#buffer.includes(delimiter)))) return null;
    const end = this.#buffer.indexOf(delimiter) + delimiter.length;
    const out = this.#buffer.subarray(0, end).toString("latin1");
    this.#buffer = this.#buffer.subarray(end);
    return out;
  }

  /** Bytes already received and not read, for piping. */
  rest(): Buffer {
    return this.#buffer;
  }
}

const servers: net.Server[] = [];
// Every socket the fake proxies and echo servers hold, so the file can end
// them: a proxy's socket paused mid-handshake never reads its peer's EOF.
const sockets = new Set<net.Socket>();

function track(socket: net.Socket): void {
  sockets.add(socket);
  socket.once("close", () => sockets.delete(socket));
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  server.on("connection", track);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as net.AddressInfo).port;
}

/** Connects `client` to 127.0.0.1:`port` and pipes both ways, `head` first. */
function pipeTo(client: net.Socket, bytes: Bytes, host: string, port: number): void {
  const upstream = net.connect({ host, port });
  track(upstream);
  upstream.on("error", () => client.destroy());
  const rest = bytes.rest();
  if (rest.length > 0) upstream.write(rest);
  client.removeAllListeners("data");
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("close", () => upstream.destroy());
}

let echoPort = 0;
let tlsEchoPort = 0;

/** What a fake proxy saw. */
interface Seen {
  head: string[];
  bytes: number[][];
  userId?: string;
  hostname?: string;
  address?: string;
  port?: number;
  credentials?: [string, string];
}

interface HttpProxyOptions {
  /** Expected `Proxy-Authorization`; a mismatch gets a 407. */
  auth?: string;
  /** Raw answer to send instead of tunnelling; the socket is closed after it unless `keepOpen`. */
  answer?: string;
  keepOpen?: boolean;
  /** Bytes sent right after a 200, before anything from the server. */
  extra?: string;
  tls?: boolean;
}

function httpProxy(options: HttpProxyOptions = {}): { port: Promise<number>; seen: Seen[] } {
  const seen: Seen[] = [];
  const handle = async (client: net.Socket) => {
    const bytes = new Bytes(client);
    const head = await bytes.through("\r\n\r\n");
    if (head === null) return;
    const lines = head.split("\r\n").filter((line) => line !== "");
    seen.push({ head: lines, bytes: [] });
    if (options.answer !== undefined) {
      client.write(options.answer);
      if (!options.keepOpen) client.end();
      return;
    }
    const auth = lines.find((line) => line.toLowerCase().startsWith("proxy-authorization:"));
    if (options.auth !== undefined && auth?.slice(21).trim() !== options.auth) {
      const body = "proxy authentication required";
      client.end(
        "HTTP/1.1 407 Proxy Authentication Required\r\n" +
          'Proxy-Authenticate: Basic realm="test"\r\n' +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    const [, target] = lines[0].split(" ");
    const colon = target.lastIndexOf(":");
    const host = target.slice(0, colon).replace(/^\[|\]$/g, "");
    client.write(`HTTP/1.1 200 Connection established\r\n\r\n${options.extra ?? ""}`);
    pipeTo(client, bytes, host, Number(target.slice(colon + 1)));
  };
  const server = options.tls
    ? tls.createServer({ key, cert }, (client) => void handle(client))
    : net.createServer((client) => void handle(client));
  return { port: listen(server), seen };
}

interface SocksOptions {
  /** Require these credentials (SOCKS5 method 2). */
  auth?: [string, string];
  /** Reply code to send instead of connecting (SOCKS5: 1-255, SOCKS4: 91-93...). */
  reply?: number;
  /** Raw bytes to send instead of the method selection (SOCKS5) or the reply (SOCKS4). */
  raw?: number[];
  /** Raw bytes to send instead of the CONNECT reply (SOCKS5). */
  rawReply?: number[];
  /** Close the connection after sending raw bytes. */
  close?: boolean;
}

function socks5Proxy(options: SocksOptions = {}): { port: Promise<number>; seen: Seen[] } {
  const seen: Seen[] = [];
  const server = net.createServer(async (client) => {
    const bytes = new Bytes(client);
    const record: Seen = { head: [], bytes: [] };
    seen.push(record);
    const greeting = await bytes.exactly(2);
    if (greeting === null) return;
    const methods = await bytes.exactly(greeting[1]);
    if (methods === null) return;
    record.bytes.push([...greeting, ...methods]);
    if (options.raw !== undefined) {
      client.write(Buffer.from(options.raw));
      if (options.close) client.end();
      return;
    }
    if (options.auth !== undefined) {
      if (!methods.includes(2)) {
        client.end(Buffer.from([5, 0xff]));
        return;
      }
      client.write(Buffer.from([5, 2]));
      const [version, userLength] = (await bytes.exactly(2)) ?? [];
      const user = (await bytes.exactly(userLength ?? 0))?.toString() ?? "";
      const [passLength] = (await bytes.exactly(1)) ?? [];
      const pass = (await bytes.exactly(passLength ?? 0))?.toString() ?? "";
      record.credentials = [user, pass];
      if (version !== 1 || user !== options.auth[0] || pass !== options.auth[1]) {
        client.end(Buffer.from([1, 1]));
        return;
      }
      client.write(Buffer.from([1, 0]));
    } else {
      client.write(Buffer.from([5, 0]));
    }
    const request = await bytes.exactly(4);
    if (request === null) return;
    record.bytes.push([...request]);
    let address: string;
    if (request[3] === 1) {
      address = [...((await bytes.exactly(4)) ?? [])].join(".");
    } else if (request[3] === 3) {
      const [length] = (await bytes.exactly(1)) ?? [0];
      address = (await bytes.exactly(length))?.toString() ?? "";
      record.hostname = address;
    } else {
      const raw = (await bytes.exactly(16)) ?? Buffer.alloc(16);
      address = Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(":");
    }
    const port = (await bytes.exactly(2))?.readUInt16BE(0) ?? 0;
    record.address = address;
    record.port = port;
    if (options.rawReply !== undefined) {
      client.write(Buffer.from(options.rawReply));
      if (options.close) client.end();
      return;
    }
    if (options.reply !== undefined) {
      client.end(Buffer.from([5, options.reply, 0, 1, 0, 0, 0, 0, 0, 0]));
      return;
    }
    client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0x12, 0x34]));
    pipeTo(client, bytes, address === "localhost" ? "127.0.0.1" : address, port);
  });
  return { port: listen(server), seen };
}

function socks4Proxy(options: SocksOptions = {}): { port: Promise<number>; seen: Seen[] } {
  const seen: Seen[] = [];
  const server = net.createServer(async (client) => {
    const bytes = new Bytes(client);
    const record: Seen = { head: [], bytes: [] };
    seen.push(record);
    const request = await bytes.exactly(8);
    if (request === null) return;
    record.bytes.push([...request]);
    record.port = request.readUInt16BE(2);
    record.address = [...request.subarray(4, 8)].join(".");
    record.userId = (await bytes.through("\0"))?.slice(0, -1);
    if (record.address.startsWith("0.0.0.") && record.address !== "0.0.0.0") {
      record.hostname = (await bytes.through("\0"))?.slice(0, -1);
    }
    if (options.raw !== undefined) {
      client.write(Buffer.from(options.raw));
      if (options.close) client.end();
      return;
    }
    if (options.reply !== undefined) {
      client.end(Buffer.from([0, options.reply, 0, 0, 0, 0, 0, 0]));
      return;
    }
    client.write(Buffer.from([0, 90, 0, 0, 0, 0, 0, 0]));
    const host =
      record.hostname === "localhost" ? "127.0.0.1" : (record.hostname ?? record.address);
    pipeTo(client, bytes, host, record.port);
  });
  return { port: listen(server), seen };
}

/** Sends `text` through the tunnel and expects the echo server to send it back. */
async function assertEchoes(socket: net.Socket, text = "hello through the tunnel"): Promise<void> {
  socket.resume();
  let received = "";
  const done = new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= text.length) resolve();
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`tunnel closed after ${JSON.stringify(received)}`)));
  });
  socket.write(text);
  await done;
  assert.equal(received, text);
  socket.destroy();
}

/** A fresh port where nothing listens. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

before(async () => {
  echoPort = await listen(net.createServer((socket) => socket.pipe(socket)));
  tlsEchoPort = await listen(tls.createServer({ key, cert }, (socket) => socket.pipe(socket)));
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
});

const target = () => ({ host: "127.0.0.1", port: echoPort });

// ---------------------------------------------------------------------------

describe("parseProxy", () => {
  it("parses each scheme with its default port", () => {
    const cases: [string, string, number][] = [
      ["http://proxy.example", "http", 80],
      ["https://proxy.example", "https", 443],
      ["socks5://proxy.example", "socks5", 1080],
      ["socks5h://proxy.example", "socks5h", 1080],
      ["socks4://proxy.example", "socks4", 1080],
      ["socks4a://proxy.example/", "socks4a", 1080],
    ];
    for (const [url, scheme, port] of cases) {
      assert.deepEqual(parseProxy(url), {
        url,
        scheme,
        host: "proxy.example",
        port,
        username: null,
        password: null,
      });
    }
  });

  it("lowercases the host, strips IPv6 brackets and keeps an explicit port", () => {
    assert.equal(parseProxy("http://PROXY.Example:3128").host, "proxy.example");
    assert.equal(parseProxy("http://PROXY.Example:3128").port, 3128);
    assert.equal(parseProxy("socks5://[::1]:9050").host, "::1");
  });

  it("decodes percent-encoded credentials", () => {
    const proxy = parseProxy("http://us%40er:p%3Ass%2Fw@proxy.example:8080");
    assert.equal(proxy.username, "us@er");
    assert.equal(proxy.password, "p:ss/w");
  });

  it("accepts a user name without password: an empty password, or a SOCKS4 user id", () => {
    assert.equal(parseProxy("http://user@proxy.example").password, "");
    assert.equal(parseProxy("socks5://user@proxy.example").password, "");
    assert.deepEqual(
      [parseProxy("socks4://id@proxy.example").username, parseProxy("socks4://id@p").password],
      ["id", null],
    );
  });

  it("rejects invalid proxy URLs with InvalidProxy naming the URL", () => {
    const cases: [string, string][] = [
      ["not a url", "not a valid URL"],
      ["ftp://proxy.example", "scheme ftp isn't supported"],
      ["socks://proxy.example", "scheme socks isn't supported"],
      ["http://proxy.example/path", "path is meaningless"],
      ["http://proxy.example/?q=1", "query is meaningless"],
      ["http://proxy.example/#f", "fragment is meaningless"],
      ["http://:pw@proxy.example", "password provided without username"],
      ["socks4://id:pw@proxy.example", "SOCKS4 doesn't support passwords"],
      ["http://a%3Ab:pw@proxy.example", "username contains a colon"],
      ["http://%E0%A4%A@proxy.example", "invalid percent-encoding in credentials"],
      [
        `socks5://${"u".repeat(256)}:pw@proxy.example`,
        "SOCKS5 credentials are limited to 255 bytes each",
      ],
    ];
    for (const [url, reason] of cases) {
      assert.throws(
        () => parseProxy(url),
        (error: unknown) => {
          assert.ok(error instanceof InvalidProxy, url);
          // Named with its password redacted.
          const shown = url.replace(":pw@", ":xxxxx@");
          assert.equal(error.proxy, shown);
          assert.equal(error.message, `${shown} isn't a valid proxy: ${reason}`);
          return true;
        },
      );
    }
  });
});

describe("getProxy", () => {
  const ws = { secure: false, host: "server.example", port: 80 };
  const wss = { secure: true, host: "server.example", port: 443 };

  it("connects directly when no variable is set", () => {
    assert.equal(getProxy(ws, {}), null);
    assert.equal(getProxy(wss, { http_proxy: "http://p:1" }), null);
  });

  it("prefers ws_proxy, then http_proxy, then all_proxy for ws://", () => {
    const env = { ws_proxy: "http://a:1", http_proxy: "http://b:1", all_proxy: "socks5://c:1" };
    assert.equal(getProxy(ws, env), "http://a:1");
    assert.equal(getProxy(ws, { ...env, ws_proxy: undefined }), "http://b:1");
    assert.equal(
      getProxy(ws, { all_proxy: "socks5://c:1", https_proxy: "http://d:1" }),
      "socks5://c:1",
    );
  });

  it("prefers wss_proxy, then https_proxy, then all_proxy for wss://", () => {
    const env = { wss_proxy: "http://a:1", https_proxy: "http://b:1", all_proxy: "socks5://c:1" };
    assert.equal(getProxy(wss, env), "http://a:1");
    assert.equal(getProxy(wss, { ...env, wss_proxy: undefined }), "http://b:1");
    assert.equal(
      getProxy(wss, { all_proxy: "socks5://c:1", http_proxy: "http://d:1" }),
      "socks5://c:1",
    );
  });

  it("reads upper case variables, lower case winning", () => {
    assert.equal(getProxy(ws, { HTTP_PROXY: "http://upper:1" }), "http://upper:1");
    assert.equal(getProxy(wss, { WSS_PROXY: "http://upper:1" }), "http://upper:1");
    assert.equal(getProxy(ws, { ALL_PROXY: "socks5h://upper:1" }), "socks5h://upper:1");
    assert.equal(
      getProxy(ws, { HTTP_PROXY: "http://upper:1", http_proxy: "http://lower:1" }),
      "http://lower:1",
    );
  });

  it("ignores empty variables", () => {
    assert.equal(getProxy(ws, { ws_proxy: " ", http_proxy: "http://b:1" }), "http://b:1");
  });

  it("honours no_proxy and NO_PROXY", () => {
    assert.equal(getProxy(ws, { http_proxy: "http://p:1", no_proxy: "example" }), null);
    assert.equal(getProxy(ws, { http_proxy: "http://p:1", NO_PROXY: "server.example" }), null);
    assert.equal(
      getProxy(ws, { http_proxy: "http://p:1", no_proxy: "other.example" }),
      "http://p:1",
    );
  });
});

describe("bypassesProxy", () => {
  const table: [host: string, port: number, noProxy: string, expected: boolean][] = [
    ["anything.example", 80, "*", true],
    ["anything.example", 80, "", false],
    ["anything.example", 80, " , ", false],
    // Domains match themselves and their subdomains, not mere suffixes.
    ["example.com", 80, "example.com", true],
    ["sub.example.com", 80, "example.com", true],
    ["a.b.example.com", 443, "example.com", true],
    ["notexample.com", 80, "example.com", false],
    ["example.com.evil", 80, "example.com", false],
    ["example.org", 80, "example.com", false],
    ["sub.example.com", 80, ".example.com", true],
    ["example.com", 80, ".example.com", true],
    ["sub.example.com", 80, "*.example.com", true],
    ["notexample.com", 80, "*.example.com", false],
    // Case and trailing dots don't matter.
    ["Sub.Example.COM", 80, "example.com", true],
    ["sub.example.com.", 80, "EXAMPLE.com.", true],
    // Lists, separated by commas and/or whitespace.
    ["b.example", 80, "a.example, b.example", true],
    ["b.example", 80, "a.example b.example", true],
    ["c.example", 80, "a.example,,b.example", false],
    // host:port entries.
    ["example.com", 8080, "example.com:8080", true],
    ["example.com", 80, "example.com:8080", false],
    ["sub.example.com", 8080, ".example.com:8080", true],
    ["10.1.2.3", 8080, "10.1.2.3:8080", true],
    ["10.1.2.3", 80, "10.1.2.3:8080", false],
    ["::1", 8080, "[::1]:8080", true],
    ["::1", 80, "[::1]:8080", false],
    // IP literals and ranges match IP literals only.
    ["127.0.0.1", 80, "127.0.0.1", true],
    ["127.0.0.2", 80, "127.0.0.1", false],
    ["10.20.30.40", 80, "10.0.0.0/8", true],
    ["11.0.0.1", 80, "10.0.0.0/8", false],
    ["192.168.1.77", 80, "192.168.1.0/24", true],
    ["192.168.2.1", 80, "192.168.1.0/24", false],
    ["1.2.3.4", 80, "0.0.0.0/0", true],
    ["::1", 80, "::1", true],
    ["::1", 80, "[::1]", true],
    ["[::1]", 80, "::1", true],
    ["0:0:0:0:0:0:0:1", 80, "::1", true],
    ["fd12:3456::1", 80, "fd00::/8", true],
    ["fe80::1", 80, "fd00::/8", false],
    ["2001:db8::5", 80, "2001:db8::/32", true],
    ["127.0.0.1", 80, "::1", false],
    ["localhost", 80, "127.0.0.0/8", false],
    ["localhost", 80, "localhost", true],
    // Malformed entries are skipped, not fatal.
    ["10.0.0.1", 80, "10.0.0.0/99", false],
    ["10.0.0.1", 80, "10.0.0.0/x, 10.0.0.1", true],
    ["::1", 80, "[::1, [::1]x", false],
  ];
  for (const [host, port, noProxy, expected] of table) {
    it(`${expected ? "bypasses" : "proxies"} ${host}:${port} with no_proxy=${JSON.stringify(noProxy)}`, () => {
      assert.equal(bypassesProxy(host, port, noProxy), expected);
    });
  }
});

describe("connectThroughProxy: HTTP CONNECT", () => {
  it("opens a tunnel with CONNECT host:port and a Host header", async () => {
    const proxy = httpProxy();
    const socket = await connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target(), {
      userAgent: "websockets-ts/test",
    });
    await assertEchoes(socket);
    assert.deepEqual(proxy.seen[0].head, [
      `CONNECT 127.0.0.1:${echoPort} HTTP/1.1`,
      `Host: 127.0.0.1:${echoPort}`,
      "User-Agent: websockets-ts/test",
    ]);
  });

  it("sends no User-Agent unless given one, and brackets IPv6 targets", async () => {
    const proxy = httpProxy({ answer: "HTTP/1.1 200 OK\r\n\r\n", keepOpen: true });
    const socket = await connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, {
      host: "::1",
      port: 9,
    });
    socket.destroy();
    assert.deepEqual(proxy.seen[0].head, ["CONNECT [::1]:9 HTTP/1.1", "Host: [::1]:9"]);
  });

  it("sends Proxy-Authorization: Basic from the credentials in the URL", async () => {
    const proxy = httpProxy({ auth: `Basic ${Buffer.from("alice:s3cr@t").toString("base64")}` });
    const socket = await connectThroughProxy(
      `http://alice:s3cr%40t@127.0.0.1:${await proxy.port}`,
      target(),
    );
    await assertEchoes(socket);
  });

  it("rejects a 407 with InvalidProxyStatus carrying the response", async () => {
    const proxy = httpProxy({ auth: "Basic never" });
    const port = await proxy.port;
    await assert.rejects(connectThroughProxy(`http://127.0.0.1:${port}`, target()), (error) => {
      assert.ok(error instanceof InvalidProxyStatus);
      assert.ok(error instanceof ProxyError);
      assert.equal(error.message, "proxy rejected connection: HTTP 407");
      assert.equal(error.response.status, 407);
      assert.equal(error.response.headers.get("Proxy-Authenticate"), 'Basic realm="test"');
      assert.equal(error.response.body.toString(), "proxy authentication required");
      return true;
    });
  });

  it("rejects any non-2xx answer, including a body ending at EOF", async () => {
    for (const status of [301, 403, 502]) {
      const proxy = httpProxy({ answer: `HTTP/1.1 ${status} No\r\n\r\nsorry` });
      await assert.rejects(
        connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target()),
        (error) =>
          error instanceof InvalidProxyStatus &&
          error.response.status === status &&
          error.response.body.toString() === "sorry",
      );
    }
  });

  it("accepts any 2xx, an HTTP/1.0 answer, and ignores a Content-Length on 2xx", async () => {
    for (const answer of [
      "HTTP/1.0 200 Connection established\r\nProxy-agent: test\r\n\r\n",
      "HTTP/1.1 204 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    ]) {
      const proxy = httpProxy({ answer, keepOpen: true });
      const socket = await connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target());
      socket.destroy();
    }
  });

  it("keeps bytes that arrive with the proxy's answer in the tunnel", async () => {
    const proxy = httpProxy({ extra: "early bytes" });
    const socket = await connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target());
    assert.equal(socket.isPaused(), true);
    const first = await new Promise<Buffer>((resolve) => {
      socket.once("data", resolve);
      socket.resume();
    });
    socket.pause();
    assert.equal(first.toString(), "early bytes");
    await assertEchoes(socket);
  });

  it("rejects a malformed answer with InvalidProxyMessage", async () => {
    for (const answer of [
      "SSH-2.0-OpenSSH_9.2\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 200 OK\nBare: lf\n\n",
    ]) {
      const proxy = httpProxy({ answer });
      await assert.rejects(
        connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target()),
        (error) => {
          assert.ok(error instanceof InvalidProxyMessage, answer);
          assert.match(
            error.message,
            /^did not receive a valid HTTP response from proxy http:\/\/127\.0\.0\.1:\d+: /,
          );
          return true;
        },
      );
    }
  });

  it("rejects an answer cut short by the proxy with InvalidProxyMessage", async () => {
    for (const answer of ["", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 O"]) {
      const proxy = httpProxy({ answer });
      await assert.rejects(
        connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target()),
        (error) =>
          error instanceof InvalidProxyMessage &&
          /connection closed while reading/.test(error.message),
      );
    }
  });

  it("rejects headers over the HTTP limits with InvalidProxyMessage", async () => {
    const proxy = httpProxy({ answer: `HTTP/1.1 200 OK\r\nX: ${"a".repeat(9000)}\r\n\r\n` });
    await assert.rejects(
      connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target()),
      (error) =>
        error instanceof InvalidProxyMessage &&
        error.cause instanceof Error &&
        error.cause.name === "SecurityError",
    );
  });

  it("opens a tunnel through an https:// proxy, TLS to the proxy then TLS to the server", async () => {
    const proxy = httpProxy({ tls: true });
    const tunnel = await connectThroughProxy(
      `https://localhost:${await proxy.port}`,
      { host: "localhost", port: tlsEchoPort },
      { proxyTls: { ca: cert } },
    );
    assert.ok(tunnel instanceof tls.TLSSocket);
    const secure = tls.connect({ socket: tunnel, servername: "localhost", ca: cert });
    await once(secure, "secureConnect");
    await assertEchoes(secure);
    assert.equal(proxy.seen[0].head[0], `CONNECT localhost:${tlsEchoPort} HTTP/1.1`);
  });

  it("fails TLS to an https:// proxy whose certificate isn't trusted", async () => {
    const proxy = httpProxy({ tls: true });
    await assert.rejects(
      connectThroughProxy(`https://localhost:${await proxy.port}`, target()),
      (error: NodeJS.ErrnoException) =>
        error.code === "DEPTH_ZERO_SELF_SIGNED_CERT" || error.code === "SELF_SIGNED_CERT_IN_CHAIN",
    );
  });

  it("lets network errors through as they are", async () => {
    const port = await closedPort();
    await assert.rejects(
      connectThroughProxy(`http://127.0.0.1:${port}`, target()),
      (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED",
    );
  });

  it("rejects with the signal's reason when aborted while waiting for the answer", async () => {
    const proxy = httpProxy({ answer: "", keepOpen: true });
    const controller = new AbortController();
    const pending = connectThroughProxy(`http://127.0.0.1:${await proxy.port}`, target(), {
      signal: controller.signal,
    });
    while (proxy.seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const proxy = httpProxy();
    const port = await proxy.port;
    await assert.rejects(
      connectThroughProxy(`http://127.0.0.1:${port}`, target(), { signal: AbortSignal.abort() }),
      { name: "AbortError" },
    );
    assert.equal(proxy.seen.length, 0);
  });

  it("rejects an invalid proxy URL with InvalidProxy before connecting", async () => {
    await assert.rejects(connectThroughProxy("gopher://p:70", target()), InvalidProxy);
  });
});

describe("connectThroughProxy: SOCKS5", () => {
  it("opens a tunnel without authentication, offering method 0 only", async () => {
    const proxy = socks5Proxy();
    const socket = await connectThroughProxy(`socks5://127.0.0.1:${await proxy.port}`, target());
    await assertEchoes(socket);
    assert.deepEqual(proxy.seen[0].bytes[0], [5, 1, 0]);
    assert.deepEqual(proxy.seen[0].bytes[1], [5, 1, 0, 1]);
    assert.equal(proxy.seen[0].address, "127.0.0.1");
    assert.equal(proxy.seen[0].port, echoPort);
  });

  it("authenticates with username and password (RFC 1929)", async () => {
    const proxy = socks5Proxy({ auth: ["bob", "p@ss:word"] });
    const socket = await connectThroughProxy(
      `socks5://bob:p%40ss%3Aword@127.0.0.1:${await proxy.port}`,
      target(),
    );
    await assertEchoes(socket);
    assert.deepEqual(proxy.seen[0].bytes[0], [5, 2, 0, 2]);
    assert.deepEqual(proxy.seen[0].credentials, ["bob", "p@ss:word"]);
  });

  it("rejects wrong credentials with ProxyError naming the user", async () => {
    const proxy = socks5Proxy({ auth: ["bob", "right"] });
    await assert.rejects(
      connectThroughProxy(`socks5://bob:wrong@127.0.0.1:${await proxy.port}`, target()),
      (error) =>
        error instanceof ProxyError &&
        /^SOCKS5 proxy socks5:\/\/127\.0\.0\.1:\d+ rejected username "bob" \(status 1\)$/.test(
          error.message,
        ),
    );
  });

  it("rejects a proxy requiring authentication when no credentials are given", async () => {
    const proxy = socks5Proxy({ auth: ["bob", "right"] });
    await assert.rejects(
      connectThroughProxy(`socks5://127.0.0.1:${await proxy.port}`, target()),
      (error) => error instanceof ProxyError && /requires authentication$/.test(error.message),
    );
  });

  it("rejects a proxy accepting none of the offered methods", async () => {
    const proxy = socks5Proxy({ raw: [5, 0xff] });
    await assert.rejects(
      connectThroughProxy(`socks5://u:p@127.0.0.1:${await proxy.port}`, target()),
      (error) =>
        error instanceof ProxyError &&
        /accepts neither username\/password nor no authentication$/.test(error.message),
    );
  });

  it("rejects a method that wasn't offered with InvalidProxyMessage", async () => {
    for (const [url, method] of [
      ["socks5://127.0.0.1", 2],
      ["socks5://u:p@127.0.0.1", 1],
    ] as const) {
      const proxy = socks5Proxy({ raw: [5, method] });
      await assert.rejects(
        connectThroughProxy(`${url}:${await proxy.port}`, target()),
        (error) =>
          error instanceof InvalidProxyMessage &&
          error.message.endsWith(`selected authentication method ${method}, which wasn't offered`),
      );
    }
  });

  it("sends the name with socks5h and the resolved address with socks5", async () => {
    const remote = socks5Proxy();
    const port = await remote.port;
    const viaName = await connectThroughProxy(`socks5h://127.0.0.1:${port}`, {
      host: "localhost",
      port: echoPort,
    });
    viaName.destroy();
    assert.equal(remote.seen[0].bytes[1][3], 3);
    assert.equal(remote.seen[0].hostname, "localhost");

    const viaAddress = await connectThroughProxy(`socks5://127.0.0.1:${port}`, {
      host: "localhost",
      port: echoPort,
    });
    viaAddress.destroy();
    assert.notEqual(remote.seen[1].bytes[1][3], 3);
    assert.ok(["127.0.0.1", "0:0:0:0:0:0:0:1"].includes(remote.seen[1].address ?? ""));
  });

  it("sends IPv6 targets as 16 bytes", async () => {
    const proxy = socks5Proxy({ reply: 4 });
    await assert.rejects(
      connectThroughProxy(`socks5h://127.0.0.1:${await proxy.port}`, {
        host: "2001:db8::a:b",
        port: 80,
      }),
      SocksProxyError,
    );
    assert.equal(proxy.seen[0].bytes[1][3], 4);
    assert.equal(proxy.seen[0].address, "2001:db8:0:0:0:0:a:b");
    const mapped = socks5Proxy({ reply: 4 });
    await assert.rejects(
      connectThroughProxy(`socks5://127.0.0.1:${await mapped.port}`, {
        host: "::ffff:10.1.2.3",
        port: 80,
      }),
      SocksProxyError,
    );
    assert.equal(mapped.seen[0].address, "0:0:0:0:0:ffff:a01:203");
  });

  it("fails with ENOTFOUND when socks5 can't resolve the name locally", async () => {
    const proxy = socks5Proxy();
    await assert.rejects(
      connectThroughProxy(`socks5://127.0.0.1:${await proxy.port}`, {
        host: "does-not-exist.invalid",
        port: 80,
      }),
      (error: NodeJS.ErrnoException) => error.code === "ENOTFOUND",
    );
    assert.equal(proxy.seen.length, 0);
  });

  for (let reply = 1; reply <= 9; reply++) {
    const reason = SOCKS5_REPLIES[reply] ?? "unassigned reply code";
    it(`explains SOCKS5 reply ${reply}: ${reason}`, async () => {
      const proxy = socks5Proxy({ reply });
      const port = await proxy.port;
      await assert.rejects(connectThroughProxy(`socks5://127.0.0.1:${port}`, target()), (error) => {
        assert.ok(error instanceof SocksProxyError);
        assert.equal(error.socksVersion, 5);
        assert.equal(error.reply, reply);
        assert.equal(
          error.message,
          `SOCKS5 proxy socks5://127.0.0.1:${port} couldn't connect to 127.0.0.1:${echoPort}: ${reason} (SOCKS5 reply ${reply})`,
        );
        return true;
      });
    });
  }

  it("names reply 5 as a refusal by the destination host", () => {
    assert.equal(SOCKS5_REPLIES[5], "connection refused by destination host");
  });

  it("reads bound addresses of every type in the reply", async () => {
    for (const rawReply of [
      [5, 0, 0, 1, 10, 0, 0, 1, 0, 80],
      [5, 0, 0, 4, ...Array(16).fill(0), 0, 80],
      [5, 0, 0, 3, 4, 0x68, 0x6f, 0x73, 0x74, 0, 80],
    ]) {
      const proxy = socks5Proxy({ rawReply: [...rawReply, 0x21] });
      const socket = await connectThroughProxy(`socks5://127.0.0.1:${await proxy.port}`, target());
      // The byte after the reply belongs to the tunnel.
      const first = await new Promise<Buffer>((resolve) => {
        socket.once("data", resolve);
        socket.resume();
      });
      socket.pause();
      assert.deepEqual([...first], [0x21]);
      socket.destroy();
    }
  });

  it("rejects malformed SOCKS5 answers with InvalidProxyMessage", async () => {
    const cases: [SocksOptions, RegExp][] = [
      [{ raw: [4, 0] }, /answered with SOCKS version 4 instead of 5$/],
      [{ rawReply: [4, 0, 0, 1, 0, 0, 0, 0, 0, 0] }, /replied with SOCKS version 4 instead of 5$/],
      [{ rawReply: [5, 0, 0, 9, 0, 0, 0, 0] }, /replied with unknown address type 9$/],
      [
        { raw: [5], close: true },
        /closed the connection while sending its SOCKS5 method selection$/,
      ],
      [
        { rawReply: [5, 0, 0, 1, 1], close: true },
        /closed the connection while sending its SOCKS5 reply$/,
      ],
    ];
    for (const [options, message] of cases) {
      const proxy = socks5Proxy(options);
      await assert.rejects(
        connectThroughProxy(`socks5://127.0.0.1:${await proxy.port}`, target()),
        (error) => error instanceof InvalidProxyMessage && message.test(error.message),
      );
    }
  });

  it("rejects a malformed authentication status with InvalidProxyMessage", async () => {
    const server = net.createServer((client) => {
      client.once("data", () => {
        client.write(Buffer.from([5, 2]));
        client.once("data", () => client.end(Buffer.from([5, 0])));
      });
    });
    const port = await listen(server);
    await assert.rejects(
      connectThroughProxy(`socks5://u:p@127.0.0.1:${port}`, target()),
      (error) =>
        error instanceof InvalidProxyMessage &&
        /answered authentication with version 5 instead of 1$/.test(error.message),
    );
  });
});

describe("connectThroughProxy: SOCKS4 and SOCKS4a", () => {
  it("opens a SOCKS4 tunnel to a resolved IPv4 address with the user id", async () => {
    const proxy = socks4Proxy();
    const socket = await connectThroughProxy(`socks4://me@127.0.0.1:${await proxy.port}`, {
      host: "localhost",
      port: echoPort,
    });
    await assertEchoes(socket);
    assert.deepEqual(proxy.seen[0].bytes[0].slice(0, 2), [4, 1]);
    assert.equal(proxy.seen[0].address, "127.0.0.1");
    assert.equal(proxy.seen[0].port, echoPort);
    assert.equal(proxy.seen[0].userId, "me");
    assert.equal(proxy.seen[0].hostname, undefined);
  });

  it("lets a SOCKS4a proxy resolve the name", async () => {
    const proxy = socks4Proxy();
    const socket = await connectThroughProxy(`socks4a://127.0.0.1:${await proxy.port}`, {
      host: "localhost",
      port: echoPort,
    });
    await assertEchoes(socket);
    assert.equal(proxy.seen[0].address, "0.0.0.1");
    assert.equal(proxy.seen[0].userId, "");
    assert.equal(proxy.seen[0].hostname, "localhost");
  });

  it("sends an IPv4 literal as is with SOCKS4a", async () => {
    const proxy = socks4Proxy();
    const socket = await connectThroughProxy(`socks4a://127.0.0.1:${await proxy.port}`, target());
    await assertEchoes(socket);
    assert.equal(proxy.seen[0].address, "127.0.0.1");
    assert.equal(proxy.seen[0].hostname, undefined);
  });

  it("refuses IPv6 targets, which SOCKS4 can't express", async () => {
    const proxy = socks4Proxy();
    await assert.rejects(
      connectThroughProxy(`socks4a://127.0.0.1:${await proxy.port}`, { host: "::1", port: 80 }),
      { name: "ProxyError", message: "SOCKS4a can't connect to IPv6 address ::1; use socks5" },
    );
  });

  for (const reply of [91, 92, 93, 42]) {
    const reason = SOCKS4_REPLIES[reply] ?? "unassigned reply code";
    it(`explains SOCKS4 reply ${reply}: ${reason}`, async () => {
      const proxy = socks4Proxy({ reply });
      const port = await proxy.port;
      await assert.rejects(connectThroughProxy(`socks4://127.0.0.1:${port}`, target()), (error) => {
        assert.ok(error instanceof SocksProxyError);
        assert.equal(error.socksVersion, 4);
        assert.equal(error.reply, reply);
        assert.equal(
          error.message,
          `SOCKS4 proxy socks4://127.0.0.1:${port} couldn't connect to 127.0.0.1:${echoPort}: ${reason} (SOCKS4 reply ${reply})`,
        );
        return true;
      });
    });
  }

  it("rejects malformed SOCKS4 replies with InvalidProxyMessage", async () => {
    const cases: [SocksOptions, RegExp][] = [
      [{ raw: [5, 90, 0, 0, 0, 0, 0, 0] }, /replied with version 5 instead of 0$/],
      [{ raw: [0, 90, 0], close: true }, /closed the connection while sending its SOCKS4 reply$/],
    ];
    for (const [options, message] of cases) {
      const proxy = socks4Proxy(options);
      await assert.rejects(
        connectThroughProxy(`socks4://127.0.0.1:${await proxy.port}`, target()),
        (error) => error instanceof InvalidProxyMessage && message.test(error.message),
      );
    }
  });
});

// ---------------------------------------------------------------------------
// connect() through the fake proxies, to a real WebSocket server.

describe("connect() through a proxy", () => {
  const PROXY_ENV = ["ws_proxy", "wss_proxy", "http_proxy", "https_proxy", "all_proxy", "no_proxy"];
  const savedEnv = Object.fromEntries(PROXY_ENV.map((name) => [name, process.env[name]]));
  let wsUrl = "";
  let wssUrl = "";
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    const echo = async (ws: ServerConnection) => {
      for await (const message of ws) await ws.send(message);
    };
    const plain = await serve(echo, { host: "127.0.0.1", port: 0, logger: false });
    const secure = await serve(echo, {
      host: "127.0.0.1",
      port: 0,
      logger: false,
      tls: { key, cert },
    });
    closers.push(
      () => plain.close(),
      () => secure.close(),
    );
    wsUrl = `ws://127.0.0.1:${(plain.address as { port: number }).port}/`;
    wssUrl = `wss://localhost:${(secure.address as { port: number }).port}/`;
  });

  afterEach(() => {
    for (const name of PROXY_ENV) {
      if (savedEnv[name] === undefined) delete process.env[name];
      else process.env[name] = savedEnv[name];
    }
  });

  after(async () => {
    for (const close of closers) await close();
  });

  async function roundTrip(url: string, options: ConnectOptions): Promise<void> {
    const ws = await connect(url, { logger: false, tls: { ca: cert }, ...options });
    await ws.send("through the proxy");
    assert.equal(await ws.recv(), "through the proxy");
    await ws.close();
  }

  it("connects to ws:// and wss:// through an HTTP proxy", async () => {
    const proxy = httpProxy();
    const port = await proxy.port;
    await roundTrip(wsUrl, { proxy: `http://127.0.0.1:${port}` });
    await roundTrip(wssUrl, { proxy: `http://127.0.0.1:${port}` });
    assert.deepEqual(
      proxy.seen.map((s) => s.head[0]),
      [`CONNECT ${new URL(wsUrl).host} HTTP/1.1`, `CONNECT ${new URL(wssUrl).host} HTTP/1.1`],
    );
  });

  it("sends the client's User-Agent to the proxy", async () => {
    const proxy = httpProxy();
    const port = await proxy.port;
    await roundTrip(wsUrl, { proxy: `http://127.0.0.1:${port}`, userAgentHeader: "agent/1" });
    await roundTrip(wsUrl, { proxy: `http://127.0.0.1:${port}`, userAgentHeader: null });
    assert.ok(proxy.seen[0].head.includes("User-Agent: agent/1"));
    assert.ok(!proxy.seen[1].head.some((line) => line.startsWith("User-Agent")));
  });

  it("connects to wss:// through an https:// proxy, TLS inside TLS", async () => {
    const proxy = httpProxy({ tls: true });
    await roundTrip(wssUrl, {
      proxy: `https://localhost:${await proxy.port}`,
      proxyTls: { ca: cert },
    });
    assert.equal(proxy.seen.length, 1);
  });

  it("connects through SOCKS5 with authentication, SOCKS5h and SOCKS4a", async () => {
    const withAuth = socks5Proxy({ auth: ["u", "p"] });
    await roundTrip(wssUrl, { proxy: `socks5://u:p@127.0.0.1:${await withAuth.port}` });
    const remote = socks5Proxy();
    await roundTrip(wssUrl, { proxy: `socks5h://127.0.0.1:${await remote.port}` });
    assert.equal(remote.seen[0].hostname, "localhost");
    const socks4 = socks4Proxy();
    await roundTrip(wsUrl, { proxy: `socks4a://127.0.0.1:${await socks4.port}` });
    assert.equal(socks4.seen.length, 1);
  });

  it("takes the proxy from the environment by default, and honours no_proxy", async () => {
    const proxy = httpProxy();
    const port = await proxy.port;
    process.env.ws_proxy = `http://127.0.0.1:${port}`;
    process.env.wss_proxy = `socks5h://127.0.0.1:${await socks5Proxy().port}`;
    await roundTrip(wsUrl, {});
    assert.equal(proxy.seen.length, 1);
    process.env.no_proxy = "localhost,127.0.0.0/8";
    await roundTrip(wsUrl, {});
    await roundTrip(wssUrl, {});
    assert.equal(proxy.seen.length, 1);
  });

  it("connects directly with proxy: null whatever the environment says", async () => {
    process.env.ws_proxy = `http://127.0.0.1:${await closedPort()}`;
    await roundTrip(wsUrl, { proxy: null });
    await assert.rejects(connect(wsUrl, { logger: false }), { code: "ECONNREFUSED" });
  });

  it("rejects an invalid proxy from the environment with InvalidProxy", async () => {
    process.env.ws_proxy = "socks6://127.0.0.1:1080";
    await assert.rejects(connect(wsUrl, { logger: false }), (error) => {
      assert.ok(error instanceof InvalidProxy);
      assert.equal(error.proxy, "socks6://127.0.0.1:1080");
      return true;
    });
  });

  it("throws a proxy rejection from connect(), and from the reconnecting loop", async () => {
    const proxy = httpProxy({ auth: "Basic never" });
    const url = `http://127.0.0.1:${await proxy.port}`;
    await assert.rejects(connect(wsUrl, { logger: false, proxy: url }), InvalidProxyStatus);
    await assert.rejects(async () => {
      for await (const _ of connect(wsUrl, { logger: false, proxy: url, backoff: [0] })) {
        assert.fail("no connection expected");
      }
    }, InvalidProxyStatus);
    assert.equal(proxy.seen.length, 2);
  });

  it("runs examples/proxy.ts with a proxy URL and with the environment", async () => {
    const proxy = httpProxy();
    const port = await proxy.port;
    const direct = await runExample("proxy.ts", [wsUrl, `http://127.0.0.1:${port}`], {});
    assert.equal(direct.code, 0, direct.output);
    assert.match(
      direct.output,
      /connected to ws:\/\/127\.0\.0\.1:\d+\/\n< hello through the proxy\n/,
    );
    assert.equal(proxy.seen.length, 1);

    const socks = socks5Proxy({ auth: ["u", "p"] });
    const fromEnv = await runExample("proxy.ts", [wsUrl], {
      ws_proxy: `socks5h://u:p@127.0.0.1:${await socks.port}`,
    });
    assert.equal(fromEnv.code, 0, fromEnv.output);
    assert.match(
      fromEnv.output,
      /^proxy from the environment: socks5h:\/\/\*\*\*@127\.0\.0\.1:\d+\n/,
    );
    assert.match(fromEnv.output, /< hello through the proxy\n/);
    assert.deepEqual(socks.seen[0].credentials, ["u", "p"]);
  });

  it("covers the proxy handshake with openTimeout", async () => {
    const proxy = httpProxy({ answer: "", keepOpen: true });
    await assert.rejects(
      connect(wsUrl, {
        logger: false,
        proxy: `http://127.0.0.1:${await proxy.port}`,
        openTimeout: 50,
      }),
      { name: "TimeoutError" },
    );
    assert.equal(proxy.seen.length, 1);
  });
});

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
