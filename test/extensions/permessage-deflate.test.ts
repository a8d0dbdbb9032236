import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { deflateRawSync, inflateRawSync, constants as zlibConstants } from "node:zlib";
import fc from "fast-check";
import {
  DuplicateParameter,
  InvalidParameterName,
  InvalidParameterValue,
  NegotiationError,
  PayloadTooBig,
  ProtocolError,
} from "../../src/errors.ts";
import type { Extension, ExtensionParameter } from "../../src/extensions/base.ts";
import {
  ClientPerMessageDeflateFactory,
  type ClientPerMessageDeflateOptions,
  enableClientPermessageDeflate,
  enableServerPermessageDeflate,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  type PerMessageDeflateConfig,
  ServerPerMessageDeflateFactory,
  type ServerPerMessageDeflateOptions,
} from "../../src/extensions/permessage-deflate.ts";
import {
  CLOSE_INVALID_DATA,
  CLOSE_MESSAGE_TOO_BIG,
  CLOSE_PROTOCOL_ERROR,
  Frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  serializeFrame,
} from "../../src/frames.ts";
import { Protocol } from "../../src/protocol.ts";

const bytes = (...values: number[]) => Buffer.from(values);

/** A sender and a receiver whose configurations mirror each other. */
function pair(
  config: Partial<PerMessageDeflateConfig> = {},
): [PerMessageDeflate, PerMessageDeflate] {
  const full: PerMessageDeflateConfig = {
    remoteNoContextTakeover: false,
    localNoContextTakeover: false,
    remoteMaxWindowBits: 15,
    localMaxWindowBits: 15,
    ...config,
  };
  const sender = new PerMessageDeflate(full);
  const receiver = new PerMessageDeflate({
    ...full,
    remoteNoContextTakeover: full.localNoContextTakeover,
    localNoContextTakeover: full.remoteNoContextTakeover,
    remoteMaxWindowBits: full.localMaxWindowBits,
    localMaxWindowBits: full.remoteMaxWindowBits,
  });
  return [sender, receiver];
}

/** Splits a message into frames at the given sizes, encodes and decodes each. */
function transfer(
  sender: Extension,
  receiver: Extension,
  message: Buffer,
  opcode: typeof OP_TEXT | typeof OP_BINARY = OP_BINARY,
  pieces: number[] = [message.length],
): { frames: Frame[]; decoded: Buffer } {
  const frames: Frame[] = [];
  const decoded: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < pieces.length; i++) {
    const fin = i === pieces.length - 1;
    const end = fin ? message.length : offset + pieces[i];
    const frame = sender.encode(
      new Frame(i === 0 ? opcode : OP_CONT, message.subarray(offset, end), fin),
    );
    frames.push(frame);
    decoded.push(receiver.decode(frame, null).data);
    offset = end;
  }
  return { frames, decoded: Buffer.concat(decoded) };
}

/** Compressible text-like data, different each time. */
function chatText(n: number, seed: number): Buffer {
  const words = ["alpha", "beta", "gamma", "delta", "chat", "room", "hello", "{", "}", '"id":'];
  const parts: string[] = [];
  let state = seed >>> 0 || 1;
  let size = 0;
  while (size < n) {
    state = (state * 1103515245 + 12345) >>> 0;
    const word = `${words[state % words.length]}${state % 97} `;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join("").slice(0, n));
}

function negotiate(
  clientOptions: ClientPerMessageDeflateOptions,
  serverOptions: ServerPerMessageDeflateOptions,
): {
  request: ExtensionParameter[];
  response: ExtensionParameter[];
  client: PerMessageDeflate;
  server: PerMessageDeflate;
} {
  const clientFactory = new ClientPerMessageDeflateFactory(clientOptions);
  const serverFactory = new ServerPerMessageDeflateFactory(serverOptions);
  const request = clientFactory.getRequestParams();
  const [response, server] =
    serverFactory.processRequestParams(request, []) ?? assert.fail("the server declined");
  const client = clientFactory.processResponseParams(response, []);
  return { request, response, client, server };
}

function config(extension: PerMessageDeflate) {
  return {
    remoteNoContextTakeover: extension.remoteNoContextTakeover,
    localNoContextTakeover: extension.localNoContextTakeover,
    remoteMaxWindowBits: extension.remoteMaxWindowBits,
    localMaxWindowBits: extension.localMaxWindowBits,
  };
}

// Reads a raw DEFLATE stream (RFC 1951) without producing output and returns
// the largest match distance in it, to prove what window a peer needs.
function maxMatchDistance(stream: Buffer): number {
  let pos = 0;
  let bitBuffer = 0;
  let bitCount = 0;
  const bits = (n: number): number => {
    while (bitCount < n) {
      if (pos >= stream.length) throw new Error("truncated DEFLATE stream");
      bitBuffer |= stream[pos++] << bitCount;
      bitCount += 8;
    }
    const value = bitBuffer & ((1 << n) - 1);
    bitBuffer >>>= n;
    bitCount -= n;
    return value;
  };
  type Huffman = { counts: number[]; symbols: number[] };
  const build = (lengths: number[]): Huffman => {
    const counts = new Array<number>(16).fill(0);
    for (const length of lengths) counts[length]++;
    counts[0] = 0;
    const offsets = [0, 0];
    for (let len = 1; len < 15; len++) offsets[len + 1] = offsets[len] + counts[len];
    const symbols: number[] = [];
    lengths.forEach((length, symbol) => {
      if (length !== 0) symbols[offsets[length]++] = symbol;
    });
    return { counts, symbols };
  };
  const decode = (h: Huffman): number => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= bits(1);
      const count = h.counts[len];
      if (code - count < first) return h.symbols[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error("invalid Huffman code");
  };
  const lengthExtra = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
  ];
  const distBase = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
    3073, 4097, 6145, 8193, 12289, 16385, 24577,
  ];
  const distExtra = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
  ];
  const fixedLit = build([
    ...Array(144).fill(8),
    ...Array(112).fill(9),
    ...Array(24).fill(7),
    ...Array(8).fill(8),
  ]);
  const fixedDist = build(Array(30).fill(5));
  let max = 0;
  while (pos < stream.length) {
    bits(1); // BFINAL
    const type = bits(2);
    if (type === 0) {
      bitBuffer = 0;
      bitCount = 0;
      const length = stream.readUInt16LE(pos);
      pos += 4 + length;
      continue;
    }
    let lit = fixedLit;
    let dist = fixedDist;
    if (type === 2) {
      const nlen = bits(5) + 257;
      const ndist = bits(5) + 1;
      const ncode = bits(4) + 4;
      const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
      const codeLengths = new Array<number>(19).fill(0);
      for (let i = 0; i < ncode; i++) codeLengths[order[i]] = bits(3);
      const lencode = build(codeLengths);
      const lengths: number[] = [];
      while (lengths.length < nlen + ndist) {
        const symbol = decode(lencode);
        if (symbol < 16) lengths.push(symbol);
        else if (symbol === 16)
          lengths.push(...Array(3 + bits(2)).fill(lengths[lengths.length - 1]));
        else if (symbol === 17) lengths.push(...Array(3 + bits(3)).fill(0));
        else lengths.push(...Array(11 + bits(7)).fill(0));
      }
      lit = build(lengths.slice(0, nlen));
      dist = build(lengths.slice(nlen));
    } else if (type !== 1) {
      throw new Error("invalid block type");
    }
    for (;;) {
      const symbol = decode(lit);
      if (symbol === 256) break;
      if (symbol < 256) continue;
      bits(lengthExtra[symbol - 257]); // the match's length doesn't matter here
      const code = decode(dist);
      max = Math.max(max, distBase[code] + bits(distExtra[code]));
    }
  }
  return max;
}

