// Autobahn|Testsuite categories 12 and 13 (permessage-deflate, RFC 7692) at
// the protocol level: a ClientProtocol and a ServerProtocol negotiate
// through a real opening handshake, then the client sends messages that the
// server echoes, as Autobahn's echo endpoint does, and both directions must
// round-trip. Bytes move between them with dataToSend()/receiveData(), each
// chunk as it's produced.
//
// 12.x: five kinds of data (JSON, a bitmap, German text, HTML, PDF-like
// binary) at sizes from 16 bytes to 128 KiB, whole or auto-fragmented, with
// each side's default parameters. 13.x: Autobahn's seven parameter sets in
// both roles (as client offers to our server, as a server's answer to our
// client), then every window size and context takeover combination, with
// sizes up to 256 KiB. Message counts are lower than Autobahn's 1,000 so the
// file stays fast; each case still sends enough to wrap the window.

import { strict as assert } from "node:assert";
import { isUtf8 } from "node:buffer";
import { describe, test } from "node:test";
import { ClientProtocol } from "../../src/client.ts";
import type { ClientExtensionFactory, ServerExtensionFactory } from "../../src/extensions/base.ts";
import {
  ClientPerMessageDeflateFactory,
  enableClientPermessageDeflate,
  enableServerPermessageDeflate,
  PerMessageDeflate,
  ServerPerMessageDeflateFactory,
} from "../../src/extensions/permessage-deflate.ts";
import { Frame, OP_BINARY, OP_CONT, OP_TEXT } from "../../src/frames.ts";
import type { Request } from "../../src/http11.ts";
import { OPEN, type Protocol } from "../../src/protocol.ts";
import { ServerProtocol } from "../../src/server.ts";
import { SIZES_12 } from "./cases/deflate.ts";

// --- Data, from a seeded generator -------------------------------------------

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

const DATA_LENGTH = 320 * 1024;

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)];
}

function jsonData(): Buffer {
  const next = prng(1);
  const users = ["ana", "björn", "chen", "dalia", "émile", "farid"];
  const records: string[] = [];
  let size = 0;
  for (let id = 0; size < DATA_LENGTH; id++) {
    const record = JSON.stringify({
      id,
      type: pick(next, ["message", "presence", "typing"]),
      user: { name: pick(next, users), id: Math.floor(next() * 1000) },
      text: Array.from({ length: 2 + Math.floor(next() * 12) }, () =>
        pick(next, ["hi", "ok", "lunch?", "deploy", "done", "ça marche", "👍", "later"]),
      ).join(" "),
      ts: 1_700_000_000_000 + id * 997,
    });
    records.push(record);
    size += record.length + 1;
  }
  return Buffer.from(`[${records.join(",")}]`);
}

function bitmapData(): Buffer {
  // A 8-bit grey picture: smooth shapes plus sensor noise, like Lena.
  const next = prng(2);
  const width = 512;
  const data = Buffer.alloc(DATA_LENGTH);
  for (let i = 0; i < data.length; i++) {
    const x = i % width;
    const y = Math.floor(i / width);
    const shade = 128 + 60 * Math.sin(x / 37) * Math.cos(y / 23) + 40 * Math.sin((x + y) / 91);
    data[i] = Math.max(0, Math.min(255, Math.round(shade + (next() - 0.5) * 24)));
  }
  return data;
}

function germanText(): Buffer {
  const next = prng(3);
  const words = [
    "Habe",
    "nun",
    "ach",
    "Philosophie",
    "Juristerei",
    "und",
    "Medizin",
    "leider",
    "auch",
    "Theologie",
    "durchaus",
    "studiert",
    "mit",
    "heißem",
    "Bemühn",
    "da",
    "steh",
    "ich",
    "armer",
    "Tor",
    "bin",
    "so",
    "klug",
    "als",
    "wie",
    "zuvor",
    "Mephistopheles",
    "Gretchen",
    "über",
    "schön",
    "Nacht",
    "Geist",
    "mußt",
    "Blick",
    "Herz",
  ];
  const lines: string[] = [];
  let size = 0;
  while (size < DATA_LENGTH) {
    const line = Array.from({ length: 4 + Math.floor(next() * 6) }, () => pick(next, words)).join(
      " ",
    );
    lines.push(`${line}${pick(next, [",", ".", "!", ";"])}`);
    size += Buffer.byteLength(line) + 2;
  }
  return Buffer.from(lines.join("\n"));
}

