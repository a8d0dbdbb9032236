// Autobahn|Testsuite categories 1 to 7, replayed against the sans-I/O
// Protocol on both sides, with byte-exact inputs and outputs.
//
// Each case lists the frames the peer (the fuzzer) sends and the frames we
// must write, as Autobahn expects of an echo endpoint: messages are echoed
// back, pings answered, close frames echoed, protocol violations failed with
// the right close code. The peer's frames are delivered frame by frame (as
// the fuzzer writes them), byte by byte, and all at once; the first two must
// give exactly the expected output, the last the same events and control
// frames (the echo application only runs between deliveries).

import { strict as assert } from "node:assert";
import { isUtf8 } from "node:buffer";
import { describe, it } from "node:test";
import {
  Frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "../../src/frames.ts";
import { CLOSED, OPEN, Protocol, type Side } from "../../src/protocol.ts";
import { closePayload, decodeAll, fromPeer, fromServer, splitOutput } from "../support/wire.ts";

interface PeerFrame {
  op: number;
  data?: Buffer | string;
  fin?: boolean;
  rsv?: number;
}

interface OutFrame {
  op: number;
  data: Buffer | string;
}

interface Case {
  id: string;
  /** Frames the peer sends. */
  input: PeerFrame[];
  /** Frames we must write, in order (echoes included). */
  output: OutFrame[];
  /** Close code and reason we fail with; `output` then ends with that close frame. */
  fail?: [code: number, reason: string];
  /** Index in `input` of the frame after which we must have failed (fail-fast). */
  failAfter?: number;
  /** Extra deliveries: explicit chunks of the whole input. */
  chunks?: number[][];
}

const frame = (op: number, data: Buffer | string = "", fin = true, rsv = 0): PeerFrame => ({
  op,
  data,
  fin,
  rsv,
});
const out = (op: number, data: Buffer | string = ""): OutFrame => ({ op, data });
const close = (code: number, reason = ""): Buffer => closePayload(code, reason);
const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ""), "hex");
const NORMAL_CLOSE = close(1000);

/** An echo application on top of the protocol: assembles messages and sends them back. */
class Echo {
  #parts: Buffer[] = [];
  #text = false;
  readonly events: Frame[] = [];

  constructor(readonly protocol: Protocol) {}

