/**
 * The listener of `new WebSocketServer({ port })`: a `net.Server` of our
 * own, as `serve({ port })` has, rather than an `http.Server`. The first
 * bytes of each connection go through our HTTP/1.1 parser; a well-formed
 * upgrade request becomes the `http.IncomingMessage` that `ws`'s hooks and
 * events are given, and goes to the server's `handleUpgrade()`. Anything
 * else (a request that isn't an upgrade, that our strict parser refuses, or
 * that didn't arrive in one read) is handed, bytes and all, to an
 * `http.Server` that never listens: node:http answers it as it answers
 * `ws`'s own server (426 to plain requests, its 400s and 431s, its
 * timeouts, keep-alive), and passes upgrades it parses to the same
 * `handleUpgrade()`. node:http's cost per connection (its parser, its
 * socket listeners and timers, about a seventh of a handshake) is then paid
 * only by what needs it.
 *
 * @module
 */

import { createServer as createHttpServer, IncomingMessage, STATUS_CODES } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { checkUpgradeHeaders, Headers } from "../headers.ts";
import { type HttpLimits, resolveHttpLimits } from "../http-limits.ts";
import type { Request } from "../http11.ts";
import { RequestParser } from "../http11-parser.ts";

/**
 * What the listener gives its server: an upgrade request parsed by
 * node:http (`req`), or by us (`request`; `req` is `null`: the server
 * builds it with {@link incomingMessage} if something needs it). @internal
 */
export type UpgradeListener = (
  req: IncomingMessage | null,
  socket: Duplex,
  head: Buffer,
  request?: Request,
) => void;

/** @internal */
export interface PortListenerOptions {
  /** Where upgrade requests go. */
  readonly upgrade: UpgradeListener;
  /** Time a connection has to send its request's first bytes, in ms; `null`: no limit. */
  readonly openTimeout: number | null;
}

// The listener a socket waiting for its first bytes belongs to: one shared
// 'data' function rather than a closure per connection.
const kListener = Symbol("websockets-ts.ws.listener");

interface WaitingSocket extends Socket {
  [kListener]?: PortListener;
}

/** `ws`'s server for `port`, on our own listener. @internal */
export class PortListener {
  /** The listening server: `listening`, `error`, `address()` and `close()` are its. */
  readonly server: NetServer;
  readonly #upgrade: UpgradeListener;
  // Never listens: takes the connections our parser leaves to node:http.
  readonly #http = createHttpServer((_req, res) => {
    const body = STATUS_CODES[426]!;
    res.writeHead(426, { "Content-Length": body.length, "Content-Type": "text/plain" });
    res.end(body);
  });
  // Sockets that haven't sent anything yet, with when they were accepted:
  // one sweep drops the silent ones, where a timer each would cost every
  // handshake (node:http, for the others, has its own request timeouts).
  readonly #waiting = new Map<Socket, number>();
  readonly #openTimeout: number | null;
  // Resolved once: a parser given complete frozen limits doesn't read the
  // environment (slow) each time.
  readonly #limits: Readonly<HttpLimits> = Object.freeze(resolveHttpLimits(undefined));
  #sweep: NodeJS.Timeout | null = null;

  constructor(options: PortListenerOptions) {
    this.#upgrade = options.upgrade;
    this.#openTimeout = options.openTimeout;
    this.#http.on("upgrade", options.upgrade);
    this.server = createNetServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.server.once("listening", () => {
      // node:http arms its request timeouts when its server listens; this
      // one never does.
      this.#http.emit("listening");
      const timeout = this.#openTimeout;
      if (timeout !== null) {
        this.#sweep = setInterval(() => this.#dropSilent(), Math.max(10, timeout / 2));
        this.#sweep.unref();
      }
    });
  }

  /** Stops listening; `cb` once every connection is closed, as `http.Server.close()`. */
  close(cb: () => void): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
    // Idle keep-alive connections of node:http close, as they do when
    // `ws`'s own server closes; it clears its request timeouts too.
    this.#http.close();
    this.server.close(() => cb());
  }

  #accept(socket: WaitingSocket): void {
    // A reset before the request must not crash the process: the socket
    // destroys itself on error, and whoever takes it adds its own listener.
    socket.on("error", ignoreError);
    socket[kListener] = this;
    socket.on("data", firstBytes);
    if (this.#openTimeout !== null) this.#waiting.set(socket, Date.now());
  }

  /** The first bytes of `socket`: an upgrade request we parse, or node:http's work. */
  received(socket: WaitingSocket, chunk: Buffer): void {
    socket.removeListener("data", firstBytes);
    socket.removeListener("error", ignoreError);
    this.#waiting.delete(socket);
    let request: Request | null = null;
    let rest: Buffer | undefined;
    try {
      const parsed = new RequestParser({ limits: this.#limits }).feed(chunk);
      // Only a WebSocket upgrade is taken here; node:http routes anything
      // else (an `upgrade` event for other upgrades, as in `ws`).
      if (parsed !== null) {
        checkUpgradeHeaders(parsed.message.headers);
        ({ message: request, rest } = parsed);
      }
    } catch {
      // node:http answers it as `ws`'s server does.
    }
    if (request === null || request.method !== "GET") {
      socket.pause();
      socket.unshift(chunk);
      this.#http.emit("connection", socket);
      socket.resume();
      return;
    }
    this.#upgrade(null, socket, rest!, request);
  }

  #dropSilent(): void {
    const deadline = Date.now() - this.#openTimeout!;
    for (const [socket, accepted] of this.#waiting) {
      if (socket.destroyed) this.#waiting.delete(socket);
      else if (accepted <= deadline) {
        this.#waiting.delete(socket);
        socket.destroy();
      }
    }
  }
}

function firstBytes(this: WaitingSocket, chunk: Buffer): void {
  this[kListener]!.received(this, chunk);
}

function ignoreError(): void {}

/** What node:http's parser calls on a request it builds (Node 20 to 24). */
interface NodeHttpIncoming {
  _addHeaderLines(lines: string[], count: number): void;
}

/** The `http.IncomingMessage` node:http would have built for this upgrade request. @internal */
export function incomingMessage(socket: Duplex, request: Request): IncomingMessage {
  const req = new IncomingMessage(socket as Socket);
  req.method = "GET";
  req.url = request.path;
  req.httpVersion = "1.1";
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  // node:http's parser hands the lines over this way: `req.headers` is
  // then built from them when first read, as for node:http's requests.
  const raw = Headers.pairsOf(request.headers);
  (req as unknown as NodeHttpIncoming)._addHeaderLines(raw, raw.length);
  // Set by node:http on the requests it emits as `upgrade`; @types/node lacks it.
  (req as { upgrade?: boolean }).upgrade = true;
  req.complete = true;
  return req;
}
