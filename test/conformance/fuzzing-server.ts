/**
 * The fuzzing server: the client under test connects to `/case/<id>`; the
 * server checks the opening handshake (RFC 6455 §4.1-4.2), answers the
 * client's permessage-deflate offers as the case says, then plays the case
 * and judges it.
 *
 * @module
 */

import { createServer, type Server, type Socket } from "node:net";
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

export class FuzzingServer {
  #server: Server;
  #pending = new Map<string, Pending>();
  #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
      void this.#accept(socket);
    });
  }

  /** Listens on 127.0.0.1, any free port. */
  static async start(): Promise<FuzzingServer> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new FuzzingServer(server);
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

  async #accept(socket: Socket): Promise<void> {
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
    const match = /^GET \/case\/(\S+) HTTP\/1\.1$/.exec(line);
    const pending = match ? this.#pending.get(match[1]) : undefined;
    if (!pending) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    this.#pending.delete(pending.c.id);
    clearTimeout(pending.timer);
    const { c } = pending;
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
    const response = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${acceptKey(key)}`,
    ];
    if (extensionHeader !== null) response.push(`Sec-WebSocket-Extensions: ${extensionHeader}`);
    socket.write(`${response.join("\r\n")}\r\n\r\n`);

    const session = new FuzzSession(socket, "server", agreement, rest);
    socket.resume();
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
