/**
 * The fuzzing server: the client under test connects to `/case/<id>`; the
 * server checks the opening handshake (RFC 6455 §4.1-4.2, or RFC 8441's
 * extended CONNECT over h2c), answers the client's permessage-deflate
 * offers as the case says, then plays the case and judges it.
 *
 * @module
 */

import {
  createServer as createHttp2Server,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ConformanceCase } from "./cases/case.ts";
import {
  type DeflateParams,
  deflateParamsOf,
  FuzzSession,
  formatDeflate,
  type NegotiatedDeflate,
  negotiated,
  parseExtensions,
} from "./fuzzer.ts";
import { acceptKey, parseHead, readHead } from "./fuzzing-client.ts";
import { broken, type CaseResult, judge, play } from "./verdict.ts";

interface Pending {
  c: ConformanceCase;
  resolve: (r: CaseResult) => void;
  /** Settles with whether the client under test reported an open connection. */
  opened: Promise<boolean>;
  timer: NodeJS.Timeout;
}

/** What the client under test did, as its adapter reports it. */
export type ClientOutcome = Promise<{ opened: boolean }>;

/** What an opening handshake told, whatever the HTTP version. */
interface Handshake {
  /** The case asked for, from the path. */
  caseId: string | undefined;
  /** Header fields, lower-case names. */
  headers: Map<string, string>;
  /** RFC violations seen in the request. */
  violations: string[];
  /** Accepts, with this `Sec-WebSocket-Extensions` value if any. */
  accept(extensions: string | null): void;
  /** Refuses: no such case. */
  notFound(): void;
  /** Where frames go once accepted, and bytes read past the request. */
  transport: Duplex;
  rest: Buffer;
}

export class FuzzingServer {
  #server: Server | Http2Server;
  #pending = new Map<string, Pending>();
  #sockets = new Set<Socket | Http2Session>();

