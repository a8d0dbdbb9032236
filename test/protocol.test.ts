import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  ConnectionClosedError,
  ConnectionClosedOK,
  InvalidMessage,
  InvalidState,
  PayloadTooBig,
  ProtocolError,
} from "../src/errors.ts";
import type { Extension } from "../src/extensions/base.ts";
import { Frame, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT } from "../src/frames.ts";
import { formatFrame, type LoggerLike } from "../src/logging.ts";
import {
  CLOSED,
  CLOSING,
  CONNECTING,
  DEFAULT_MAX_SIZE,
  type Event,
  OPEN,
  Protocol,
  type ProtocolOptions,
  type Side,
  STATE_NAMES,
} from "../src/protocol.ts";
import {
  bytewise,
  closePayload,
  type DecodedFrame,
  decodeAll,
  fromPeer,
  fromServer,
  randomChunks,
  splitOutput,
} from "./support/wire.ts";

const SIDES: Side[] = ["server", "client"];

/** What the protocol wrote: frames (unmasked) and whether it half-closed. */
function written(p: Protocol): { frames: DecodedFrame[]; eof: boolean } {
  const { bytes, eof } = splitOutput(p.dataToSend());
  const frames = decodeAll(bytes);
  for (const f of frames)
    assert.equal(f.masked, p.side === "client", "clients mask, servers don't");
  return { frames, eof };
}

function frameEvents(p: Protocol): Frame[] {
  return p.eventsReceived().map((e) => {
    assert.ok(e instanceof Frame);
    return e;
  });
}

/**
 * Asserts that the protocol failed the connection: exactly one close frame
 * written with `code` (and a reason matching `reason`), CLOSING, the server
 * half-closed, `parserExc` set, and further input ignored.
 */
function assertFailed(
  p: Protocol,
  code: number,
  reason: RegExp | string,
  parserExc?: Function,
): void {
  const { frames, eof } = written(p);
  const closes = frames.filter((f) => f.opcode === OP_CLOSE);
  assert.equal(closes.length, 1, "one close frame");
  assert.equal(closes[0].data.readUInt16BE(0), code);
  const text = closes[0].data.subarray(2).toString("utf8");
  if (typeof reason === "string") assert.equal(text, reason);
  else assert.match(text, reason);
  assert.equal(p.state, CLOSING);
  assert.equal(eof, p.side === "server");
  assert.equal(p.closeExpected(), true);
  assert.ok(p.parserExc !== null);
  if (parserExc !== undefined) assert.ok(p.parserExc instanceof parserExc, String(p.parserExc));
  // RFC 6455 §7.1.7: no more processing, not even a close frame.
  p.receiveData(fromPeer(p.side, OP_PING, "ignored"));
  p.receiveData(fromPeer(p.side, OP_CLOSE, closePayload(1000)));
  assert.deepEqual(p.dataToSend(), []);
}

function sides(name: string, fn: (side: Side) => void): void {
  for (const side of SIDES) it(`${name} (${side})`, () => fn(side));
}

describe("Protocol basics", () => {
  it("has defaults: OPEN, 1 MiB, no logger, a UUID", () => {
    const p = new Protocol("server");
    assert.equal(p.state, OPEN);
    assert.equal(p.maxSize, DEFAULT_MAX_SIZE);
    assert.equal(DEFAULT_MAX_SIZE, 1_048_576);
    assert.equal(p.logger, null);
    assert.match(p.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(p.id, new Protocol("server").id);
    assert.equal(p.closeCode, null);
    assert.equal(p.closeReason, null);
    assert.deepEqual(STATE_NAMES, { 0: "CONNECTING", 1: "OPEN", 2: "CLOSING", 3: "CLOSED" });
  });

  it("takes state, maxSize and logger options", () => {
    const logger = makeLogger(false).logger;
    const p = new Protocol("client", { state: CONNECTING, maxSize: null, logger });
    assert.equal(p.state, CONNECTING);
    assert.equal(p.maxSize, null);
    assert.equal(p.logger, logger);
  });

  it("starts in the default state given by a subclass, unless the state option says otherwise", () => {
    assert.equal(new Protocol("server", {}, CONNECTING).state, CONNECTING);
    assert.equal(new Protocol("server", { state: OPEN }, CONNECTING).state, OPEN);
    assert.equal(new Protocol("client", undefined, CLOSING).state, CLOSING);
  });

  sides("reports its side, and close and error fields that read null until set", (side) => {
    const p = new Protocol(side);
    assert.equal(p.side, side);
    assert.equal(p.closeRcvd, null);
    assert.equal(p.closeSent, null);
    assert.equal(p.closeRcvdThenSent, null);
    assert.equal(p.handshakeExc, null);
    assert.equal(p.parserExc, null);
    const error = new Error("handshake");
    p.handshakeExc = error;
    p.parserExc = null;
    assert.equal(p.handshakeExc, error);
    assert.equal(p.parserExc, null);
    p.handshakeExc = null;
    assert.equal(p.handshakeExc, null);
  });

  it("shares one frozen empty extensions list between protocols until one is assigned", () => {
    const a = new Protocol("server");
    const b = new Protocol("client");
    assert.equal(a.extensions, b.extensions);
    assert.ok(Object.isFrozen(a.extensions));
    assert.throws(() => a.extensions.push({} as Extension), TypeError);
    a.extensions = [];
    assert.notEqual(a.extensions, b.extensions);
    assert.equal(b.extensions.length, 0);
  });

  sides("receives text and binary frames as events", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_TEXT, "café"),
        fromPeer(side, OP_BINARY, Buffer.from([0, 255])),
      ]),
    );
    const events = frameEvents(p);
    assert.deepEqual(
      events.map((f) => [f.opcode, f.data, f.fin]),
      [
        [OP_TEXT, Buffer.from("café"), true],
        [OP_BINARY, Buffer.from([0, 255]), true],
      ],
    );
    assert.deepEqual(p.eventsReceived(), [], "drained");
    assert.deepEqual(p.dataToSend(), []);
  });

  sides("gives the same events fed whole, in random chunks and byte by byte", (side) => {
    const stream = Buffer.concat([
      fromPeer(side, OP_TEXT, "κό", { fin: false }),
      fromPeer(side, OP_PING, "ping"),
      fromPeer(side, OP_CONT, "σμε"),
      fromPeer(side, OP_BINARY, Buffer.alloc(70000, 7)),
      fromPeer(side, OP_PONG, ""),
      fromPeer(side, OP_CLOSE, closePayload(1000, "done")),
    ]);
    const run = (chunks: Buffer[]) => {
      const p = new Protocol(side);
      for (const chunk of chunks) p.receiveData(chunk);
      return {
        events: frameEvents(p).map((f) => [f.opcode, Buffer.from(f.data), f.fin]),
        out: written(p),
        state: p.state,
      };
    };
    const whole = run([stream]);
    assert.equal(whole.events.length, 6);
    assert.equal(whole.state, CLOSING);
    for (let seed = 0; seed < 5; seed++)
      assert.deepEqual(run(randomChunks(stream, seed, 2000)), whole);
    assert.deepEqual(run(bytewise(stream)), whole);
  });

  it("accepts a string for sendText and sendContinuation", () => {
    const p = new Protocol("server");
    p.sendText("κό", false);
    p.sendContinuation("σμε", true);
    assert.deepEqual(
      Buffer.concat(p.dataToSend()),
      Buffer.concat([fromServer(OP_TEXT, "κό", { fin: false }), fromServer(OP_CONT, "σμε")]),
    );
  });

  sides("sends every kind of frame, masked by clients only", (side) => {
    const p = new Protocol(side);
    p.sendText(Buffer.from("t"));
    p.sendBinary(Buffer.from("b"), false);
    p.sendPing(Buffer.from("pi"));
    p.sendContinuation(Buffer.from("c"), true);
    p.sendPong(Buffer.from("po"));
    p.sendClose(1000, "bye");
    const { frames, eof } = written(p);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.data.toString("latin1")]),
      [
        [OP_TEXT, true, "t"],
        [OP_BINARY, false, "b"],
        [OP_PING, true, "pi"],
        [OP_CONT, true, "c"],
        [OP_PONG, true, "po"],
        [OP_CLOSE, true, "\x03\xe8bye"],
      ],
    );
    assert.equal(eof, false);
  });
});