  run(): void {
    for (const event of this.protocol.eventsReceived()) {
      assert.ok(event instanceof Frame);
      this.events.push(event);
      if (event.opcode === OP_TEXT || event.opcode === OP_BINARY) {
        this.#text = event.opcode === OP_TEXT;
        this.#parts = [Buffer.from(event.data)];
      } else if (event.opcode === OP_CONT) {
        this.#parts.push(Buffer.from(event.data));
      } else {
        continue;
      }
      if (!event.fin) continue;
      const message = Buffer.concat(this.#parts);
      this.#parts = [];
      if (this.protocol.state !== OPEN) continue;
      if (this.#text) {
        // The protocol validated it: decoding without checks is safe.
        assert.ok(isUtf8(message));
        this.protocol.sendText(message);
      } else {
        this.protocol.sendBinary(message);
      }
    }
  }
}

function inputBytes(side: Side, input: PeerFrame[]): Buffer[] {
  return input.map((f) => fromPeer(side, f.op, f.data, { fin: f.fin, rsv: f.rsv }));
}

interface Run {
  bytes: Buffer;
  eof: boolean;
  events: Frame[];
  protocol: Protocol;
  /** Index of the chunk after which the protocol had failed, or -1. */
  failedAt: number;
}

function run(side: Side, chunks: Buffer[]): Run {
  const protocol = new Protocol(side);
  const echo = new Echo(protocol);
  const output: Buffer[] = [];
  let failedAt = -1;
  chunks.forEach((chunk, i) => {
    protocol.receiveData(chunk);
    echo.run();
    output.push(...protocol.dataToSend());
    if (failedAt === -1 && protocol.parserExc !== null) failedAt = i;
  });
  const { bytes, eof } = splitOutput(output);
  return { bytes, eof, events: echo.events, protocol, failedAt };
}

function expectedFrames(c: Case): OutFrame[] {
  return c.fail === undefined ? c.output : [...c.output, out(OP_CLOSE, close(...c.fail))];
}

function assertOutput(side: Side, actual: Buffer, expected: OutFrame[], label: string): void {
  if (side === "server") {
    // Servers don't mask: the bytes are fully determined.
    const bytes = Buffer.concat(expected.map((f) => fromServer(f.op, f.data)));
    assert.ok(actual.equals(bytes), `${label}: wrote ${actual.toString("hex").slice(0, 200)}`);
  } else {
    // Clients mask with random keys: compare everything but the key.
    const frames = decodeAll(actual);
    assert.deepEqual(
      frames.map((f) => ({ fin: f.fin, rsv: f.rsv, op: f.opcode, masked: f.masked, data: f.data })),
      expected.map((f) => ({
        fin: true,
        rsv: 0,
        op: f.op,
        masked: true,
        data: Buffer.from(f.data),
      })),
      label,
    );
  }
}

function check(c: Case, side: Side): void {
  const input = inputBytes(side, c.input);
  const whole = Buffer.concat(input);
  const expected = expectedFrames(c);
  const bytewise = [...whole].map((b) => Buffer.from([b]));

  const deliveries: [string, Buffer[]][] = [["frame by frame", input]];
  if (whole.length <= 70_000) deliveries.push(["byte by byte", bytewise]);
  // Frame boundaries stay chunk boundaries, so the echo application runs
  // between frames as with the fuzzer.
  const boundaries: number[] = [];
  let at = 0;
  for (const bytes of input) {
    at += bytes.length;
    boundaries.push(at);
  }
  for (const cuts of c.chunks ?? []) {
    const chunks: Buffer[] = [];
    let start = 0;
    const points = [...new Set([...cuts, ...boundaries])].sort((a, b) => a - b);
    for (const p of points) {
      chunks.push(whole.subarray(start, p));
      start = p;
    }
    deliveries.push([`in chunks at ${cuts}`, chunks]);
  }

  let reference: Run | null = null;
  for (const [label, chunks] of deliveries) {
    const r = run(side, chunks);
    assertOutput(side, r.bytes, expected, `${c.id} ${side} ${label}`);
    reference ??= r;
    assert.deepEqual(r.events, reference.events, `${c.id} ${side} ${label}: events`);
    const failed = c.fail !== undefined;
    assert.equal(
      r.protocol.parserExc !== null,
      failed,
      `${c.id} ${side} ${label}: parserExc ${r.protocol.parserExc}`,
    );
    if (failed) {
      assert.equal((r.protocol.parserExc as { closeCode?: number }).closeCode, c.fail?.[0]);
    }
    if (label === "frame by frame" && c.failAfter !== undefined) {
      assert.equal(r.failedAt, c.failAfter, `${c.id} ${side}: fails fast`);
    }
    // The server closes the transport first, the client waits for it.
    const closing = expected.some((f) => f.op === OP_CLOSE);
    assert.equal(r.eof, closing && side === "server", `${c.id} ${side} ${label}: EOF`);
    r.protocol.receiveEof();
    assert.equal(r.protocol.state, CLOSED);
    const tail = splitOutput(r.protocol.dataToSend());
    assert.equal(tail.eof, side === "client", "the client half-closes after the server");
    assert.equal(tail.bytes.length, 0);
    assert.equal(r.protocol.closeCode, failed ? 1006 : closeCodeOf(c));
  }

  // All at once: same events and the same control frames; echoes can't be
  // sent after the close frame that ends the input.
  const r = run(side, [whole]);
  assert.deepEqual(r.events, reference?.events, `${c.id} ${side} whole: events`);
  const control = (frames: { op: number; data: Buffer }[]) =>
    frames.filter((f) => f.op >= 8).map((f) => [f.op, f.data.toString("hex")]);
  assert.deepEqual(
    control(decodeAll(r.bytes).map((f) => ({ op: f.opcode, data: f.data }))),
    control(expected.map((f) => ({ op: f.op, data: Buffer.from(f.data) }))),
    `${c.id} ${side} whole: control frames`,
  );
}

function closeCodeOf(c: Case): number {
  const closeFrame = c.input.find((f) => f.op === OP_CLOSE);
  if (closeFrame === undefined) return 1006;
  const data = Buffer.from(closeFrame.data ?? "");
  return data.length === 0 ? 1005 : data.readUInt16BE(0);
}

/** A case the peer ends with a normal close, echoed. */
function closing(
  id: string,
  input: PeerFrame[],
  output: OutFrame[],
  extra: Partial<Case> = {},
): Case {
  return {
    id,
    input: [...input, frame(OP_CLOSE, NORMAL_CLOSE)],
    output: [...output, out(OP_CLOSE, NORMAL_CLOSE)],
    ...extra,
  };
}

/** A case where we fail the connection; the peer's close that follows is ignored. */
function failing(
  id: string,
  input: PeerFrame[],
  output: OutFrame[],
  fail: [number, string],
  failAfter?: number,
): Case {
  return { id, input: [...input, frame(OP_CLOSE, NORMAL_CLOSE)], output, fail, failAfter };
}

function runCases(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      it(`${c.id}`, () => {
        check(c, "server");
        check(c, "client");
      });
    }
  });
}

// --- 1. Framing --------------------------------------------------------------

