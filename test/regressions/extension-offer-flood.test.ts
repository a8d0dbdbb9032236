// Security review, item 2: a 961 KB request carrying 41,640
// `permessage-deflate; x` offers held the event loop about 0.4 s: every
// offer was tried, and each declined one threw an error with a captured
// stack. Now at most MAX_EXTENSION_OFFERS offers are considered and
// declining throws nothing. The time it takes is measured in
// bench/handshake.ts against ws; here, the work done is counted.
import { strict as assert } from "node:assert";
import { after, before, it } from "node:test";
import type { ExtensionParameter } from "../../src/extensions/base.ts";
import {
  PerMessageDeflate,
  ServerPerMessageDeflateFactory,
} from "../../src/extensions/permessage-deflate.ts";
import { MAX_EXTENSION_OFFERS } from "../../src/handshake-limits.ts";
import { type Server, type ServerConnection, serve } from "../../src/index.ts";
import { readResponseHead, tcpConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

// The real factory, counting the offers it is asked about.
const factory = new ServerPerMessageDeflateFactory();
let offersTried = 0;
const counting = {
  name: factory.name,
  processRequestParams(params: readonly ExtensionParameter[], accepted: readonly never[]) {
    offersTried++;
    return factory.processRequestParams(params, accepted);
  },
};

let server: Server;
let port: number;
before(async () => {
  server = await serve(async (ws: ServerConnection) => ws.close(), {
    host: "127.0.0.1",
    port: 0,
    logger: false,
    extensions: [counting],
  });
  port = (server.address as { port: number }).port;
});
after(() => server.close());
checkLeaksAfterAll();

/** Sends a handshake whose Sec-WebSocket-Extensions lines are `lines`; the status and extensions answered. */
async function handshake(lines: string[]): Promise<{ status: number; extensions?: string }> {
  const socket = await tcpConnect(port);
  try {
    let head =
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n";
    for (const line of lines) head += `Sec-WebSocket-Extensions: ${line}\r\n`;
    socket.write(`${head}\r\n`);
    const { response } = await readResponseHead(socket);
    return { status: response.status, extensions: response.headers["sec-websocket-extensions"] };
  } finally {
    socket.destroy();
  }
}

it(`tries at most ${MAX_EXTENSION_OFFERS} of 40,000 declined offers, and still answers 101`, async () => {
  const offer = "permessage-deflate; x";
  // 8,100 bytes per line (under the 8 KiB line limit), 120 lines (under 128 headers).
  const line = Array(Math.floor(8100 / (offer.length + 2)))
    .fill(offer)
    .join(", ");
  const lines: string[] = Array(120).fill(line);
  const offers = lines.length * line.split(", ").length;
  assert.ok(offers > 40_000, `${offers} offers`);
  offersTried = 0;
  const { status, extensions } = await handshake(lines);
  assert.equal(status, 101);
  assert.equal(extensions, undefined);
  assert.equal(offersTried, MAX_EXTENSION_OFFERS);
});

it("declines an offer without throwing", () => {
  assert.equal(factory.processRequestParams([["x", null]], []), null);
  const answer = factory.processRequestParams([], []);
  assert.ok(answer !== null && answer[1] instanceof PerMessageDeflate);
  assert.equal(factory.processRequestParams([], [answer[1]]), null);
});

it("accepts a valid offer among the first ones, and ignores one past the limit", async () => {
  const bad = Array(MAX_EXTENSION_OFFERS - 1).fill("permessage-deflate; x");
  offersTried = 0;
  const within = await handshake([[...bad, "permessage-deflate"].join(", ")]);
  assert.equal(within.extensions, "permessage-deflate");
  const past = await handshake([
    [...bad, "permessage-deflate; x", "permessage-deflate"].join(", "),
  ]);
  assert.equal(past.status, 101);
  assert.equal(past.extensions, undefined);
  assert.equal(offersTried, 2 * MAX_EXTENSION_OFFERS);
});