describe("client offer", () => {
  test("offers client_max_window_bits without a value by default", () => {
    assert.deepEqual(new ClientPerMessageDeflateFactory().getRequestParams(), [
      ["client_max_window_bits", null],
    ]);
  });

  test("offers every parameter configured, in RFC order", () => {
    const factory = new ClientPerMessageDeflateFactory({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    });
    assert.deepEqual(factory.getRequestParams(), [
      ["server_no_context_takeover", null],
      ["client_no_context_takeover", null],
      ["server_max_window_bits", "10"],
      ["client_max_window_bits", "12"],
    ]);
  });

  test("offers nothing when client_max_window_bits is turned off", () => {
    assert.deepEqual(
      new ClientPerMessageDeflateFactory({ clientMaxWindowBits: null }).getRequestParams(),
      [],
    );
    assert.deepEqual(
      new ClientPerMessageDeflateFactory({ clientMaxWindowBits: false }).getRequestParams(),
      [],
    );
  });

  for (const [name, options] of [
    ["serverMaxWindowBits 7", { serverMaxWindowBits: 7 }],
    ["serverMaxWindowBits 16", { serverMaxWindowBits: 16 }],
    ["clientMaxWindowBits 7", { clientMaxWindowBits: 7 }],
    ["clientMaxWindowBits 12.5", { clientMaxWindowBits: 12.5 }],
    ["memLevel 0", { compressSettings: { memLevel: 0 } }],
    ["level 10", { compressSettings: { level: 10 } }],
    ["strategy 5", { compressSettings: { strategy: 5 } }],
  ] as const) {
    test(`rejects ${name} with a RangeError naming the value`, () => {
      assert.throws(
        () => new ClientPerMessageDeflateFactory(options as ClientPerMessageDeflateOptions),
        (error: unknown) => error instanceof RangeError && /got /.test(error.message),
      );
    });
  }
});

describe("client processing the server's answer", () => {
  type Case = [
    string,
    ClientPerMessageDeflateOptions,
    ExtensionParameter[],
    Partial<ReturnType<typeof config>> | (new (...args: never[]) => Error),
  ];
  const cases: Case[] = [
    // server_no_context_takeover: asked -> must be answered; the server may add it.
    [
      "no parameters",
      { clientMaxWindowBits: null },
      [],
      {
        remoteNoContextTakeover: false,
        localNoContextTakeover: false,
        remoteMaxWindowBits: 15,
        localMaxWindowBits: 15,
      },
    ],
    [
      "server_no_context_takeover added by the server",
      {},
      [["server_no_context_takeover", null]],
      { remoteNoContextTakeover: true },
    ],
    [
      "server_no_context_takeover asked but not answered",
      { serverNoContextTakeover: true },
      [],
      NegotiationError,
    ],
    [
      "server_no_context_takeover asked and answered",
      { serverNoContextTakeover: true },
      [["server_no_context_takeover", null]],
      { remoteNoContextTakeover: true },
    ],
    // client_no_context_takeover: the client applies it when it offered it, or when told.
    [
      "client_no_context_takeover added by the server",
      {},
      [["client_no_context_takeover", null]],
      { localNoContextTakeover: true },
    ],
    [
      "client_no_context_takeover offered, not answered",
      { clientNoContextTakeover: true },
      [],
      { localNoContextTakeover: true },
    ],
    [
      "client_no_context_takeover offered and answered",
      { clientNoContextTakeover: true },
      [["client_no_context_takeover", null]],
      { localNoContextTakeover: true },
    ],
    // server_max_window_bits
    [
      "server_max_window_bits added by the server",
      {},
      [["server_max_window_bits", "10"]],
      { remoteMaxWindowBits: 10 },
    ],
    [
      "server_max_window_bits asked but not answered",
      { serverMaxWindowBits: 12 },
      [],
      NegotiationError,
    ],
    [
      "server_max_window_bits answered smaller",
      { serverMaxWindowBits: 12 },
      [["server_max_window_bits", "9"]],
      { remoteMaxWindowBits: 9 },
    ],
    [
      "server_max_window_bits answered equal",
      { serverMaxWindowBits: 12 },
      [["server_max_window_bits", "12"]],
      { remoteMaxWindowBits: 12 },
    ],
    [
      "server_max_window_bits answered larger",
      { serverMaxWindowBits: 12 },
      [["server_max_window_bits", "13"]],
      NegotiationError,
    ],
    // client_max_window_bits
    [
      "client_max_window_bits not offered but answered",
      { clientMaxWindowBits: null },
      [["client_max_window_bits", "10"]],
      NegotiationError,
    ],
    [
      "client_max_window_bits offered without value, not answered",
      {},
      [],
      { localMaxWindowBits: 15 },
    ],
    [
      "client_max_window_bits offered without value, answered",
      {},
      [["client_max_window_bits", "9"]],
      { localMaxWindowBits: 9 },
    ],
    [
      "client_max_window_bits offered 12, not answered",
      { clientMaxWindowBits: 12 },
      [],
      { localMaxWindowBits: 12 },
    ],
    [
      "client_max_window_bits offered 12, answered 8",
      { clientMaxWindowBits: 12 },
      [["client_max_window_bits", "8"]],
      { localMaxWindowBits: 8 },
    ],
    [
      "client_max_window_bits offered 12, answered 14",
      { clientMaxWindowBits: 12 },
      [["client_max_window_bits", "14"]],
      NegotiationError,
    ],
    // Malformed answers.
    [
      "client_max_window_bits without value in an answer",
      {},
      [["client_max_window_bits", null]],
      InvalidParameterValue,
    ],
    [
      "a duplicate parameter",
      {},
      [
        ["server_max_window_bits", "10"],
        ["server_max_window_bits", "10"],
      ],
      DuplicateParameter,
    ],
    ["an unknown parameter", {}, [["server_window_bits", "10"]], InvalidParameterName],
    ["server_max_window_bits 7", {}, [["server_max_window_bits", "7"]], InvalidParameterValue],
    ["server_max_window_bits 16", {}, [["server_max_window_bits", "16"]], InvalidParameterValue],
    ["server_max_window_bits 012", {}, [["server_max_window_bits", "012"]], InvalidParameterValue],
    [
      "server_max_window_bits without value",
      {},
      [["server_max_window_bits", null]],
      InvalidParameterValue,
    ],
    [
      "server_no_context_takeover with a value",
      {},
      [["server_no_context_takeover", "1"]],
      InvalidParameterValue,
    ],
    [
      "client_no_context_takeover with a value",
      {},
      [["client_no_context_takeover", "x"]],
      InvalidParameterValue,
    ],
  ];
  for (const [name, options, response, expected] of cases) {
    const outcome = typeof expected === "function" ? `fails with ${expected.name}` : "accepts it";
    test(`${outcome}: ${name}`, () => {
      const factory = new ClientPerMessageDeflateFactory(options);
      if (typeof expected === "function") {
        assert.throws(() => factory.processResponseParams(response, []), expected);
      } else {
        const extension = factory.processResponseParams(response, []);
        assert.deepEqual({ ...config(extension), ...expected }, config(extension));
      }
    });
  }

  test("fails when permessage-deflate was already accepted", () => {
    const factory = new ClientPerMessageDeflateFactory();
    const first = factory.processResponseParams([], []);
    assert.throws(
      () => factory.processResponseParams([], [first]),
      (error: unknown) =>
        error instanceof NegotiationError && /duplicate permessage-deflate/.test(error.message),
    );
  });

  test("the error names the offending value", () => {
    const factory = new ClientPerMessageDeflateFactory({ serverMaxWindowBits: 10 });
    assert.throws(
      () => factory.processResponseParams([["server_max_window_bits", "11"]], []),
      /server_max_window_bits: 11, offered 10/,
    );
    assert.throws(
      () => factory.processResponseParams([["server_max_window_bits", "abc"]], []),
      /invalid value for parameter server_max_window_bits: abc/,
    );
  });
});

