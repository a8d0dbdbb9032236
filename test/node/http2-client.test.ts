/**
 * The client over HTTP/2 (RFC 8441), against node:http2 servers scripted
 * here: they answer the extended CONNECT as each test needs, then speak
 * WebSocket frames byte by byte with the raw helpers (no code from src/).
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import {
  constants,
  createServer as createH2cServer,
  createSecureServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
  type Settings,
} from "node:http2";
import {
  createConnection,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { deflateRawSync } from "node:zlib";
import { connect, serve } from "../../src/index.ts";
import { sessionPool } from "../../src/node/http2-client-pool.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import {
  closeFrame,
  frame,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  parseClose,
  readFrames,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { runExample } from "../helpers/run-example.ts";

type H2Server = Http2Server | Http2SecureServer;

interface Scripted {
  readonly server: H2Server;
  readonly port: number;
  /** Sessions the server accepted. */
  readonly sessions: Http2Session[];
  /** Headers of each stream the server received. */
  readonly requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/**
 * Echoes frames on an accepted extended CONNECT: text and binary back
 * unmasked, a close answered then the stream ended (the server's FIN).
 */
function echoFrames(stream: ServerHttp2Stream): void {
  const reader = readFrames(stream as unknown as Socket);
  void (async () => {
    for (let i = 0; i < 1000; i++) {
      const received = await reader.next(10_000).catch(() => null);
      if (received === null) return;
      if (received.opcode === OP_CLOSE) {
        const { code } = parseClose(received.payload);
        stream.end(closeFrame(code, "", { mask: false }));
        return;
      }
      if (received.opcode === OP_TEXT || received.opcode === OP_BINARY) {
        stream.write(frame(received.opcode, received.payload, { mask: false }));
      }
    }
  })();
}

/** Accepts every extended CONNECT with 200 and echoes. */
const accept: StreamHandler = (stream) => {
  stream.respond({ ":status": 200 });
  echoFrames(stream);
};