const sizes = [0, 125, 126, 127, 128, 65535, 65536, 65536];
runCases("1 Framing", [
  ...sizes.map((n, i) =>
    closing(
      `1.1.${i + 1} text message with payload length ${n}`,
      [frame(OP_TEXT, "*".repeat(n))],
      [out(OP_TEXT, "*".repeat(n))],
      i === 7 ? { chunks: [Array.from({ length: 70 }, (_, k) => (k + 1) * 997)] } : {},
    ),
  ),
  ...sizes.map((n, i) =>
    closing(
      `1.2.${i + 1} binary message with payload length ${n}`,
      [frame(OP_BINARY, Buffer.alloc(n, 0xfe))],
      [out(OP_BINARY, Buffer.alloc(n, 0xfe))],
      i === 7 ? { chunks: [Array.from({ length: 70 }, (_, k) => (k + 1) * 997)] } : {},
    ),
  ),
]);

// --- 2. Pings/Pongs ----------------------------------------------------------

const pings10 = Array.from({ length: 10 }, (_, i) => `payload-${i}`);
runCases("2 Pings/Pongs", [
  closing("2.1 ping without payload", [frame(OP_PING)], [out(OP_PONG)]),
  closing(
    "2.2 ping with small text payload",
    [frame(OP_PING, "Hello, world!")],
    [out(OP_PONG, "Hello, world!")],
  ),
  closing(
    "2.3 ping with small binary payload",
    [frame(OP_PING, hex("00ff fefd fcfb 00ff"))],
    [out(OP_PONG, hex("00ff fefd fcfb 00ff"))],
  ),
  closing(
    "2.4 ping with 125 bytes of binary payload",
    [frame(OP_PING, Buffer.alloc(125, 0xfe))],
    [out(OP_PONG, Buffer.alloc(125, 0xfe))],
  ),
  failing(
    "2.5 ping with 126 bytes of payload",
    [frame(OP_PING, Buffer.alloc(126, 0xfe))],
    [],
    [1002, "control frame too long: PING with 126 bytes, limit is 125 bytes"],
    0,
  ),
  closing(
    "2.6 ping with 125 bytes of payload, in chops of 1 byte",
    [frame(OP_PING, Buffer.alloc(125, 0xfe))],
    [out(OP_PONG, Buffer.alloc(125, 0xfe))],
  ),
  closing("2.7 unsolicited pong without payload", [frame(OP_PONG)], []),
  closing("2.8 unsolicited pong with payload", [frame(OP_PONG, "unsolicited pong payload")], []),
  closing(
    "2.9 unsolicited pong, then ping",
    [frame(OP_PONG, "unsolicited pong payload"), frame(OP_PING, "ping payload")],
    [out(OP_PONG, "ping payload")],
  ),
  closing(
    "2.10 10 pings",
    pings10.map((p) => frame(OP_PING, p)),
    pings10.map((p) => out(OP_PONG, p)),
  ),
  closing(
    "2.11 10 pings, in chops of 1 byte",
    pings10.map((p) => frame(OP_PING, p)),
    pings10.map((p) => out(OP_PONG, p)),
  ),
]);

// --- 3. Reserved bits --------------------------------------------------------

const HELLO = "Hello, world!";
runCases("3 Reserved bits", [
  failing(
    "3.1 text with RSV = 1",
    [frame(OP_TEXT, HELLO, true, 0x40)],
    [],
    [1002, "reserved bits must be 0: got 0x40"],
    0,
  ),
  failing(
    "3.2 text, then text with RSV = 2, then ping",
    [frame(OP_TEXT, HELLO), frame(OP_TEXT, HELLO, true, 0x20), frame(OP_PING, HELLO)],
    [out(OP_TEXT, HELLO)],
    [1002, "reserved bits must be 0: got 0x20"],
    1,
  ),
  failing(
    "3.3 text, then text with RSV = 3, then ping",
    [frame(OP_TEXT, HELLO), frame(OP_TEXT, HELLO, true, 0x60), frame(OP_PING, HELLO)],
    [out(OP_TEXT, HELLO)],
    [1002, "reserved bits must be 0: got 0x60"],
    1,
  ),
  failing(
    "3.4 text, then text with RSV = 4, then ping, in chops of 1 byte",
    [frame(OP_TEXT, HELLO), frame(OP_TEXT, HELLO, true, 0x10), frame(OP_PING, HELLO)],
    [out(OP_TEXT, HELLO)],
    [1002, "reserved bits must be 0: got 0x10"],
    1,
  ),
  failing(
    "3.5 binary with RSV = 5",
    [frame(OP_BINARY, hex("00ff fefd fcfb 00ff"), true, 0x50)],
    [],
    [1002, "reserved bits must be 0: got 0x50"],
    0,
  ),
  failing(
    "3.6 ping with RSV = 6",
    [frame(OP_PING, HELLO, true, 0x60)],
    [],
    [1002, "reserved bits must be 0: got 0x60"],
    0,
  ),
  failing(
    "3.7 close with RSV = 7",
    [frame(OP_CLOSE, NORMAL_CLOSE, true, 0x70)],
    [],
    [1002, "reserved bits must be 0: got 0x70"],
    0,
  ),
]);