describe("server answering an offer", () => {
  type Case = [
    string,
    ServerPerMessageDeflateOptions,
    ExtensionParameter[],
    // null: the offer is declined.
    ExtensionParameter[] | null,
  ];
  const cases: Case[] = [
    ["an empty offer", {}, [], []],
    // server_no_context_takeover: accepted when offered, added when configured.
    [
      "server_no_context_takeover offered",
      {},
      [["server_no_context_takeover", null]],
      [["server_no_context_takeover", null]],
    ],
    [
      "server_no_context_takeover configured",
      { serverNoContextTakeover: true },
      [],
      [["server_no_context_takeover", null]],
    ],
    [
      "server_no_context_takeover configured and offered",
      { serverNoContextTakeover: true },
      [["server_no_context_takeover", null]],
      [["server_no_context_takeover", null]],
    ],
    // client_no_context_takeover
    [
      "client_no_context_takeover offered",
      {},
      [["client_no_context_takeover", null]],
      [["client_no_context_takeover", null]],
    ],
    [
      "client_no_context_takeover configured",
      { clientNoContextTakeover: true },
      [],
      [["client_no_context_takeover", null]],
    ],
    // server_max_window_bits
    [
      "server_max_window_bits offered",
      {},
      [["server_max_window_bits", "10"]],
      [["server_max_window_bits", "10"]],
    ],
    [
      "server_max_window_bits configured",
      { serverMaxWindowBits: 12 },
      [],
      [["server_max_window_bits", "12"]],
    ],
    [
      "server_max_window_bits offered smaller than configured",
      { serverMaxWindowBits: 12 },
      [["server_max_window_bits", "9"]],
      [["server_max_window_bits", "9"]],
    ],
    [
      "server_max_window_bits offered larger than configured",
      { serverMaxWindowBits: 12 },
      [["server_max_window_bits", "14"]],
      [["server_max_window_bits", "12"]],
    ],
    [
      "server_max_window_bits offered 8",
      { serverMaxWindowBits: 12 },
      [["server_max_window_bits", "8"]],
      [["server_max_window_bits", "8"]],
    ],
    // client_max_window_bits: never answered unless offered.
    ["client_max_window_bits configured, not offered", { clientMaxWindowBits: 12 }, [], []],
    [
      "client_max_window_bits configured, not offered, required",
      { clientMaxWindowBits: 12, requireClientMaxWindowBits: true },
      [],
      null,
    ],
    [
      "client_max_window_bits offered without value, not configured",
      {},
      [["client_max_window_bits", null]],
      [],
    ],
    [
      "client_max_window_bits offered without value, configured",
      { clientMaxWindowBits: 12 },
      [["client_max_window_bits", null]],
      [["client_max_window_bits", "12"]],
    ],
    [
      "client_max_window_bits offered, not configured",
      {},
      [["client_max_window_bits", "10"]],
      [["client_max_window_bits", "10"]],
    ],
    [
      "client_max_window_bits offered smaller than configured",
      { clientMaxWindowBits: 12 },
      [["client_max_window_bits", "10"]],
      [["client_max_window_bits", "10"]],
    ],
    [
      "client_max_window_bits offered larger than configured",
      { clientMaxWindowBits: 12 },
      [["client_max_window_bits", "15"]],
      [["client_max_window_bits", "12"]],
    ],
    // Malformed offers are declined.
    [
      "a duplicate parameter",
      {},
      [
        ["client_no_context_takeover", null],
        ["client_no_context_takeover", null],
      ],
      null,
    ],
    ["an unknown parameter", {}, [["x-custom", null]], null],
    ["client_max_window_bits 16", {}, [["client_max_window_bits", "16"]], null],
    ["client_max_window_bits empty", {}, [["client_max_window_bits", ""]], null],
    ["server_max_window_bits without value", {}, [["server_max_window_bits", null]], null],
  ];
  for (const [name, options, offer, expected] of cases) {
    test(`${expected === null ? "declines, throwing nothing" : "answers"}: ${name}`, () => {
      const factory = new ServerPerMessageDeflateFactory(options);
      const answer = factory.processRequestParams(offer, []);
      if (expected === null) {
        assert.equal(answer, null);
      } else {
        assert.ok(answer !== null);
        const [response, extension] = answer;
        assert.deepEqual(response, expected);
        assert.ok(extension instanceof PerMessageDeflate);
      }
    });
  }

  test("declines a second permessage-deflate", () => {
    const factory = new ServerPerMessageDeflateFactory();
    const [, first] = factory.processRequestParams([], []) ?? assert.fail("declined");
    assert.equal(factory.processRequestParams([], [first]), null);
  });

  test("configures the extension from the server's view", () => {
    const [, extension] =
      new ServerPerMessageDeflateFactory({
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 10,
      }).processRequestParams(
        [
          ["client_max_window_bits", null],
          ["client_no_context_takeover", null],
        ],
        [],
      ) ?? assert.fail("declined");
    assert.deepEqual(config(extension), {
      remoteNoContextTakeover: true,
      localNoContextTakeover: false,
      remoteMaxWindowBits: 10,
      localMaxWindowBits: 11,
    });
  });

  test("picks the first offer it can accept among several", () => {
    // As ServerProtocol does: each offer in turn until one isn't declined.
    const factory = new ServerPerMessageDeflateFactory({
      clientMaxWindowBits: 10,
      requireClientMaxWindowBits: true,
    });
    const offers: ExtensionParameter[][] = [
      [["server_max_window_bits", "abc"]],
      [["server_no_context_takeover", null]],
      [
        ["client_max_window_bits", "12"],
        ["server_no_context_takeover", null],
      ],
      [["client_max_window_bits", null]],
    ];
    const answers = offers.flatMap((offer) => {
      const answer = factory.processRequestParams(offer, []);
      return answer === null ? [] : [answer[0]];
    });
    assert.deepEqual(answers[0], [
      ["server_no_context_takeover", null],
      ["client_max_window_bits", "10"],
    ]);
    assert.equal(answers.length, 2);
  });

  test("rejects requireClientMaxWindowBits without clientMaxWindowBits", () => {
    assert.throws(
      () => new ServerPerMessageDeflateFactory({ requireClientMaxWindowBits: true }),
      RangeError,
    );
  });

  test("rejects a window of 16 bits with a RangeError", () => {
    assert.throws(() => new ServerPerMessageDeflateFactory({ serverMaxWindowBits: 16 }), /got 16/);
    assert.throws(() => new ServerPerMessageDeflateFactory({ clientMaxWindowBits: 7 }), /got 7/);
  });
});

