import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import {
  Frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type Opcode,
} from "../src/frames.ts";
import { formatFrame, maxLogSize } from "../src/logging.ts";

function frame(opcode: Opcode, data: Buffer | string | number[], fin = true): Frame {
  const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
  return new Frame(opcode, bytes, fin);
}

function closeFrame(code: number, reason = ""): Frame {
  const data = Buffer.alloc(2 + Buffer.byteLength(reason));
  data.writeUInt16BE(code, 0);
  data.write(reason, 2);
  return new Frame(OP_CLOSE, data);
}

/** The payload part of a rendering: between the opcode and the metadata. */
function payloadOf(rendered: string): string {
  return rendered.slice(rendered.indexOf(" ") + 1, rendered.lastIndexOf(" ["));
}

/** Length in code points, as the elision counts. */
function width(text: string): number {
  return [...text].length;
}

describe("formatFrame", () => {
  test("renders every example of the catalogue", () => {
    assert.equal(formatFrame(frame(OP_TEXT, "hello")), "TEXT 'hello' [5 bytes]");
    assert.equal(formatFrame(frame(OP_BINARY, [0, 1, 2, 3])), "BINARY 00 01 02 03 [4 bytes]");
    assert.equal(
      formatFrame(frame(OP_CONT, " crème", false)),
      "CONT ' crème' [text, 7 bytes, continued]",
    );
    assert.equal(formatFrame(frame(OP_PING, "")), "PING '' [0 bytes]");
    assert.equal(
      formatFrame(frame(OP_PING, [0xd0, 0xa9, 0x13, 0x8e])),
      "PING d0 a9 13 8e [binary, 4 bytes]",
    );
    assert.equal(formatFrame(closeFrame(1000)), "CLOSE 1000 (OK) [2 bytes]");
    assert.equal(
      formatFrame(closeFrame(1011, "keepalive ping timeout")),
      "CLOSE 1011 (internal error) keepalive ping timeout [24 bytes]",
    );
  });

  test("marks the payload type only when it differs from the opcode's", () => {
    assert.equal(formatFrame(frame(OP_TEXT, "café")), "TEXT 'café' [5 bytes]");
    assert.equal(formatFrame(frame(OP_BINARY, "Eggs")), "BINARY 'Eggs' [text, 4 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, [0xff, 0xfe])), "TEXT ff fe [binary, 2 bytes]");
    assert.equal(formatFrame(frame(OP_PING, "ping")), "PING 'ping' [text, 4 bytes]");
    assert.equal(formatFrame(frame(OP_PONG, "pong")), "PONG 'pong' [text, 4 bytes]");
    assert.equal(formatFrame(frame(OP_PONG, "")), "PONG '' [0 bytes]");
    assert.equal(
      formatFrame(frame(OP_PONG, [0xff, 0x00, 0xff, 0x00])),
      "PONG ff 00 ff 00 [binary, 4 bytes]",
    );
    assert.equal(formatFrame(frame(OP_CLOSE, "")), "CLOSE '' [0 bytes]");
  });

  test("says continued for a non-final frame and byte for one byte", () => {
    assert.equal(formatFrame(frame(OP_TEXT, "café", false)), "TEXT 'café' [5 bytes, continued]");
    assert.equal(formatFrame(frame(OP_BINARY, [0, 1], false)), "BINARY 00 01 [2 bytes, continued]");
    assert.equal(formatFrame(frame(OP_CONT, " crème")), "CONT ' crème' [text, 7 bytes]");
    assert.equal(
      formatFrame(frame(OP_CONT, [0xfc, 0xfd, 0xfe, 0xff], false)),
      "CONT fc fd fe ff [binary, 4 bytes, continued]",
    );
    assert.equal(formatFrame(frame(OP_TEXT, "x")), "TEXT 'x' [1 byte]");
  });

  test("escapes control characters, quotes and backslashes in text", () => {
    assert.equal(formatFrame(frame(OP_TEXT, "Hello\nworld!")), "TEXT 'Hello\\nworld!' [12 bytes]");
    assert.equal(formatFrame(frame(OP_PING, "ping\r\n\t")), "PING 'ping\\r\\n\\t' [text, 7 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "a\\b")), "TEXT 'a\\\\b' [3 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "it's")), `TEXT "it's" [4 bytes]`);
    assert.equal(formatFrame(frame(OP_TEXT, `it's "x"`)), `TEXT 'it\\'s "x"' [8 bytes]`);
    assert.equal(formatFrame(frame(OP_TEXT, '{"a":1}')), `TEXT '{"a":1}' [7 bytes]`);
  });

  test("escapes invisible characters that could hide or forge content", () => {
    assert.equal(formatFrame(frame(OP_TEXT, "a\u200bb")), "TEXT 'a\\u200bb' [5 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "a\u2028b")), "TEXT 'a\\u2028b' [5 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "a\u00a0b")), "TEXT 'a\\u00a0b' [4 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "\u{e0001}")), "TEXT '\\u{e0001}' [4 bytes]");
  });

  test("shows a payload with other control characters as hex", () => {
    assert.equal(formatFrame(frame(OP_TEXT, [0x00, 0x01])), "TEXT 00 01 [binary, 2 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "a\x7f")), "TEXT 61 7f [binary, 2 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, "a\u0085")), "TEXT 61 c2 85 [binary, 3 bytes]");
    assert.equal(
      formatFrame(frame(OP_BINARY, [0x00, 0x01, 0x02, 0x03])),
      "BINARY 00 01 02 03 [4 bytes]",
    );
  });

  test("accepts UTF-8 cut at fragment boundaries only where a fragment may be cut", () => {
    // A continuation may start inside a character; partial bytes show as U+FFFD.
    assert.equal(
      formatFrame(frame(OP_CONT, [0xa8, 0x6d, 0x65])),
      "CONT '\ufffdme' [text, 3 bytes]",
    );
    // A non-final frame may end inside one.
    assert.equal(
      formatFrame(frame(OP_TEXT, [0x63, 0xc3], false)),
      "TEXT 'c\ufffd' [2 bytes, continued]",
    );
    // A final frame may not; a first frame may not start inside one.
    assert.equal(formatFrame(frame(OP_TEXT, [0x63, 0xc3])), "TEXT 63 c3 [binary, 2 bytes]");
    assert.equal(formatFrame(frame(OP_TEXT, [0xa8, 0x6d])), "TEXT a8 6d [binary, 2 bytes]");
    // Bytes that are never UTF-8 stay binary even at a fragment's edge.
    assert.equal(
      formatFrame(frame(OP_CONT, [0x61, 0xff], false)),
      "CONT 61 ff [binary, 2 bytes, continued]",
    );
  });

  test("names close codes, including registered and private-use ranges", () => {
    assert.equal(formatFrame(closeFrame(1001, "Bye!")), "CLOSE 1001 (going away) Bye! [6 bytes]");
    assert.equal(formatFrame(closeFrame(3000)), "CLOSE 3000 (registered) [2 bytes]");
    assert.equal(formatFrame(closeFrame(4999)), "CLOSE 4999 (private use) [2 bytes]");
    assert.equal(formatFrame(closeFrame(1011)), "CLOSE 1011 (internal error) [2 bytes]");
  });

  test("escapes control characters in a close reason", () => {
    assert.equal(
      formatFrame(closeFrame(1000, "a\nFAKE LINE")),
      "CLOSE 1000 (OK) a\\nFAKE LINE [13 bytes]",
    );
  });

  test("falls back to the generic rendering for a malformed close payload", () => {
    assert.equal(formatFrame(frame(OP_CLOSE, [0x03])), "CLOSE 03 [binary, 1 byte]");
    // 999 is not a code a close frame may carry.
    assert.equal(formatFrame(frame(OP_CLOSE, [0x03, 0xe7])), "CLOSE 03 e7 [binary, 2 bytes]");
    // 1005 is reserved.
    assert.equal(formatFrame(frame(OP_CLOSE, [0x03, 0xed])), "CLOSE 03 ed [binary, 2 bytes]");
    // The reason is not UTF-8.
    assert.equal(
      formatFrame(frame(OP_CLOSE, [0x03, 0xe8, 0xff, 0xff])),
      "CLOSE 03 e8 ff ff [binary, 4 bytes]",
    );
  });

  test("elides long text to 2/3 head, '...', 1/3 tail by default", () => {
    assert.equal(
      formatFrame(frame(OP_TEXT, "café ".repeat(16))),
      "TEXT 'café café café café café café café café café ca...fé café café café café ' [96 bytes]",
    );
    assert.equal(
      formatFrame(frame(OP_CONT, "café ".repeat(16), false)),
      "CONT 'café café café café café café café café café ca...fé café café café café ' [text, 96 bytes, continued]",
    );
  });

  test("elides long binary to whole bytes around '...'", () => {
    const bytes = Array.from({ length: 256 }, (_, i) => i);
    assert.equal(
      formatFrame(frame(OP_BINARY, bytes)),
      "BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ... f8 f9 fa fb fc fd fe ff [256 bytes]",
    );
    assert.equal(
      formatFrame(frame(OP_CONT, bytes, false)),
      "CONT 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ... f8 f9 fa fb fc fd fe ff [binary, 256 bytes, continued]",
    );
  });

  test("shows a payload that fits the limit whole, and elides one character more", () => {
    const fits = "a".repeat(maxLogSize - 2); // plus two quotes
    assert.equal(payloadOf(formatFrame(frame(OP_TEXT, fits))), `'${fits}'`);
    const over = payloadOf(formatFrame(frame(OP_TEXT, `${fits}a`)));
    assert.ok(over.includes("..."), over);
    assert.equal(width(over), maxLogSize);
    // 25 bytes of hex are 74 characters; 26 are 77.
    assert.equal(payloadOf(formatFrame(frame(OP_BINARY, Buffer.alloc(25, 0xff)))).length, 74);
    assert.ok(payloadOf(formatFrame(frame(OP_BINARY, Buffer.alloc(26, 0xff)))).includes("..."));
  });

  test("honours an explicit maximum size", () => {
    const text = formatFrame(frame(OP_TEXT, "abcdefghijklmnopqrstuvwxyz0123456789"), 30);
    assert.equal(text, "TEXT 'abcdefghijklmnopq...23456789' [36 bytes]");
    const binary = formatFrame(frame(OP_BINARY, Buffer.alloc(100, 0xab)), 30);
    assert.equal(binary, "BINARY ab ab ab ab ab ab ... ab ab ab [100 bytes]");
    // Sizes below 6 act as 6: two characters, "...", one character.
    assert.equal(payloadOf(formatFrame(frame(OP_TEXT, "abcdefghij"), 1)), "'a...'");
  });

  test("cuts multi-byte text at the limit on character boundaries", () => {
    // Astral characters are two UTF-16 units: a cut between them would leave lone surrogates.
    const rendered = payloadOf(formatFrame(frame(OP_TEXT, "😀".repeat(100))));
    assert.equal(Buffer.from(rendered, "utf8").toString("utf8"), rendered);
    assert.equal(rendered, `'${"😀".repeat(47)}...${"😀".repeat(23)}'`);
    assert.equal(width(rendered), maxLogSize);
    // Two-byte characters (é) count as one character each.
    const accents = payloadOf(formatFrame(frame(OP_TEXT, "é".repeat(200))));
    assert.equal(accents, `'${"é".repeat(47)}...${"é".repeat(23)}'`);
  });

  test("never splits an escape sequence when eliding", () => {
    const rendered = payloadOf(formatFrame(frame(OP_TEXT, "\n".repeat(100))));
    // Head: the quote and 23 escapes (47 characters); tail: 11 escapes and the quote.
    assert.equal(rendered, `'${"\\n".repeat(23)}...${"\\n".repeat(11)}'`);
    const zeroWidth = payloadOf(formatFrame(frame(OP_TEXT, "\u200b".repeat(100))));
    assert.match(zeroWidth, /^'(\\u200b)+\.\.\.(\\u200b)+'$/);
  });

  test("renders a 16 MiB payload in bounded output", () => {
    const size = 16 * 1024 * 1024;
    const text = formatFrame(new Frame(OP_TEXT, Buffer.alloc(size, 0x61)));
    assert.equal(text, `TEXT '${"a".repeat(47)}...${"a".repeat(23)}' [16777216 bytes]`);
    const binary = formatFrame(new Frame(OP_BINARY, Buffer.alloc(size, 0xfe)));
    assert.equal(binary, `BINARY ${"fe ".repeat(16)}...${" fe".repeat(8)} [16777216 bytes]`);
    const multiByte = formatFrame(new Frame(OP_CONT, Buffer.from("€".repeat(size / 3)), false));
    assert.equal(
      multiByte,
      `CONT '${"€".repeat(47)}...${"€".repeat(23)}' [text, ${size - (size % 3)} bytes, continued]`,
    );
  });

  test("inspects only the start and the end of a large payload", () => {
    // Invalid UTF-8 in the middle of a large payload is never looked at:
    // the rendering depends on the bytes that can show.
    const data = Buffer.alloc(1024 * 1024, 0x61);
    data[data.length >> 1] = 0xff;
    assert.equal(
      formatFrame(new Frame(OP_TEXT, data)),
      `TEXT '${"a".repeat(47)}...${"a".repeat(23)}' [1048576 bytes]`,
    );
    // A large payload cut inside characters at both ends, as fragments are.
    const euro = Buffer.from("€".repeat(1000));
    const fragment = euro.subarray(1, euro.length - 1);
    const rendered = formatFrame(new Frame(OP_CONT, fragment, false));
    // Each stray continuation byte and the incomplete last character show as U+FFFD.
    assert.equal(
      rendered,
      `CONT '\ufffd\ufffd${"€".repeat(45)}...${"€".repeat(22)}\ufffd' [text, 2998 bytes, continued]`,
    );
    // Binary at the start of a large payload makes it binary.
    const binary = Buffer.alloc(4096, 0x61);
    binary[0] = 0x00;
    assert.match(formatFrame(new Frame(OP_TEXT, binary)), /^TEXT 00 61 .* \[binary, 4096 bytes\]$/);
  });
});