// --- 4. Opcodes ----------------------------------------------------------------

function opcodeCases(group: string, opcodes: number[]): Case[] {
  return opcodes.map((op, i) => {
    const id = `${group}.${i + 1} reserved opcode ${op}`;
    const reason: [number, string] = [1002, `invalid opcode: ${op}`];
    if (i === 0) return failing(id, [frame(op)], [], reason, 0);
    if (i === 2) {
      return failing(
        `${id} after a text message, followed by a ping`,
        [frame(OP_TEXT, HELLO), frame(op, "reserved opcode payload"), frame(OP_PING, HELLO)],
        [out(OP_TEXT, HELLO)],
        reason,
        1,
      );
    }
    return failing(`${id} with payload`, [frame(op, "reserved opcode payload")], [], reason, 0);
  });
}

runCases("4 Opcodes", [
  ...opcodeCases("4.1", [3, 4, 5, 6, 7]),
  ...opcodeCases("4.2", [11, 12, 13, 14, 15]),
]);

// --- 5. Fragmentation ------------------------------------------------------------

const frags5 = ["fragment1", "fragment2", "fragment3", "fragment4", "fragment5"];
runCases("5 Fragmentation", [
  failing(
    "5.1 ping in 2 fragments",
    [frame(OP_PING, "fragment1", false), frame(OP_CONT, "fragment2")],
    [],
    [1002, "fragmented control frame: PING"],
    0,
  ),
  failing(
    "5.2 pong in 2 fragments",
    [frame(OP_PONG, "fragment1", false), frame(OP_CONT, "fragment2")],
    [],
    [1002, "fragmented control frame: PONG"],
    0,
  ),
  closing(
    "5.3 text in 2 fragments",
    [frame(OP_TEXT, "fragment1", false), frame(OP_CONT, "fragment2")],
    [out(OP_TEXT, "fragment1fragment2")],
  ),
  closing(
    "5.6 text in 2 fragments with a ping between",
    [
      frame(OP_TEXT, "fragment1", false),
      frame(OP_PING, "ping payload"),
      frame(OP_CONT, "fragment2"),
    ],
    [out(OP_PONG, "ping payload"), out(OP_TEXT, "fragment1fragment2")],
  ),
  ...[
    ["5.9", true],
    ["5.12", false],
  ].map(([id, fin]) =>
    failing(
      `${id} continuation with FIN = ${fin} when nothing to continue, then a text message`,
      [frame(OP_CONT, "non-continuation payload", fin as boolean), frame(OP_TEXT, HELLO)],
      [],
      [1002, "unexpected continuation frame"],
      0,
    ),
  ),
  failing(
    "5.15 text in 2 fragments, then continuation FIN = false with nothing to continue, then text",
    [
      frame(OP_TEXT, "fragment1", false),
      frame(OP_CONT, "fragment2"),
      frame(OP_CONT, "fragment3", false),
      frame(OP_TEXT, "fragment4"),
    ],
    [out(OP_TEXT, "fragment1fragment2")],
    [1002, "unexpected continuation frame"],
    2,
  ),
  ...[
    ["5.16", false],
    ["5.17", true],
  ].map(([id, fin]) =>
    failing(
      `${id} twice: continuation FIN = ${fin} with nothing to continue, then text in 2 fragments`,
      [
        frame(OP_CONT, "fragment1", fin as boolean),
        frame(OP_TEXT, "fragment2", false),
        frame(OP_CONT, "fragment3"),
        frame(OP_CONT, "fragment1", fin as boolean),
        frame(OP_TEXT, "fragment2", false),
        frame(OP_CONT, "fragment3"),
      ],
      [],
      [1002, "unexpected continuation frame"],
      0,
    ),
  ),
  failing(
    "5.18 text in 2 fragments, both with opcode text",
    [frame(OP_TEXT, "fragment1", false), frame(OP_TEXT, "fragment2")],
    [],
    [1002, "expected a continuation frame, got TEXT"],
    1,
  ),
  closing(
    "5.19 text in 5 fragments with 2 pings between",
    [
      frame(OP_TEXT, frags5[0], false),
      frame(OP_CONT, frags5[1], false),
      frame(OP_PING, "pongme 1!"),
      frame(OP_CONT, frags5[2], false),
      frame(OP_CONT, frags5[3], false),
      frame(OP_PING, "pongme 2!"),
      frame(OP_CONT, frags5[4]),
    ],
    [out(OP_PONG, "pongme 1!"), out(OP_PONG, "pongme 2!"), out(OP_TEXT, frags5.join(""))],
  ),
]);

// --- 6. UTF-8 handling -------------------------------------------------------------

const KOSME = "κόσμε";
const HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!";
const kosmeBytes = Buffer.from(KOSME);
const invalid631 = Buffer.concat([kosmeBytes, hex("eda080"), Buffer.from("edited")]);

