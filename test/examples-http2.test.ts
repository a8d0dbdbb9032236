// Runs examples/http2-server.ts for real: the page and a WebSocket over one
// HTTP/2 session, a WebSocket over HTTP/1.1 on the same port, then SIGTERM.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { connect } from "../src/index.ts";
import { startServer } from "./helpers/examples.ts";
import { cert, key } from "./helpers/localhost-tls.ts";
import { frame, OP_TEXT } from "./helpers/net.ts";
import { checkLeaksAfterAll } from "./helpers/no-leaks.ts";
import {
  closeSession,
  h2Get,
  h2Request,
  h2Session,
  readBody,
  streamClosed,
  streamFrames,
  wsConnectHeaders,
} from "./support/h2.ts";

checkLeaksAfterAll();

const dir = mkdtempSync(join(tmpdir(), "websockets-ts-example-h2-"));
writeFileSync(join(dir, "key.pem"), key);
writeFileSync(join(dir, "cert.pem"), cert);
after(() => rmSync(dir, { recursive: true, force: true }));

test("http2-server serves its page and its WebSocket on one HTTP/2 session, and HTTP/1.1 too", async () => {
  const server = await startServer("http2-server.ts", {
    TLS_KEY: join(dir, "key.pem"),
    TLS_CERT: join(dir, "cert.pem"),
  });
  const session = await h2Session(server.port);
  const page = await h2Get(session, server.port);
  assert.equal(page.status, 200);
  assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
  assert.match(await readBody(page.stream), /new WebSocket\(`wss:\/\/\$\{location.host\}\/echo`\)/);

  const { stream, status } = await h2Request(session, wsConnectHeaders(server.port, "/echo"));
  assert.equal(status, 200);
  const frames = streamFrames(stream);
  assert.equal((await frames.next())?.payload.toString(), "you are on HTTP/2");
  stream.write(frame(OP_TEXT, "over h2"));
  assert.equal((await frames.next())?.payload.toString(), "over h2");
  stream.close();
  await streamClosed(stream);
  await closeSession(session);

  const ws = await connect(`wss://localhost:${server.port}/echo`, {
    tls: { ca: cert },
    logger: false,
  });
  assert.equal(await ws.recv(), "you are on HTTP/1.1");
  await ws.close();

  assert.equal(await server.stop("SIGTERM"), 0);
  assert.match(server.output(), /http2 server closed/);
});