describe("negotiation between our client and our server", () => {
  const clientOptions: ClientPerMessageDeflateOptions[] = [];
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      for (const serverMaxWindowBits of [null, 8, 10, 15]) {
        for (const clientMaxWindowBits of [null, true, 8, 11, 15] as const) {
          clientOptions.push({
            serverNoContextTakeover,
            clientNoContextTakeover,
            serverMaxWindowBits,
            clientMaxWindowBits,
          });
        }
      }
    }
  }
  const serverOptions: ServerPerMessageDeflateOptions[] = [];
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      for (const serverMaxWindowBits of [null, 9, 12]) {
        for (const clientMaxWindowBits of [null, 8, 12]) {
          for (const requireClientMaxWindowBits of clientMaxWindowBits === null
            ? [false]
            : [false, true]) {
            serverOptions.push({
              serverNoContextTakeover,
              clientNoContextTakeover,
              serverMaxWindowBits,
              clientMaxWindowBits,
              requireClientMaxWindowBits,
            });
          }
        }
      }
    }
  }

  test(`agrees on every one of ${clientOptions.length * serverOptions.length} combinations, or the server declines`, () => {
    let declined = 0;
    for (const c of clientOptions) {
      for (const s of serverOptions) {
        const clientFactory = new ClientPerMessageDeflateFactory(c);
        const serverFactory = new ServerPerMessageDeflateFactory(s);
        const request = clientFactory.getRequestParams();
        const answer = serverFactory.processRequestParams(request, []);
        if (answer === null) {
          // Only when it requires client_max_window_bits and the client doesn't offer it.
          assert.equal(s.requireClientMaxWindowBits, true);
          assert.equal(c.clientMaxWindowBits, null);
          declined++;
          continue;
        }
        const [response, server] = answer;
        // Our client accepts every answer of our server.
        const client = clientFactory.processResponseParams(response, []);
        const where = JSON.stringify({ c, s });
        // What the server sends, the client decodes exactly so.
        assert.equal(client.remoteNoContextTakeover, server.localNoContextTakeover, where);
        assert.equal(client.remoteMaxWindowBits, server.localMaxWindowBits, where);
        // What the client sends stays within what the server expects.
        assert.ok(client.localMaxWindowBits <= server.remoteMaxWindowBits, where);
        assert.ok(client.localNoContextTakeover || !server.remoteNoContextTakeover, where);
        // Each side's requests are honoured.
        if (c.serverNoContextTakeover || s.serverNoContextTakeover) {
          assert.ok(server.localNoContextTakeover, where);
        }
        if (c.clientNoContextTakeover || s.clientNoContextTakeover) {
          assert.ok(client.localNoContextTakeover, where);
        }
        for (const limit of [c.serverMaxWindowBits, s.serverMaxWindowBits]) {
          if (typeof limit === "number") assert.ok(server.localMaxWindowBits <= limit, where);
        }
        if (typeof c.clientMaxWindowBits === "number") {
          assert.ok(client.localMaxWindowBits <= c.clientMaxWindowBits, where);
        }
        if (c.clientMaxWindowBits !== null && s.clientMaxWindowBits != null) {
          assert.ok(client.localMaxWindowBits <= s.clientMaxWindowBits, where);
        }
      }
    }
    // Clients that don't offer client_max_window_bits (16) times servers that require it (24).
    assert.equal(declined, 16 * 24);
  });

  test("round-trips messages both ways under a sample of the combinations", () => {
    // Every 7th combination: the whole matrix is negotiation only above.
    let index = 0;
    let checked = 0;
    for (const c of clientOptions) {
      for (const s of serverOptions) {
        if (index++ % 7 !== 0 || (s.requireClientMaxWindowBits && c.clientMaxWindowBits === null)) {
          continue;
        }
        const { client, server } = negotiate(c, s);
        for (let i = 0; i < 3; i++) {
          const message = chatText(300 + 200 * i, index + i);
          assert.deepEqual(transfer(client, server, message).decoded, message);
          assert.deepEqual(transfer(server, client, message, OP_TEXT, [100, 100]).decoded, message);
        }
        checked++;
      }
    }
    assert.ok(checked > 100);
  });
});