describe("Protocol fragmentation", () => {
  sides("rejects a continuation without a message with 1002", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_CONT, "x"));
    assertFailed(p, 1002, "unexpected continuation frame", ProtocolError);
    assert.equal(p.parserExc?.message, "unexpected continuation frame");
  });

  sides("rejects a new message while a fragmented one is open with 1002", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      Buffer.concat([fromPeer(side, OP_BINARY, "a", { fin: false }), fromPeer(side, OP_TEXT, "b")]),
    );
    assert.equal(frameEvents(p).length, 1);
    assertFailed(p, 1002, "expected a continuation frame, got TEXT", ProtocolError);
  });

  sides("answers pings interleaved in a fragmented message", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_TEXT, "a", { fin: false }),
        fromPeer(side, OP_PING, "1"),
        fromPeer(side, OP_CONT, "b", { fin: false }),
        fromPeer(side, OP_PING, "2"),
        fromPeer(side, OP_CONT, "c"),
      ]),
    );
    assert.deepEqual(
      frameEvents(p).map((f) => `${f.opcode}${f.data}`),
      ["1a", "91", "0b", "92", "0c"],
    );
    assert.deepEqual(
      written(p).frames.map((f) => `${f.opcode}${f.data}`),
      ["101", "102"],
    );
  });

  it("applies maxSize to the whole message, not to each fragment", () => {
    const p = new Protocol("server", { maxSize: 10 });
    p.receiveData(fromPeer("server", OP_BINARY, "123456", { fin: false }));
    p.receiveData(fromPeer("server", OP_CONT, "1234", { fin: false }));
    // The header of the next fragment is enough: 11 bytes in all.
    p.receiveData(fromPeer("server", OP_CONT, "1").subarray(0, 6));
    assertFailed(p, 1009, "message with 11 bytes exceeds limit of 10 bytes", PayloadTooBig);
    assert.equal(frameEvents(p).length, 2);
  });

  it("accepts a message of exactly maxSize in fragments, then a new one", () => {
    const p = new Protocol("server", { maxSize: 10 });
    p.receiveData(
      Buffer.concat([
        fromPeer("server", OP_BINARY, "12345", { fin: false }),
        fromPeer("server", OP_PING, "control frames don't count"),
        fromPeer("server", OP_CONT, "12345"),
        fromPeer("server", OP_BINARY, "1234567890"),
      ]),
    );
    assert.equal(frameEvents(p).length, 4);
    assert.equal(p.parserExc, null);
  });

  sides("refuses a frame over maxSize with 1009 before its payload arrives", (side) => {
    const p = new Protocol(side, { maxSize: 1000 });
    p.receiveData(
      fromPeer(side, OP_BINARY, Buffer.alloc(1001)).subarray(0, side === "server" ? 8 : 4),
    );
    assertFailed(p, 1009, "frame with 1001 bytes exceeds limit of 1000 bytes", PayloadTooBig);
  });

  it("has no limit with maxSize null", () => {
    const p = new Protocol("client", { maxSize: null });
    p.receiveData(fromServer(OP_BINARY, Buffer.alloc(2 * DEFAULT_MAX_SIZE)));
    assert.equal(frameEvents(p)[0].data.length, 2 * DEFAULT_MAX_SIZE);
  });

  it("applies a maxSize changed after construction", () => {
    const p = new Protocol("client");
    p.maxSize = 3;
    p.receiveData(fromServer(OP_BINARY, "1234"));
    assertFailed(p, 1009, /4 bytes exceeds limit of 3/);
  });

  it("refuses to start a message while sending a fragmented one, and a continuation without one", () => {
    const p = new Protocol("server");
    assert.throws(() => p.sendContinuation(Buffer.from("x"), true), {
      name: "InvalidState",
      message: "cannot send a continuation frame: no fragmented message in progress",
    });
    p.sendText("a", false);
    assert.throws(() => p.sendText("b"), InvalidState);
    assert.throws(() => p.sendBinary(Buffer.from("b")), /a fragmented message is in progress/);
    p.sendPing(Buffer.from("control frames are fine"));
    p.sendContinuation(Buffer.from("b"), true);
    p.sendBinary(Buffer.from("c"));
    assert.equal(written(p).frames.length, 4);
  });
});

