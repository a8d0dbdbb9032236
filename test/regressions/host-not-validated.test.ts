// Security review, item 3: a request without Host, with two Host lines, or
// with `Host: a b/c` got a 101. RFC 9112 §3.2 (and RFC 6455 §4.2.1): 400,
// before any hook sees the request.
import { strict as assert } from "node:assert";
import { after, before, it } from "node:test";
import { type Server, serve } from "../../src/index.ts";
import { readResponseHead, tcpConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

let server: Server;
let port: number;
let hookCalls = 0;
before(async () => {
  server = await serve(async (ws) => ws.close(), {
    host: "127.0.0.1",
    port: 0,
    logger: false,
    processRequest: () => {
      hookCalls++;
    },
  });
  port = (server.address as { port: number }).port;
});
after(() => server.close());
checkLeaksAfterAll();

function request(hostLines: string[]): string {
  return (
    "GET / HTTP/1.1\r\n" +
    hostLines.map((line) => `${line}\r\n`).join("") +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
  );
}

async function status(hostLines: string[]): Promise<{ status: number; text: string }> {
  const socket = await tcpConnect(port);
  try {
    socket.write(request(hostLines));
    const { response, rest } = await readResponseHead(socket);
    return { status: response.status, text: response.head + rest.toString("latin1") };
  } finally {
    socket.destroy();
  }
}

for (const [name, lines, reason] of [
  ["no Host", [], "missing Host header"],
  ["two Host lines", ["Host: a.example", "Host: b.example"], "more than one Host header found"],
  ["Host: a b/c", ["Host: a b/c"], "invalid Host header: a b/c"],
  ["Host: a/c", ["Host: a/c"], "invalid Host header: a/c"],
  ["Host: user@a", ["Host: user@a"], "invalid Host header: user@a"],
  ["a port that isn't a number", ["Host: a.example:80x"], "invalid Host header: a.example:80x"],
] as const) {
  it(`answers 400 to ${name}, without calling processRequest`, async () => {
    hookCalls = 0;
    const { status: code, text } = await status([...lines]);
    assert.equal(code, 400, text);
    assert.ok(text.includes(reason), text);
    assert.equal(hookCalls, 0);
  });
}

for (const host of ["127.0.0.1:8765", "example.com", "[::1]:443", "xn--bcher-kva.example", "a"]) {
  it(`accepts Host: ${host}`, async () => {
    const { status: code, text } = await status([`Host: ${host}`]);
    assert.equal(code, 101, text);
  });
}