runCases("6.1-6.4 UTF-8 in fragments", [
  closing("6.1.1 empty text message", [frame(OP_TEXT)], [out(OP_TEXT)]),
  closing(
    "6.1.2 empty text message in 3 empty fragments",
    [frame(OP_TEXT, "", false), frame(OP_CONT, "", false), frame(OP_CONT)],
    [out(OP_TEXT)],
  ),
  closing(
    "6.1.3 text in 3 fragments, first and last empty",
    [frame(OP_TEXT, "", false), frame(OP_CONT, "middle frame payload", false), frame(OP_CONT)],
    [out(OP_TEXT, "middle frame payload")],
  ),
  closing(
    "6.2.1 valid UTF-8 in one frame",
    [frame(OP_TEXT, HELLO_UTF8)],
    [out(OP_TEXT, HELLO_UTF8)],
  ),
  closing(
    "6.2.2 valid UTF-8 in 2 fragments split at a code point",
    [frame(OP_TEXT, "Hello-µ@ßöä", false), frame(OP_CONT, "üàá-UTF-8!!")],
    [out(OP_TEXT, HELLO_UTF8)],
  ),
  closing(
    "6.2.4 valid UTF-8 in 1-byte fragments, splitting code points",
    [...kosmeBytes].map((b, i) =>
      frame(i === 0 ? OP_TEXT : OP_CONT, Buffer.from([b]), i === kosmeBytes.length - 1),
    ),
    [out(OP_TEXT, KOSME)],
  ),
  failing(
    "6.3.1 invalid UTF-8 in one frame",
    [frame(OP_TEXT, invalid631)],
    [],
    [1007, "invalid UTF-8 in text message"],
    0,
  ),
  failing(
    "6.4.1 invalid UTF-8 in 3 fragments: fails on the 2nd",
    [
      frame(OP_TEXT, kosmeBytes, false),
      frame(OP_CONT, hex("f4908080"), false),
      frame(OP_CONT, "edited"),
    ],
    [],
    [1007, "invalid UTF-8 in text message"],
    1,
  ),
  failing(
    "6.4.2 invalid UTF-8 in 3 fragments, the 1st ending in a sequence: fails on the 2nd",
    [
      frame(OP_TEXT, Buffer.concat([kosmeBytes, hex("f4")]), false),
      frame(OP_CONT, hex("90"), false),
      frame(OP_CONT, hex("8080 6564 6974 6564")),
    ],
    [],
    [1007, "invalid UTF-8 in text message"],
    1,
  ),
]);

// 6.4.3 and 6.4.4: one frame whose payload arrives in 3 chops; the failure
// must come with the 2nd chop, before the frame is complete.
describe("6.4.3-6.4.4 UTF-8 fail-fast inside a frame", () => {
  for (const side of ["server", "client"] as Side[]) {
    for (const [id, cuts] of [
      ["6.4.3", [kosmeBytes.length, kosmeBytes.length + 4]],
      ["6.4.4", [kosmeBytes.length + 1, kosmeBytes.length + 2]],
    ] as const) {
      it(`${id} (${side}) fails on the 2nd chop`, () => {
        const payload = Buffer.concat([kosmeBytes, hex("f4908080"), Buffer.from("edited")]);
        const bytes = fromPeer(side, OP_TEXT, payload);
        const header = bytes.length - payload.length;
        const r = run(side, [
          bytes.subarray(0, header + cuts[0]),
          bytes.subarray(header + cuts[0], header + cuts[1]),
          bytes.subarray(header + cuts[1]),
        ]);
        assert.equal(r.failedAt, 1);
        assertOutput(
          side,
          r.bytes,
          [out(OP_CLOSE, close(1007, "invalid UTF-8 in text message"))],
          id,
        );
        assert.deepEqual(r.events, []);
      });
    }
  }
});

// 6.5 to 6.23: the UTF-8 samples of Autobahn (Markus Kuhn's stress test),
// every class of invalid sequence.
const VALID_SAMPLES: [string, string][] = [
  ["6.5.1 κόσμε", "cebae1bdb9cf83cebcceb5"],
  ["6.5.2 U+0080 + U+0800", "c280e0a080"],
  ["6.5.3 U+FFFD", "efbfbd"],
  ["6.5.4 four-byte", "f09d849e"],
  ["6.5.5 mixed", "e29c93c3a9f09f9880"],
  ["6.6.2 κ", "ceba"],
  ["6.6.5 κό", "cebae1bdb9"],
  ["6.6.8 κόσ", "cebae1bdb9cf83"],
  ["6.6.10 κόσμ", "cebae1bdb9cf83cebc"],
  ["6.7.1 U+0000", "00"],
  ["6.7.2 U+0080", "c280"],
  ["6.7.3 U+0800", "e0a080"],
  ["6.7.4 U+10000", "f0908080"],
  ["6.9.1 U+007F", "7f"],
  ["6.9.2 U+07FF", "dfbf"],
  ["6.9.3 U+FFFF", "efbfbf"],
  ["6.9.4 U+10FFFF", "f48fbfbf"],
  ["6.11.1 U+D7FF", "ed9fbf"],
  ["6.11.2 U+E000", "ee8080"],
  ["6.11.3 U+FFFD", "efbfbd"],
  ["6.11.4 U+10FFFF", "f48fbfbf"],
  ["6.22.1 noncharacter U+FFFE", "efbfbe"],
  ["6.22.2 noncharacter U+1FFFE", "f09fbfbe"],
  ["6.22.3 noncharacter U+10FFFF", "f48fbfbf"],
  ["6.22.4 noncharacter U+FDD0", "efb790"],
  ["6.23.1 U+FFFD after ASCII", "41efbfbd42"],
];