describe("Protocol mergeFragments", () => {
  /** Events as `opcode:payload:fin` (payload in latin1, fin as + or -). */
  function shown(p: Protocol): string[] {
    return frameEvents(p).map(
      (f) => `${f.opcode}:${f.data.toString("latin1")}:${f.fin ? "+" : "-"}`,
    );
  }

  /** The start of a message, then the 16 small fragments a batch keeps (empty ones). */
  function kept(side: Side, opcode: number = OP_BINARY, payload = "a"): Buffer {
    const frames = [fromPeer(side, opcode, payload, { fin: false })];
    for (let i = 0; i < 16; i++) frames.push(fromPeer(side, OP_CONT, "", { fin: false }));
    return Buffer.concat(frames);
  }

  /**
   * The events of a batch that started with kept(start): the start, 15 kept
   * fragments, then the rest (the 16th kept fragment is the one merged into).
   */
  function afterKept(p: Protocol, start: string): string[] {
    const events = shown(p);
    assert.equal(events[0], start);
    assert.deepEqual(events.slice(1, 16), Array(15).fill("0::-"));
    return events.slice(16);
  }

  sides("is off by default: one event per frame", (side) => {
    const p = new Protocol(side);
    assert.equal(p.mergeFragments, false);
    p.receiveData(
      Buffer.concat([
        kept(side),
        fromPeer(side, OP_CONT, "b", { fin: false }),
        fromPeer(side, OP_CONT, "c"),
      ]),
    );
    assert.equal(frameEvents(p).length, 19);
  });

  sides("keeps the first 16 small fragments of a batch, then merges the next ones", (side) => {
    const p = new Protocol(side, { mergeFragments: true });
    assert.equal(p.mergeFragments, true);
    p.receiveData(
      Buffer.concat([
        kept(side, OP_TEXT, "a"),
        fromPeer(side, OP_CONT, "", { fin: false }),
        fromPeer(side, OP_CONT, "é", { fin: false }),
      ]),
    );
    p.receiveData(Buffer.concat([fromPeer(side, OP_CONT, "c"), fromPeer(side, OP_BINARY, "d")]));
    assert.deepEqual(afterKept(p, "1:a:-"), ["0:Ã©c:+", "2:d:+"]);
  });

  sides("keeps a few fragments as they are", (side) => {
    const p = new Protocol(side, { mergeFragments: true });
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_TEXT, "a", { fin: false }),
        fromPeer(side, OP_CONT, "b", { fin: false }),
        fromPeer(side, OP_CONT, "c"),
      ]),
    );
    assert.deepEqual(shown(p), ["1:a:-", "0:b:-", "0:c:+"]);
  });

  sides("merges neither across a control frame nor across collections", (side) => {
    const p = new Protocol(side, { mergeFragments: true });
    p.receiveData(
      Buffer.concat([
        kept(side),
        fromPeer(side, OP_CONT, "b", { fin: false }),
        fromPeer(side, OP_PING, "1"),
        fromPeer(side, OP_CONT, "c", { fin: false }),
        fromPeer(side, OP_CONT, "d", { fin: false }),
      ]),
    );
    assert.deepEqual(afterKept(p, "2:a:-"), ["0:b:-", "9:1:+", "0:cd:-"]);
    // A new batch keeps its first small fragments again.
    p.receiveData(fromPeer(side, OP_CONT, "e", { fin: false }));
    p.receiveData(fromPeer(side, OP_CONT, "f"));
    assert.deepEqual(shown(p), ["0:e:-", "0:f:+"]);
  });

  it("leaves fragments over 128 bytes as they are, and merges up to 16 KiB", () => {
    const p = new Protocol("client", { mergeFragments: true });
    const big = Buffer.alloc(129, 0x62);
    const piece = Buffer.alloc(128, 0x6b);
    const frames = [kept("client"), fromServer(OP_CONT, big, { fin: false })];
    frames.push(fromServer(OP_CONT, "x", { fin: false }));
    for (let i = 0; i < 300; i++) frames.push(fromServer(OP_CONT, piece, { fin: false }));
    frames.push(fromServer(OP_CONT, "y"));
    p.receiveData(Buffer.concat(frames));
    const events = frameEvents(p).slice(17);
    assert.deepEqual(
      events.map((f) => [f.opcode, f.data.length, f.fin]),
      [
        [OP_CONT, 129, false],
        // "x" and 127 pieces: one more would pass 16 KiB.
        [OP_CONT, 16_257, false],
        [OP_CONT, 16_384, false],
        [OP_CONT, 5_761, true],
      ],
    );
    const message = Buffer.concat(events.map((f) => f.data));
    const expected = [big, Buffer.from("x"), ...Array(300).fill(piece), Buffer.from("y")];
    assert.ok(message.equals(Buffer.concat(expected)));
  });

  it("applies maxSize to the message as before", () => {
    const p = new Protocol("server", { maxSize: 10, mergeFragments: true });
    p.receiveData(
      Buffer.concat([
        kept("server", OP_BINARY, "123456"),
        fromPeer("server", OP_CONT, "1234", { fin: false }),
        fromPeer("server", OP_CONT, "1"),
      ]),
    );
    assertFailed(p, 1009, "message with 11 bytes exceeds limit of 10 bytes", PayloadTooBig);
    assert.deepEqual(afterKept(p, "2:123456:-"), ["0:1234:-"]);
  });

  it("ends the run when turned off", () => {
    const p = new Protocol("client", { mergeFragments: true });
    p.receiveData(
      Buffer.concat([
        kept("client"),
        fromServer(OP_CONT, "a", { fin: false }),
        fromServer(OP_CONT, "b", { fin: false }),
      ]),
    );
    p.mergeFragments = false;
    p.receiveData(
      Buffer.concat([fromServer(OP_CONT, "c", { fin: false }), fromServer(OP_CONT, "d")]),
    );
    assert.deepEqual(afterKept(p, "2:a:-"), ["0:ab:-", "0:c:-", "0:d:+"]);
  });
});

