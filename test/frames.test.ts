import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  CLOSE_NO_STATUS_RCVD,
  Close,
  Frame,
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_TEXT,
  serializeFrame,
  truncateCloseReason,
  writeFrame,
  ZERO_COPY_THRESHOLD,
} from "../src/frames.ts";
import { assertProtocolError, closePayload, decodeAll, payload } from "./support/wire.ts";

describe("close codes", () => {
  it("accepts exactly 1000-1003, 1007-1014 and 3000-4999 on the wire", () => {
    for (let code = 0; code < 65536; code++) {
      const expected =
        (code >= 1000 && code <= 1003) ||
        (code >= 1007 && code <= 1014) ||
        (code >= 3000 && code <= 4999);
      assert.equal(isValidCloseCode(code), expected, `code ${code}`);
    }
  });
});

describe("Close", () => {
  it("parses an empty payload as 1005 with no reason", () => {
    const close = Close.parse(Buffer.alloc(0));
    assert.equal(close.code, CLOSE_NO_STATUS_RCVD);
    assert.equal(close.reason, "");
  });

  it("parses a code and a UTF-8 reason", () => {
    const close = Close.parse(closePayload(1001, "bye ☺"));
    assert.equal(close.code, 1001);
    assert.equal(close.reason, "bye ☺");
  });

  it("rejects a 1-byte payload with 1002", () => {
    assertProtocolError(
      parseCloseError(Buffer.from([0x03])),
      1002,
      /close frame too short: 1 byte/,
    );
  });

  it("rejects codes that can't be sent with 1002, naming the code", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
      assertProtocolError(
        parseCloseError(closePayload(code)),
        1002,
        new RegExp(`invalid close code: ${code}`),
      );
    }
  });

  it("rejects a reason that isn't UTF-8 with 1007", () => {
    const data = Buffer.concat([closePayload(1000), Buffer.from([0xce, 0xba, 0xe1, 0xbd])]);
    assertProtocolError(parseCloseError(data), 1007, /invalid UTF-8 in close reason/);
  });

  it("serializes a code and reason", () => {
    assert.deepEqual(new Close(1000, "ok").serialize(), Buffer.from([0x03, 0xe8, 0x6f, 0x6b]));
  });

  it("round-trips through serialize and parse", () => {
    for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) {
      const close = Close.parse(new Close(code, "reason ✓").serialize());
      assert.deepEqual([close.code, close.reason], [code, "reason ✓"]);
    }
  });

  it("serializes a reason of 123 bytes and refuses 124, naming the length", () => {
    assert.equal(new Close(1000, "a".repeat(123)).serialize().length, 125);
    assert.throws(() => new Close(1000, "a".repeat(124)).serialize(), {
      name: "ProtocolError",
      message: /close reason is 124 bytes long; the limit is 123 bytes/,
    });
    // Counted in bytes, not characters.
    assert.throws(() => new Close(1000, "é".repeat(62)).serialize(), /124 bytes/);
  });

  it("refuses to serialize a code that can't be sent", () => {
    assert.throws(() => new Close(1006, "").serialize(), /invalid close code: 1006/);
  });

  it("renders as in logs", () => {
    assert.equal(String(new Close(1000, "bye")), "1000 (OK) bye");
    assert.equal(String(new Close(3001, "")), "3001 (registered)");
    assert.equal(String(new Close(4001, "")), "4001 (private use)");
    assert.equal(String(new Close(2000, "")), "2000 (unknown)");
  });

  it("truncates a long reason at a character boundary", () => {
    assert.equal(truncateCloseReason("short"), "short");
    const truncated = truncateCloseReason("é".repeat(100));
    assert.equal(truncated, "é".repeat(61));
    assert.ok(Buffer.byteLength(truncated) <= 123);
    assert.equal(Buffer.byteLength(truncateCloseReason("x".repeat(500))), 123);
  });
});

function parseCloseError(data: Buffer): unknown {
  try {
    Close.parse(data);
  } catch (error) {
    return error;
  }
  assert.fail("expected Close.parse to throw");
}