async function scripted(
  options: {
    tls?: boolean;
    enableConnectProtocol?: boolean;
    allowHTTP1?: boolean;
    /** More SETTINGS, e.g. `initialWindowSize`. */
    settings?: Settings;
  },
  onStream: StreamHandler = accept,
): Promise<Scripted> {
  const settings = {
    ...options.settings,
    enableConnectProtocol: options.enableConnectProtocol ?? true,
  };
  const server: H2Server =
    options.tls === false
      ? createH2cServer({ settings })
      : createSecureServer({ key, cert, settings, allowHTTP1: options.allowHTTP1 ?? false });
  const sessions: Http2Session[] = [];
  const requests: IncomingHttpHeaders[] = [];
  server.on("session", (session: Http2Session) => sessions.push(session));
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    requests.push(headers);
    stream.on("error", () => {});
    onStream(stream, headers);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    server,
    port,
    sessions,
    requests,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const tls = { ca: cert };
const servers: { close(): Promise<void> }[] = [];
after(async () => {
  for (const server of servers) await server.close();
});
checkLeaksAfterAll();

async function started(server: Promise<Scripted>): Promise<Scripted> {
  const s = await server;
  servers.push(s);
  return s;
}

/**
 * Listens on a free port of 127.0.0.1; `after` destroys `sockets` (those
 * the server accepted or opened) and closes it.
 */
async function listenTracked(server: NetServer | TlsServer, sockets: Socket[]): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.unshift({
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return (server.address() as { port: number }).port;
}

function portOf(server: { address: unknown }): number {
  return (server.address as { port: number }).port;
}

/** Waits for `condition` for at most `ms`, polling every 10 ms. */
async function until(condition: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("connect({ http2 }) over TLS (ALPN h2)", () => {
  it("opens a WebSocket with an extended CONNECT and echoes over the stream", async () => {
    const h2 = await started(scripted({}));
    const ws = await connect(`wss://localhost:${h2.port}/chat?room=1`, {
      tls,
      http2: "auto",
      subprotocols: ["chat"],
      origin: "https://example.com",
      logger: null,
    });
    await ws.send("hello");
    assert.equal(await ws.recv(), "hello");
    await ws.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await ws.recv(), Buffer.from([1, 2, 3]));

    const request = h2.requests[0];
    // RFC 8441 §4: the pseudo-headers of an extended CONNECT.
    assert.equal(request[":method"], "CONNECT");
    assert.equal(request[":protocol"], "websocket");
    assert.equal(request[":scheme"], "https");
    assert.equal(request[":path"], "/chat?room=1");
    assert.equal(request[":authority"], `localhost:${h2.port}`);
    assert.equal(request["sec-websocket-version"], "13");
    assert.equal(request["sec-websocket-protocol"], "chat");
    assert.equal(request.origin, "https://example.com");
    assert.match(String(request["sec-websocket-extensions"]), /^permessage-deflate/);
    // RFC 8441 §5: no key; RFC 9113 §8.2.2: no connection-specific header.
    for (const name of ["sec-websocket-key", "upgrade", "connection", "host"]) {
      assert.equal(request[name], undefined, name);
    }

    assert.equal(ws.request?.version, "HTTP/2");
    assert.equal(ws.request?.method, "CONNECT");
    assert.equal(ws.request?.path, "/chat?room=1");
    assert.equal(ws.request?.headers.get("Host"), `localhost:${h2.port}`);
    assert.equal(ws.response?.status, 200);
    assert.equal(ws.remoteAddress && "port" in ws.remoteAddress && ws.remoteAddress.port, h2.port);
    await ws.close();
    assert.equal(ws.closeCode, 1000);
  });

  it("shares one session between WebSockets to one origin and closes it with the last", async () => {
    const h2 = await started(scripted({}));
    const url = `wss://localhost:${h2.port}/`;
    const [a, b] = await Promise.all([
      connect(url, { tls, http2: "auto", logger: null }),
      connect(url, { tls, http2: "auto", logger: null }),
    ]);
    const c = await connect(url, { tls, http2: "auto", logger: null });
    assert.equal(h2.sessions.length, 1);
    assert.equal(h2.requests.length, 3);
    await a.send("a");
    await c.send("c");
    assert.equal(await a.recv(), "a");
    assert.equal(await c.recv(), "c");
    await a.close();
    await b.close();
    assert.equal(h2.sessions[0].closed, false, "the session outlives all but its last WebSocket");
    await c.close();
    await until(() => h2.sessions[0].closed || h2.sessions[0].destroyed, 5000, "session closed");
    assert.equal(sessionPool.size, 0);
  });

  it("keeps sessions apart for different TLS options", async () => {
    const h2 = await started(scripted({}));
    const url = `wss://localhost:${h2.port}/`;
    const a = await connect(url, { tls: { ca: cert }, http2: "auto", logger: null });
    const b = await connect(url, {
      tls: { ca: cert, servername: "localhost" },
      http2: "auto",
      logger: null,
    });
    assert.equal(h2.sessions.length, 2);
    await Promise.all([a.close(), b.close()]);
  });

  it("opens a new session after the server's GOAWAY; the WebSockets already open go on", async () => {
    const h2 = await started(scripted({}));
    const url = `wss://localhost:${h2.port}/`;
    const first = await connect(url, { tls, http2: "auto", logger: null });
    h2.sessions[0].goaway(constants.NGHTTP2_NO_ERROR);
    await until(() => sessionPool.size === 0, 5000, "session out of the pool");
    const second = await connect(url, { tls, http2: "auto", logger: null });
    assert.equal(h2.sessions.length, 2);
    await first.send("still here");
    assert.equal(await first.recv(), "still here");
    await second.send("new session");
    assert.equal(await second.recv(), "new session");
    await Promise.all([first.close(), second.close()]);
  });

  it("opens another session when the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached", async () => {
    const h2 = await started(scripted({}));
    (h2.server as Http2SecureServer).updateSettings({ maxConcurrentStreams: 1 });
    const url = `wss://localhost:${h2.port}/`;
    const a = await connect(url, { tls, http2: "auto", logger: null });
    const b = await connect(url, { tls, http2: "auto", logger: null });
    assert.equal(h2.sessions.length, 2);
    assert.equal(sessionPool.size, 2);
    await Promise.all([a.close(), b.close()]);
  });

  it("gets permessage-deflate messages over the stream", async () => {
    const h2 = await started(
      scripted({}, (stream) => {
        stream.respond({ ":status": 200, "sec-websocket-extensions": "permessage-deflate" });
        // RFC 7692 §7.2.1: the compressed payload without its last 4 bytes.
        const compressed = deflateRawSync(Buffer.from("squeezed ".repeat(20)), {
          finishFlush: 2, // Z_SYNC_FLUSH
        });
        const payload = compressed.subarray(0, compressed.length - 4);
        stream.write(frame(OP_TEXT, payload, { mask: false, rsv1: true }));
        echoFrames(stream);
      }),
    );
    const ws = await connect(`wss://localhost:${h2.port}/`, { tls, http2: "auto", logger: null });
    assert.equal(await ws.recv(), "squeezed ".repeat(20));
    assert.equal(ws.protocol.extensions.length, 1);
    await ws.close();
  });

  it("reads a refusal's status and body into InvalidStatus", async () => {
    const h2 = await started(
      scripted({}, (stream) => {
        stream.respond({ ":status": 403, "content-type": "text/plain" });
        stream.end("go away");
      }),
    );
    await assert.rejects(
      connect(`wss://localhost:${h2.port}/`, { tls, http2: "auto", logger: null }),
      (error: Error & { response?: { status: number; body: Buffer } }) => {
        assert.equal(error.name, "InvalidStatus");
        assert.equal(error.response?.status, 403);
        assert.equal(error.response?.body.toString(), "go away");
        return true;
      },
    );
  });

  it("resets the stream with CANCEL when the 200 selects a subprotocol it didn't offer", async () => {
    let reset: Promise<number> | null = null;
    const h2 = await started(
      scripted({}, (stream) => {
        reset = new Promise((resolve) => stream.once("close", () => resolve(stream.rstCode)));
        stream.respond({ ":status": 200, "sec-websocket-protocol": "superchat" });
      }),
    );
    await assert.rejects(
      connect(`wss://localhost:${h2.port}/`, {
        tls,
        http2: "auto",
        subprotocols: ["chat"],
        logger: null,
      }),
      { name: "NegotiationError", message: /unsupported subprotocol: superchat/ },
    );
    assert.equal(await reset, constants.NGHTTP2_CANCEL);
    await until(() => sessionPool.size === 0, 5000, "session closed");
  });

  it("follows a redirect answered on HTTP/2", async () => {
    const h2 = await started(
      scripted({}, (stream, headers) => {
        if (headers[":path"] === "/old") {
          stream.respond({ ":status": 302, location: "/new" });
          stream.end();
        } else accept(stream, headers);
      }),
    );
    const ws = await connect(`wss://localhost:${h2.port}/old`, {
      tls,
      http2: "auto",
      followRedirects: true,
      logger: null,
    });
    assert.equal(ws.request?.path, "/new");
    assert.equal(ws.request?.version, "HTTP/2");
    await ws.close();
  });

  it("reconnects over HTTP/2 when the server resets the stream", async () => {
    const h2 = await started(
      scripted({}, (stream, headers) => {
        accept(stream, headers);
        // The first WebSocket is reset (1006), the second lives.
        if (h2Count++ === 0) setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), 20);
      }),
    );
    let h2Count = 0;
    const codes: number[] = [];
    let attempts = 0;
    for await (const ws of connect(`wss://localhost:${h2.port}/`, {
      tls,
      http2: "auto",
      backoff: [0, 0],
      logger: null,
    })) {
      attempts++;
      assert.equal(ws.request?.version, "HTTP/2");
      if (attempts === 1) {
        await assert.rejects(ws.recv(), { name: "ConnectionClosedError" });
        codes.push(ws.closeCode ?? 0);
        continue;
      }
      await ws.send("again");
      assert.equal(await ws.recv(), "again");
      await ws.close();
      break;
    }
    assert.deepEqual(codes, [1006]);
    assert.equal(attempts, 2);
  });
});