describe("Protocol UTF-8", () => {
  const invalid = Buffer.from([
    0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65,
  ]);

  sides("rejects a text frame with invalid UTF-8 with 1007", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_TEXT, invalid));
    assertFailed(p, 1007, "invalid UTF-8 in text message", ProtocolError);
    assert.equal((p.parserExc as ProtocolError).closeCode, 1007);
    assert.deepEqual(p.eventsReceived(), []);
  });

  sides("accepts binary frames with any bytes", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_BINARY, invalid));
    assert.equal(frameEvents(p).length, 1);
  });

  sides("accepts a character split across fragments", (side) => {
    const p = new Protocol(side);
    const text = Buffer.from("𝄞", "utf8");
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_TEXT, text.subarray(0, 1), { fin: false }),
        fromPeer(side, OP_CONT, text.subarray(1, 3), { fin: false }),
        fromPeer(side, OP_CONT, text.subarray(3)),
      ]),
    );
    assert.equal(frameEvents(p).length, 3);
    assert.equal(p.parserExc, null);
  });

  sides("fails with 1007 on the fragment where UTF-8 becomes invalid, not at the end", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_TEXT, "κόσμε", { fin: false }));
    assert.equal(frameEvents(p).length, 1);
    p.receiveData(fromPeer(side, OP_CONT, Buffer.from([0xf4, 0x90]), { fin: false }));
    assertFailed(p, 1007, "invalid UTF-8 in text message");
  });

  sides("fails with 1007 on a message ending in the middle of a character", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_TEXT, Buffer.from([0x41, 0xe2, 0x82]), { fin: false }));
    p.receiveData(fromPeer(side, OP_CONT, Buffer.alloc(0)));
    assertFailed(p, 1007, "invalid UTF-8 in text message");
  });

  sides("fails with 1007 inside a frame whose payload is still arriving", (side) => {
    const p = new Protocol(side);
    const bytes = fromPeer(
      side,
      OP_TEXT,
      Buffer.concat([Buffer.from("hello"), Buffer.from([0xc0, 0xaf]), Buffer.from("world")]),
    );
    const header = side === "server" ? 6 : 2;
    p.receiveData(bytes.subarray(0, header + 5));
    assert.deepEqual(p.dataToSend(), []);
    p.receiveData(bytes.subarray(header + 5, header + 6));
    assertFailed(p, 1007, "invalid UTF-8 in text message");
  });

  sides("validates continuation payloads arriving in pieces, only for text messages", (side) => {
    const p = new Protocol(side);
    const cont = fromPeer(side, OP_CONT, Buffer.from([0xff, 0xfe, 0x00]));
    p.receiveData(fromPeer(side, OP_BINARY, "b", { fin: false }));
    for (const chunk of bytewise(cont)) p.receiveData(chunk);
    assert.equal(frameEvents(p).length, 2);
    assert.equal(p.parserExc, null);
    const text = fromPeer(side, OP_CONT, Buffer.from([0xa9, 0x41])); // completes "é", then "A"
    p.receiveData(fromPeer(side, OP_TEXT, Buffer.from([0xc3]), { fin: false }));
    for (const chunk of bytewise(text)) p.receiveData(chunk);
    assert.equal(frameEvents(p).length, 2);
    assert.equal(p.parserExc, null);
  });

  sides("rejects a close reason that isn't UTF-8 with 1007", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      fromPeer(side, OP_CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])])),
    );
    assertFailed(p, 1007, /invalid UTF-8 in close reason/);
    assert.equal(p.closeRcvd, null);
  });
});

describe("Protocol control frames", () => {
  sides("answers a ping with a pong carrying the same data", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_PING, "123"));
    assert.deepEqual(
      frameEvents(p).map((f) => [f.opcode, f.data.toString()]),
      [[OP_PING, "123"]],
    );
    const { frames } = written(p);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.data.toString()]),
      [[OP_PONG, "123"]],
    );
  });

  it("answers a ping with the exact pong bytes (server)", () => {
    const p = new Protocol("server");
    p.receiveData(fromPeer("server", OP_PING, "Hello"));
    assert.deepEqual(p.dataToSend(), [Buffer.from("8a0548656c6c6f", "hex")]);
  });

  sides("receives pongs as events without answering", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_PONG, "x"));
    assert.equal(frameEvents(p)[0].opcode, OP_PONG);
    assert.deepEqual(p.dataToSend(), []);
  });

  sides(
    "answers pings after sending a close frame, until one is received (RFC 6455 §5.5.2)",
    (side) => {
      const p = new Protocol(side);
      p.sendClose(1000);
      p.dataToSend();
      p.receiveData(fromPeer(side, OP_PING, "still there?"));
      assert.deepEqual(
        written(p).frames.map((f) => f.opcode),
        [OP_PONG],
      );
    },
  );

  it("refuses a ping or pong over 125 bytes", () => {
    const p = new Protocol("client");
    assert.throws(() => p.sendPing(Buffer.alloc(126)), {
      name: "ProtocolError",
      message: /126 bytes/,
    });
    assert.throws(() => p.sendPong(Buffer.alloc(126)), ProtocolError);
    assert.deepEqual(p.dataToSend(), []);
  });
});