  private constructor(server: Server | Http2Server, http2: boolean) {
    this.#server = server;
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      // Over HTTP/2, node:http2 reads the socket; requests come as streams.
      if (!http2) void this.#acceptHttp1(socket);
    });
    server.on("session", (session: Http2Session) => {
      this.#sockets.add(session);
      session.on("error", () => {});
      session.once("close", () => this.#sockets.delete(session));
    });
    server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) =>
      this.#acceptHttp2(stream, headers),
    );
  }

  /**
   * Listens on 127.0.0.1, any free port; with `http2`, speaks h2c with
   * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441) instead of HTTP/1.1.
   */
  static async start(options: { http2?: boolean } = {}): Promise<FuzzingServer> {
    const http2 = options.http2 === true;
    const server = http2
      ? createHttp2Server({ settings: { enableConnectProtocol: true } })
      : createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new FuzzingServer(server, http2);
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return address.port;
  }

  url(c: ConformanceCase): string {
    return `ws://127.0.0.1:${this.port}/case/${c.id}`;
  }

  /**
   * Plays `c` with the next client that asks for it; `outcome` is the client
   * under test's own account, settled when its connection is over.
   */
  play(c: ConformanceCase, outcome: ClientOutcome, connectWithinMs = 10_000): Promise<CaseResult> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(c.id);
        resolve(broken(c, `the client did not connect within ${connectWithinMs} ms`));
      }, connectWithinMs);
      const opened = outcome.then(
        (o) => o.opened,
        () => false,
      );
      this.#pending.set(c.id, { c, resolve, opened, timer });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #acceptHttp1(socket: Socket): Promise<void> {
    socket.on("error", () => {});
    let head: string;
    let rest: Buffer;
    try {
      ({ head, rest } = await readHead(socket, 5000));
    } catch {
      socket.destroy();
      return;
    }
    const { line, headers } = parseHead(head);
    const violations: string[] = [];
    const key = headers.get("sec-websocket-key") ?? "";
    if (!/^[A-Za-z0-9+/]{22}==$/.test(key))
      violations.push(`client sent Sec-WebSocket-Key ${JSON.stringify(key)}`);
    if (headers.get("sec-websocket-version") !== "13")
      violations.push("client did not send Sec-WebSocket-Version: 13");
    if (headers.get("upgrade")?.toLowerCase() !== "websocket")
      violations.push("client did not send Upgrade: websocket");
    if (!/(^|,)\s*upgrade\s*(,|$)/i.test(headers.get("connection") ?? "")) {
      violations.push("client did not send Connection: Upgrade");
    }
    if (!headers.has("host")) violations.push("client did not send Host");
    await this.#run({
      caseId: /^GET \/case\/(\S+) HTTP\/1\.1$/.exec(line)?.[1],
      headers,
      violations,
      accept(extensions) {
        const response = [
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Accept: ${acceptKey(key)}`,
        ];
        if (extensions !== null) response.push(`Sec-WebSocket-Extensions: ${extensions}`);
        socket.write(`${response.join("\r\n")}\r\n\r\n`);
      },
      notFound() {
        socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      },
      transport: socket,
      rest,
    });
  }

  // RFC 8441 §4-5: an extended CONNECT with :protocol websocket, version
  // 13, and neither the key nor the hop-by-hop fields of HTTP/1.1.
  #acceptHttp2(stream: ServerHttp2Stream, fields: IncomingHttpHeaders): void {
    stream.on("error", () => {});
    const headers = new Map<string, string>();
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const violations: string[] = [];
    if (headers.get(":method") !== "CONNECT")
      violations.push("client did not send :method CONNECT");
    if (headers.get(":protocol") !== "websocket")
      violations.push("client did not send :protocol websocket");
    if (headers.get(":scheme") !== "http") violations.push("client did not send :scheme http");
    if (!headers.has(":authority")) violations.push("client did not send :authority");
    if (headers.get("sec-websocket-version") !== "13")
      violations.push("client did not send sec-websocket-version: 13");
    for (const name of ["sec-websocket-key", "upgrade", "connection"]) {
      if (headers.has(name)) violations.push(`client sent ${name} over HTTP/2`);
    }
    void this.#run({
      caseId: /^\/case\/(\S+)$/.exec(headers.get(":path") ?? "")?.[1],
      headers,
      violations,
      accept(extensions) {
        stream.respond(
          extensions === null
            ? { ":status": 200 }
            : { ":status": 200, "sec-websocket-extensions": extensions },
        );
      },
      notFound() {
        stream.respond({ ":status": 404 }, { endStream: true });
      },
      transport: stream,
      rest: Buffer.alloc(0),
    });
  }

  async #run(handshake: Handshake): Promise<void> {
    const { caseId, headers, violations, transport, rest } = handshake;
    const pending = caseId === undefined ? undefined : this.#pending.get(caseId);
    if (!pending) {
      handshake.notFound();
      return;
    }
    this.#pending.delete(pending.c.id);
    clearTimeout(pending.timer);
    const { c } = pending;

    const offers: DeflateParams[] = [];
    for (const element of parseExtensions(headers.get("sec-websocket-extensions") ?? "")) {
      if (element.name !== "permessage-deflate") continue;
      try {
        offers.push(deflateParamsOf(element.params));
      } catch (error) {
        violations.push(`client offered invalid permessage-deflate parameters: ${String(error)}`);
      }
    }

    let extensionHeader: string | null = null;
    let agreement: NegotiatedDeflate | null = null;
    const answer = c.clientRole?.accept(offers) ?? null;
    if (answer !== null && "raw" in answer) extensionHeader = answer.raw;
    else if (answer !== null) {
      extensionHeader = formatDeflate(answer);
      agreement = negotiated(answer);
    }
    handshake.accept(extensionHeader);

    const session = new FuzzSession(transport, "server", agreement, rest);
    transport.resume();
    const expectation = await play(c, session);
    const opened = await Promise.race([
      pending.opened,
      new Promise<"stuck">((resolve) => setTimeout(() => resolve("stuck"), 5000).unref()),
    ]);
    if (opened === "stuck")
      session.violations.push("the client under test never reported the end of its connection");
    session.violations.push(...violations);
    if (c.handshakeMustFail) {
      if (opened) session.violations.push("the client accepted the handshake it had to refuse");
      if (session.received.length > 0)
        session.violations.push("the client sent data after a handshake it had to refuse");
    }
    pending.resolve(judge(c, expectation, session));
  }
}