describe("the same connection API as over HTTP/1.1", () => {
  it("logs the CONNECT and the 200 with their HTTP/2 start lines", async () => {
    const h2 = await started(scripted({}));
    const capture = createCaptureLogger("debug");
    const ws = await connect(`wss://localhost:${h2.port}/logged`, {
      tls,
      http2: "auto",
      logger: capture.logger,
    });
    await ws.close();
    const debug = capture.messages("debug");
    assert.ok(debug.includes("> CONNECT /logged HTTP/2"), debug.join("\n"));
    assert.ok(debug.includes("< HTTP/2 200 OK"), debug.join("\n"));
  });

  it("pings on the stream and fails with 1011 when no pong comes (keepalive)", async () => {
    const seen: number[] = [];
    let closeFrameSeen: Promise<{ code: number; reason: string } | null> | null = null;
    const h2 = await started(
      scripted({}, (stream) => {
        stream.respond({ ":status": 200 });
        // Reads pings and never answers them.
        const reader = readFrames(stream as unknown as Socket);
        closeFrameSeen = (async () => {
          for (let i = 0; i < 20; i++) {
            const received = await reader.next(5000).catch(() => null);
            if (received === null) return null;
            seen.push(received.opcode);
            if (received.opcode === OP_CLOSE) return parseClose(received.payload);
          }
          return null;
        })();
      }),
    );
    const ws = await connect(`wss://localhost:${h2.port}/`, {
      tls,
      http2: "auto",
      pingInterval: 50,
      pingTimeout: 50,
      logger: null,
    });
    await assert.rejects(ws.recv(), { name: "ConnectionClosedError" });
    assert.deepEqual(await closeFrameSeen, { code: 1011, reason: "keepalive ping timeout" });
    assert.equal(seen[0], OP_PING);
    await until(() => sessionPool.size === 0, 5000, "session closed");
  });
});