describe("Protocol closing handshake", () => {
  it("server: echoes a close frame, then half-closes at once", () => {
    const p = new Protocol("server");
    p.receiveData(fromPeer("server", OP_CLOSE, closePayload(1001, "bye")));
    assert.deepEqual(
      frameEvents(p).map((f) => f.opcode),
      [OP_CLOSE],
    );
    assert.deepEqual(p.dataToSend(), [
      fromServer(OP_CLOSE, closePayload(1001, "bye")),
      Buffer.alloc(0),
    ]);
    assert.equal(p.state, CLOSING);
    assert.equal(p.closeExpected(), true);
    assert.deepEqual(
      [p.closeRcvd?.code, p.closeSent?.code, p.closeRcvdThenSent],
      [1001, 1001, true],
    );
    assert.equal(p.closeCode, null, "not closed yet");
    p.receiveEof();
    assert.equal(p.state, CLOSED);
    assert.deepEqual(p.dataToSend(), [], "EOF was already sent");
    assert.equal(p.closeExpected(), false);
    assert.equal(p.closeCode, 1001);
    assert.equal(p.closeReason, "bye");
    assert.ok(p.closeExc instanceof ConnectionClosedOK);
  });

  it("client: echoes a close frame, then waits for the server to close first", () => {
    const p = new Protocol("client");
    p.receiveData(fromServer(OP_CLOSE, closePayload(1000)));
    const { frames, eof } = written(p);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.data.readUInt16BE(0)]),
      [[OP_CLOSE, 1000]],
    );
    assert.equal(eof, false);
    assert.equal(p.closeExpected(), true);
    p.receiveEof();
    assert.deepEqual(p.dataToSend(), [Buffer.alloc(0)]);
    assert.equal(p.state, CLOSED);
    assert.equal(p.closeCode, 1000);
  });

  sides("echoes an empty close frame as an empty close frame; the code is 1005", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_CLOSE));
    const { frames } = written(p);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.data.length]),
      [[OP_CLOSE, 0]],
    );
    p.receiveEof();
    assert.equal(p.closeCode, 1005);
    assert.equal(p.closeReason, "");
    assert.ok(p.closeExc instanceof ConnectionClosedOK);
  });

  sides("sendClose moves to CLOSING and expects the transport to close", (side) => {
    const p = new Protocol(side);
    p.sendClose(4000, "custom");
    assert.equal(p.state, CLOSING);
    assert.equal(p.closeExpected(), true);
    assert.deepEqual([p.closeSent?.code, p.closeSent?.reason], [4000, "custom"]);
    const { frames, eof } = written(p);
    assert.deepEqual(frames[0].data, closePayload(4000, "custom"));
    assert.equal(eof, false);
    p.receiveData(fromPeer(side, OP_CLOSE, closePayload(4000, "custom")));
    assert.equal(p.closeRcvdThenSent, false);
    // Only the server half-closes, once both close frames were exchanged.
    assert.deepEqual(p.dataToSend(), side === "server" ? [Buffer.alloc(0)] : []);
    p.receiveEof();
    assert.deepEqual(p.dataToSend(), side === "client" ? [Buffer.alloc(0)] : []);
    assert.equal(p.closeCode, 4000);
    assert.ok(p.closeExc instanceof ConnectionClosedError, "4000 isn't a normal closure");
  });

  it("sendClose without a code sends an empty close frame", () => {
    const p = new Protocol("server");
    p.sendClose();
    assert.deepEqual(p.dataToSend(), [Buffer.from([0x88, 0x00])]);
    assert.equal(p.closeSent?.code, 1005);
  });

  it("sendClose refuses a reason without a code, a code that can't be sent and a reason over 123 bytes", () => {
    const p = new Protocol("server");
    assert.throws(() => p.sendClose(undefined, "why"), {
      name: "ProtocolError",
      message: /reason without a code/,
    });
    assert.throws(() => p.sendClose(1006), /invalid close code: 1006/);
    assert.throws(() => p.sendClose(1000, "x".repeat(124)), /124 bytes/);
    assert.equal(p.state, OPEN);
    assert.deepEqual(p.dataToSend(), []);
  });

  sides("refuses to send data or a second close once CLOSING", (side) => {
    const p = new Protocol(side);
    p.sendClose(1000);
    for (const send of [
      () => p.sendText("x"),
      () => p.sendBinary(Buffer.from("x")),
      () => p.sendClose(1000),
    ]) {
      assert.throws(send, { name: "InvalidState", message: "connection is closing" });
    }
  });

  sides(
    "drops data frames received after sending a close frame, but still validates them",
    (side) => {
      const p = new Protocol(side);
      p.sendClose(1000);
      p.dataToSend();
      p.receiveData(Buffer.concat([fromPeer(side, OP_TEXT, "late"), fromPeer(side, OP_PONG, "p")]));
      assert.deepEqual(
        frameEvents(p).map((f) => f.opcode),
        [OP_PONG],
      );
      p.receiveData(fromPeer(side, OP_TEXT, Buffer.from([0xff])));
      // No second close frame: one was sent already.
      const { frames, eof } = written(p);
      assert.deepEqual(frames, []);
      assert.equal(eof, side === "server");
      assert.equal((p.parserExc as ProtocolError).closeCode, 1007);
    },
  );

  sides("still applies maxSize to a message dropped after sending a close frame", (side) => {
    const p = new Protocol(side, { maxSize: 10 });
    p.sendClose(1000);
    p.dataToSend();
    // In one chunk: the budget must be updated between frames, so that the
    // second frame's header is enough to refuse it.
    const cont = fromPeer(side, OP_CONT, "12345");
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_BINARY, "123456", { fin: false }),
        cont.subarray(0, cont.length - 5),
      ]),
    );
    assert.deepEqual(p.eventsReceived(), []);
    assert.ok(p.parserExc instanceof PayloadTooBig);
    assert.equal(p.parserExc.message, "message with 11 bytes exceeds limit of 10 bytes");
  });

  sides("discards anything after a close frame, even garbage", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_CLOSE, closePayload(1000)),
        Buffer.from([0xff, 0xff, 0xff]),
      ]),
    );
    p.receiveData(fromPeer(side, OP_TEXT, "more"));
    assert.deepEqual(
      frameEvents(p).map((f) => f.opcode),
      [OP_CLOSE],
    );
    assert.equal(p.parserExc, null);
    written(p);
  });

  sides("treats a close frame inside a fragmented message as a normal close", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      Buffer.concat([
        fromPeer(side, OP_TEXT, "fragment1", { fin: false }),
        fromPeer(side, OP_CLOSE, closePayload(1000)),
        fromPeer(side, OP_CONT, "fragment2"),
      ]),
    );
    assert.deepEqual(
      frameEvents(p).map((f) => f.opcode),
      [OP_TEXT, OP_CLOSE],
    );
    const { frames } = written(p);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.data.readUInt16BE(0)]),
      [[OP_CLOSE, 1000]],
    );
    assert.equal(p.parserExc, null);
  });

  sides("rejects a close frame with a 1-byte payload or an invalid code with 1002", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_CLOSE, Buffer.from([0x03])));
    assertFailed(p, 1002, "close frame too short: 1 byte, expected 0 or at least 2");
    const q = new Protocol(side);
    q.receiveData(fromPeer(side, OP_CLOSE, closePayload(1005)));
    assertFailed(q, 1002, "invalid close code: 1005");
  });
});