describe("writeFrame and serializeFrame", () => {
  it("writes the minimal length encoding at each boundary", () => {
    for (const [length, headerHex] of [
      [0, "8200"],
      [125, "827d"],
      [126, "827e007e"],
      [127, "827e007f"],
      [65535, "827effff"],
      [65536, "827f0000000000010000"],
    ] as const) {
      const bytes = serializeFrame(new Frame(OP_BINARY, payload(length)), false);
      const headerLength = headerHex.length / 2;
      assert.equal(bytes.subarray(0, headerLength).toString("hex"), headerHex, `length ${length}`);
      assert.deepEqual(bytes.subarray(headerLength), payload(length));
    }
  });

  it("masks client frames with a key from the pool", () => {
    const a = serializeFrame(new Frame(OP_TEXT, Buffer.from("Hello")), true);
    const b = serializeFrame(new Frame(OP_TEXT, Buffer.from("Hello")), true);
    assert.equal(a[1], 0x85);
    assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6), "each frame gets a new key");
    const [frame] = decodeAll(a);
    assert.deepEqual(frame.data, Buffer.from("Hello"));
    assert.equal(frame.masked, true);
  });

  it("writes a string payload as UTF-8, masked or not", () => {
    for (const mask of [false, true]) {
      const out: Buffer[] = [];
      writeFrame(out, OP_TEXT, "κόσμε", true, mask);
      assert.equal(out.length, 1);
      const [frame] = decodeAll(out[0]);
      assert.equal(frame.data.toString("utf8"), "κόσμε");
    }
  });

  it("writes strings of every size class as their UTF-8 bytes, masked or not, with the minimal length", () => {
    // Short strings are encoded before their header (into room for 3 bytes
    // a unit), longer ones after measuring: both sides of that limit, of
    // 125/126 encoded bytes, and characters of 1 to 4 bytes.
    const strings = ["", "a".repeat(125), "a".repeat(126), "é".repeat(63), "€".repeat(42)];
    // 42 to 125 units: room for a 4-byte header, given back when 2 suffice.
    strings.push("a".repeat(41), "a".repeat(42), "é".repeat(62), "a".repeat(100));
    for (const units of [1361, 1362, 1363, 1364, 30000]) strings.push("a".repeat(units));
    strings.push("κόσμε😀".repeat(200), "\ud800x\udc00", "a".repeat(1300) + "€".repeat(62));
    // Many frames in a row, so some cross from one slab into the next.
    for (let round = 0; round < 40; round++) {
      for (const mask of [false, true]) {
        const out: Buffer[] = [];
        for (const text of strings) writeFrame(out, OP_TEXT, text, round % 2 === 0, mask);
        const frames = decodeAll(Buffer.concat(out));
        for (let i = 0; i < strings.length; i++) {
          const bytes = Buffer.from(strings[i]);
          assert.deepEqual(frames[i].data, bytes, `string ${i}, mask ${mask}`);
          const length = out[i][1] & 0x7f;
          const minimal = bytes.length < 126 ? bytes.length : bytes.length < 65536 ? 126 : 127;
          assert.equal(length, minimal, `length encoding of ${bytes.length} bytes`);
          assert.equal(frames[i].fin, round % 2 === 0);
        }
      }
    }
  });

  it("lays a server's frames end to end, so that the writer sends them as one view", () => {
    const out: Buffer[] = [];
    const sent: (string | Buffer)[] = [];
    // Strings of 42 to 125 units are left out: their header's size is known
    // only once they are encoded, and a 2-byte one leaves a 2-byte gap before
    // the frame (moving the payload back cost more than the concatenation
    // it saves: docs/performance.md, "Hot paths").
    for (const units of [0, 1, 41, 126, 500, 1362]) sent.push("a".repeat(units));
    sent.push("€".repeat(42), payload(32), payload(300));
    for (let round = 0; round < 3; round++) {
      for (const data of sent) {
        writeFrame(out, typeof data === "string" ? OP_TEXT : OP_BINARY, data, true, false);
      }
    }
    let slabs = 1;
    for (let i = 1; i < out.length; i++) {
      const [before, frame] = [out[i - 1], out[i]];
      if (frame.buffer !== before.buffer) {
        slabs++;
        continue;
      }
      assert.equal(frame.byteOffset, before.byteOffset + before.length, `gap before frame ${i}`);
    }
    // About 6 KB of frames: one slab, or two if they crossed into a new one.
    assert.ok(slabs <= 2, `${slabs} slabs`);
    const frames = decodeAll(Buffer.concat(out));
    assert.deepEqual(
      frames.slice(0, sent.length).map((frame) => frame.data),
      sent.map((data) => Buffer.from(data)),
    );
  });

  it("writes RSV bits and FIN as given", () => {
    const out: Buffer[] = [];
    writeFrame(out, OP_TEXT, Buffer.from("x"), false, false, 0x40);
    assert.equal(out[0][0], 0x41);
  });

  it("returns a large unmasked payload uncopied after a separate header", () => {
    const data = payload(ZERO_COPY_THRESHOLD);
    const out: Buffer[] = [];
    writeFrame(out, OP_BINARY, data, true, false);
    assert.equal(out.length, 2);
    assert.equal(out[1], data);
    assert.deepEqual(decodeAll(Buffer.concat(out))[0].data, data);
    // Masked payloads are copied anyway, so they come as one buffer.
    const masked: Buffer[] = [];
    writeFrame(masked, OP_BINARY, data, true, true);
    assert.equal(masked.length, 1);
    // serializeFrame always returns one buffer.
    assert.equal(serializeFrame(new Frame(OP_BINARY, data), false).length, data.length + 4);
  });

  it("refuses a control frame over 125 bytes or without FIN", () => {
    assert.throws(() => serializeFrame(new Frame(OP_PING, payload(126)), false), {
      name: "ProtocolError",
      message: /control frame too long: 126 bytes/,
    });
    assert.throws(() => serializeFrame(new Frame(OP_CLOSE, Buffer.alloc(0), false), false), {
      name: "ProtocolError",
      message: /fragmented control frame: CLOSE/,
    });
  });

  it("leaves a large masked frame kept by its caller as it was, while more are serialized", () => {
    const first = serializeFrame(new Frame(OP_BINARY, payload(70_000)), true);
    const copy = Buffer.from(first);
    const second = serializeFrame(new Frame(OP_BINARY, Buffer.alloc(70_000, 0x55)), true);
    assert.notEqual(second.buffer, first.buffer);
    assert.deepEqual(first, copy);
    assert.deepEqual(decodeAll(second)[0].data, Buffer.alloc(70_000, 0x55));
  });

  it("doesn't modify the payload it masks", () => {
    const data = payload(1000);
    const copy = Buffer.from(data);
    serializeFrame(new Frame(OP_BINARY, data), true);
    assert.deepEqual(data, copy);
  });
});