describe("through an HTTP proxy", () => {
  /** A CONNECT proxy that counts the tunnels it opens. */
  async function connectProxy(): Promise<{ port: number; tunnels: string[] }> {
    const tunnels: string[] = [];
    const sockets: Socket[] = [];
    const proxy = createNetServer((client) => {
      sockets.push(client);
      client.on("error", () => {});
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        client.off("data", onData);
        const target = /^CONNECT (\S+) HTTP\/1\.1\r\n/.exec(head.toString("latin1"))?.[1] ?? "";
        tunnels.push(target);
        const [host, port] = [
          target.slice(0, target.lastIndexOf(":")),
          Number(target.slice(target.lastIndexOf(":") + 1)),
        ];
        const upstream = createConnection(
          { host: host === "localhost" ? "127.0.0.1" : host, port },
          () => {
            client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
            upstream.write(head.subarray(end + 4));
            client.pipe(upstream).pipe(client);
          },
        );
        sockets.push(upstream);
        upstream.on("error", () => client.destroy());
      };
      client.on("data", onData);
    });
    return { port: await listenTracked(proxy, sockets), tunnels };
  }

  it("carries a pooled HTTP/2 session through the tunnel", async () => {
    const h2 = await started(scripted({}));
    const proxy = await connectProxy();
    const options = {
      tls,
      http2: "auto" as const,
      proxy: `http://127.0.0.1:${proxy.port}`,
      logger: null,
    };
    const url = `wss://localhost:${h2.port}/`;
    const a = await connect(url, options);
    const b = await connect(url, options);
    await b.send("tunnelled");
    assert.equal(await b.recv(), "tunnelled");
    assert.equal(a.request?.version, "HTTP/2");
    assert.deepEqual(proxy.tunnels, [`localhost:${h2.port}`], "one tunnel, one session");
    await Promise.all([a.close(), b.close()]);
  });
});

/**
 * How a server's stream ended: its RST_STREAM code, and whether its
 * incoming side ended (END_STREAM from the client when the code is NO_ERROR).
 */
interface StreamOutcome {
  clientEnded: boolean;
  rst: number;
}

function streamOutcome(stream: ServerHttp2Stream): Promise<StreamOutcome> {
  let clientEnded = false;
  stream.once("end", () => {
    clientEnded = true;
  });
  return new Promise((resolve) => {
    stream.once("close", () => resolve({ clientEnded, rst: stream.rstCode }));
  });
}

/** A scripted server that records how each of its streams ended. */
async function recordingOutcomes(
  options: Parameters<typeof scripted>[0],
  onStream: StreamHandler = accept,
): Promise<{ h2: Scripted; outcomes: Promise<StreamOutcome>[] }> {
  const outcomes: Promise<StreamOutcome>[] = [];
  const h2 = await started(
    scripted(options, (stream, headers) => {
      outcomes.push(streamOutcome(stream));
      onStream(stream, headers);
    }),
  );
  return { h2, outcomes };
}