describe("Protocol EOF and failure", () => {
  sides("EOF without a close frame: code 1006, no close frame sent", (side) => {
    const p = new Protocol(side);
    p.receiveData(fromPeer(side, OP_TEXT, "partial").subarray(0, 5));
    p.receiveEof();
    assert.equal(p.state, CLOSED);
    assert.equal(p.closeCode, 1006);
    assert.equal(p.closeReason, "");
    assert.equal(p.parserExc?.message, "unexpected end of stream");
    const { frames, eof } = written(p);
    assert.deepEqual(frames, []);
    assert.equal(eof, true, "both sides half-close");
    const exc = p.closeExc;
    assert.ok(exc instanceof ConnectionClosedError);
    assert.equal(exc.cause, p.parserExc);
    p.receiveEof();
    assert.deepEqual(p.dataToSend(), [], "idempotent");
    assert.throws(() => p.receiveData(Buffer.from("x")), {
      name: "InvalidState",
      message: /after EOF/,
    });
  });

  sides("fail() sends a close frame, half-closes on the server side and ignores input", (side) => {
    const p = new Protocol(side);
    p.fail(1011, "oops");
    p.parserExc = new Error("for assertFailed");
    assertFailed(p, 1011, "oops");
    assert.throws(() => p.sendText("x"), InvalidState);
    p.sendPing(Buffer.from("control frames remain allowed while CLOSING"));
    p.receiveEof();
    assert.equal(p.state, CLOSED);
    assert.equal(p.closeCode, 1006);
  });

  it("fail() truncates a reason over 123 bytes", () => {
    const p = new Protocol("server");
    p.fail(1002, "é".repeat(100));
    const [frame] = written(p).frames;
    assert.equal(frame.data.length, 2 + 122);
  });

  it("fail() in CLOSING doesn't send a second close frame", () => {
    const p = new Protocol("server");
    p.sendClose(1000);
    p.dataToSend();
    p.fail(1002, "late");
    assert.deepEqual(p.dataToSend(), [Buffer.alloc(0)]);
  });

  it("fail(1006) sends no close frame", () => {
    const p = new Protocol("client");
    p.fail(1006);
    assert.deepEqual(p.dataToSend(), []);
    assert.equal(p.state, OPEN);
    assert.equal(p.closeExpected(), false);
    p.receiveEof();
    assert.deepEqual(p.dataToSend(), [Buffer.alloc(0)]);
    assert.equal(p.state, CLOSED);
  });

  it("fail() after receiving a close frame records the order", () => {
    class Peek extends Protocol {
      failAfterClose(): void {
        this.closeRcvd = { code: 1000, reason: "" } as Protocol["closeRcvd"];
        this.fail(1002, "x");
      }
    }
    const p = new Peek("server");
    p.failAfterClose();
    assert.equal(p.closeRcvdThenSent, true);
  });

  sides(
    "an unexpected error while parsing fails with 1011 and no reason, and is logged",
    (side) => {
      const { logger, records } = makeLogger(false);
      const p = new Protocol(side, { logger });
      const boom = new TypeError("internal detail");
      p.extensions = [
        {
          name: "broken",
          decode: () => {
            throw boom;
          },
          encode: (f: Frame) => f,
        },
      ];
      p.receiveData(fromPeer(side, OP_TEXT, "x"));
      assertFailed(p, 1011, "");
      assert.equal(p.parserExc, boom);
      assert.deepEqual(records, [["error", { err: boom }, "parser failed"]]);
    },
  );
});

describe("Protocol extensions", () => {
  /** Marks data frames with RSV1 and reverses their payload, as a stand-in for a real codec. */
  function reverser(): Extension {
    return {
      name: "x-reverse",
      encode(frame) {
        if (frame.opcode >= 8) return frame;
        return new Frame(frame.opcode, Buffer.from(frame.data).reverse(), frame.fin, true);
      },
      decode(frame, maxSize) {
        if (!frame.rsv1 || frame.opcode >= 8) return frame;
        if (maxSize !== null && frame.data.length > maxSize)
          throw new PayloadTooBig(frame.data.length, maxSize);
        return new Frame(frame.opcode, Buffer.from(frame.data).reverse(), frame.fin, false);
      },
    };
  }

  sides("encodes frames sent and decodes frames received", (side) => {
    const p = new Protocol(side);
    p.extensions = [reverser()];
    p.sendText("abc");
    const [frame] = written(p).frames;
    assert.deepEqual([frame.rsv, frame.data.toString()], [0x40, "cba"]);
    p.receiveData(fromPeer(side, OP_TEXT, "cba", { rsv: 0x40 }));
    const [event] = frameEvents(p);
    assert.deepEqual([event.rsv1, event.data.toString()], [false, "abc"]);
  });

  sides("rejects RSV bits the extensions leave set with 1002", (side) => {
    const p = new Protocol(side);
    p.extensions = [reverser()];
    p.receiveData(fromPeer(side, OP_PING, "x", { rsv: 0x40 }));
    assertFailed(p, 1002, "reserved bits must be 0: got 0x40");
  });

  sides("rejects RSV bits from the header without extensions", (side) => {
    const p = new Protocol(side);
    p.receiveData(
      fromPeer(side, OP_TEXT, "x", { rsv: 0x40 }).subarray(0, side === "server" ? 6 : 2),
    );
    assertFailed(p, 1002, "reserved bits must be 0: got 0x40");
  });

  it("decodes with the extensions in reverse order", () => {
    const order: string[] = [];
    const tag = (name: string): Extension => ({
      name,
      encode: (f) => f,
      decode: (f) => {
        order.push(name);
        return f;
      },
    });
    const p = new Protocol("client");
    p.extensions = [tag("a"), tag("b")];
    p.receiveData(fromServer(OP_BINARY, "x"));
    assert.deepEqual(order, ["b", "a"]);
  });

  it("validates UTF-8 after decoding", () => {
    const p = new Protocol("client");
    p.extensions = [reverser()];
    // "é" reversed on the wire isn't UTF-8, but decodes fine.
    p.receiveData(fromServer(OP_TEXT, Buffer.from("é").reverse(), { rsv: 0x40 }));
    assert.equal(frameEvents(p)[0].data.toString(), "é");
  });

  it("checks maxSize after decoding", () => {
    const grow: Extension = {
      name: "x-grow",
      encode: (f) => f,
      decode: (f) => new Frame(f.opcode, Buffer.alloc(f.data.length * 10), f.fin),
    };
    const p = new Protocol("client", { maxSize: 50 });
    p.extensions = [grow];
    p.receiveData(fromServer(OP_BINARY, Buffer.alloc(10)));
    assertFailed(p, 1009, "message with 100 bytes exceeds limit of 50 bytes");
    // Summed over fragments too.
    const q = new Protocol("client", { maxSize: 50 });
    q.extensions = [grow];
    q.receiveData(fromServer(OP_BINARY, Buffer.alloc(3), { fin: false }));
    q.receiveData(fromServer(OP_CONT, Buffer.alloc(3)));
    assertFailed(q, 1009, "message with 60 bytes exceeds limit of 50 bytes");
  });
});