describe("enable helpers", () => {
  test("the client default offers client_max_window_bits and compresses with memLevel 5", () => {
    const [factory] = enableClientPermessageDeflate();
    assert.ok(factory instanceof ClientPerMessageDeflateFactory);
    assert.deepEqual(factory.getRequestParams(), [["client_max_window_bits", null]]);
    assert.deepEqual(factory.compressSettings, { memLevel: 5 });
  });

  test("the server default uses 12-bit windows and memLevel 5", () => {
    const [factory] = enableServerPermessageDeflate(null);
    assert.ok(factory instanceof ServerPerMessageDeflateFactory);
    assert.equal(factory.serverMaxWindowBits, 12);
    assert.equal(factory.clientMaxWindowBits, 12);
    assert.deepEqual(factory.compressSettings, { memLevel: 5 });
    const [response] =
      factory.processRequestParams([["client_max_window_bits", null]], []) ??
      assert.fail("declined");
    assert.deepEqual(response, [
      ["server_max_window_bits", "12"],
      ["client_max_window_bits", "12"],
    ]);
  });

  test("keeps a permessage-deflate factory already configured", () => {
    const custom = new ClientPerMessageDeflateFactory({ clientNoContextTakeover: true });
    const result = enableClientPermessageDeflate([custom]);
    assert.deepEqual(result, [custom]);
    const server = new ServerPerMessageDeflateFactory({ serverNoContextTakeover: true });
    assert.deepEqual(enableServerPermessageDeflate([server]), [server]);
  });

  test("appends after other extensions without changing the list passed", () => {
    const other = {
      name: "x-other",
      processRequestParams(): never {
        throw new NegotiationError("no");
      },
    };
    const list = [other];
    const result = enableServerPermessageDeflate(list);
    assert.equal(result.length, 2);
    assert.equal(result[0], other);
    assert.equal(result[1].name, PERMESSAGE_DEFLATE);
    assert.equal(list.length, 1);
  });
});

describe("RFC 7692 §7.2.3 examples", () => {
  test("decodes a message compressed in one block (§7.2.3.1)", () => {
    const [, receiver] = pair();
    const frame = new Frame(OP_TEXT, bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), true, true);
    assert.equal(receiver.decode(frame, null).data.toString(), "Hello");
  });

  test("decodes the same message in two fragments (§7.2.3.1)", () => {
    const [, receiver] = pair();
    const first = receiver.decode(new Frame(OP_TEXT, bytes(0xf2, 0x48, 0xcd), false, true), null);
    const last = receiver.decode(new Frame(OP_CONT, bytes(0xc9, 0xc9, 0x07, 0x00), true), null);
    assert.equal(Buffer.concat([first.data, last.data]).toString(), "Hello");
    assert.equal(first.rsv1, false);
  });

  test("decodes a second message that refers to the first (§7.2.3.2)", () => {
    const [, receiver] = pair();
    receiver.decode(
      new Frame(OP_TEXT, bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), true, true),
      null,
    );
    const second = receiver.decode(
      new Frame(OP_TEXT, bytes(0xf2, 0x00, 0x11, 0x00, 0x00), true, true),
      null,
    );
    assert.equal(second.data.toString(), "Hello");
  });

  test("decodes a stored block (§7.2.3.3)", () => {
    const [, receiver] = pair();
    const payload = bytes(0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00);
    assert.equal(
      receiver.decode(new Frame(OP_TEXT, payload, true, true), null).data.toString(),
      "Hello",
    );
  });

  test("decodes a block with BFINAL set, then more messages with the same window (§7.2.3.4)", () => {
    const [, receiver] = pair();
    const payload = bytes(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00);
    assert.equal(
      receiver.decode(new Frame(OP_TEXT, payload, true, true), null).data.toString(),
      "Hello",
    );
    // A new DEFLATE stream follows; it may still refer to "Hello" (§7.2.3.2's bytes).
    const next = receiver.decode(
      new Frame(OP_TEXT, bytes(0xf2, 0x00, 0x11, 0x00, 0x00), true, true),
      null,
    );
    assert.equal(next.data.toString(), "Hello");
  });

  test("decodes a message ending exactly with its BFINAL block, then the next ones (§7.2.3.4)", () => {
    // deflateRawSync("Hello"): no byte after the final block, so the 4 bytes
    // appended (§7.2.2) would read as a truncated stored block.
    for (const noContextTakeover of [false, true]) {
      const receiver = new PerMessageDeflate({
        remoteNoContextTakeover: noContextTakeover,
        localNoContextTakeover: false,
        remoteMaxWindowBits: 15,
        localMaxWindowBits: 15,
      });
      for (let i = 0; i < 3; i++) {
        const payload = bytes(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
        const frame = receiver.decode(new Frame(OP_TEXT, payload, true, true), null);
        assert.equal(frame.data.toString(), "Hello");
      }
      const next = receiver.decode(
        new Frame(OP_TEXT, bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), true, true),
        null,
      );
      assert.equal(next.data.toString(), "Hello");
    }
  });

  test("decodes a fragmented message whose first frame ends a DEFLATE stream (§7.2.3.4)", () => {
    const [, receiver] = pair();
    const first = receiver.decode(
      new Frame(OP_TEXT, bytes(0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), false, true),
      null,
    );
    // The continuation is a new stream: " world" ending with a BFINAL block too.
    const rest = receiver.decode(new Frame(OP_CONT, deflateRawSync(" world"), true), null);
    assert.equal(Buffer.concat([first.data, rest.data]).toString(), "Hello world");
  });

  test("decodes two blocks in one message (§7.2.3.5)", () => {
    const [, receiver] = pair();
    const payload = bytes(
      0xf2,
      0x48,
      0x05,
      0x00,
      0x00,
      0x00,
      0xff,
      0xff,
      0xca,
      0xc9,
      0xc9,
      0x07,
      0x00,
    );
    assert.equal(
      receiver.decode(new Frame(OP_TEXT, payload, true, true), null).data.toString(),
      "Hello",
    );
  });

  test("encodes 'Hello' twice as the RFC shows, sharing the window", () => {
    const [sender] = pair();
    const first = sender.encode(new Frame(OP_TEXT, Buffer.from("Hello")));
    const second = sender.encode(new Frame(OP_TEXT, Buffer.from("Hello")));
    assert.deepEqual(first.data, bytes(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00));
    assert.deepEqual(second.data, bytes(0xf2, 0x00, 0x11, 0x00, 0x00));
    assert.equal(first.rsv1, true);
  });

  test("encodes an empty message as a single 0x00 (§7.2.3.6), also after another message", () => {
    const [sender, receiver] = pair();
    for (const text of ["", "Hello", "", ""]) {
      const frame = sender.encode(new Frame(OP_TEXT, Buffer.from(text)));
      if (text === "") assert.deepEqual(frame.data, bytes(0x00));
      assert.equal(receiver.decode(frame, null).data.toString(), text);
    }
  });
});

