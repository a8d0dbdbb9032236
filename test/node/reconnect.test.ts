import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import { dirname, join } from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  ConnectionClosed,
  InvalidMessage,
  InvalidProxyMessage,
  InvalidProxyStatus,
  InvalidStatus,
  InvalidURI,
  NegotiationError,
  SecurityError,
  SocksProxyError,
} from "../../src/errors.ts";
import { Headers } from "../../src/headers.ts";
import type { Response } from "../../src/http11.ts";
import { logMessages } from "../../src/logging.ts";
import { connect } from "../../src/node/client.ts";
import { processException } from "../../src/node/reconnect.ts";
import { type ServerConnection, serve } from "../../src/node/server.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { acceptKey, closeFrame, frame, OP_TEXT } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

// ---------------------------------------------------------------------------
// A server whose answer to each connection follows a script.

type Step =
  /** Complete the handshake, send "hello <n>", then drop the TCP connection. */
  | "accept"
  /** Complete the handshake and stay open until the client closes. */
  | "stay"
  /** Close the connection once the request arrived, before answering. */
  | "drop"
  /** Read the request and never answer. */
  | "hang"
  /** Answer with this HTTP status. */
  | number;

function response(status: number): Response {
  return { status, reason: "", headers: new Headers(), body: Buffer.alloc(0) };
}

