// RFC 7692 §7.2.3.4: a sender may end a compressed message with a DEFLATE
// block with BFINAL set (zlib's deflateRawSync() does: 0xf3 0x48 0xcd 0xc9
// 0xc9 0x07 0x00 is "Hello"). The message is valid, and so are the messages
// after it, which start a new DEFLATE stream; with context takeover, that
// stream may refer back to the earlier messages (a sender rebuilding its
// stream with the window as preset dictionary). Both roles closed such a
// connection with 1007 "invalid compressed data": when the BFINAL block
// ended exactly at the end of the frame, the 4 bytes appended per RFC 7692
// §7.2.2 found the stream ended and were taken for garbage.
import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { deflateRawSync, constants as zlibConstants } from "node:zlib";
import { connect, type ServerConnection, serve } from "../../src/index.ts";
import {
  closeFrame,
  fakeServer,
  frame,
  handshakeResponse,
  OP_CLOSE,
  OP_TEXT,
  parseClose,
  rawConnect,
  readFrames,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

const MESSAGES = [
  "Hello",
  "Hello, Hello, Hello again",
  "Hello once more, ending with a sync flush",
  "Hello, bye",
];

/**
 * What a peer sends: each message compressed on its own, ending with a
 * BFINAL block (deflateRawSync), except the third, which ends with a sync
 * flush and loses its 4-byte trailer (RFC 7692 §7.2.1). With context
 * takeover, each stream has the text of the earlier messages as preset
 * dictionary, so it refers back to them.
 */
function compressedMessages(contextTakeover: boolean): Buffer[] {
  let history = Buffer.alloc(0);
  return MESSAGES.map((text, i) => {
    const plain = Buffer.from(text);
    const options: { dictionary?: Buffer; finishFlush?: number } = {};
    if (contextTakeover && history.length > 0) options.dictionary = history;
    if (i === 2) options.finishFlush = zlibConstants.Z_SYNC_FLUSH;
    let compressed = deflateRawSync(plain, options);
    if (i === 2) {
      assert.ok(compressed.subarray(-4).equals(TRAILER));
      compressed = compressed.subarray(0, -4);
    } else {
      // BFINAL is the first bit of the first block.
      assert.equal(compressed[0] & 1, 1);
    }
    history = Buffer.concat([history, plain]).subarray(-32768);
    return compressed;
  });
}

const COMBINATIONS = [
  { server: false, client: false },
  { server: true, client: false },
  { server: false, client: true },
  { server: true, client: true },
];

function parameters(combination: { server: boolean; client: boolean }): string {
  let value = "permessage-deflate";
  if (combination.server) value += "; server_no_context_takeover";
  if (combination.client) value += "; client_no_context_takeover";
  return value;
}

for (const combination of COMBINATIONS) {
  describe(`messages ending with a BFINAL block, ${parameters(combination)}`, () => {
    test("the server decompresses them and those after them", async () => {
      const received: Array<string | Buffer> = [];
      let closeCode: number | null = null;
      const server = await serve(
        async (ws: ServerConnection) => {
          for await (const message of ws) received.push(message);
          closeCode = ws.closeCode;
        },
        { host: "127.0.0.1", port: 0, logger: null },
      );
      try {
        const { port } = server.address as { port: number };
        const peer = await rawConnect(port, {
          headers: { "Sec-WebSocket-Extensions": parameters(combination) },
        });
        // The server may add server_max_window_bits: it limits its own window only.
        assert.ok(
          peer.response.headers["sec-websocket-extensions"]?.startsWith(parameters(combination)),
        );
        // The client compresses: its context takeover is client_no_context_takeover's.
        for (const payload of compressedMessages(!combination.client)) {
          peer.send(frame(OP_TEXT, payload, { rsv1: true }));
        }
        const close = await peer.close(1000, "done");
        assert.equal(close?.opcode, OP_CLOSE);
        assert.deepEqual(parseClose(close.payload), { code: 1000, reason: "done" });
        await peer.reader.waitClosed();
        for (let i = 0; i < 100 && closeCode === null; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(closeCode, 1000);
        assert.deepEqual(received, MESSAGES);
      } finally {
        await server.close();
      }
    });

    test("the client decompresses them and those after them", async () => {
      const fake = await fakeServer((socket, request) => {
        socket.write(
          handshakeResponse(request.key, {
            "Sec-WebSocket-Extensions": parameters(combination),
          }),
        );
        // The server compresses: its context takeover is server_no_context_takeover's.
        for (const payload of compressedMessages(!combination.server)) {
          socket.write(frame(OP_TEXT, payload, { rsv1: true, mask: false }));
        }
        socket.write(closeFrame(1000, "done", { mask: false }));
        readFrames(socket, request.rest);
      });
      try {
        const ws = await connect(fake.url, { logger: null, closeTimeout: 1000 });
        const received: Array<string | Buffer> = [];
        for await (const message of ws) received.push(message);
        assert.deepEqual(received, MESSAGES);
        assert.equal(ws.closeCode, 1000);
        assert.equal(ws.closeReason, "done");
      } finally {
        await fake.close();
      }
    });
  });
}
