/**
 * ServerConnection's own contract, over real sockets on 127.0.0.1: its side
 * of the opening handshake (respond(), hooks that throw or outlive the
 * client, the open timer) and its accessors. What server.test.ts covers
 * already (the handler, 503 while closing, processResponse replacing the
 * response, data per connection) is not repeated here.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ServeOptions,
  type Server,
  type ServerConnection,
  serve,
} from "../../src/node/server.ts";
import { CLOSED, OPEN } from "../../src/protocol.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import {
  closeFrame,
  exchange,
  frame,
  OP_CLOSE,
  OP_TEXT,
  parseClose,
  rawConnect,
  readResponseHead,
  tcpConnect,
  upgradeRequest,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { parseResponse } from "../support/http.ts";

checkLeaksAfterAll();

const FAILED_HANDSHAKE_BODY =
  "Failed to open a WebSocket connection.\nSee server log for more information.\n";

async function start(
  handler: (ws: ServerConnection) => Promise<void> | void,
  options: ServeOptions = {},
): Promise<{ server: Server; port: number }> {
  const server = await serve(handler, { host: "127.0.0.1", port: 0, logger: false, ...options });
  return { server, port: server.port };
}

/** A response as our own parser reads it: status, reason, headers and body. */
function response(received: Buffer) {
  const { message } = parseResponse(received);
  return { ...message, text: message.body.toString("utf8") };
}