function htmlData(): Buffer {
  const next = prng(4);
  const parts: string[] = ["<!DOCTYPE html><html><head><title>Archive</title></head><body>"];
  let size = 0;
  while (size < DATA_LENGTH) {
    const id = Math.floor(next() * 100_000);
    const part =
      `<div class="post" id="p${id}"><a href="/posts/${id}">${pick(next, ["News", "Sport", "Météo", "Kultur"])}</a>` +
      `<p>${pick(next, ["Lorem ipsum dolor sit amet", "consectetur adipiscing", "sed do eiusmod tempor"])}</p></div>\n`;
    parts.push(part);
    size += part.length;
  }
  parts.push("</body></html>");
  return Buffer.from(parts.join(""));
}

function pdfData(): Buffer {
  // Text objects between already-compressed (random) streams.
  const next = prng(5);
  const parts: Buffer[] = [Buffer.from("%PDF-1.7\n")];
  let size = 0;
  for (let n = 1; size < DATA_LENGTH; n++) {
    const stream = Buffer.alloc(200 + Math.floor(next() * 3000));
    for (let i = 0; i < stream.length; i++) stream[i] = Math.floor(next() * 256);
    const head = Buffer.from(
      `${n} 0 obj\n<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`,
    );
    const tail = Buffer.from("\nendstream\nendobj\n");
    parts.push(head, stream, tail);
    size += head.length + stream.length + tail.length;
  }
  return Buffer.concat(parts);
}

interface Dataset {
  name: string;
  text: boolean;
  data: Buffer;
}

const DATASETS: Dataset[] = [
  { name: "JSON", text: true, data: jsonData() },
  { name: "bitmap", text: false, data: bitmapData() },
  { name: "German text", text: true, data: germanText() },
  { name: "HTML", text: true, data: htmlData() },
  { name: "PDF", text: false, data: pdfData() },
];

/** The message number `index` of `size` bytes: a different slice each time; valid UTF-8 for text. */
function messageOf(dataset: Dataset, size: number, index: number): Buffer {
  const start = (index * 7919) % (dataset.data.length - size);
  let message = dataset.data.subarray(start, start + size);
  if (dataset.text) {
    // Start and end on character boundaries.
    let from = 0;
    while (from < 3 && (message[from] & 0xc0) === 0x80) from++;
    message = message.subarray(from);
    while (!isUtf8(message)) message = message.subarray(0, -1);
  }
  return message;
}

// --- Two protocols wired together --------------------------------------------

function deliver(from: Protocol, to: Protocol): number {
  let bytes = 0;
  for (const chunk of from.dataToSend()) {
    bytes += chunk.length;
    to.receiveData(chunk);
  }
  return bytes;
}

interface Connection {
  client: ClientProtocol;
  server: ServerProtocol;
  /** The server's `Sec-WebSocket-Extensions` header, or `null`. */
  accepted: string | null;
}

function handshake(
  clientExtensions: readonly ClientExtensionFactory[],
  serverExtensions: readonly ServerExtensionFactory[],
): Connection {
  const client = new ClientProtocol("ws://127.0.0.1:8765/", {
    extensions: clientExtensions,
    maxSize: null,
  });
  const server = new ServerProtocol({ extensions: serverExtensions, maxSize: null });
  client.sendRequest(client.connect());
  deliver(client, server);
  const [request] = server.eventsReceived();
  server.sendResponse(server.accept(request as Request));
  deliver(server, client);
  client.eventsReceived();
  assert.equal(client.handshakeExc, null);
  assert.equal(server.state, OPEN);
  assert.equal(client.state, OPEN);
  return {
    client,
    server,
    accepted: server.response?.headers.get("Sec-WebSocket-Extensions") ?? null,
  };
}

function send(protocol: Protocol, message: Buffer, text: boolean, fragment: number): void {
  const start = text ? protocol.sendText.bind(protocol) : protocol.sendBinary.bind(protocol);
  if (fragment === 0 || message.length <= fragment) {
    start(message);
    return;
  }
  start(message.subarray(0, fragment), false);
  for (let offset = fragment; offset < message.length; offset += fragment) {
    protocol.sendContinuation(
      message.subarray(offset, offset + fragment),
      offset + fragment >= message.length,
    );
  }
}