class ScriptedServer {
  readonly server: net.Server;
  readonly steps: Step[];
  /** The steps played, in order. */
  readonly played: Step[] = [];
  /** What the client sent after the handshake on "stay" connections. */
  readonly received: Buffer[] = [];
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  constructor(steps: Step[]) {
    this.steps = [...steps];
    this.server = net.createServer((socket) => this.#handle(socket));
  }

  /** Reserves a port where nothing listens yet: the server is down. */
  async reserve(): Promise<number> {
    const probe = net.createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    this.port = (probe.address() as net.AddressInfo).port;
    probe.close();
    await once(probe, "close");
    return this.port;
  }

  /**
   * Starts listening. `dns.lookup` answers IP literals on the next tick, so
   * the port is bound before any timer fires, even a 0 ms backoff delay.
   */
  start(): void {
    this.server.listen(this.port, "127.0.0.1");
  }

  async startAndWait(): Promise<number> {
    this.start();
    await once(this.server, "listening");
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  #handle(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      const step = this.steps.shift() ?? 410;
      this.played.push(step);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? "";
      const accept =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`;
      if (step === "accept") {
        socket.write(accept);
        socket.end(frame(OP_TEXT, `hello ${this.played.length}`, { mask: false }));
      } else if (step === "stay") {
        socket.write(accept);
        socket.on("data", (data: Buffer) => {
          this.received.push(data);
          // Answer the client's close frame, then close the TCP connection.
          socket.end(closeFrame(1000, "", { mask: false }));
        });
      } else if (step === "drop") {
        socket.destroy();
      } else if (step === "hang") {
        // Never answers.
      } else {
        socket.end(`HTTP/1.1 ${step} Scripted\r\nContent-Length: 0\r\n\r\n`);
      }
    };
    socket.on("data", onData);
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    if (this.server.listening) {
      this.server.close();
      await once(this.server, "close");
    }
  }
}

const servers: ScriptedServer[] = [];
function scripted(steps: Step[]): ScriptedServer {
  const server = new ScriptedServer(steps);
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

const ENV = [
  "WEBSOCKETS_BACKOFF_INITIAL_DELAY",
  "WEBSOCKETS_BACKOFF_MIN_DELAY",
  "WEBSOCKETS_BACKOFF_MAX_DELAY",
  "WEBSOCKETS_BACKOFF_FACTOR",
];
const savedEnv = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
after(() => {
  for (const name of ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

/** Zero delays forever, counting how many times backoff restarted. */
function zeroDelays(): { backoff: () => Iterable<number>; taken: number[]; restarts: number } {
  const state = {
    taken: [] as number[],
    restarts: 0,
    backoff: () => {
      state.restarts++;
      let i = 0;
      return {
        [Symbol.iterator]: () => ({
          next: () => {
            state.taken.push(i);
            return { done: false, value: 0 * i++ };
          },
        }),
      };
    },
  };
  return state;
}

// ---------------------------------------------------------------------------

describe("processException (default)", () => {
  const networkError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

  it("retries network errors", () => {
    for (const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "EHOSTUNREACH",
      "ENETUNREACH",
      "ETIMEDOUT",
      "EPIPE",
      "EAI_AGAIN",
      "ENOTFOUND",
      "ENOENT",
    ]) {
      assert.equal(processException(networkError(code)), undefined, code);
    }
  });

  it("retries an open timeout", () => {
    assert.equal(processException(new DOMException("timed out", "TimeoutError")), undefined);
  });

  it("retries a server dropping the connection during the handshake", () => {
    for (const message of [
      "connection closed while reading HTTP status line",
      "connection closed while reading HTTP headers",
      "connection closed while reading HTTP body",
    ]) {
      assert.equal(processException(new InvalidMessage(message)), undefined, message);
    }
  });

  it("retries 500, 502, 503 and 504, from the server or from a proxy", () => {
    for (const status of [500, 502, 503, 504]) {
      assert.equal(processException(new InvalidStatus(response(status))), undefined);
      assert.equal(processException(new InvalidProxyStatus(response(status))), undefined);
    }
  });

  it("retries SOCKS5 failures to reach the server, and a proxy closing early", () => {
    for (const reply of [1, 3, 4, 5, 6]) {
      assert.equal(processException(new SocksProxyError("x", 5, reply)), undefined);
    }
    const early = new InvalidProxyMessage(
      "proxy p closed the connection while sending its SOCKS5 reply",
    );
    assert.equal(processException(early), undefined);
  });

  it("retries a network error wrapped as the cause of another", () => {
    const wrapped = new Error("tunnel failed", { cause: networkError("ECONNRESET") });
    assert.equal(processException(wrapped), undefined);
  });

  it("returns every other error, to be thrown", () => {
    const fatal: Error[] = [
      new InvalidStatus(response(403)),
      new InvalidStatus(response(404)),
      new InvalidStatus(response(301)),
      new InvalidStatus(response(501)),
      new InvalidProxyStatus(response(407)),
      new SocksProxyError("x", 5, 2),
      new SocksProxyError("x", 5, 7),
      new SocksProxyError("x", 4, 91),
      new InvalidProxyMessage(
        "did not receive a valid HTTP response from proxy p: invalid HTTP status line",
      ),
      new InvalidURI("http://x", "scheme isn't ws or wss"),
      new SecurityError("more than 10 redirects"),
      new NegotiationError("unsupported subprotocol: chat"),
      new InvalidMessage("invalid HTTP status line: SSH-2.0"),
      networkError("CERT_HAS_EXPIRED"),
      networkError("EACCES"),
      new TypeError("bug"),
    ];
    for (const error of fatal) assert.equal(processException(error), error, error.message);
  });
});

describe("connect() as an iterator", () => {
  it("follows down, up, dropped, 503, up, then stops on 403", async () => {
    process.env.WEBSOCKETS_BACKOFF_INITIAL_DELAY = "0";
    process.env.WEBSOCKETS_BACKOFF_MIN_DELAY = "0";
    process.env.WEBSOCKETS_BACKOFF_MAX_DELAY = "0";
    const server = scripted(["accept", "drop", 503, "accept", 403]);
    const port = await server.reserve();
    const capture = createCaptureLogger("info");
    const errors: unknown[] = [];
    const messages: unknown[] = [];
    const iterate = async () => {
      for await (const ws of connect(`ws://127.0.0.1:${port}/`, {
        logger: capture.logger,
        processException: (error) => {
          errors.push(error);
          // The first attempt finds the server down; it comes up afterwards.
          if (errors.length === 1) server.start();
          return processException(error);
        },
      })) {
        try {
          for await (const message of ws) messages.push(message);
        } catch (error) {
          if (!(error instanceof ConnectionClosed)) throw error;
        }
      }
    };
    await assert.rejects(iterate(), (error) => {
      assert.ok(error instanceof InvalidStatus);
      assert.equal(error.response.status, 403);
      return true;
    });

    assert.deepEqual(server.played, ["accept", "drop", 503, "accept", 403]);
    assert.deepEqual(messages, ["hello 1", "hello 4"]);
    assert.equal(errors.length, 4);
    assert.equal((errors[0] as NodeJS.ErrnoException).code, "ECONNREFUSED");
    assert.ok(errors[1] instanceof InvalidMessage);
    assert.ok(errors[2] instanceof InvalidStatus && errors[2].response.status === 503);
    assert.ok(errors[3] instanceof InvalidStatus && errors[3].response.status === 403);

    const retries = capture.records.filter((r) => r.msg.startsWith("connect failed"));
    assert.deepEqual(
      retries.map((r) => [r.level, r.msg]),
      [
        [
          "info",
          `connect failed; reconnecting in 0.0 seconds: Error: connect ECONNREFUSED 127.0.0.1:${port}`,
        ],
        [
          "info",
          `connect failed; reconnecting in 0.0 seconds: InvalidMessage: connection closed while reading HTTP status line: 127.0.0.1:${port} closed the connection without answering; if it serves TLS, connect with wss://`,
        ],
        [
          "info",
          "connect failed; reconnecting in 0.0 seconds: InvalidStatus: server rejected WebSocket connection: HTTP 503",
        ],
      ],
    );
    for (const record of retries) {
      assert.equal(record.fields.connectionId, undefined);
      assert.equal(record.fields.remoteAddress, undefined);
    }
  });

  it("restarts the delays after a connection that opened", async () => {
    const server = scripted(["drop", "drop", "accept", 503, "drop", 403]);
    await server.startAndWait();
    const delays = zeroDelays();
    await assert.rejects(async () => {
      for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, {
        logger: false,
        backoff: delays.backoff,
      })) {
        await ws.closed;
      }
    }, InvalidStatus);
    assert.deepEqual(server.played, ["drop", "drop", "accept", 503, "drop", 403]);
    // Two failures, then a connection (reset), then two failures again.
    assert.deepEqual(delays.taken, [0, 1, 0, 1]);
    assert.equal(delays.restarts, 2);
  });

  it("waits the delays given as an array, and throws the last error when they run out", async () => {
    const server = scripted([503, 502, 504, "accept"]);
    await server.startAndWait();
    const capture = createCaptureLogger("info");
    await assert.rejects(
      async () => {
        for await (const _ of connect(`ws://127.0.0.1:${server.port}/`, {
          logger: capture.logger,
          backoff: [1, 2],
        })) {
          assert.fail("no connection expected");
        }
      },
      (error) => error instanceof InvalidStatus && error.response.status === 504,
    );
    assert.equal(capture.messages("info").length, 2);
    assert.deepEqual(server.played, [503, 502, 504]);
  });

  it("retries an open timeout", async () => {
    const server = scripted(["hang", "accept"]);
    await server.startAndWait();
    const errors: Error[] = [];
    for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, {
      logger: false,
      openTimeout: 50,
      backoff: [0],
      processException: (error) => {
        errors.push(error);
        return processException(error);
      },
    })) {
      assert.equal(await ws.recv(), "hello 2");
      break;
    }
    assert.equal(errors.length, 1);
    assert.equal(errors[0].name, "TimeoutError");
  });

  it("closes the connection when the body breaks out of the loop", async () => {
    const server = scripted(["stay"]);
    await server.startAndWait();
    let kept: Awaited<ReturnType<typeof connect>> | null = null;
    for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, { logger: false })) {
      kept = ws;
      break;
    }
    assert.ok(kept !== null);
    await kept.closed;
    assert.equal(kept.state, 3);
    assert.equal(server.played.length, 1);
  });

  it("closes the connection and propagates when the body throws", async () => {
    const server = scripted(["stay"]);
    await server.startAndWait();
    let kept: Awaited<ReturnType<typeof connect>> | null = null;
    const oops = new Error("oops");
    await assert.rejects(async () => {
      for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, { logger: false })) {
        kept = ws;
        throw oops;
      }
    }, oops);
    assert.ok(kept !== null);
    assert.equal((kept as { state: number }).state, 3);
    assert.equal(server.played.length, 1);
  });

  it("closes a connection the body left open before reconnecting; says so at INFO when the loop is left", async () => {
    const server = scripted(["stay", "stay"]);
    await server.startAndWait();
    const capture = createCaptureLogger("info");
    const connections: { state: number }[] = [];
    for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, { logger: capture.logger })) {
      connections.push(ws);
      if (connections.length === 2) break;
    }
    assert.deepEqual(
      connections.map((ws) => ws.state),
      [3, 3],
    );
    // The client's close frame reached the server each time.
    assert.equal(server.received.length, 2);
    // Once: reconnecting after the first connection isn't leaving the loop.
    const left = capture.records.filter((r) => r.msg === logMessages.reconnectLoopLeft);
    assert.equal(left.length, 1);
    assert.equal(left[0].level, "info");
    assert.match(
      left[0].msg,
      /^left for await \(const ws of connect\(\.\.\.\)\): the current connection is closed with 1000/,
    );
  });

  it("throws what processException returns, and retries what it accepts", async () => {
    const server = scripted([403, 403, "accept"]);
    await server.startAndWait();
    let calls = 0;
    for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, {
      logger: false,
      backoff: [0, 0],
      processException: () => {
        calls++;
        return undefined;
      },
    })) {
      assert.equal(await ws.recv(), "hello 3");
      break;
    }
    assert.equal(calls, 2);

    const other = scripted([503]);
    await other.startAndWait();
    const replaced = new Error("giving up");
    await assert.rejects(async () => {
      for await (const _ of connect(`ws://127.0.0.1:${other.port}/`, {
        logger: false,
        processException: () => replaced,
      })) {
        assert.fail("no connection expected");
      }
    }, replaced);
  });

  it("treats an error thrown by processException as fatal", async () => {
    const server = scripted([503]);
    await server.startAndWait();
    const thrown = new Error("processException broke");
    await assert.rejects(async () => {
      for await (const _ of connect(`ws://127.0.0.1:${server.port}/`, {
        logger: false,
        processException: () => {
          throw thrown;
        },
      })) {
        assert.fail("no connection expected");
      }
    }, thrown);
  });

  it("throws an invalid URI at once", async () => {
    await assert.rejects(async () => {
      for await (const _ of connect("http://127.0.0.1/", { logger: false })) {
        assert.fail("no connection expected");
      }
    }, InvalidURI);
  });
});