describe("encoding", () => {
  test("sets RSV1 on the first frame only and compresses continuations with the same stream", () => {
    const [sender, receiver] = pair();
    const message = chatText(5000, 1);
    const { frames, decoded } = transfer(sender, receiver, message, OP_TEXT, [1000, 1000, 1000, 0]);
    assert.deepEqual(
      frames.map((frame) => [frame.opcode, frame.rsv1, frame.fin]),
      [
        [OP_TEXT, true, false],
        [OP_CONT, false, false],
        [OP_CONT, false, false],
        [OP_CONT, false, true],
      ],
    );
    // Non-final frames end with a sync flush; the final one has it removed.
    for (const frame of frames.slice(0, -1)) {
      assert.deepEqual(frame.data.subarray(-4), bytes(0x00, 0x00, 0xff, 0xff));
    }
    assert.notDeepEqual(frames[3].data.subarray(-4), bytes(0x00, 0x00, 0xff, 0xff));
    assert.deepEqual(decoded, message);
  });

  test("never compresses control frames", () => {
    const [sender] = pair();
    for (const opcode of [OP_PING, OP_PONG, OP_CLOSE] as const) {
      const frame = new Frame(opcode, Buffer.from("hello hello hello"));
      assert.equal(sender.encode(frame), frame);
    }
  });

  test("passes through a continuation frame outside a message", () => {
    const [sender] = pair();
    const frame = new Frame(OP_CONT, Buffer.from("x"));
    assert.equal(sender.encode(frame), frame);
  });

  test("doesn't modify the frame it's given", () => {
    const [sender] = pair();
    const frame = new Frame(OP_TEXT, Buffer.from("Hello"));
    sender.encode(frame);
    assert.equal(frame.rsv1, false);
    assert.equal(frame.data.toString(), "Hello");
  });

  test("with context takeover, a repeated message costs a few bytes", () => {
    const [sender] = pair();
    const message = chatText(2000, 7);
    const first = sender.encode(new Frame(OP_BINARY, message)).data.length;
    const second = sender.encode(new Frame(OP_BINARY, message)).data.length;
    // About 3 bytes per 258-byte match.
    assert.ok(second < 40, `second message: ${second} bytes`);
    assert.ok(first > 200, `first message: ${first} bytes`);
  });

  test("without context takeover, each message is compressed on its own", () => {
    const [sender, receiver] = pair({ localNoContextTakeover: true });
    const message = chatText(2000, 7);
    const first = sender.encode(new Frame(OP_BINARY, message));
    const second = sender.encode(new Frame(OP_BINARY, message));
    assert.deepEqual(first.data, second.data);
    // Each message decodes with a fresh stream.
    assert.deepEqual(receiver.decode(second, null).data, message);
    const alone = Buffer.concat([second.data, bytes(0, 0, 0xff, 0xff)]);
    assert.deepEqual(inflateRawSync(alone, { finishFlush: zlibConstants.Z_SYNC_FLUSH }), message);
  });
});

describe("decoding", () => {
  test("passes an uncompressed message through", () => {
    const [, receiver] = pair();
    const frame = new Frame(OP_TEXT, Buffer.from("plain"));
    assert.equal(receiver.decode(frame, 10), frame);
  });

  test("passes the continuation frames of an uncompressed message through", () => {
    const [sender, receiver] = pair();
    assert.equal(
      receiver.decode(new Frame(OP_TEXT, Buffer.from("pl"), false), null).data.toString(),
      "pl",
    );
    const cont = new Frame(OP_CONT, Buffer.from("ain"));
    assert.equal(receiver.decode(cont, null), cont);
    // And the next compressed message still decodes.
    const frame = sender.encode(new Frame(OP_TEXT, Buffer.from("compressed")));
    assert.equal(receiver.decode(frame, null).data.toString(), "compressed");
  });

  test("rejects RSV1 on a continuation frame with 1002", () => {
    const [sender, receiver] = pair();
    const first = sender.encode(new Frame(OP_TEXT, Buffer.from("Hel"), false));
    receiver.decode(first, null);
    assert.throws(
      () => receiver.decode(new Frame(OP_CONT, bytes(0xca, 0xc9, 0x07, 0x00), true, true), null),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.closeCode === CLOSE_PROTOCOL_ERROR &&
        /RSV1 set on a CONT frame/.test(error.message),
    );
  });

  for (const opcode of [OP_PING, OP_PONG, OP_CLOSE] as const) {
    test(`rejects RSV1 on a control frame (opcode ${opcode}) with 1002`, () => {
      const [, receiver] = pair();
      assert.throws(
        () => receiver.decode(new Frame(opcode, Buffer.alloc(0), true, true), null),
        (error: unknown) =>
          error instanceof ProtocolError && error.closeCode === CLOSE_PROTOCOL_ERROR,
      );
    });
  }

  test("passes control frames through between fragments", () => {
    const [sender, receiver] = pair();
    const message = chatText(3000, 3);
    const first = sender.encode(new Frame(OP_TEXT, message.subarray(0, 1000), false));
    const ping = new Frame(OP_PING, Buffer.from("ping"));
    const last = sender.encode(new Frame(OP_CONT, message.subarray(1000), true));
    const decoded = [receiver.decode(first, null).data];
    assert.equal(receiver.decode(ping, null), ping);
    decoded.push(receiver.decode(last, null).data);
    assert.deepEqual(Buffer.concat(decoded), message);
  });

  test("rejects a new compressed message inside a compressed fragmented message", () => {
    const [sender, receiver] = pair();
    receiver.decode(sender.encode(new Frame(OP_TEXT, Buffer.from("abc"), false)), null);
    assert.throws(
      () => receiver.decode(new Frame(OP_TEXT, bytes(0x00), true, true), null),
      (error: unknown) =>
        error instanceof ProtocolError && /expected a continuation frame/.test(error.message),
    );
  });

  test("rejects corrupt compressed data with 1007", () => {
    const [, receiver] = pair();
    assert.throws(
      () => receiver.decode(new Frame(OP_BINARY, bytes(0xff, 0xff, 0xff, 0xff), true, true), null),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.closeCode === CLOSE_INVALID_DATA &&
        /invalid compressed data: invalid block type/.test(error.message),
    );
  });

  test("rejects a reference beyond the negotiated window with 1007", () => {
    // Compressed with a 32 KiB window; the receiver negotiated 512 bytes.
    const [sender] = pair({ localMaxWindowBits: 15 });
    const [, receiver] = pair({ localMaxWindowBits: 9 });
    const block = randomBytes(2000);
    sender.encode(new Frame(OP_BINARY, block));
    receiver.decode(
      new Frame(
        OP_BINARY,
        deflateRawSync(block, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4),
        true,
        true,
      ),
      null,
    );
    const frame = sender.encode(new Frame(OP_BINARY, block));
    assert.throws(
      () => receiver.decode(frame, null),
      (error: unknown) =>
        error instanceof ProtocolError &&
        error.closeCode === CLOSE_INVALID_DATA &&
        /too far back/.test(error.message),
    );
  });

  test("decodes a message of exactly maxSize bytes", () => {
    const [sender, receiver] = pair();
    const message = chatText(100_000, 5);
    const frame = sender.encode(new Frame(OP_BINARY, message));
    assert.deepEqual(receiver.decode(frame, 100_000).data, message);
  });

  test("rejects a message of maxSize + 1 bytes with PayloadTooBig", () => {
    const [sender, receiver] = pair();
    const frame = sender.encode(new Frame(OP_BINARY, chatText(100_001, 5)));
    assert.throws(
      () => receiver.decode(frame, 100_000),
      (error: unknown) =>
        error instanceof PayloadTooBig && /exceeds limit of 100000 bytes/.test(error.message),
    );
  });

  test("applies maxSize to each frame's output as the protocol passes it", () => {
    const [sender, receiver] = pair();
    const message = chatText(3000, 9);
    const first = sender.encode(new Frame(OP_TEXT, message.subarray(0, 2000), false));
    const last = sender.encode(new Frame(OP_CONT, message.subarray(2000), true));
    assert.equal(receiver.decode(first, 2500).data.length, 2000);
    // The protocol passes what the message may still grow by: 500 bytes.
    assert.throws(() => receiver.decode(last, 500), PayloadTooBig);
  });
});

