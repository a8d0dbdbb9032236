// Security review, item 8: a 962 KB request got a 959 KB 400/426 body
// echoing its headers, and with two Authorization headers the first won.
// Now an error body echoes at most MAX_ECHOED_ERROR characters of the
// error, and two Authorization (or Proxy-Authorization) headers get a 400
// before any hook, basicAuth included, sees the request.
import { strict as assert } from "node:assert";
import { after, before, it } from "node:test";
import { MAX_ECHOED_ERROR } from "../../src/handshake-limits.ts";
import { basicAuth, type Server, serve } from "../../src/index.ts";
import { readResponseHead, tcpConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

let server: Server;
let port: number;
let checked = 0;
before(async () => {
  server = await serve(async (ws) => ws.close(), {
    host: "127.0.0.1",
    port: 0,
    logger: false,
    processRequest: basicAuth({
      checkCredentials: (username) => {
        checked++;
        return username === "alice";
      },
    }),
  });
  port = (server.address as { port: number }).port;
});
after(() => server.close());
checkLeaksAfterAll();

const basic = (user: string): string => `Basic ${Buffer.from(`${user}:pw`).toString("base64")}`;

/** Sends a handshake with `lines` added; the status, Content-Length and body received. */
async function send(lines: string[]): Promise<{ status: number; length: number; body: string }> {
  const socket = await tcpConnect(port);
  try {
    let head =
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    for (const line of lines) head += `${line}\r\n`;
    socket.write(`${head}\r\n`);
    const { response, rest } = await readResponseHead(socket);
    const length = Number(response.headers["content-length"]);
    let body = rest;
    for await (const chunk of socket) {
      if (body.length >= length) break;
      body = Buffer.concat([body, chunk as Buffer]);
    }
    return { status: response.status, length, body: body.toString("utf8") };
  } finally {
    socket.destroy();
  }
}

it("bounds what a 426 body echoes of a 750 KB Connection header", async () => {
  const tokens = Array.from({ length: 700 }, (_, i) => `token${i}`).join(", ");
  const lines = Array.from({ length: 120 }, () => `Connection: ${tokens}`);
  lines.push(`Authorization: ${basic("alice")}`);
  const { status, length, body } = await send(lines);
  assert.equal(status, 426);
  // The message, its elision note and the browser hint.
  assert.ok(length < MAX_ECHOED_ERROR + 300, `${length} bytes`);
  assert.match(body, /^Failed to open a WebSocket connection: invalid Connection header: token0, /);
  assert.match(body, /\.\.\. \(\d+ characters\)\.\n/);
});

it("answers a well-formed request with its whole, short error", async () => {
  const { status, body } = await send([
    "Connection: keep-alive",
    `Authorization: ${basic("alice")}`,
  ]);
  assert.equal(status, 426);
  assert.ok(
    body.startsWith(
      "Failed to open a WebSocket connection: invalid Connection header: keep-alive.\n",
    ),
  );
});

for (const name of ["Authorization", "Proxy-Authorization"]) {
  it(`refuses two ${name} headers with 400, before basicAuth`, async () => {
    checked = 0;
    const { status, body } = await send([
      "Connection: Upgrade",
      `${name}: ${basic("alice")}`,
      `${name}: ${basic("mallory")}`,
    ]);
    assert.equal(status, 400);
    assert.match(body, new RegExp(`more than one ${name} header found`));
    assert.equal(checked, 0);
  });
}

it("still lets one Authorization through to basicAuth", async () => {
  checked = 0;
  const { status } = await send(["Connection: Upgrade", `Authorization: ${basic("alice")}`]);
  assert.equal(status, 101);
  assert.equal(checked, 1);
});