describe("connect() with an AbortSignal", () => {
  it("stops the loop in the middle of a delay, rejecting with the reason", async () => {
    const server = scripted([]);
    const port = await server.reserve();
    const controller = new AbortController();
    const reason = new Error("shutting down");
    const capture = createCaptureLogger("info");
    await assert.rejects(async () => {
      for await (const _ of connect(`ws://127.0.0.1:${port}/`, {
        logger: capture.logger,
        // A delay the test would time out on if the abort didn't cut it.
        backoff: [600_000],
        signal: controller.signal,
        processException: (error) => {
          setImmediate(() => controller.abort(reason));
          return processException(error);
        },
      })) {
        assert.fail("no connection expected");
      }
    }, reason);
    assert.deepEqual(capture.messages("info"), [
      `connect failed; reconnecting in 600.0 seconds: Error: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });

  it("aborts a handshake in progress", async () => {
    const server = scripted(["hang"]);
    await server.startAndWait();
    const controller = new AbortController();
    const pending = (async () => {
      for await (const _ of connect(`ws://127.0.0.1:${server.port}/`, {
        logger: false,
        openTimeout: null,
        signal: controller.signal,
      })) {
        assert.fail("no connection expected");
      }
    })();
    while (server.played.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(pending, { name: "AbortError" });
  });

  it("closes the current connection, then ends the loop with the reason", async () => {
    const server = scripted(["stay", "stay"]);
    await server.startAndWait();
    const controller = new AbortController();
    const reason = new Error("enough");
    let iterations = 0;
    let closeCode: number | null = null;
    const capture = createCaptureLogger("info");
    await assert.rejects(async () => {
      for await (const ws of connect(`ws://127.0.0.1:${server.port}/`, {
        logger: capture.logger,
        signal: controller.signal,
      })) {
        iterations++;
        controller.abort(reason);
        await ws.closed;
        closeCode = ws.closeCode;
      }
    }, reason);
    assert.equal(iterations, 1);
    assert.equal(closeCode, 1000);
    assert.equal(server.played.length, 1);
    // Stopped on purpose: not reported as leaving the loop.
    assert.ok(!capture.messages().includes(logMessages.reconnectLoopLeft));
  });

  it("rejects at once when the signal is already aborted", async () => {
    const server = scripted(["stay"]);
    await server.startAndWait();
    await assert.rejects(
      connect(`ws://127.0.0.1:${server.port}/`, { logger: false, signal: AbortSignal.abort() }),
      { name: "AbortError" },
    );
    await assert.rejects(
      async () => {
        for await (const _ of connect(`ws://127.0.0.1:${server.port}/`, {
          logger: false,
          signal: AbortSignal.abort(),
        })) {
          assert.fail("no connection expected");
        }
      },
      { name: "AbortError" },
    );
    assert.equal(server.played.length, 0);
  });

  it("aborts a single connect() too", async () => {
    const server = scripted(["hang"]);
    await server.startAndWait();
    const controller = new AbortController();
    const pending = connect(`ws://127.0.0.1:${server.port}/`, {
      logger: false,
      signal: controller.signal,
    });
    // connect() is lazy: the handshake starts when awaited.
    const settled = pending.then(
      () => assert.fail("no connection expected"),
      (error: unknown) => error,
    );
    while (server.played.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const reason = new Error("cancelled");
    controller.abort(reason);
    assert.equal(await settled, reason);
  });
});