describe("Protocol opening handshake hooks", () => {
  class Handshaking extends Protocol {
    received: Buffer[] = [];
    constructor(side: Side, options?: ProtocolOptions) {
      super(side, { ...options, state: CONNECTING });
    }
    protected override receiveHandshakeData(data: Buffer): void {
      this.received.push(data);
      const text = data.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (text.startsWith("NO")) {
        this.handshakeExc = new InvalidMessage("rejected");
        this.sendBytes(Buffer.from("HTTP/1.1 400\r\n\r\n"));
        this.sendEof();
        this.discardInput();
      } else if (end !== -1) {
        this.pushEvent({
          status: 101,
          reason: "OK",
          headers: new Map() as never,
          body: Buffer.alloc(0),
        });
        this.sendBytes(Buffer.alloc(0));
        this.openWith(data.subarray(end + 4));
      }
    }
  }

  it("routes bytes to the handshake while CONNECTING, then frames after openWith", () => {
    const p = new Handshaking("client");
    assert.equal(p.closeExpected(), false);
    p.receiveData(Buffer.concat([Buffer.from("HTTP/1.1 101\r\n\r\n"), fromServer(OP_TEXT, "hi")]));
    assert.equal(p.state, OPEN);
    const events: Event[] = p.eventsReceived();
    assert.equal(events.length, 2);
    assert.ok(events[1] instanceof Frame);
    assert.equal(events[1].data.toString(), "hi");
    assert.deepEqual(p.dataToSend(), [], "sendBytes ignores empty buffers");
  });

  it("after a failed handshake, discards input and moves to CLOSED on EOF", () => {
    const p = new Handshaking("server");
    p.receiveData(Buffer.from("NO\r\n\r\n"));
    assert.equal(p.closeExpected(), true);
    assert.deepEqual(splitOutput(p.dataToSend()).eof, true);
    p.receiveData(Buffer.from("more"));
    assert.equal(p.received.length, 1);
    p.receiveEof();
    assert.equal(p.state, CLOSED);
    assert.deepEqual(p.dataToSend(), []);
    assert.equal(p.handshakeExc?.message, "rejected");
  });

  sides("EOF during the handshake sets handshakeExc, sends EOF and closes", (side) => {
    const p = new Handshaking(side);
    p.receiveData(Buffer.from("HTTP/1.1 1"));
    p.receiveEof();
    assert.equal(p.state, CLOSED);
    assert.ok(p.handshakeExc instanceof InvalidMessage);
    assert.deepEqual(p.dataToSend(), [Buffer.alloc(0)]);
    assert.equal(p.closeCode, 1006);
  });

  it("the base class has no handshake to parse", () => {
    const p = new Protocol("server", { state: CONNECTING });
    assert.throws(() => p.receiveData(Buffer.from("GET /")), InvalidState);
  });

  it("refuses to send data while CONNECTING", () => {
    const p = new Protocol("client", { state: CONNECTING });
    assert.throws(() => p.sendText("x"), {
      name: "InvalidState",
      message: "connection is connecting",
    });
    assert.throws(() => p.sendPing(Buffer.alloc(0)), InvalidState);
  });
});

describe("Protocol logging", () => {
  it("logs frames, states and EOF at debug level", () => {
    const { logger, records } = makeLogger(true);
    const p = new Protocol("server", { logger });
    p.sendText("hi");
    p.receiveData(fromPeer("server", OP_PING, "x"));
    p.receiveData(fromPeer("server", OP_TEXT, Buffer.from([0xff])));
    p.receiveEof();
    const messages = records.map((r) => r[1]);
    const close = Buffer.concat([closePayload(1007), Buffer.from("invalid UTF-8 in text message")]);
    assert.deepEqual(messages, [
      `> ${formatFrame(new Frame(OP_TEXT, Buffer.from("hi")))}`,
      `< ${formatFrame(new Frame(OP_PING, Buffer.from("x")))}`,
      `> ${formatFrame(new Frame(OP_PONG, Buffer.from("x")))}`,
      `< ${formatFrame(new Frame(OP_TEXT, Buffer.from([0xff])))}`,
      "! failing connection with code 1007",
      `> ${formatFrame(new Frame(OP_CLOSE, close))}`,
      "= connection is CLOSING",
      "> EOF",
      "< EOF",
      "= connection is CLOSED",
    ]);
  });

  it("checks whether debug is enabled once, at construction, and logs nothing when off", () => {
    const { logger, records, checks } = makeLogger(false);
    const p = new Protocol("client", { logger });
    p.sendText("hi");
    p.receiveData(fromServer(OP_CLOSE, closePayload(1000)));
    p.receiveEof();
    assert.deepEqual(records, []);
    assert.equal(checks(), 1);
  });
});