const INVALID_SAMPLES: [string, string][] = [
  ["6.6.1 truncated κ", "ce"],
  ["6.6.3 truncated ό", "cebae1"],
  ["6.6.4 truncated ό", "cebae1bd"],
  ["6.6.6 truncated σ", "cebae1bdb9cf"],
  ["6.6.9 truncated μ", "cebae1bdb9cf83ce"],
  ["6.8.1 5-byte sequence", "f888808080"],
  ["6.8.2 6-byte sequence", "fc8480808080"],
  ["6.10.1 beyond U+10FFFF, 4 bytes", "f7bfbfbf"],
  ["6.10.2 5-byte last", "fbbfbfbfbf"],
  ["6.10.3 6-byte last", "fdbfbfbfbfbf"],
  ["6.11.5 U+110000", "f4908080"],
  ["6.12.1 unexpected continuation 0x80", "80"],
  ["6.12.2 unexpected continuation 0xBF", "bf"],
  ["6.12.3 2 continuations", "80bf"],
  ["6.12.4 3 continuations", "80bf80"],
  ["6.12.5 4 continuations", "80bf80bf"],
  [
    "6.12.8 all 64 continuations",
    Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i)).toString("hex"),
  ],
  [
    "6.13.1 lonely 2-byte leads",
    Buffer.from(Array.from({ length: 32 }, (_, i) => [0xc0 + i, 0x20]).flat()).toString("hex"),
  ],
  [
    "6.13.2 lonely 3-byte leads",
    Buffer.from(Array.from({ length: 16 }, (_, i) => [0xe0 + i, 0x20]).flat()).toString("hex"),
  ],
  [
    "6.13.3 lonely 4-byte leads",
    Buffer.from(Array.from({ length: 8 }, (_, i) => [0xf0 + i, 0x20]).flat()).toString("hex"),
  ],
  ["6.13.4 lonely 5-byte leads", "f820f920fa20fb20"],
  ["6.13.5 lonely 6-byte leads", "fc20fd20"],
  ["6.14.1 last byte missing, 2-byte U+0000", "c0"],
  ["6.14.2 last byte missing, 3-byte U+0000", "e080"],
  ["6.14.3 last byte missing, 4-byte U+0000", "f08080"],
  ["6.14.4 last byte missing, 5-byte", "f8808080"],
  ["6.14.5 last byte missing, 6-byte", "fc80808080"],
  ["6.14.6 last byte missing, 2-byte U+07FF", "df"],
  ["6.14.7 last byte missing, 3-byte U+FFFF", "efbf"],
  ["6.14.8 last byte missing, 4-byte", "f7bfbf"],
  ["6.14.9 last byte missing, 5-byte", "fbbfbfbf"],
  ["6.14.10 last byte missing, 6-byte", "fdbfbfbfbf"],
  [
    "6.15.1 concatenated incomplete sequences",
    "c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf",
  ],
  ["6.16.1 impossible byte 0xFE", "fe"],
  ["6.16.2 impossible byte 0xFF", "ff"],
  ["6.16.3 impossible bytes", "fefeffff"],
  ["6.17.1 overlong '/', 2 bytes", "c0af"],
  ["6.17.2 overlong '/', 3 bytes", "e080af"],
  ["6.17.3 overlong '/', 4 bytes", "f08080af"],
  ["6.17.4 overlong '/', 5 bytes", "f8808080af"],
  ["6.17.5 overlong '/', 6 bytes", "fc80808080af"],
  ["6.18.1 maximum overlong, 2 bytes", "c1bf"],
  ["6.18.2 maximum overlong, 3 bytes", "e09fbf"],
  ["6.18.3 maximum overlong, 4 bytes", "f08fbfbf"],
  ["6.18.4 maximum overlong, 5 bytes", "f887bfbfbf"],
  ["6.18.5 maximum overlong, 6 bytes", "fc83bfbfbfbf"],
  ["6.19.1 overlong NUL, 2 bytes", "c080"],
  ["6.19.2 overlong NUL, 3 bytes", "e08080"],
  ["6.19.3 overlong NUL, 4 bytes", "f0808080"],
  ["6.19.4 overlong NUL, 5 bytes", "f880808080"],
  ["6.19.5 overlong NUL, 6 bytes", "fc8080808080"],
  ["6.20.1 surrogate U+D800", "eda080"],
  ["6.20.2 surrogate U+DB7F", "edadbf"],
  ["6.20.3 surrogate U+DB80", "edae80"],
  ["6.20.4 surrogate U+DBFF", "edafbf"],
  ["6.20.5 surrogate U+DC00", "edb080"],
  ["6.20.6 surrogate U+DF80", "edbe80"],
  ["6.20.7 surrogate U+DFFF", "edbfbf"],
  ["6.21.1 surrogate pair U+D800 U+DC00", "eda080edb080"],
  ["6.21.2 surrogate pair U+D800 U+DFFF", "eda080edbfbf"],
  ["6.21.3 surrogate pair U+DB7F U+DC00", "edadbfedb080"],
  ["6.21.4 surrogate pair U+DB7F U+DFFF", "edadbfedbfbf"],
  ["6.21.5 surrogate pair U+DB80 U+DC00", "edae80edb080"],
  ["6.21.6 surrogate pair U+DB80 U+DFFF", "edae80edbfbf"],
  ["6.21.7 surrogate pair U+DBFF U+DC00", "edafbfedb080"],
  ["6.21.8 surrogate pair U+DBFF U+DFFF", "edafbfedbfbf"],
  ["6.3.1 surrogate inside text", invalid631.toString("hex")],
];

