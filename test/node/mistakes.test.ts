import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import {
  type AddressInfo,
  createServer as createNetServer,
  connect as netConnect,
  type Socket,
} from "node:net";
import { describe, it } from "node:test";
import { setTimeout as delay, setImmediate as nextTurn } from "node:timers/promises";
import { WebSocketServer } from "ws";
import {
  CLOSED,
  connect,
  type ServeOptions,
  type ServerConnection,
  serve,
} from "../../src/index.ts";
import { handshakeHints, logMessages } from "../../src/logging.ts";
import { SENDS_PILING_UP } from "../../src/node/mistakes.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { rawConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const CHUNK = Buffer.alloc(64 * 1024);
// More than a loopback socket buffers (a few MiB), fewer than memory minds.
const MAX_SENDS = 400;

async function start(
  handler: (ws: ServerConnection) => Promise<void>,
  options: ServeOptions = {},
): Promise<{ port: number; close(): Promise<void>; warnings(): string[] }> {
  const capture = createCaptureLogger("warn");
  const server = await serve(handler, {
    host: "127.0.0.1",
    port: 0,
    logger: capture.logger,
    pingInterval: null,
    closeTimeout: 1000,
    ...options,
  });
  return { port: server.port, close: () => server.close(), warnings: () => capture.messages() };
}

/** Lets `turns` turns of the event loop pass: a check scheduled with setImmediate has run. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await nextTurn();
}

describe("sends that aren't awaited", () => {
  it("warns once when 100 of them wait for a peer that doesn't read", async () => {
    let sent = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const { port, close, warnings } = await start(
      async (ws) => {
        const pending: Promise<void>[] = [];
        // The mistake: send() in a loop, not awaited.
        for (; sent < MAX_SENDS && warnings().length === 0; sent++) pending.push(ws.send(CHUNK));
        await ws.terminate();
        await Promise.allSettled(pending);
        done();
      },
      { writeLimit: 1024 },
    );
    const peer = await rawConnect(port);
    peer.socket.pause(); // reads nothing
    await finished;
    peer.socket.destroy();
    await close();
    assert.ok(sent < MAX_SENDS, `no warning after ${sent} sends`);
    const [warning, ...others] = warnings();
    assert.deepEqual(others, []);
    assert.match(
      warning,
      new RegExp(
        `^${SENDS_PILING_UP} send\\(\\) calls wait for the write buffer to drain \\(\\d+ bytes buffered, writeLimit 1024\\): sends that aren't awaited buffer without bound`,
      ),
    );
  });

  it("doesn't warn when each send is awaited, however much is sent", async () => {
    let sent = 0;
    const { port, close, warnings } = await start(
      async (ws) => {
        for (; sent < MAX_SENDS; sent++) await ws.send(CHUNK);
      },
      { writeLimit: 1024 },
    );
    const peer = await rawConnect(port); // reads everything
    await new Promise<void>((resolve) => peer.socket.once("close", () => resolve()));
    await close();
    assert.equal(sent, MAX_SENDS);
    assert.deepEqual(warnings(), []);
  });
});

describe("a failed send nothing awaited", () => {
  /** Runs `body` in a handler once the client closed; resolves to the server's warnings. */
  async function afterClientLeft(body: (ws: ServerConnection) => Promise<void>): Promise<string[]> {
    let done!: () => void;
    const handled = new Promise<void>((resolve) => {
      done = resolve;
    });
    const { port, close, warnings } = await start(async (ws) => {
      await ws.closed;
      await body(ws);
      // The check runs one macrotask after the rejection.
      await turns(3);
      done();
    });
    const client = await connect(`ws://127.0.0.1:${port}`, { logger: false });
    await client.close();
    await handled;
    await close();
    return warnings();
  }

  it("is logged at WARN with the close, once per connection", async () => {
    const [warning, ...others] = await afterClientLeft(async (ws) => {
      void ws.send("too late"); // the mistake
      void ws.send("later still");
    });
    assert.deepEqual(others, [], "once per connection");
    assert.match(
      warning,
      /^a send failed and nothing awaited it, so the message is lost: ConnectionClosedOK: .*1000/,
    );
  });

  it("isn't logged when the send is awaited, caught, or given a handler", async () => {
    const outcomes: string[] = [];
    const warnings = await afterClientLeft(async (ws) => {
      try {
        await ws.send("awaited");
      } catch (error) {
        outcomes.push((error as Error).name);
      }
      ws.send("caught").catch((error: Error) => outcomes.push(error.name));
      ws.send("then").then(undefined, (error: Error) => outcomes.push(error.name));
      await Promise.allSettled([ws.send("all settled")]);
    });
    assert.deepEqual(outcomes, ["ConnectionClosedOK", "ConnectionClosedOK", "ConnectionClosedOK"]);
    assert.deepEqual(warnings, []);
  });
});

