/**
 * Http2ServerConnection's own contract, over real HTTP/2 sessions on
 * 127.0.0.1 (TLS with the test certificate): a request whose stream ends
 * with it (END_STREAM on the extended CONNECT) still gets its response,
 * and a response head node:http2 refuses resets the stream, opens no
 * connection and leaves the session serving.
 * The rest of WebSockets over HTTP/2 (echo, closing, GOAWAY, bad
 * requests...) is in http2-server.test.ts.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ServerConnection, serve } from "../../src/node/server.ts";
import { OPEN } from "../../src/protocol.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import {
  closeSession,
  h2Options,
  h2Request,
  h2Session,
  readBody,
  streamClosed,
  wsConnectHeaders,
} from "../support/h2.ts";

checkLeaksAfterAll();

// RFC 9113 §7.
const NO_ERROR = 0x0;

/** What the handler saw: the response sent, and the close once the connection ended. */
interface Seen {
  status: number | undefined;
  version: string | undefined;
  closeCode: number | null;
}

function recordingHandler(seen: Seen[]): (ws: ServerConnection) => Promise<void> {
  return async (ws) => {
    const entry: Seen = {
      status: ws.response?.status,
      version: ws.request.version,
      closeCode: null,
    };
    seen.push(entry);
    await ws.closed;
    entry.closeCode = ws.closeCode;
  };
}

describe("Http2ServerConnection: a client that ends its side with its request", () => {
  for (const [name, options] of [
    ["without hooks", {}],
    [
      "with an async processRequest",
      {
        processRequest: async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
      },
    ],
  ] as const) {
    it(`still gets its 200, ${name}; the EOF reaches the open connection`, async () => {
      const seen: Seen[] = [];
      const server = await serve(recordingHandler(seen), h2Options(options));
      const session = await h2Session(server.port);
      const { stream, status } = await h2Request(session, wsConnectHeaders(server.port), true);
      assert.equal(status, 200);
      // An EOF without a close frame: the connection closes abnormally (1006)
      // and the server ends the stream.
      assert.equal(await streamClosed(stream), NO_ERROR);
      await closeSession(session);
      await server.close();
      assert.equal(seen.length, 1);
      assert.equal(seen[0].status, 200);
      assert.equal(seen[0].version, "HTTP/2");
      assert.equal(seen[0].closeCode, 1006);
    });
  }

  it("gets a rejection with its body when processRequest answers", async () => {
    let handlerRuns = 0;
    const server = await serve(
      () => {
        handlerRuns++;
      },
      h2Options({ processRequest: (ws) => ws.respond(403, "not you\n") }),
    );
    const session = await h2Session(server.port);
    const { stream, status, headers } = await h2Request(
      session,
      wsConnectHeaders(server.port),
      true,
    );
    assert.equal(status, 403);
    // RFC 9113 §8.2.2: no connection-specific field on HTTP/2.
    assert.equal(headers.connection, undefined);
    assert.equal(await readBody(stream), "not you\n");
    await closeSession(session);
    await server.close();
    assert.equal(handlerRuns, 0);
  });
});

describe("Http2ServerConnection: a response head node:http2 refuses", () => {
  it("resets the stream, logs an ERROR, runs no handler, and the session goes on", async () => {
    const capture = createCaptureLogger();
    const handled: string[] = [];
    const server = await serve(
      async (ws) => {
        handled.push(`${ws.request.path} ${ws.state}`);
        await ws.close();
      },
      h2Options({
        logger: capture.logger,
        processResponse: (_ws, request, response) => {
          // A single-value field twice: node:http2 throws in respond().
          if (request.path === "/bad") {
            response.headers.append("content-type", "text/plain");
            response.headers.append("content-type", "text/html");
          }
        },
      }),
    );
    const session = await h2Session(server.port);
    const bad = session.request(wsConnectHeaders(server.port, "/bad"), { endStream: false });
    bad.on("error", () => {});
    let answered = false;
    bad.once("response", () => {
      answered = true;
    });
    const code = await streamClosed(bad);
    assert.equal(answered, false, "no header block for the refused response");
    assert.notEqual(code, NO_ERROR);
    const internal = capture.records.find((record) => record.msg === "unexpected internal error");
    assert.ok(internal !== undefined, capture.messages().join("\n"));
    assert.equal(internal.level, "error");
    assert.ok(internal.err instanceof Error);

    // Another stream of the same session is served.
    const { stream, status } = await h2Request(session, wsConnectHeaders(server.port, "/good"));
    assert.equal(status, 200);
    stream.end();
    assert.equal(await streamClosed(stream), NO_ERROR);
    await closeSession(session);
    await server.close();
    assert.deepEqual(handled, [`/good ${OPEN}`], "only the good stream's handler ran");
  });
});