/** Reassembles the messages among the events received. */
function messages(protocol: Protocol): { text: boolean; data: Buffer }[] {
  const result: { text: boolean; data: Buffer }[] = [];
  let pieces: Buffer[] = [];
  let text = false;
  for (const event of protocol.eventsReceived()) {
    if (!(event instanceof Frame)) continue;
    if (event.opcode === OP_TEXT || event.opcode === OP_BINARY) {
      text = event.opcode === OP_TEXT;
      pieces = [event.data];
    } else if (event.opcode === OP_CONT) {
      pieces.push(event.data);
    } else {
      continue;
    }
    if (event.fin) result.push({ text, data: Buffer.concat(pieces) });
  }
  return result;
}

/**
 * Sends `count` messages from the client; the server echoes each one, with
 * the same fragmentation. Returns the bytes on the wire each way.
 */
function echo(
  connection: Connection,
  dataset: Dataset,
  size: number,
  fragment: number,
  count: number,
): { up: number; down: number; payload: number } {
  const { client, server } = connection;
  let up = 0;
  let down = 0;
  let payload = 0;
  for (let i = 0; i < count; i++) {
    const message = messageOf(dataset, size, i);
    payload += message.length;
    send(client, message, dataset.text, fragment);
    up += deliver(client, server);
    const received = messages(server);
    assert.equal(received.length, 1);
    assert.equal(received[0].text, dataset.text);
    assert.ok(received[0].data.equals(message), `${dataset.name} message ${i} (client -> server)`);
    send(server, received[0].data, dataset.text, fragment);
    down += deliver(server, client);
    const echoed = messages(client);
    assert.equal(echoed.length, 1);
    assert.ok(echoed[0].data.equals(message), `${dataset.name} message ${i} (server -> client)`);
  }
  assert.equal(server.parserExc, null);
  assert.equal(client.parserExc, null);
  return { up, down, payload };
}

/** Enough messages to wrap a 32 KiB window a few times, between 2 and 40. */
function countFor(size: number): number {
  return Math.max(2, Math.min(40, Math.floor((128 * 1024) / size)));
}

// --- 12.x --------------------------------------------------------------------