describe("messages left unread after leaving a for await loop", () => {
  /**
   * A server running `body` in its handler, and a client that sends one
   * message, waits for an answer, then sends nine more; resolves to the
   * server's warnings once it paused reading or closed the connection.
   */
  async function scenario(
    body: (ws: ServerConnection) => Promise<void>,
    options: ServeOptions = {},
    done: (ws: ServerConnection) => boolean = (ws) => ws.queue.paused,
  ): Promise<string[]> {
    const accepted: ServerConnection[] = [];
    const settled = () => accepted.length === 1 && done(accepted[0]);
    const { port, close, warnings } = await start(
      async (ws) => {
        accepted.push(ws);
        await body(ws);
        await ws.send("ready");
        await ws.closed;
      },
      { maxQueue: 4, ...options },
    );
    const client = await connect(`ws://127.0.0.1:${port}`, { logger: false, pingInterval: null });
    await client.send("message 0");
    assert.equal(await client.recv(), "ready");
    for (let i = 1; i < 10; i++) await client.send(`message ${i}`);
    // Bounded: the server pauses reading once more than 4 wait unread.
    for (let i = 0; i < 500 && !settled(); i++) await delay(10);
    const settledThen = settled();
    await client.terminate();
    await close();
    assert.ok(settledThen, "the server never paused reading, or never closed");
    return warnings();
  }

  it("warns when reading pauses after break, with the count of messages unread", async () => {
    const warnings = await scenario(async (ws) => {
      for await (const message of ws) {
        assert.equal(message, "message 0");
        break; // the mistake: then nothing reads
      }
    });
    assert.deepEqual(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /^reading paused: 5 messages wait unread since a for await loop over this connection was left; keepalive pongs aren't read either/,
    );
  });

  it("warns when keepalive times out, if reading paused before the loop was left", async () => {
    let unread = 0;
    const warnings = await scenario(
      async (ws) => {
        for await (const _ of ws) {
          // Bounded wait until the rest is queued and reading paused.
          await ws.send("ready");
          for (let i = 0; i < 500 && !ws.queue.paused; i++) await turns(1);
          unread = ws.queue.length;
          break;
        }
        await ws.closed;
      },
      { pingInterval: 50, pingTimeout: 50 },
      (ws) => ws.state === CLOSED,
    );
    assert.ok(unread > 4);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], new RegExp(`^reading paused: ${unread} messages wait unread`));
  });

  it("doesn't warn when nothing left a loop, or a read came after it", async () => {
    assert.deepEqual(await scenario(async () => {}), []);
    assert.deepEqual(
      await scenario(async (ws) => {
        for await (const _ of ws) break;
        // Read again (the next message, once the client sends it).
        ws.recv().catch(() => {});
      }),
      [],
    );
  });
});

/**
 * A reverse proxy as an unconfigured one behaves: it forwards the
 * request's head without the hop-by-hop Upgrade and Connection headers
 * (`strip: "request"`), or the response's (`strip: "response"`), then
 * relays bytes both ways.
 */
async function strippingProxy(
  upstreamPort: number,
  strip: "request" | "response",
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): Socket => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    return socket;
  };
  const proxy = createNetServer((client) => {
    track(client);
    const upstream = track(netConnect({ host: "127.0.0.1", port: upstreamPort }));
    relay(client, upstream, strip === "request");
    relay(upstream, client, strip === "response");
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    port: (proxy.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}

/** Copies `from` to `to`; with `stripHead`, the HTTP head loses its Upgrade and Connection lines. */
function relay(from: Socket, to: Socket, stripHead: boolean): void {
  let head: Buffer | null = stripHead ? Buffer.alloc(0) : null;
  from.on("data", (chunk: Buffer) => {
    if (head === null) {
      to.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) return;
    const lines = head
      .subarray(0, end)
      .toString("latin1")
      .split("\r\n")
      .filter((line) => !/^(upgrade|connection):/i.test(line));
    to.write(`${lines.join("\r\n")}\r\n\r\n`);
    to.write(head.subarray(end + 4));
    head = null;
  });
  from.on("end", () => to.end());
}

describe("handshake errors that name the fix", () => {
  it("through a proxy that drops Upgrade: the client is told, and the server warns", async () => {
    const capture = createCaptureLogger("warn");
    const server = await serve(async () => {}, {
      host: "127.0.0.1",
      port: 0,
      logger: capture.logger,
    });
    const proxy = await strippingProxy(server.port, "request");
    await assert.rejects(connect(`ws://127.0.0.1:${proxy.port}/`, { logger: false }), {
      name: "InvalidStatus",
      message: `server rejected WebSocket connection: HTTP 426${handshakeHints.upgradeStripped}`,
    });
    await proxy.close();
    await server.close();
    assert.deepEqual(capture.messages(), [logMessages.upgradeStripped]);
  });

  it("through a proxy that drops Upgrade in front of a ws server: the client is told", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    const proxy = await strippingProxy((wss.address() as AddressInfo).port, "request");
    await assert.rejects(connect(`ws://127.0.0.1:${proxy.port}/`, { logger: false }), {
      name: "InvalidStatus",
      message: `server rejected WebSocket connection: HTTP 426${handshakeHints.upgradeStripped}`,
    });
    await proxy.close();
    await new Promise((resolve) => wss.close(resolve));
  });

  it("through a proxy that drops the 101's upgrade headers: the client is told", async () => {
    const server = await serve(async () => {}, { host: "127.0.0.1", port: 0, logger: false });
    const proxy = await strippingProxy(server.port, "response");
    await assert.rejects(connect(`ws://127.0.0.1:${proxy.port}/`, { logger: false }), {
      name: "InvalidUpgrade",
      message: `missing Connection header${handshakeHints.responseUpgradeStripped}`,
    });
    await proxy.close();
    await server.close();
  });

  it("every hint has its entry in the FAQ", () => {
    const faq = readFileSync(new URL("../../docs/faq.md", import.meta.url), "utf8");
    const missing = Object.entries(handshakeHints)
      .map(([name, hint]) => [name, typeof hint === "string" ? hint : hint("…")] as const)
      // The hint's longest run of fixed words, between the values it names.
      .filter(([, text]) => {
        const fixed = text.split("…").reduce((a, b) => (b.length > a.length ? b : a));
        return !faq.includes(fixed.replace(/^: /, "").trim().slice(0, 60));
      })
      .map(([name]) => name);
    assert.deepEqual(missing, []);
  });
});
