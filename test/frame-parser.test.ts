import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PayloadTooBig, ProtocolError } from "../src/errors.ts";
import { FrameParser, type FrameParserOptions } from "../src/frame-parser.ts";
import {
  Frame,
  isControlOpcode,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type Opcode,
  serializeFrame,
} from "../src/frames.ts";
import {
  assertProtocolError,
  bytewise,
  closePayload,
  fromClient,
  fromServer,
  payload,
  randomChunks,
  raw,
} from "./support/wire.ts";

type Collected = { opcode: number; fin: boolean; rsv: number; data: Buffer };

function parseChunks(
  chunks: Buffer[],
  options: Partial<FrameParserOptions> & { mask: boolean },
): Collected[] {
  const frames: Collected[] = [];
  const parser = new FrameParser({
    ...options,
    onFrame: (f) =>
      frames.push({
        opcode: f.opcode,
        fin: f.fin,
        rsv: (f.rsv1 ? 0x40 : 0) | (f.rsv2 ? 0x20 : 0) | (f.rsv3 ? 0x10 : 0),
        data: Buffer.from(f.data),
      }),
  });
  for (const chunk of chunks) parser.parse(chunk);
  return frames;
}

/** Parses `bytes` and returns the error thrown. */
function parseError(
  bytes: Buffer,
  options: Partial<FrameParserOptions> & { mask: boolean },
): unknown {
  try {
    parseChunks([bytes], options);
  } catch (error) {
    return error;
  }
  assert.fail("expected the parser to throw");
}

const OPCODES: Opcode[] = [OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG];
const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 3 * 1024 * 1024 + 7];