/**
 * Index of the first byte after which `bytes` can't be the start of valid
 * UTF-8 (appending up to 3 continuation bytes can't fix it), or -1 when only
 * its end is incomplete.
 */
function firstUnrecoverable(bytes: Buffer): number {
  const completions = [
    [],
    [0x80],
    [0x90],
    [0xa0],
    [0x80, 0x80],
    [0x90, 0x80],
    [0xa0, 0x80],
    [0x80, 0x80, 0x80],
    [0x90, 0x80, 0x80],
  ];
  for (let i = 0; i < bytes.length; i++) {
    const prefix = bytes.subarray(0, i + 1);
    if (!completions.some((c) => isUtf8(Buffer.concat([prefix, Buffer.from(c)])))) return i;
  }
  return -1;
}

describe("6.5-6.23 UTF-8 samples", () => {
  for (const [id, sample] of VALID_SAMPLES) {
    const data = hex(sample);
    assert.ok(isUtf8(data), id);
    it(`${id}: valid, echoed`, () => {
      const c = closing(id, [frame(OP_TEXT, data)], [out(OP_TEXT, data)]);
      check(c, "server");
      check(c, "client");
      // Split into 2 fragments at every position, code points included.
      for (let i = 0; i <= data.length; i++) {
        const split = closing(
          `${id} split at ${i}`,
          [frame(OP_TEXT, data.subarray(0, i), false), frame(OP_CONT, data.subarray(i))],
          [out(OP_TEXT, data)],
        );
        check(split, "server");
        check(split, "client");
      }
    });
  }

  for (const [id, sample] of INVALID_SAMPLES) {
    const data = hex(sample);
    assert.ok(!isUtf8(data), id);
    const unrecoverable = firstUnrecoverable(data);
    // A truncated sequence is detected when the message ends.
    const bad = unrecoverable === -1 ? data.length - 1 : unrecoverable;
    it(`${id}: invalid, fails with 1007 at byte ${bad}`, () => {
      const reason: [number, string] = [1007, "invalid UTF-8 in text message"];
      for (const side of ["server", "client"] as Side[]) {
        check(failing(id, [frame(OP_TEXT, data)], [], reason, 0), side);
        // Byte by byte inside one frame: fails on the offending byte.
        const bytes = fromPeer(side, OP_TEXT, data);
        const header = bytes.length - data.length;
        const r = run(
          side,
          [...bytes].map((b) => Buffer.from([b])),
        );
        assert.equal(r.failedAt, header + bad, `${id} ${side}: fails on payload byte ${bad}`);
        // In 2 fragments split anywhere: fails on the fragment holding the offending byte.
        for (let i = 0; i <= data.length; i++) {
          const c = failing(
            `${id} split at ${i}`,
            [frame(OP_TEXT, data.subarray(0, i), false), frame(OP_CONT, data.subarray(i))],
            [],
            reason,
            unrecoverable !== -1 && unrecoverable < i ? 0 : 1,
          );
          check(c, side);
        }
      }
    });
  }
});

// --- 7. Close handling -----------------------------------------------------------------

const valid7 = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
const invalid7 = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
const big = Buffer.alloc(256 * 1024);
for (let i = 0; i < big.length; i++) big[i] = "BAsd7&jh23".charCodeAt(i % 10);