describe("closing and bad input over HTTP/2, client role", () => {
  it("ends its side of the stream after a closing handshake it started (END_STREAM both ways)", async () => {
    const { h2, outcomes } = await recordingOutcomes({});
    const ws = await connect(`wss://localhost:${h2.port}/`, { tls, http2: "auto", logger: null });
    await ws.close(1000, "done");
    assert.equal(ws.closeCode, 1000);
    assert.deepEqual(await outcomes[0], { clientEnded: true, rst: constants.NGHTTP2_NO_ERROR });
  });

  it("discards DATA after the server's close frame, answers it and ends the stream", async () => {
    let reply: Promise<number | null> | null = null;
    const { h2, outcomes } = await recordingOutcomes({}, (stream) => {
      stream.respond({ ":status": 200 });
      const reader = readFrames(stream as unknown as Socket);
      stream.write(frame(OP_TEXT, "before", { mask: false }));
      stream.write(closeFrame(1000, "bye", { mask: false }));
      stream.write(frame(OP_TEXT, "after the close frame", { mask: false }));
      reply = reader.next().then((received) => {
        // The client's close frame, then our END_STREAM, with one more DATA frame.
        stream.end(frame(OP_TEXT, "with END_STREAM", { mask: false }));
        return received === null ? null : parseClose(received.payload).code;
      });
    });
    const ws = await connect(`wss://localhost:${h2.port}/`, { tls, http2: "auto", logger: null });
    assert.equal(await ws.recv(), "before");
    await assert.rejects(ws.recv(), { name: "ConnectionClosedOK" });
    await ws.closed;
    assert.equal(ws.closeCode, 1000);
    assert.equal(ws.closeReason, "bye");
    assert.equal(await reply, 1000, "the client answered the close frame");
    assert.deepEqual(await outcomes[0], { clientEnded: true, rst: constants.NGHTTP2_NO_ERROR });
    await until(() => sessionPool.size === 0, 5000, "session closed");
  });

  it("resets the stream with CANCEL on terminate(); the session and its other WebSockets go on", async () => {
    const { h2, outcomes } = await recordingOutcomes({});
    const url = `wss://localhost:${h2.port}/`;
    const a = await connect(url, { tls, http2: "auto", logger: null });
    const b = await connect(url, { tls, http2: "auto", logger: null });
    await a.terminate();
    assert.equal(a.closeCode, 1006);
    assert.equal((await outcomes[0]).rst, constants.NGHTTP2_CANCEL);
    await b.send("still on the session");
    assert.equal(await b.recv(), "still on the session");
    assert.equal(h2.sessions.length, 1);
    assert.equal(h2.sessions[0].destroyed, false);
    await b.close();
    assert.equal(b.closeCode, 1000);
  });

  it("waits on a server that never grants window: send() blocks at writeLimit, close() times out to RST_STREAM CANCEL", async () => {
    // A window of 0 for the client's DATA on every stream (RFC 9113 §6.9.2).
    const { h2, outcomes } = await recordingOutcomes(
      { settings: { initialWindowSize: 0 } },
      (stream) => stream.respond({ ":status": 200 }),
    );
    const ws = await connect(`wss://localhost:${h2.port}/`, {
      tls,
      http2: "auto",
      writeLimit: 16 * 1024,
      closeTimeout: 300,
      compression: null,
      logger: null,
    });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let resolved = 0;
    const sends = Array.from({ length: 8 }, () => ws.send(chunk).then(() => void resolved++));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(resolved < 8, `sends past writeLimit waited for the window (${resolved} done)`);
    const buffered = ws.bufferedAmount;
    assert.ok(buffered >= 64 * 1024 && buffered <= 8 * 64 * 1024 + 1024, `buffered ${buffered}`);
    await ws.close();
    assert.equal(ws.closeCode, 1006);
    await Promise.allSettled(sends);
    assert.equal((await outcomes[0]).rst, constants.NGHTTP2_CANCEL);
    await until(() => sessionPool.size === 0, 5000, "session closed");
  });

  it("stops granting window while maxQueue messages wait unread", async () => {
    let serverStream: ServerHttp2Stream | null = null;
    const payload = Buffer.alloc(16 * 1024, 0x62);
    const total = 256;
    const h2 = await started(
      scripted({}, (stream) => {
        serverStream = stream;
        stream.respond({ ":status": 200 });
        // 4 MiB, far beyond the client's 64 KiB stream window.
        for (let i = 0; i < total; i++) stream.write(frame(OP_BINARY, payload, { mask: false }));
        stream.write(closeFrame(1000, "", { mask: false }));
        stream.resume();
      }),
    );
    const ws = await connect(`wss://localhost:${h2.port}/`, {
      tls,
      http2: "auto",
      maxQueue: 2,
      compression: null,
      logger: null,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const held = (serverStream as ServerHttp2Stream | null)?.writableLength ?? 0;
    assert.ok(held > 2 * 1024 * 1024, `the server still holds ${held} bytes`);
    let received = 0;
    for await (const message of ws) {
      assert.equal((message as Buffer).length, payload.length);
      received++;
    }
    assert.equal(received, total);
    assert.equal(ws.closeCode, 1000);
  });
});

describe('fallback to HTTP/1.1 (http2: "auto") and http2: true', () => {
  /** An h2 server that also serves WebSockets over HTTP/1.1 (ALPN http/1.1 or Upgrade). */
  async function dual(
    options: { enableConnectProtocol?: boolean },
    onStream?: StreamHandler,
  ): Promise<Scripted> {
    const h2 = await started(scripted({ ...options, allowHTTP1: true }, onStream));
    const ws = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      { noServer: true, logger: null },
    );
    // HTTP/1.1 upgrades only: the h2 side stays as this test scripts it.
    h2.server.on("upgrade", (req, socket, head) => ws.handleUpgrade(req, socket, head));
    servers.unshift({ close: () => ws.close() });
    return h2;
  }

  async function roundTrip(url: string, http2: true | "auto"): Promise<string | undefined> {
    const ws = await connect(url, { tls, http2, logger: null });
    await ws.send("ping?");
    assert.equal(await ws.recv(), "ping?");
    await ws.close();
    return ws.request?.version;
  }

  it("falls back when the SETTINGS lack ENABLE_CONNECT_PROTOCOL", async () => {
    const h2 = await dual({ enableConnectProtocol: false });
    const url = `wss://localhost:${h2.port}/`;
    const capture = createCaptureLogger("debug");
    const ws = await connect(url, { tls, http2: "auto", logger: capture.logger });
    assert.equal(ws.request?.version, "HTTP/1.1");
    await ws.close();
    assert.ok(
      capture
        .messages("debug")
        .some((m) =>
          /^! falling back to HTTP\/1\.1: .* lack SETTINGS_ENABLE_CONNECT_PROTOCOL/.test(m),
        ),
      capture.messages("debug").join("\n"),
    );
    assert.equal(h2.requests.length, 0, "no CONNECT sent to a server that can't take it");
    await assert.rejects(connect(url, { tls, http2: true, logger: null }), {
      name: "InvalidHandshake",
      message: /HTTP\/2 required \(http2: true\) but .* lack SETTINGS_ENABLE_CONNECT_PROTOCOL/,
    });
  });

  for (const status of [405, 501]) {
    it(`falls back when the CONNECT gets ${status}`, async () => {
      const h2 = await dual({}, (stream) => {
        stream.respond({ ":status": status });
        stream.end();
      });
      const url = `wss://localhost:${h2.port}/`;
      assert.equal(await roundTrip(url, "auto"), "HTTP/1.1");
      assert.equal(h2.requests.length, 1);
      await assert.rejects(connect(url, { tls, http2: true, logger: null }), {
        name: "InvalidHandshake",
        message: new RegExp(`refused the extended CONNECT for / with HTTP ${status}`),
      });
    });
  }

  it("falls back when the CONNECT is refused with REFUSED_STREAM", async () => {
    const h2 = await dual({}, (stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    const url = `wss://localhost:${h2.port}/`;
    assert.equal(await roundTrip(url, "auto"), "HTTP/1.1");
    await assert.rejects(connect(url, { tls, http2: true, logger: null }), {
      message: /REFUSED_STREAM/,
    });
  });

  it("uses the TLS connection as is when ALPN doesn't pick h2", async () => {
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      { host: "127.0.0.1", port: 0, tls: { key, cert }, logger: null },
    );
    servers.unshift(server);
    const url = `wss://localhost:${portOf(server)}/`;
    assert.equal(await roundTrip(url, "auto"), "HTTP/1.1");
    await assert.rejects(connect(url, { tls, http2: true, logger: null }), {
      name: "InvalidHandshake",
      message:
        /HTTP\/2 required \(http2: true\) but localhost:\d+ doesn't speak HTTP\/2: TLS ALPN chose (no protocol|"http\/1\.1")/,
    });
  });

  it("never offers h2 with http2: false (the default)", async () => {
    const h2 = await dual({});
    const url = `wss://localhost:${h2.port}/`;
    for (const http2 of [false, undefined]) {
      const ws = await connect(url, { tls, http2, logger: null });
      assert.equal(ws.request?.version, "HTTP/1.1");
      await ws.send("h1");
      assert.equal(await ws.recv(), "h1");
      await ws.close();
    }
    assert.equal(h2.sessions.length, 0, "no HTTP/2 session was opened");
  });

  it("rejects http2: true over a socket given to connect()", async () => {
    const { PassThrough } = await import("node:stream");
    await assert.rejects(
      connect("wss://localhost:1/", { http2: true, sock: new PassThrough(), logger: null }),
      { name: "TypeError", message: /http2: true can't be used with sock/ },
    );
  });

  it("rejects an unknown http2 value, naming it", async () => {
    await assert.rejects(connect("wss://localhost:1/", { http2: "yes" as never, logger: null }), {
      name: "TypeError",
      message: /http2 must be true, false or "auto", got "yes"/,
    });
  });
});

describe("h2c: ws:// with http2: true (prior knowledge)", () => {
  it("speaks HTTP/2 over TCP", async () => {
    const h2 = await started(scripted({ tls: false }));
    const ws = await connect(`ws://127.0.0.1:${h2.port}/plain`, { http2: true, logger: null });
    await ws.send("over h2c");
    assert.equal(await ws.recv(), "over h2c");
    assert.equal(h2.requests[0][":scheme"], "http");
    assert.equal(ws.request?.version, "HTTP/2");
    await ws.close();
  });

  it('never tries it with http2: "auto"', async () => {
    const server = await serve(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      { host: "127.0.0.1", port: 0, logger: null },
    );
    servers.unshift(server);
    const ws = await connect(`ws://127.0.0.1:${portOf(server)}/`, {
      http2: "auto",
      logger: null,
    });
    assert.equal(ws.request?.version, "HTTP/1.1");
    await ws.close();
  });

  it("says so when the server doesn't speak HTTP/2", async () => {
    const server = await serve(async () => {}, { host: "127.0.0.1", port: 0, logger: null });
    servers.unshift(server);
    await assert.rejects(
      connect(`ws://127.0.0.1:${portOf(server)}/`, { http2: true, logger: null }),
      {
        name: "InvalidHandshake",
        message: /HTTP\/2 session with 127\.0\.0\.1:\d+ failed before its SETTINGS/,
      },
    );
  });
});

describe("openTimeout while awaiting the peer's SETTINGS", () => {
  /** Listens with `server`, which reads (to see the client leave) and never answers. */
  async function silent(
    server: NetServer | TlsServer,
    event: "connection" | "secureConnection",
  ): Promise<{ port: number; sockets: Socket[] }> {
    const sockets: Socket[] = [];
    server.on(event, (socket: Socket) => {
      sockets.push(socket);
      socket.on("error", () => {}).resume();
    });
    return { port: await listenTracked(server, sockets), sockets };
  }

  it("times out on an h2c peer that never sends SETTINGS", async () => {
    const { port } = await silent(createNetServer(), "connection");
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`, { http2: true, openTimeout: 200, logger: null }),
      { name: "TimeoutError", message: /timed out during opening handshake after 200 ms/ },
    );
    assert.equal(sessionPool.size, 0);
  });

  it("times out on a server that never answers the CONNECT, resets the stream and closes the session", async () => {
    // SETTINGS come (node:http2 sends them), the response never does.
    const { h2, outcomes } = await recordingOutcomes({}, () => {});
    await assert.rejects(
      connect(`wss://localhost:${h2.port}/`, {
        tls,
        http2: "auto",
        openTimeout: 300,
        logger: null,
      }),
      { name: "TimeoutError" },
    );
    assert.equal((await outcomes[0]).rst, constants.NGHTTP2_CANCEL);
    await until(() => h2.sessions[0].closed || h2.sessions[0].destroyed, 5000, "session closed");
    assert.equal(sessionPool.size, 0);
  });

  it("times out on a TLS peer that picks h2 and stays silent", async () => {
    const { port, sockets } = await silent(
      createTlsServer({ key, cert, ALPNProtocols: ["h2"] }),
      "secureConnection",
    );
    await assert.rejects(
      connect(`wss://localhost:${port}/`, { tls, http2: "auto", openTimeout: 300, logger: null }),
      { name: "TimeoutError" },
    );
    await until(
      () => sockets.every((socket) => socket.destroyed || socket.readableEnded),
      5000,
      "socket closed",
    );
  });
});