function makeLogger(debug: boolean): {
  logger: LoggerLike;
  records: unknown[][];
  checks: () => number;
} {
  const records: unknown[][] = [];
  let checks = 0;
  const log =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      if (level === "debug" && !debug) return;
      records.push(msg === undefined ? [level, objOrMsg] : [level, objOrMsg, msg]);
    };
  const logger: LoggerLike = {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    isLevelEnabled: (level) => {
      checks++;
      return level !== "debug" || debug;
    },
  };
  return { logger, records, checks: () => checks };
}

describe("Protocol parsing pause", () => {
  /** Stands in for a codec: clears RSV1 and reverses the payload, counted as decoded. */
  function reverser(): Extension {
    return {
      name: "x-reverse",
      encode: (frame) => frame,
      decode(frame) {
        if (!frame.rsv1) return frame;
        return new Frame(frame.opcode, Buffer.from(frame.data).reverse(), frame.fin, false);
      },
    };
  }

  /** A protocol with the budget on: maxSize 10, so 3 frames of 4 bytes fill a batch. */
  function bounded(side: Side): Protocol {
    const p = new Protocol(side, { maxSize: 10 });
    p.extensions = [reverser()];
    p.boundDecoding = true;
    return p;
  }

  function texts(p: Protocol): string[] {
    return frameEvents(p).map((f) => f.data.toString());
  }

  /** Frames "0000", "1111"... as the peer sends them: reversed, RSV1 set. */
  function wire(side: Side, count: number): Buffer {
    const frames = [];
    for (let i = 0; i < count; i++) {
      const payload = Buffer.from(String(i).repeat(4)).reverse();
      frames.push(fromPeer(side, OP_TEXT, payload, { rsv: 0x40 }));
    }
    return Buffer.concat(frames);
  }

  sides("parses everything by default", (side) => {
    const p = new Protocol(side, { maxSize: 10 });
    p.extensions = [reverser()];
    assert.equal(p.boundDecoding, false);
    p.receiveData(wire(side, 8));
    assert.equal(texts(p).length, 8);
    assert.equal(p.parsingPaused, false);
  });

  sides("pauses once a batch decoded maxSize bytes and resumes batch by batch", (side) => {
    const p = bounded(side);
    p.receiveData(wire(side, 8));
    assert.deepEqual(texts(p), ["0000", "1111", "2222"]);
    assert.equal(p.parsingPaused, true);
    // Bytes received while paused wait behind the held ones.
    p.receiveData(fromPeer(side, OP_TEXT, "9999", { rsv: 0x40 }));
    assert.deepEqual(texts(p), []);
    p.resumeParsing();
    assert.deepEqual(texts(p), ["3333", "4444", "5555"]);
    assert.equal(p.parsingPaused, true);
    p.resumeParsing();
    assert.deepEqual(texts(p), ["6666", "7777", "9999"]);
    assert.equal(p.parsingPaused, true, "the last frame filled the budget");
    p.resumeParsing();
    assert.equal(p.parsingPaused, false);
    assert.deepEqual(texts(p), []);
  });

  sides("keeps order when frames span chunks", (side) => {
    const p = bounded(side);
    const received: string[] = [];
    for (const chunk of randomChunks(wire(side, 20), 7)) {
      p.receiveData(chunk);
      received.push(...texts(p));
      for (let i = 0; i < 20 && p.parsingPaused; i++) {
        p.resumeParsing();
        received.push(...texts(p));
      }
    }
    assert.deepEqual(
      received,
      Array.from({ length: 20 }, (_, i) => String(i).repeat(4)),
    );
  });

  sides("starts a budget afresh with each receiveData", (side) => {
    const p = bounded(side);
    for (let i = 0; i < 5; i++) {
      p.receiveData(wire(side, 2));
      assert.equal(texts(p).length, 2);
      assert.equal(p.parsingPaused, false);
    }
  });

  sides("doesn't count frames without extensions", (side) => {
    const p = new Protocol(side, { maxSize: 10 });
    p.boundDecoding = true;
    const frames = [];
    for (let i = 0; i < 8; i++) frames.push(fromPeer(side, OP_TEXT, "abcd"));
    p.receiveData(Buffer.concat(frames));
    assert.equal(texts(p).length, 8);
    assert.equal(p.parsingPaused, false);
  });

  sides("pauseParsing holds bytes until resumeParsing", (side) => {
    const p = new Protocol(side);
    p.pauseParsing();
    assert.equal(p.parsingPaused, true);
    p.receiveData(fromPeer(side, OP_TEXT, "a"));
    p.receiveData(fromPeer(side, OP_PING, "b"));
    assert.deepEqual(p.eventsReceived(), []);
    assert.deepEqual(p.dataToSend(), []);
    p.resumeParsing();
    assert.deepEqual(texts(p), ["a", "b"]);
    assert.equal(written(p).frames[0].opcode, OP_PONG);
  });

  sides("receiveEof parses held bytes first", (side) => {
    const p = bounded(side);
    p.receiveData(Buffer.concat([wire(side, 4), fromPeer(side, OP_CLOSE, closePayload(1000))]));
    assert.equal(p.parsingPaused, true);
    p.receiveEof();
    assert.equal(p.parsingPaused, false);
    const events = frameEvents(p);
    assert.deepEqual(events.map((f) => f.data.toString()).slice(0, 4), [
      "0000",
      "1111",
      "2222",
      "3333",
    ]);
    assert.equal(events[4].opcode, OP_CLOSE);
    assert.equal(p.closeRcvd?.code, 1000);
    assert.equal(p.state, CLOSED);
  });

  sides("drops held bytes once the connection failed", (side) => {
    const p = bounded(side);
    p.receiveData(wire(side, 4));
    p.fail(1008, "policy");
    p.resumeParsing();
    assert.deepEqual(texts(p), ["0000", "1111", "2222"]);
    assert.equal(p.parsingPaused, false);
  });
});
