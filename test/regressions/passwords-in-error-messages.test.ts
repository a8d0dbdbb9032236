// Security review, item 5: InvalidURI, InvalidProxy and the SecurityError of
// too many redirects printed `user:password@` URLs, which applications log.
// The password is redacted wherever a URL is rendered (RFC 3986 §3.2.1):
// messages, the errors' fields, their causes, and the tracing channel.
import { strict as assert } from "node:assert";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { once } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { it } from "node:test";
import { connect, InvalidProxy, InvalidURI, SecurityError } from "../../src/index.ts";
import { parseProxy } from "../../src/node/proxy.ts";
import { parseURI } from "../../src/uri.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const PASSWORD = "hunter2-secret";

// What a logger serializing the error would print.
function everything(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    parts.push(e.message, e.stack ?? "", JSON.stringify({ ...e }));
  }
  return parts.join("\n");
}

function assertRedacted(error: unknown, expectedMessage: string): true {
  assert.equal((error as Error).message, expectedMessage);
  assert.ok(!everything(error).includes(PASSWORD), everything(error));
  return true;
}

it("InvalidURI names the URI without its password", () => {
  for (const [uri, reason] of [
    [`ws://alice:${PASSWORD}@example.com/#frag`, "fragment in URI"],
    [`ws://alice:${PASSWORD}@[bad/`, "not a valid URL"],
    [`ftp://alice:${PASSWORD}@example.com/`, "scheme isn't ws or wss"],
  ]) {
    assert.throws(
      () => parseURI(uri),
      (error) => {
        assert.ok(error instanceof InvalidURI);
        assert.equal(error.uri, uri.replace(PASSWORD, "xxxxx"));
        return assertRedacted(error, `${error.uri} isn't a valid URI: ${reason}`);
      },
    );
  }
});

it("InvalidProxy names the proxy without its password", () => {
  for (const [url, reason] of [
    [`http://bob:${PASSWORD}@proxy.example:3128/path`, "path is meaningless"],
    [`http://bob:${PASSWORD}@[bad:3128`, "not a valid URL"],
    [`ftp://bob:${PASSWORD}@proxy.example`, "scheme ftp isn't supported"],
  ]) {
    assert.throws(
      () => parseProxy(url),
      (error) => {
        assert.ok(error instanceof InvalidProxy);
        assert.equal(error.proxy, url.replace(PASSWORD, "xxxxx"));
        return assertRedacted(error, `${error.proxy} isn't a valid proxy: ${reason}`);
      },
    );
  }
});

it("the SecurityError of too many redirects, and the tracing channel, hide the password", async () => {
  const server = http.createServer();
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    socket.on("error", () => {});
    const n = Number(req.url?.slice(1));
    socket.end(`HTTP/1.1 302 Found\r\nLocation: /${n + 1}\r\nContent-Length: 0\r\n\r\n`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const traced: unknown[] = [];
  const onStart = (context: unknown): void => {
    traced.push((context as { uri?: string }).uri);
  };
  subscribe("tracing:websockets:handshake:start", onStart);
  try {
    await assert.rejects(
      connect(`ws://alice:${PASSWORD}@127.0.0.1:${port}/0`, {
        followRedirects: true,
        maxRedirects: 2,
        logger: false,
      }),
      (error) => {
        assert.ok(error instanceof SecurityError);
        return assertRedacted(
          error,
          `more than 2 redirects; the last one leads to ws://alice:xxxxx@127.0.0.1:${port}/3`,
        );
      },
    );
  } finally {
    unsubscribe("tracing:websockets:handshake:start", onStart);
    server.closeAllConnections();
    server.close();
  }
  assert.deepEqual(traced, [`ws://alice:xxxxx@127.0.0.1:${port}/0`]);
});