/** Resolves after `ms`; the timer is cleared by then, so nothing is left. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("ServerConnection.respond", () => {
  it("answers a plain-text response with the given status and body, then closes; the handler never runs", async () => {
    let handlerRuns = 0;
    let seen: ServerConnection | null = null;
    const { server, port } = await start(
      () => {
        handlerRuns++;
      },
      {
        processRequest: (ws) => {
          seen = ws;
          return ws.respond(403, "short and stout\n");
        },
      },
    );
    const { received, closedByServer } = await exchange(port, upgradeRequest("127.0.0.1", port));
    const { status, reason, headers, text } = response(received);
    assert.equal(`${status} ${reason}`, "403 Forbidden");
    assert.equal(text, "short and stout\n");
    assert.equal(headers.get("content-length"), String(Buffer.byteLength("short and stout\n")));
    assert.match(headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(headers.has("sec-websocket-accept"), false);
    assert.equal(closedByServer, true);
    await server.close();
    assert.equal(handlerRuns, 0);
    assert.ok(seen !== null);
    assert.equal((seen as ServerConnection).state, CLOSED);
    assert.equal(server.connections.size, 0);
  });

  it("counts the body's bytes in UTF-8, not its characters", async () => {
    const text = "déjà vu ✓\n";
    const { server, port } = await start(() => {}, {
      processRequest: (ws) => ws.respond(200, text),
    });
    const { received } = await exchange(port, upgradeRequest("127.0.0.1", port));
    const { headers, text: body } = response(received);
    assert.equal(headers.get("content-length"), String(Buffer.byteLength(text, "utf8")));
    assert.equal(body, text);
    await server.close();
  });

  it("lets the hook change the headers of the response it returns", async () => {
    const { server, port } = await start(() => {}, {
      processRequest: (ws) => {
        const response = ws.respond(401, "who are you?\n");
        response.headers.set("WWW-Authenticate", 'Basic realm="test"');
        return response;
      },
    });
    const { received } = await exchange(port, upgradeRequest("127.0.0.1", port));
    const { status, reason, headers } = response(received);
    assert.equal(`${status} ${reason}`, "401 Unauthorized");
    assert.equal(headers.get("www-authenticate"), 'Basic realm="test"');
    await server.close();
  });
});

describe("ServerConnection hooks that fail", () => {
  it("answers 500 with the generic body when processRequest throws a non-Error, and logs it", async () => {
    const capture = createCaptureLogger();
    const { server, port } = await start(() => {}, {
      logger: capture.logger,
      processRequest: () => {
        throw "not an Error object";
      },
    });
    const { received, closedByServer } = await exchange(port, upgradeRequest("127.0.0.1", port));
    const { status, reason, text: body } = response(received);
    assert.equal(`${status} ${reason}`, "500 Internal Server Error");
    // The body never echoes what the hook threw: it may hold secrets.
    assert.equal(body, FAILED_HANDSHAKE_BODY);
    assert.equal(closedByServer, true);
    await server.close();
    const failed = capture.records.find((record) => record.msg === "processRequest failed");
    assert.ok(failed !== undefined, capture.messages().join("\n"));
    assert.equal(failed.level, "error");
    assert.equal(failed.err, "not an Error object");
  });

  it("answers 500 when processResponse rejects after processRequest accepted", async () => {
    let requestHookRuns = 0;
    const { server, port } = await start(() => {}, {
      processRequest: () => {
        requestHookRuns++;
      },
      processResponse: async () => {
        throw new Error("secret detail");
      },
    });
    const { received } = await exchange(port, upgradeRequest("127.0.0.1", port));
    const { status, reason, text: body } = response(received);
    assert.equal(`${status} ${reason}`, "500 Internal Server Error");
    assert.equal(body, FAILED_HANDSHAKE_BODY);
    assert.doesNotMatch(received.toString("latin1"), /secret detail/);
    await server.close();
    assert.equal(requestHookRuns, 1);
  });
});

describe("ServerConnection when the client leaves during a hook", () => {
  it("closes, sends nothing, and runs neither processResponse nor the handler", async () => {
    const capture = createCaptureLogger();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: (ws: ServerConnection) => void;
    const inHook = new Promise<ServerConnection>((resolve) => {
      entered = resolve;
    });
    let responseHookRuns = 0;
    let handlerRuns = 0;
    const { server, port } = await start(
      () => {
        handlerRuns++;
      },
      {
        logger: capture.logger,
        processRequest: async (ws) => {
          entered(ws);
          await gate;
          return ws.respond(200, "too late\n");
        },
        processResponse: () => {
          responseHookRuns++;
        },
      },
    );
    const socket = await tcpConnect(port);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.write(upgradeRequest("127.0.0.1", port));
    const ws = await inHook;
    // Not open yet: server.connections holds only open connections.
    assert.equal(server.connections.has(ws), false);
    const gone = new Promise((resolve) => socket.once("close", resolve));
    socket.end();
    await gone;
    // The server sees the EOF and closes its side before the hook returns.
    await ws.closed;
    assert.equal(ws.state, CLOSED);
    release();
    await sleep(10);
    await server.close();
    assert.deepEqual(chunks, []);
    assert.equal(responseHookRuns, 0);
    assert.equal(handlerRuns, 0);
    assert.ok(!capture.messages("info").some((msg) => msg.startsWith("HTTP response sent")));
  });
});

describe("ServerConnection's open timer", () => {
  it("closes a connection whose processRequest doesn't answer within openTimeout", async () => {
    const capture = createCaptureLogger();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { server, port } = await start(() => {}, {
      logger: capture.logger,
      openTimeout: 50,
      processRequest: () => gate,
    });
    const started = Date.now();
    const { received, closedByServer } = await exchange(
      port,
      upgradeRequest("127.0.0.1", port),
      2000,
    );
    assert.equal(closedByServer, true);
    assert.equal(received.length, 0, received.toString("latin1"));
    assert.ok(Date.now() - started < 1500, "closed by the open timer, not the exchange's timeout");
    release();
    await server.close();
    assert.ok(capture.messages("debug").includes("- timed out during opening handshake"));
  });

  it("is stopped once the connection is open: an open connection outlives openTimeout", async () => {
    const { server, port } = await start(
      async (ws) => {
        for await (const message of ws) await ws.send(message);
      },
      {
        openTimeout: 30,
        // A hook makes the handshake asynchronous, so the open timer is armed.
        processRequest: async () => {},
      },
    );
    const peer = await rawConnect(port);
    const [ws] = server.connections;
    assert.equal(ws.state, OPEN);
    await sleep(120);
    assert.equal(ws.state, OPEN);
    peer.send(frame(OP_TEXT, "still here"));
    const echoed = await peer.recvData();
    assert.equal(echoed?.payload.toString(), "still here");
    const close = await peer.close(1000);
    assert.equal(close?.opcode, OP_CLOSE);
    assert.equal(parseClose(close!.payload).code, 1000);
    peer.socket.destroy();
    await server.close();
  });
});

describe("ServerConnection accessors", () => {
  it("exposes its server, the parsed request, no username without basicAuth, and data set by a hook", async () => {
    let checked = false;
    const { server, port } = await start(
      (ws) => {
        assert.equal(ws.server, server);
        assert.equal(ws.request.path, "/room/7?x=1");
        assert.equal(ws.request.headers.get("x-custom"), "yes");
        assert.equal(ws.username, null);
        assert.deepEqual(ws.data, { room: 7 });
        ws.data = { room: 8 };
        assert.deepEqual(ws.data, { room: 8 });
        assert.deepEqual([...ws.topics], []);
        checked = true;
      },
      {
        processRequest: (ws, request) => {
          // The connection's request is the one handed to the hook.
          assert.equal(ws.request, request);
          ws.data = { room: 7 };
        },
      },
    );
    const peer = await rawConnect(port, { path: "/room/7?x=1", headers: { "X-Custom": "yes" } });
    const close = await peer.reader.nextData();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.equal(parseClose(close!.payload).code, 1000);
    peer.send(closeFrame(1000));
    peer.socket.destroy();
    await server.close();
    assert.equal(checked, true);
  });

  it("answers a request the protocol rejects by itself without running processRequest", async () => {
    const capture = createCaptureLogger();
    let hookRuns = 0;
    const { server, port } = await start(() => {}, {
      logger: capture.logger,
      processRequest: () => {
        hookRuns++;
      },
    });
    const socket = await tcpConnect(port);
    socket.write("GET / HTTP/1.1\r\nbad header\r\n\r\n");
    const { response } = await readResponseHead(socket);
    assert.equal(response.status, 400);
    socket.destroy();
    await server.close();
    assert.equal(hookRuns, 0);
    assert.ok(
      capture.messages("info").includes("connection rejected (400 Bad Request)"),
      capture.messages().join("\n"),
    );
  });
});