runCases("7 Close handling", [
  {
    id: "7.1.1 text message, then close",
    input: [frame(OP_TEXT, "Hello World!"), frame(OP_CLOSE, NORMAL_CLOSE)],
    output: [out(OP_TEXT, "Hello World!"), out(OP_CLOSE, NORMAL_CLOSE)],
  },
  {
    id: "7.1.2 two close frames",
    input: [frame(OP_CLOSE, NORMAL_CLOSE), frame(OP_CLOSE, NORMAL_CLOSE)],
    output: [out(OP_CLOSE, NORMAL_CLOSE)],
  },
  {
    id: "7.1.3 ping after close",
    input: [frame(OP_CLOSE, NORMAL_CLOSE), frame(OP_PING, "Hello World!")],
    output: [out(OP_CLOSE, NORMAL_CLOSE)],
  },
  {
    id: "7.1.4 text after close",
    input: [frame(OP_CLOSE, NORMAL_CLOSE), frame(OP_TEXT, "Hello World!")],
    output: [out(OP_CLOSE, NORMAL_CLOSE)],
  },
  {
    id: "7.1.5 fragment, close, then the last fragment: a clean close",
    input: [
      frame(OP_TEXT, "fragment1", false),
      frame(OP_CLOSE, NORMAL_CLOSE),
      frame(OP_CONT, "fragment2"),
    ],
    output: [out(OP_CLOSE, NORMAL_CLOSE)],
  },
  {
    id: "7.1.6 256 KiB message, close, then ping",
    input: [frame(OP_BINARY, big), frame(OP_CLOSE, NORMAL_CLOSE), frame(OP_PING, "Hello World!")],
    output: [out(OP_BINARY, big), out(OP_CLOSE, NORMAL_CLOSE)],
  },
  { id: "7.3.1 close with an empty payload", input: [frame(OP_CLOSE)], output: [out(OP_CLOSE)] },
  {
    id: "7.3.2 close with a 1-byte payload",
    input: [frame(OP_CLOSE, "a")],
    output: [],
    fail: [1002, "close frame too short: 1 byte, expected 0 or at least 2"],
  },
  {
    id: "7.3.3 close with a code",
    input: [frame(OP_CLOSE, NORMAL_CLOSE)],
    output: [out(OP_CLOSE, NORMAL_CLOSE)],
  },
  {
    id: "7.3.4 close with a code and a reason",
    input: [frame(OP_CLOSE, close(1000, "Hello World!"))],
    output: [out(OP_CLOSE, close(1000, "Hello World!"))],
  },
  {
    id: "7.3.5 close with a 123-byte reason",
    input: [frame(OP_CLOSE, close(1000, "*".repeat(123)))],
    output: [out(OP_CLOSE, close(1000, "*".repeat(123)))],
  },
  {
    id: "7.3.6 close with a 124-byte reason: a 126-byte control frame",
    input: [frame(OP_CLOSE, close(1000, "*".repeat(124)))],
    output: [],
    fail: [1002, "control frame too long: CLOSE with 126 bytes, limit is 125 bytes"],
  },
  {
    id: "7.5.1 close with an invalid UTF-8 reason",
    input: [frame(OP_CLOSE, Buffer.concat([close(1000), invalid631]))],
    output: [],
    fail: [1007, `invalid UTF-8 in close reason: ${invalid631.toString("hex")}`],
  },
  ...valid7.map((code) => ({
    id: `7.7 close with valid code ${code}, echoed`,
    input: [frame(OP_CLOSE, close(code))],
    output: [out(OP_CLOSE, close(code))],
  })),
  ...invalid7.map((code) => ({
    id: `7.9/7.13 close with invalid code ${code}`,
    input: [frame(OP_CLOSE, close(code))],
    output: [],
    fail: [1002, `invalid close code: ${code}`] as [number, string],
  })),
]);

describe("7 Close handling after we sent a close frame", () => {
  for (const side of ["server", "client"] as Side[]) {
    it(`data received after our close is dropped; the peer's close completes the handshake (${side})`, () => {
      const p = new Protocol(side);
      p.sendClose(1001, "going away");
      const sent = splitOutput(p.dataToSend());
      assertOutput(side, sent.bytes, [out(OP_CLOSE, close(1001, "going away"))], "close");
      p.receiveData(
        Buffer.concat(inputBytes(side, [frame(OP_TEXT, "late"), frame(OP_CLOSE, close(1001))])),
      );
      assert.deepEqual(
        p.eventsReceived().map((e) => (e as Frame).opcode),
        [OP_CLOSE],
      );
      assert.deepEqual(splitOutput(p.dataToSend()), {
        bytes: Buffer.alloc(0),
        eof: side === "server",
      });
      p.receiveEof();
      assert.equal(p.closeCode, 1001);
      assert.equal(p.closeRcvdThenSent, false);
    });
  }
});