describe("Autobahn 12: compression of different payloads with default parameters", () => {
  DATASETS.forEach((dataset, d) => {
    test(`12.${d + 1}: ${dataset.name}, 16 B to 128 KiB, whole and fragmented`, () => {
      for (const [size, fragment] of SIZES_12) {
        const connection = handshake(
          enableClientPermessageDeflate(),
          enableServerPermessageDeflate(),
        );
        assert.equal(
          connection.accepted,
          "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        );
        const { up, down, payload } = echo(connection, dataset, size, fragment, countFor(size));
        if (dataset.text && size >= 1024) {
          // Compression is on: text shrinks on the wire.
          assert.ok(up < payload * 0.8, `${size} bytes: ${up} on the wire for ${payload}`);
          assert.ok(down < payload * 0.8, `${size} bytes: ${down} on the wire for ${payload}`);
        }
      }
    });
  });
});

// --- 13.x --------------------------------------------------------------------

/** The sizes 13.x runs with: fewer than 12.x since they multiply with parameter sets. */
const SIZES_13: [number, number][] = [
  [16, 0],
  [1024, 0],
  [16384, 0],
  [262144, 0],
  [65536, 256],
  [262144, 4096],
];

const JSON_DATA = DATASETS[0];
const BITMAP_DATA = DATASETS[1];

function runSizes(connection: () => Connection): void {
  for (const [size, fragment] of SIZES_13) {
    const dataset = size % 2 === 0 && fragment === 0 ? JSON_DATA : BITMAP_DATA;
    echo(connection(), dataset, size, fragment, Math.min(countFor(size), 6));
  }
}

/** Autobahn's parameter sets: (no context takeover, max window bits; 0 = not set). */
const AUTOBAHN_13: [id: string, sets: [boolean, number][]][] = [
  ["13.1", [[false, 0]]],
  ["13.2", [[true, 0]]],
  ["13.3", [[false, 8]]],
  ["13.4", [[false, 15]]],
  ["13.5", [[true, 8]]],
  ["13.6", [[true, 15]]],
  [
    "13.7",
    [
      [true, 8],
      [true, 0],
      [false, 0],
    ],
  ],
];

describe("Autobahn 13: the client offers parameters to our server", () => {
  // As Autobahn's fuzzing client: it accepts any client window and asks the
  // server for (no context takeover, max window bits), one offer per set.
  const offers = (sets: [boolean, number][]) =>
    sets.map(
      ([noContextTakeover, bits]) =>
        new ClientPerMessageDeflateFactory({
          serverNoContextTakeover: noContextTakeover,
          serverMaxWindowBits: bits === 0 ? null : bits,
          clientMaxWindowBits: true,
        }),
    );
  const expected: Record<string, string> = {
    "13.1": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    "13.2":
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    "13.3": "permessage-deflate; server_max_window_bits=8; client_max_window_bits=12",
    "13.4": "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    "13.5":
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=12",
    "13.6":
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    "13.7":
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=12",
  };
  for (const [id, sets] of AUTOBAHN_13) {
    test(`${id}: offers ${JSON.stringify(sets)}, answered by the default server`, () => {
      const connect = () => handshake(offers(sets), enableServerPermessageDeflate());
      assert.equal(connect().accepted, expected[id]);
      runSizes(connect);
    });
  }

  test("13.3 and 13.5 against a server without window limits: 8 bits accepted as asked", () => {
    for (const noContextTakeover of [false, true]) {
      const connect = () =>
        handshake(offers([[noContextTakeover, 8]]), [new ServerPerMessageDeflateFactory()]);
      const { server } = connect();
      const extension = server.extensions[0];
      assert.ok(extension instanceof PerMessageDeflate);
      assert.equal(extension.localMaxWindowBits, 8);
      assert.equal(extension.localNoContextTakeover, noContextTakeover);
      runSizes(connect);
    }
  });
});

describe("Autobahn 13: a server answers our client with parameters", () => {
  // As Autobahn's fuzzing server: it accepts the offer and asks the client
  // for (no context takeover, max window bits); 13.7 tries each set in turn.
  const answers = (sets: [boolean, number][]) =>
    sets.map(
      ([noContextTakeover, bits]) =>
        new ServerPerMessageDeflateFactory({
          clientNoContextTakeover: noContextTakeover,
          clientMaxWindowBits: bits === 0 ? null : bits,
        }),
    );
  for (const [id, sets] of AUTOBAHN_13) {
    test(`${id}: the server asks ${JSON.stringify(sets[0])} of the default client`, () => {
      const connect = () => handshake(enableClientPermessageDeflate(), answers(sets));
      const { client } = connect();
      const extension = client.extensions[0];
      assert.ok(extension instanceof PerMessageDeflate);
      const [noContextTakeover, bits] = sets[0];
      assert.equal(extension.localNoContextTakeover, noContextTakeover);
      assert.equal(extension.localMaxWindowBits, bits === 0 ? 15 : bits);
      runSizes(connect);
    });
  }
});

describe("13.x beyond Autobahn: every window size and context takeover, both ways", () => {
  for (let bits = 8; bits <= 15; bits++) {
    test(`window bits ${bits} on both sides, with and without context takeover`, () => {
      for (const noContextTakeover of [false, true]) {
        const connect = () =>
          handshake(
            [
              new ClientPerMessageDeflateFactory({
                serverMaxWindowBits: bits,
                clientMaxWindowBits: bits,
                serverNoContextTakeover: noContextTakeover,
                clientNoContextTakeover: noContextTakeover,
              }),
            ],
            [new ServerPerMessageDeflateFactory()],
          );
        const { client, server } = connect();
        for (const extension of [client.extensions[0], server.extensions[0]]) {
          assert.ok(extension instanceof PerMessageDeflate);
          assert.equal(extension.localMaxWindowBits, bits);
          assert.equal(extension.remoteMaxWindowBits, bits);
          assert.equal(extension.localNoContextTakeover, noContextTakeover);
        }
        const connection = connect();
        for (const [size, fragment] of [
          [16, 0],
          [4096, 0],
          [65536, 1000],
        ]) {
          echo(connection, JSON_DATA, size, fragment, 4);
          echo(connection, BITMAP_DATA, size, fragment, 2);
        }
      }
    });
  }

  test("release() between messages on both sides keeps every round trip intact", () => {
    const connection = handshake(enableClientPermessageDeflate(), enableServerPermessageDeflate());
    for (let i = 0; i < 6; i++) {
      echo(connection, DATASETS[i % DATASETS.length], 1000 + i * 5000, i % 2 === 0 ? 0 : 700, 3);
      for (const extension of [...connection.client.extensions, ...connection.server.extensions]) {
        extension.release?.();
      }
    }
  });

  test("a client without compression talks to a server with it, uncompressed", () => {
    const connection = handshake([], enableServerPermessageDeflate());
    assert.equal(connection.accepted, null);
    const { up, payload } = echo(connection, JSON_DATA, 4096, 0, 3);
    assert.ok(up > payload);
  });
});