describe("FrameParser round trips", () => {
  it("parses every opcode at every length boundary, whole, in random chunks and byte by byte", () => {
    for (const mask of [false, true]) {
      for (const opcode of OPCODES) {
        const lengths = isControlOpcode(opcode) ? [0, 1, 125] : LENGTHS;
        for (const length of lengths) {
          const data = payload(length);
          // A continuation needs a message to continue.
          const frames =
            opcode === OP_CONT
              ? [new Frame(OP_BINARY, Buffer.from("a"), false), new Frame(OP_CONT, data)]
              : [new Frame(opcode, data)];
          const bytes = Buffer.concat(frames.map((f) => serializeFrame(f, mask)));
          const expected = frames.map((f) => ({
            opcode: f.opcode,
            fin: f.fin,
            rsv: 0,
            data: f.data,
          }));
          const feeds: Buffer[][] = [[bytes], randomChunks(bytes, length + opcode, 5000)];
          if (length <= 65536) feeds.push(bytewise(bytes));
          for (const chunks of feeds) {
            assert.deepEqual(
              parseChunks(chunks, { mask }),
              expected,
              `opcode ${opcode} length ${length}`,
            );
          }
        }
      }
    }
  });

  it("parses many frames from one chunk and one frame from many chunks", () => {
    const frames = [
      new Frame(OP_TEXT, Buffer.from("he"), false),
      new Frame(OP_PING, Buffer.from("p")),
      new Frame(OP_CONT, Buffer.from("llo")),
      new Frame(OP_BINARY, payload(70000)),
      new Frame(OP_CLOSE, closePayload(1000)),
    ];
    const bytes = Buffer.concat(frames.map((f) => serializeFrame(f, true)));
    const expected = frames.map((f) => ({ opcode: f.opcode, fin: f.fin, rsv: 0, data: f.data }));
    assert.deepEqual(parseChunks([bytes], { mask: true }), expected);
    for (let seed = 0; seed < 20; seed++) {
      assert.deepEqual(parseChunks(randomChunks(bytes, seed, 300), { mask: true }), expected);
    }
  });

  it("parses a 16-bit and a 64-bit length even when not minimal", () => {
    const bytes = Buffer.concat([
      fromServer(OP_TEXT, "hi", { lengthBits: 16 }),
      fromServer(OP_TEXT, "yo", { lengthBits: 64 }),
    ]);
    assert.deepEqual(
      parseChunks([bytes], { mask: false }).map((f) => f.data.toString()),
      ["hi", "yo"],
    );
  });

  it("shares the chunk's memory for an unmasked frame instead of copying", () => {
    const chunk = fromServer(OP_BINARY, "abc");
    let data: Buffer | null = null;
    new FrameParser({ mask: false, onFrame: (f) => (data = f.data) }).parse(chunk);
    assert.ok(data !== null);
    assert.equal((data as Buffer).buffer, chunk.buffer);
    assert.equal((data as Buffer).byteOffset, chunk.byteOffset + 2);
  });

  it("never modifies the chunks of a masked frame", () => {
    const bytes = Buffer.concat([
      fromClient(OP_BINARY, payload(200)),
      fromClient(OP_TEXT, "x".repeat(30)),
    ]);
    const copy = Buffer.from(bytes);
    parseChunks([bytes], { mask: true });
    parseChunks(randomChunks(bytes, 1, 50), { mask: true });
    assert.deepEqual(bytes, copy);
  });

  it("gives a frame spanning chunks a payload of its own, in 2, 64 and 65+ chunks", () => {
    const data = payload(100_000);
    for (const mask of [true, false]) {
      const bytes = mask ? fromClient(OP_BINARY, data) : fromServer(OP_BINARY, data);
      for (const count of [2, 16, 64, 65, 1000]) {
        const size = Math.ceil(bytes.length / count);
        const chunks: Buffer[] = [];
        for (let at = 0; at < bytes.length; at += size) {
          chunks.push(Buffer.from(bytes.subarray(at, at + size)));
        }
        const copies = chunks.map((chunk) => Buffer.from(chunk));
        const frames = parseChunks(chunks, { mask });
        assert.equal(frames.length, 1);
        assert.deepEqual(frames[0].data, data);
        assert.ok(chunks.every((chunk) => chunk.buffer !== frames[0].data.buffer));
        assert.deepEqual(chunks, copies);
      }
    }
  });

  it("calls onFrame and onPartial with thisArg as this", () => {
    const bytes = fromClient(OP_TEXT, "abcdefgh");
    const owner = { seen: [] as string[] };
    const parser = new FrameParser({
      mask: true,
      thisArg: owner,
      onFrame(this: typeof owner, f) {
        this.seen.push(`frame ${f.data}`);
      },
      onPartial(this: typeof owner, _opcode, piece) {
        this.seen.push(`piece ${piece}`);
      },
    });
    // The payload spans chunks: the mask key is kept between them.
    parser.parse(bytes.subarray(0, 9));
    parser.parse(bytes.subarray(9));
    assert.deepEqual(owner.seen, ["piece abc", "piece defgh", "frame abcdefgh"]);
  });

  it("lets parsers share one options object, each with its own thisArg", () => {
    const seen: string[] = [];
    const options: FrameParserOptions = {
      mask: true,
      onFrame(this: string, f) {
        seen.push(`${this} frame ${f.data}`);
      },
      onPartial(this: string, _opcode, piece) {
        seen.push(`${this} piece ${piece}`);
      },
      thisArg: "ignored",
    };
    const a = new FrameParser(options, "a");
    const b = new FrameParser(options, "b");
    const bytes = fromClient(OP_TEXT, "abcdefgh");
    a.parse(bytes.subarray(0, 9));
    b.parse(bytes);
    a.parse(bytes.subarray(9));
    assert.deepEqual(seen, [
      "a piece abc",
      "b frame abcdefgh",
      "a piece defgh",
      "a frame abcdefgh",
    ]);
  });

  it("keeps reservedBits, maxSize and stopped apart from the frame state", () => {
    const frames: Frame[] = [];
    const parser = new FrameParser({ mask: false, onFrame: (f) => frames.push(f) });
    assert.equal(parser.reservedBits, 0);
    parser.reservedBits = 0x50;
    assert.equal(parser.reservedBits, 0x50);
    parser.maxSize = 3;
    // RSV1 and RSV3 allowed, a fragmented message open across a header split in two.
    const bytes = Buffer.concat([
      serializeFrame(new Frame(OP_TEXT, Buffer.from("ab"), false, true, false, true), false),
      serializeFrame(new Frame(OP_CONT, Buffer.from("cd"), true), false),
    ]);
    parser.parse(bytes.subarray(0, 1));
    assert.equal(parser.bufferedBytes, 1);
    parser.parse(bytes.subarray(1, 5));
    parser.parse(bytes.subarray(5));
    assert.deepEqual(
      frames.map((f) => [f.opcode, `${f.data}`, f.fin, f.rsv1, f.rsv2, f.rsv3]),
      [
        [OP_TEXT, "ab", false, true, false, true],
        [OP_CONT, "cd", true, false, false, false],
      ],
    );
    assert.equal(parser.reservedBits, 0x50);
    assert.equal(parser.stopped, false);
    assert.throws(
      () => parser.parse(serializeFrame(new Frame(OP_BINARY, Buffer.from("abcd")), false)),
      PayloadTooBig,
    );
    const rsv2 = new FrameParser({ mask: false, reservedBits: 0x50, onFrame: () => {} });
    assert.throws(
      () =>
        rsv2.parse(serializeFrame(new Frame(OP_BINARY, Buffer.alloc(0), true, false, true), false)),
      /reserved bits must be 0: got 0x20/,
    );
  });

  it("reports payload pieces of a frame spanning chunks, then the whole frame", () => {
    const bytes = fromClient(OP_TEXT, "abcdefgh");
    const seen: string[] = [];
    const parser = new FrameParser({
      mask: true,
      onFrame: (f) => seen.push(`frame ${f.data}`),
      onPartial: (opcode, piece) => seen.push(`${opcode} ${piece}`),
    });
    parser.parse(bytes.subarray(0, 6)); // header only
    parser.parse(bytes.subarray(6, 9));
    parser.parse(bytes.subarray(9));
    assert.deepEqual(seen, ["1 abc", "1 defgh", "frame abcdefgh"]);
    // A frame whole in one chunk is reported once.
    seen.length = 0;
    parser.parse(bytes);
    assert.deepEqual(seen, ["frame abcdefgh"]);
    // Pieces of continuations of a text message too, not of binary data.
    seen.length = 0;
    const text = Buffer.concat([
      fromClient(OP_TEXT, "ab", { fin: false }),
      fromClient(OP_CONT, "cd"),
    ]);
    const binary = Buffer.concat([
      fromClient(OP_BINARY, "ef", { fin: false }),
      fromClient(OP_CONT, "gh"),
    ]);
    for (const chunk of [...bytewise(text), ...bytewise(binary)]) parser.parse(chunk);
    assert.deepEqual(seen, [
      "1 a",
      "1 b",
      "frame ab",
      "0 c",
      "0 d",
      "frame cd",
      "frame ef",
      "frame gh",
    ]);
  });

  it("stops at once when stop() is called from onFrame", () => {
    const seen: number[] = [];
    const parser = new FrameParser({
      mask: false,
      onFrame: (f) => {
        seen.push(f.opcode);
        if (f.opcode === OP_CLOSE) parser.stop();
      },
    });
    parser.parse(Buffer.concat([fromServer(OP_CLOSE), fromServer(OP_TEXT, "after")]));
    parser.parse(fromServer(OP_TEXT, "later"));
    assert.deepEqual(seen, [OP_CLOSE]);
    assert.equal(parser.stopped, true);
  });

  it("counts buffered bytes: header bytes, then payload received so far", () => {
    const parser = new FrameParser({ mask: true, onFrame: () => {} });
    const bytes = fromClient(OP_BINARY, payload(1000));
    parser.parse(bytes.subarray(0, 3));
    assert.equal(parser.bufferedBytes, 3);
    parser.parse(bytes.subarray(3, 108));
    assert.equal(parser.bufferedBytes, 100);
    parser.parse(bytes.subarray(108));
    assert.equal(parser.bufferedBytes, 0);
  });
});