describe("connect() awaited", () => {
  it("doesn't retry: the first error is thrown", async () => {
    const server = scripted([503, "accept"]);
    await server.startAndWait();
    await assert.rejects(
      connect(`ws://127.0.0.1:${server.port}/`, { logger: false }),
      (error) => error instanceof InvalidStatus && error.response.status === 503,
    );
  });

  it("opens one connection however many times it's awaited", async () => {
    const server = scripted(["stay", "stay"]);
    await server.startAndWait();
    const connecting = connect(`ws://127.0.0.1:${server.port}/`, { logger: false });
    const [a, b] = await Promise.all([connecting, connecting]);
    assert.equal(a, b);
    await a.close();
    assert.equal(server.played.length, 1);
  });
});

// ---------------------------------------------------------------------------
// examples/reconnect.ts, run for real.

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

/** Runs an example with tsx; `waitFor` polls its output (bounded), `exited` gives the exit code. */
function runExample(name: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", join(EXAMPLES, name), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return {
    child,
    exited,
    output: () => output,
    /** Waits until the output matches `pattern` `count` times; fails after 20 s. */
    async waitFor(pattern: RegExp, count = 1): Promise<void> {
      const global = new RegExp(pattern.source, "g");
      const deadline = Date.now() + 20_000;
      while ((output.match(global) ?? []).length < count) {
        if (child.exitCode !== null) assert.fail(`${name} exited early:\n${output}`);
        if (Date.now() > deadline) assert.fail(`${name} never printed ${pattern}:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
}

describe("examples/reconnect.ts", () => {
  it("waits for the server, reconnects after it restarts, and stops on SIGTERM", async () => {
    const reserved = scripted([]);
    const port = await reserved.reserve();
    const example = runExample("reconnect.ts", [`ws://127.0.0.1:${port}/`], {
      WEBSOCKETS_BACKOFF_INITIAL_DELAY: "0.01",
      WEBSOCKETS_BACKOFF_MIN_DELAY: "0.02",
      WEBSOCKETS_BACKOFF_MAX_DELAY: "0.05",
    });
    try {
      await example.waitFor(
        /INFO websockets\.client connect failed; reconnecting in 0\.0 seconds: Error: connect ECONNREFUSED/,
      );
      const echo = async (ws: ServerConnection) => {
        for await (const message of ws) await ws.send(message);
      };
      let server = await serve(echo, { host: "127.0.0.1", port, logger: false });
      await example.waitFor(/< hello/);
      await server.close();
      await example.waitFor(/connection closed by the server/);
      await example.waitFor(/connect failed; reconnecting/, 2);
      server = await serve(echo, { host: "127.0.0.1", port, logger: false });
      await example.waitFor(/< hello/, 2);
      await server.close();
      await example.waitFor(/connect failed; reconnecting/, 3);
      example.child.kill("SIGTERM");
      assert.equal(await example.exited, 0, example.output());
      assert.match(example.output(), /stopped\n$/);
      assert.equal((example.output().match(/connected to/g) ?? []).length, 2);
    } finally {
      example.child.kill("SIGKILL");
    }
  });
});

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