describe("the process lifetime", () => {
  const script = (port: number, wait: boolean): string => `
    import { connect } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)};
    const ws = await connect("ws://127.0.0.1:${port}/", { http2: true, logger: null });
    ${wait ? 'console.log("got", await ws.recv());' : ""}
    await ws.close();
    console.log("closed");
  `;

  async function run(source: string): Promise<{ code: number | null; stdout: string }> {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", source],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    // A session that held the process would keep it past this.
    const timer = setTimeout(() => child.kill(), 15_000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(timer);
    return { code, stdout };
  }

  it("exits once its last WebSocket over HTTP/2 closed: the session doesn't hold it", async () => {
    const h2 = await started(scripted({ tls: false }));
    const { code, stdout } = await run(script(h2.port, false));
    assert.equal(stdout.trim(), "closed");
    assert.equal(code, 0);
  });

  it("stays alive while a WebSocket over HTTP/2 is open", async () => {
    const h2 = await started(
      scripted({ tls: false }, (stream) => {
        stream.respond({ ":status": 200 });
        // The message comes later: an unref'd session would let the child exit first.
        setTimeout(() => stream.write(frame(OP_TEXT, Buffer.from("late"), { mask: false })), 300);
        echoFrames(stream);
      }),
    );
    const { code, stdout } = await run(script(h2.port, true));
    assert.equal(stdout.trim(), "got late\nclosed");
    assert.equal(code, 0);
  });
});

describe("against our own server (serve({ http2: true }))", () => {
  async function echoServer(secure: boolean) {
    const server = await serve(
      async (ws) => {
        await ws.send(`version ${ws.request?.version}`);
        for await (const message of ws) await ws.send(message);
      },
      {
        host: "127.0.0.1",
        port: 0,
        http2: true,
        tls: secure ? { key, cert } : undefined,
        logger: null,
      },
    );
    servers.unshift(server);
    return server;
  }

  for (const secure of [true, false]) {
    const name = secure ? "wss:// over h2" : "ws:// over h2c";
    it(`${name}: many WebSockets on one session, compressed both ways`, async () => {
      const server = await echoServer(secure);
      const url = `${secure ? "wss://localhost" : "ws://127.0.0.1"}:${portOf(server)}/`;
      const options = { tls, http2: secure ? ("auto" as const) : true, logger: null };
      const all = await Promise.all(Array.from({ length: 5 }, () => connect(url, options)));
      assert.equal(sessionPool.size, 1);
      for (const [i, ws] of all.entries()) {
        assert.equal(await ws.recv(), "version HTTP/2");
        assert.equal(ws.request?.version, "HTTP/2");
        assert.match(
          ws.response?.headers.get("Sec-WebSocket-Extensions") ?? "",
          /permessage-deflate/,
        );
        const big = `message ${i} `.repeat(2000);
        await ws.send(big);
        assert.equal(await ws.recv(), big);
      }
      await Promise.all(all.map((ws) => ws.close()));
      for (const ws of all) assert.equal(ws.closeCode, 1000);
      await until(() => sessionPool.size === 0, 5000, "pool empty");
    });
  }

  it("a WebSocket closed by server.close() gets 1001", async () => {
    const server = await echoServer(true);
    const ws = await connect(`wss://localhost:${portOf(server)}/`, {
      tls,
      http2: "auto",
      logger: null,
    });
    assert.equal(await ws.recv(), "version HTTP/2");
    await server.close();
    await assert.rejects(ws.recv(), { name: "ConnectionClosedOK" });
    assert.equal(ws.closeCode, 1001);
  });
});

describe("examples/http2-client.ts", () => {
  it("opens its WebSockets over one HTTP/2 session and exits once they're closed", async () => {
    const sessions: string[] = [];
    const server = await serve(
      async (ws) => {
        sessions.push(
          String(ws.remoteAddress && "port" in ws.remoteAddress && ws.remoteAddress.port),
        );
        for await (const message of ws) await ws.send(message);
      },
      { host: "127.0.0.1", port: 0, http2: true, tls: { key, cert }, logger: null },
    );
    servers.unshift(server);
    const dir = mkdtempSync(join(tmpdir(), "http2-client-example-"));
    try {
      writeFileSync(join(dir, "cert.pem"), cert);
      const { code, output } = await runExample(
        "http2-client.ts",
        [`wss://localhost:${portOf(server)}/echo`, "3"],
        { TLS_CA: join(dir, "cert.pem") },
      );
      assert.equal(code, 0, output);
      for (const i of [0, 1, 2]) {
        assert.match(output, new RegExp(`^WebSocket ${i} over HTTP/2: echo received$`, "m"));
      }
      assert.match(output, /^all closed$/m);
      // One client port: the three WebSockets came on one connection.
      assert.equal(new Set(sessions).size, 1, sessions.join(", "));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