describe("FrameParser rules", () => {
  it("server side: rejects an unmasked frame with 1002", () => {
    assertProtocolError(
      parseError(fromServer(OP_TEXT, "hi"), { mask: true }),
      1002,
      /isn't masked/,
    );
  });

  it("client side: rejects a masked frame with 1002", () => {
    assertProtocolError(parseError(fromClient(OP_TEXT, "hi"), { mask: false }), 1002, /is masked/);
  });

  it("rejects each RSV bit with 1002 unless allowed", () => {
    for (const rsv of [0x40, 0x20, 0x10, 0x70]) {
      const bytes = fromServer(OP_TEXT, "hi", { rsv });
      assertProtocolError(parseError(bytes, { mask: false }), 1002, /reserved bits must be 0/);
      const frames = parseChunks([bytes], { mask: false, reservedBits: 0x70 });
      assert.equal(frames[0].rsv, rsv);
    }
    // Allowing RSV1 doesn't allow RSV2.
    const error = parseError(fromServer(OP_TEXT, "hi", { rsv: 0x20 }), {
      mask: false,
      reservedBits: 0x40,
    });
    assertProtocolError(error, 1002, /reserved bits/);
  });

  it("rejects reserved opcodes 3-7 and 11-15 with 1002", () => {
    for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      assertProtocolError(
        parseError(fromServer(opcode, ""), { mask: false }),
        1002,
        new RegExp(`invalid opcode: ${opcode}`),
      );
    }
  });

  it("rejects a control frame over 125 bytes with 1002, from its header", () => {
    for (const opcode of [OP_PING, OP_PONG, OP_CLOSE]) {
      // Only the header: refused before the payload arrives.
      const header = fromServer(opcode, payload(126)).subarray(0, 4);
      assertProtocolError(
        parseError(header, { mask: false }),
        1002,
        /control frame too long: \w+ with 126 bytes/,
      );
    }
  });

  it("rejects a fragmented control frame with 1002", () => {
    for (const opcode of [OP_PING, OP_PONG, OP_CLOSE]) {
      assertProtocolError(
        parseError(fromServer(opcode, "", { fin: false }), { mask: false }),
        1002,
        /fragmented control frame/,
      );
    }
  });

  it("rejects a 64-bit length with the most significant bit set with 1002", () => {
    const header = Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    assertProtocolError(parseError(header, { mask: false }), 1002, /most significant bit/);
  });

  it("refuses a data frame over maxSize with 1009 from its header, before its payload", () => {
    const header = fromServer(OP_BINARY, payload(1025)).subarray(0, 4);
    const error = parseError(header, { mask: false, maxSize: 1024 });
    assert.ok(error instanceof PayloadTooBig);
    assert.equal(error.message, "frame with 1025 bytes exceeds limit of 1024 bytes");
    assert.equal(error.size, 1025);
    assert.equal(error.maxSize, 1024);
    // At the limit is fine.
    assert.equal(
      parseChunks([fromServer(OP_BINARY, payload(1024))], { mask: false, maxSize: 1024 }).length,
      1,
    );
  });

  it("refuses a frame too large for a Buffer even without maxSize", () => {
    const header = Buffer.from([0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.ok(parseError(header, { mask: false, maxSize: null }) instanceof PayloadTooBig);
  });

  it("rejects a continuation frame without a message to continue with 1002", () => {
    for (const fin of [true, false]) {
      assertProtocolError(
        parseError(fromServer(OP_CONT, "x", { fin }), { mask: false }),
        1002,
        /unexpected continuation frame/,
      );
    }
  });

  it("rejects a new message inside a fragmented one with 1002", () => {
    for (const opcode of [OP_TEXT, OP_BINARY]) {
      const bytes = Buffer.concat([
        fromServer(OP_TEXT, "a", { fin: false }),
        fromServer(opcode, "b"),
      ]);
      assertProtocolError(
        parseError(bytes, { mask: false }),
        1002,
        /expected a continuation frame/,
      );
    }
  });

  it("accepts control frames between fragments", () => {
    const bytes = Buffer.concat([
      fromServer(OP_TEXT, "a", { fin: false }),
      fromServer(OP_PING, "p"),
      fromServer(OP_CONT, "b", { fin: false }),
      fromServer(OP_PONG, "q"),
      fromServer(OP_CONT, "c"),
      fromServer(OP_TEXT, "d"),
    ]);
    assert.deepEqual(
      parseChunks([bytes], { mask: false }).map((f) => `${f.opcode}${f.data}`),
      ["1a", "9p", "0b", "10q", "0c", "1d"],
    );
  });

  it("delivers the frames before an error in the same chunk", () => {
    const frames: Frame[] = [];
    const parser = new FrameParser({ mask: false, onFrame: (f) => frames.push(f) });
    assert.throws(
      () => parser.parse(Buffer.concat([fromServer(OP_TEXT, "ok"), raw(3)])),
      ProtocolError,
    );
    assert.equal(frames.length, 1);
  });
});

describe("FrameParser properties", () => {
  const frameArb = fc
    .record({
      opcode: fc.constantFrom(OP_TEXT, OP_BINARY, OP_PING, OP_PONG, OP_CLOSE),
      length: fc.oneof(fc.nat(130), fc.constantFrom(65535, 65536, 70000)),
      fin: fc.boolean(),
      seed: fc.nat(),
    })
    .map(({ opcode, length, fin, seed }) => {
      const control = opcode >= 8;
      return new Frame(
        opcode,
        Buffer.from(payload(control ? Math.min(length, 125) : length).map((b) => b ^ seed)),
        control || fin,
      );
    });

  it("round-trips any valid sequence of frames in any chunking", () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 6 }),
        fc.boolean(),
        fc.nat(),
        (frames, mask, seed) => {
          // Make the sequence valid: close fragmented messages with continuations.
          const sequence: Frame[] = [];
          let open = false;
          for (const f of frames) {
            if (f.opcode < 8 && open) sequence.push(new Frame(OP_CONT, f.data, f.fin));
            else sequence.push(f);
            if (f.opcode < 8) open = !f.fin;
          }
          const bytes = Buffer.concat(sequence.map((f) => serializeFrame(f, mask)));
          const expected = sequence.map((f) => ({
            opcode: f.opcode,
            fin: f.fin,
            rsv: 0,
            data: f.data,
          }));
          assert.deepEqual(
            parseChunks(randomChunks(bytes, seed, 1 + (seed % 2000)), { mask }),
            expected,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it("throws only ProtocolError or PayloadTooBig on random bytes, buffering at most maxSize plus a header", () => {
    const maxSize = 200;
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.boolean(),
        fc.nat(),
        (bytes, mask, seed) => {
          const parser = new FrameParser({
            mask,
            maxSize,
            reservedBits: seed & 0x70,
            onFrame: () => {},
          });
          try {
            for (const chunk of randomChunks(Buffer.from(bytes), seed, 40)) {
              parser.parse(chunk);
              assert.ok(parser.bufferedBytes <= maxSize + 14, `buffered ${parser.bufferedBytes}`);
            }
          } catch (error) {
            assert.ok(
              error instanceof ProtocolError || error instanceof PayloadTooBig,
              String(error),
            );
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("FrameParser pause", () => {
  it("returns after the frame that paused it, with the bytes consumed", () => {
    const frames = [fromServer(OP_TEXT, "a"), fromServer(OP_TEXT, "bb"), fromServer(OP_TEXT, "c")];
    const bytes = Buffer.concat(frames);
    const seen: string[] = [];
    const parser = new FrameParser({
      mask: false,
      onFrame: (f) => {
        seen.push(f.data.toString());
        if (seen.length === 1) parser.pause();
      },
    });
    const used = parser.parse(bytes);
    assert.equal(used, frames[0].length);
    assert.deepEqual(seen, ["a"]);
    // The pause applied to that call only: the rest parses in full.
    assert.equal(parser.parse(bytes.subarray(used)), bytes.length - used);
    assert.deepEqual(seen, ["a", "bb", "c"]);
  });

  it("consumes the whole chunk when the last frame pauses it", () => {
    const bytes = fromServer(OP_BINARY, "xyz");
    let count = 0;
    const parser = new FrameParser({
      mask: false,
      onFrame: () => {
        count++;
        parser.pause();
      },
    });
    assert.equal(parser.parse(bytes), bytes.length);
    // The next call starts unpaused, and stops after its first frame.
    assert.equal(parser.parse(Buffer.concat([bytes, bytes])), bytes.length);
    assert.equal(count, 2);
  });
});

describe("FrameParser lent chunks", () => {
  it("copies every payload of a lent chunk, on both paths, and none of a chunk it owns", () => {
    const frames = [
      fromServer(OP_BINARY, "whole message"),
      fromServer(OP_PING, "ping"),
      fromServer(OP_TEXT, "fragment", { fin: false }),
      fromServer(OP_CONT, " end"),
      fromServer(OP_BINARY, Buffer.alloc(70_000, 0x61)),
    ];
    const bytes = Buffer.concat(frames);
    for (const lent of [true, false]) {
      const kept: Buffer[] = [];
      const parser = new FrameParser({
        mask: false,
        onFrame: (f) => kept.push(f.data),
        onMessage: (_opcode, data) => kept.push(data),
      });
      // The last frame spans this chunk and the next.
      const chunk = Buffer.from(bytes.subarray(0, bytes.length - 100));
      parser.parse(chunk, lent);
      const copies = kept.map((data) => Buffer.from(data));
      // The caller reuses its buffer.
      chunk.fill(0);
      parser.parse(Buffer.from(bytes.subarray(bytes.length - 100)), lent);
      assert.equal(kept.length, 5);
      for (let i = 0; i < copies.length; i++) {
        if (lent) assert.deepEqual(kept[i], copies[i]);
        else
          assert.ok(
            kept[i].every((byte) => byte === 0),
            "a view of the chunk",
          );
      }
      assert.deepEqual(kept[4], Buffer.alloc(70_000, 0x61));
    }
  });
});