describe("zip bombs", () => {
  // 1 MiB of zeros compresses to about 1 KiB; copies of it concatenate into
  // a valid DEFLATE stream (each ends with a sync flush).
  const kibibyteBomb = deflateRawSync(Buffer.alloc(1024 * 1024), {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  });

  test("a 1 KiB message that inflates to 1 MiB fails against a 64 KiB limit", () => {
    assert.ok(kibibyteBomb.length <= 1100, `${kibibyteBomb.length} bytes`);
    const [, receiver] = pair();
    assert.throws(
      () => receiver.decode(new Frame(OP_BINARY, kibibyteBomb.subarray(0, -4), true, true), 65536),
      PayloadTooBig,
    );
  });

  test("fails a 200 MiB bomb without allocating its output", () => {
    const bomb = Buffer.concat(Array(200).fill(kibibyteBomb));
    const [, receiver] = pair();
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(
      () => receiver.decode(new Frame(OP_BINARY, bomb, false, true), 1024 * 1024),
      PayloadTooBig,
    );
    const grown = process.memoryUsage().arrayBuffers - before;
    // At most the limit, one scratch buffer and a copy: nothing near 200 MiB.
    assert.ok(grown < 8 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
  });

  test("the protocol fails the connection with 1009", () => {
    const [, sending] = pair();
    const receiving = new Protocol("server", { maxSize: 65536 });
    receiving.extensions = [sending];
    receiving.receiveData(
      serializeFrame(new Frame(OP_BINARY, kibibyteBomb.subarray(0, -4), true, true), true),
    );
    assert.ok(receiving.parserExc instanceof PayloadTooBig);
    assert.equal(receiving.closeSent?.code, CLOSE_MESSAGE_TOO_BIG);
  });
});

describe("window bits 8", () => {
  test("compresses so that no match reaches back more than 256 bytes", () => {
    const [sender, receiver] = pair({ localMaxWindowBits: 8 });
    // Repeats at distances from 200 to 400 bytes, across messages too.
    const chunks: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const block = randomBytes(200 + i * 10);
      const message = Buffer.concat([block, block, block]);
      const frame = sender.encode(new Frame(OP_BINARY, message));
      assert.deepEqual(receiver.decode(frame, null).data, message);
      chunks.push(frame.data, bytes(0x00, 0x00, 0xff, 0xff));
    }
    const distance = maxMatchDistance(Buffer.concat(chunks));
    assert.ok(distance > 0 && distance <= 256, `max distance: ${distance}`);
  });

  test("the distance check sees matches beyond 256 bytes in a 15-bit stream", () => {
    const block = randomBytes(300);
    const stream = deflateRawSync(Buffer.concat([block, block]), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
    });
    assert.equal(maxMatchDistance(stream), 300);
  });

  test("is accepted when offered to our server and round-trips both ways", () => {
    const { response, client, server } = negotiate(
      { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
      { serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    );
    assert.deepEqual(response, [
      ["server_max_window_bits", "8"],
      ["client_max_window_bits", "8"],
    ]);
    for (let i = 0; i < 5; i++) {
      const message = chatText(5000, i);
      assert.deepEqual(transfer(server, client, message).decoded, message);
      assert.deepEqual(transfer(client, server, message, OP_TEXT, [700, 1]).decoded, message);
    }
  });
});

describe("memory", () => {
  test("creates zlib streams on first use only", () => {
    const [sender, receiver] = pair();
    assert.deepEqual(sender.memory, { compressor: false, decompressor: false, windowBytes: 0 });
    transfer(sender, receiver, Buffer.from("x"));
    assert.equal(sender.memory.compressor, true);
    assert.equal(sender.memory.decompressor, false);
    assert.equal(receiver.memory.decompressor, true);
  });

  test("without context takeover, frees the compressor after each message; the decompressor until release()", () => {
    const [sender, receiver] = pair({ localNoContextTakeover: true });
    transfer(sender, receiver, chatText(10_000, 1), OP_TEXT, [4000, 4000]);
    assert.deepEqual(sender.memory, { compressor: false, decompressor: false, windowBytes: 0 });
    // Reset and kept for the next message: creating one costs more than a small message.
    assert.deepEqual(receiver.memory, { compressor: false, decompressor: true, windowBytes: 0 });
    receiver.release();
    assert.deepEqual(receiver.memory, { compressor: false, decompressor: false, windowBytes: 0 });
    // The next message makes a new one.
    assert.deepEqual(transfer(sender, receiver, chatText(3000, 2)).decoded, chatText(3000, 2));
  });

  test("release() frees the streams and keeps windows of at most 2^bits bytes", () => {
    const [sender, receiver] = pair({ localMaxWindowBits: 10, remoteMaxWindowBits: 11 });
    for (let i = 0; i < 5; i++) {
      transfer(sender, receiver, chatText(1500, i));
      transfer(receiver, sender, chatText(3000, i));
    }
    sender.release();
    receiver.release();
    assert.deepEqual(sender.memory, {
      compressor: false,
      decompressor: false,
      windowBytes: 1024 + 2048,
    });
    assert.deepEqual(receiver.memory, {
      compressor: false,
      decompressor: false,
      windowBytes: 2048 + 1024,
    });
  });

  test("release() keeps the context: a repeated message still costs a few bytes", () => {
    const [sender, receiver] = pair();
    const message = chatText(2000, 11);
    transfer(sender, receiver, message);
    sender.release();
    receiver.release();
    const { frames, decoded } = transfer(sender, receiver, message);
    assert.ok(frames[0].data.length < 40, `${frames[0].data.length} bytes`);
    assert.deepEqual(decoded, message);
  });

  test("release() in the middle of a fragmented message keeps the streams", () => {
    const [sender, receiver] = pair({ localNoContextTakeover: true });
    const message = chatText(3000, 2);
    const first = sender.encode(new Frame(OP_TEXT, message.subarray(0, 1500), false));
    const decoded = [receiver.decode(first, null).data];
    sender.release();
    receiver.release();
    assert.equal(sender.memory.compressor, true);
    assert.equal(receiver.memory.decompressor, true);
    decoded.push(
      receiver.decode(sender.encode(new Frame(OP_CONT, message.subarray(1500), true)), null).data,
    );
    assert.deepEqual(Buffer.concat(decoded), message);
  });
});

describe("round trips", () => {
  for (const noContextTakeover of [false, true]) {
    const mode = noContextTakeover ? "without" : "with";
    test(`text and binary, small and multi-MiB, ${mode} context takeover`, () => {
      const [sender, receiver] = pair({
        localNoContextTakeover: noContextTakeover,
        remoteNoContextTakeover: noContextTakeover,
      });
      const messages = [
        Buffer.alloc(0),
        Buffer.from("h"),
        Buffer.from("héllo wörld ✓"),
        chatText(64 * 1024, 1),
        randomBytes(4096),
        Buffer.concat([chatText(3 * 1024 * 1024, 2), randomBytes(512 * 1024)]),
        chatText(100, 3),
      ];
      for (const message of messages) {
        for (const opcode of [OP_TEXT, OP_BINARY] as const) {
          assert.deepEqual(transfer(sender, receiver, message, opcode).decoded, message);
        }
      }
      // Fragmented, including empty fragments.
      const big = messages[5];
      const { decoded } = transfer(sender, receiver, big, OP_BINARY, [0, 1, 1024 * 1024, 0, 7]);
      assert.deepEqual(decoded, big);
    });
  }

  test("any sequence of messages, fragmentations and releases round-trips", () => {
    fc.assert(
      fc.property(
        fc.record({
          bits: fc.integer({ min: 8, max: 15 }),
          noContextTakeover: fc.boolean(),
          messages: fc.array(
            fc.record({
              size: fc.integer({ min: 0, max: 5000 }),
              random: fc.boolean(),
              seed: fc.integer({ min: 1, max: 1e6 }),
              pieces: fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 3 }),
              release: fc.boolean(),
            }),
            { minLength: 1, maxLength: 8 },
          ),
        }),
        ({ bits, noContextTakeover, messages }) => {
          const [sender, receiver] = pair({
            localMaxWindowBits: bits,
            remoteMaxWindowBits: bits,
            localNoContextTakeover: noContextTakeover,
            remoteNoContextTakeover: noContextTakeover,
          });
          for (const { size, random, seed, pieces, release } of messages) {
            const message = random ? randomBytes(size) : chatText(size, seed);
            // Frames of the sizes drawn while they fit; the last frame takes the rest.
            const sizes: number[] = [];
            let total = 0;
            for (const piece of pieces) {
              if (total + piece > size) break;
              sizes.push(piece);
              total += piece;
            }
            sizes.push(0);
            assert.deepEqual(
              transfer(sender, receiver, message, OP_BINARY, sizes).decoded,
              message,
            );
            if (release) {
              sender.release();
              receiver.release();
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("PerMessageDeflate", () => {
  test("rejects window bits out of range", () => {
    assert.throws(() => pair({ localMaxWindowBits: 16 }), /localMaxWindowBits .* got 16/);
    assert.throws(() => pair({ remoteMaxWindowBits: 7 }), /remoteMaxWindowBits .* got 7/);
  });

  test("compresses a message for sharing only without context takeover, as encode() would", () => {
    const message = chatText(3000, 7);
    const [shared, receiver] = pair({ localNoContextTakeover: true, localMaxWindowBits: 11 });
    const [alike] = pair({ localNoContextTakeover: true, localMaxWindowBits: 11 });
    const [otherWindow] = pair({ localNoContextTakeover: true, localMaxWindowBits: 10 });
    const [otherLevel] = pair({
      localNoContextTakeover: true,
      localMaxWindowBits: 11,
      compressSettings: { level: 1 },
    });
    const [takeover] = pair({ localMaxWindowBits: 11 });
    assert.equal(shared.sharingKey, alike.sharingKey);
    assert.notEqual(shared.sharingKey, otherWindow.sharingKey);
    assert.notEqual(shared.sharingKey, otherLevel.sharingKey);
    assert.equal(takeover.sharingKey, null);
    assert.throws(() => takeover.compressMessage(message), /no context takeover/);
    // The same bytes every time, from either connection, as encode() sends.
    const once = shared.compressMessage(message);
    assert.deepEqual(alike.compressMessage(message), once);
    assert.deepEqual(shared.encode(new Frame(OP_TEXT, message)).data, once);
    assert.ok(once.length < message.length / 2);
    // compressMessage() left the connection's own stream alone: the receiver
    // decodes what it sends next.
    const decoded = receiver.decode(new Frame(OP_TEXT, once, true, true), null);
    assert.deepEqual(decoded.data, message);
    const next = shared.encode(new Frame(OP_TEXT, message));
    assert.deepEqual(receiver.decode(next, null).data, message);
  });

  test("describes itself for logs", () => {
    const [sender] = pair({ localNoContextTakeover: true, localMaxWindowBits: 12 });
    assert.equal(
      String(sender),
      "permessage-deflate(remote: 15 bits; local: 12 bits, no context takeover)",
    );
  });
});
