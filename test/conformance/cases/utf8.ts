/**
 * Category 6, UTF-8 handling: text messages must be valid UTF-8 (RFC 6455
 * §8.1, RFC 3629), checked across fragment boundaries, and a peer should fail
 * as soon as the bytes received so far cannot start valid UTF-8 (fail fast).
 * The sequences are Markus Kuhn's UTF-8 decoder stress test, grouped as
 * Autobahn groups them (6.5 to 6.23); every sequence is also sent one byte
 * per fragment (ids ending in "f").
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { encodeFrame, type FrameSpec } from "../fuzzer.ts";
import {
  type ConformanceCase,
  type Expectation,
  echoes,
  peerFails,
  text,
  timeout,
} from "./case.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const KOSME = hex("ceba e1bdb9 cf83 cebc ceb5");

type Group = { title: string; sequences: { valid: boolean; bytes: Buffer }[] };

function group(title: string, valid: boolean, ...sequences: (string | Buffer)[]): Group {
  return {
    title,
    sequences: sequences.map((s) => ({ valid, bytes: typeof s === "string" ? hex(s) : s })),
  };
}

function mixed(title: string, ...entries: [boolean, string][]): Group {
  return { title, sequences: entries.map(([valid, s]) => ({ valid, bytes: hex(s) })) };
}

function range(from: number, to: number, step: (i: number) => number[]): Buffer {
  const bytes: number[] = [];
  for (let i = from; i < to; i++) bytes.push(...step(i));
  return Buffer.from(bytes);
}

const lastContinuationMissing = [
  "c0",
  "e080",
  "f08080",
  "f8808080",
  "fc80808080",
  "df",
  "efbf",
  "f7bfbf",
  "fbbfbfbf",
  "fdbfbfbfbf",
];

function nonCharacters(): Group {
  const out: Group = group("Non-character code points (valid UTF-8)", true, "efbfbe", "efbfbf");
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // above U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        out.sequences.push({ valid: true, bytes: Buffer.from([z1, z2, 0xbf, z3]) });
      }
    }
  }
  return out;
}

const GROUPS: Group[] = [
  group(
    "Some valid UTF-8 sequences",
    true,
    Buffer.from("hello$world"),
    hex("68656c6c6f c2a2 776f726c64"),
    hex("68656c6c6f e282ac 776f726c64"),
    hex("68656c6c6f f0a4ada2 776f726c64"),
    KOSME,
  ),
  {
    title: "All prefixes of a valid UTF-8 string that contains multi-byte code points",
    sequences: Array.from({ length: KOSME.length }, (_, i) => {
      const bytes = KOSME.subarray(0, i + 1);
      return { valid: isUtf8(bytes), bytes };
    }),
  },
  group("First possible sequence of a certain length", true, "00", "c280", "e0a080", "f0908080"),
  group(
    "First possible sequence length 5/6 (invalid codepoints)",
    false,
    "f888808080",
    "fc8480808080",
  ),
  group("Last possible sequence of a certain length", true, "7f", "dfbf", "efbfbf", "f48fbfbf"),
  group(
    "Last possible sequence length 4/5/6 (invalid codepoints)",
    false,
    "f7bfbfbf",
    "fbbfbfbfbf",
    "fdbfbfbfbfbf",
  ),
  mixed(
    "Other boundary conditions",
    [true, "ed9fbf"],
    [true, "ee8080"],
    [true, "efbfbd"],
    [true, "f48fbfbf"],
    [false, "f4908080"],
  ),
  group(
    "Unexpected continuation bytes",
    false,
    "80",
    "bf",
    "80bf",
    "80bf80",
    "80bf80bf",
    "80bf80bf80",
    "80bf80bf80bf",
    range(0x80, 0xbf, (i) => [i]),
  ),
  group(
    "Lonely start characters",
    false,
    range(0xc0, 0xdf, (i) => [i, 0x20]),
    range(0xe0, 0xef, (i) => [i, 0x20]),
    range(0xf0, 0xf7, (i) => [i, 0x20]),
    range(0xf8, 0xfb, (i) => [i, 0x20]),
    range(0xfc, 0xfd, (i) => [i, 0x20]),
  ),
  group("Sequences with last continuation byte missing", false, ...lastContinuationMissing),
  group("Concatenation of incomplete sequences", false, lastContinuationMissing.join("")),
  group("Impossible bytes", false, "fe", "ff", "fefeffff"),
  group(
    "Examples of an overlong ASCII character",
    false,
    "c0af",
    "e080af",
    "f08080af",
    "f8808080af",
    "fc80808080af",
  ),
  group(
    "Maximum overlong sequences",
    false,
    "c1bf",
    "e09fbf",
    "f08fbfbf",
    "f887bfbfbf",
    "fc83bfbfbfbf",
  ),
  group(
    "Overlong representation of the NUL character",
    false,
    "c080",
    "e08080",
    "f0808080",
    "f880808080",
    "fc8080808080",
  ),
  group(
    "Single UTF-16 surrogates",
    false,
    "eda080",
    "edadbf",
    "edae80",
    "edafbf",
    "edb080",
    "edbe80",
    "edbfbf",
  ),
  group(
    "Paired UTF-16 surrogates",
    false,
    "eda080edb080",
    "eda080edbfbf",
    "edadbfedb080",
    "edadbfedbfbf",
    "edae80edb080",
    "edae80edbfbf",
    "edafbfedb080",
    "edafbfedbfbf",
  ),
  nonCharacters(),
  group(
    "Unicode specials (i.e. replacement char)",
    true,
    "efbfb9",
    "efbfba",
    "efbfbb",
    "efbfbc",
    "efbfbd",
    "efbfbe",
    "efbfbf",
  ),
];

// The table above is data: make sure each entry says what a strict decoder says.
for (const g of GROUPS) {
  for (const s of g.sequences) {
    if (isUtf8(s.bytes) !== s.valid)
      throw new Error(`UTF-8 table: ${s.bytes.toString("hex")} is mislabelled`);
  }
}

function expectation(valid: boolean, bytes: Buffer): Expectation {
  return valid ? echoes(text(bytes)) : { ok: [], close: peerFails(1007) };
}

function perOctet(bytes: Buffer): FrameSpec[] {
  if (bytes.length === 0) return [{ opcode: 1, payload: bytes }];
  return [...bytes].map((b, i) => ({
    opcode: i === 0 ? 1 : 0,
    payload: Buffer.from([b]),
    fin: i === bytes.length - 1,
  }));
}

function stressCases(): ConformanceCase[] {
  const out: ConformanceCase[] = [];
  GROUPS.forEach((g, gi) => {
    g.sequences.forEach((seq, si) => {
      const id = `6.${gi + 5}.${si + 1}`;
      const what = `${seq.valid ? "valid" : "invalid"} UTF-8 (${g.title}): 0x${seq.bytes.toString("hex")}`;
      out.push({
        id,
        description: `Send a text message of ${what}`,
        async run(s) {
          await s.sendFrame({ opcode: 1, payload: seq.bytes });
          return expectation(seq.valid, seq.bytes);
        },
      });
      out.push({
        id: `${id}f`,
        description: `Send a text message of ${what}, one byte per fragment`,
        async run(s) {
          await s.sendFrames(perOctet(seq.bytes));
          return expectation(seq.valid, seq.bytes);
        },
      });
    });
  });
  return out;
}

const VALID_MIXED = Buffer.from("Hello-µ@ßöäüàá-UTF-8!!");

// Fail-fast (Autobahn 6.4): PART1 is valid, PART2 makes the text invalid
// (U+110000 encoded as UTF-8 would), PART3 is valid again.
const FF1 = KOSME;
const FF2 = hex("f4908080");
const FF3 = Buffer.from("edited");
const FF_ALL = Buffer.concat([FF1, FF2, FF3]);

/** Probe waits: the first must pass for any correct peer; the second is the fail-fast window. */
const FIRST_WAIT_MS = 100;
const SECOND_WAIT_MS = 500;

function failFastExpectation(): Expectation {
  return {
    ok: [timeout("A")],
    nonStrict: [timeout("A"), timeout("B")],
    nonStrictReason:
      "failed only once the rest of the message arrived, not on the first invalid byte",
    close: peerFails(1007),
  };
}

function failFastFrames(id: string, cut1: number, cut2: number): ConformanceCase {
  return {
    id,
    description: `Send invalid UTF-8 in 3 fragments, pausing after each; the 2nd makes it invalid (0x${FF_ALL.subarray(cut1, cut2).toString("hex")})`,
    async run(s) {
      await s.sendFrame({ opcode: 1, payload: FF_ALL.subarray(0, cut1), fin: false });
      if (await s.probeTimeout("A", FIRST_WAIT_MS)) {
        await s.sendFrame({ opcode: 0, payload: FF_ALL.subarray(cut1, cut2), fin: false });
        if (await s.probeTimeout("B", SECOND_WAIT_MS)) {
          await s.sendFrame({ opcode: 0, payload: FF_ALL.subarray(cut2), fin: true });
        }
      }
      return failFastExpectation();
    },
  };
}

function failFastChops(id: string, cut1: number, cut2: number): ConformanceCase {
  return {
    id,
    description: `Send invalid UTF-8 in one frame written in 3 chops, pausing after each; the 2nd makes it invalid (0x${FF_ALL.subarray(cut1, cut2).toString("hex")})`,
    async run(s) {
      const bytes = encodeFrame({ opcode: 1, payload: FF_ALL }, s.role);
      const header = bytes.length - FF_ALL.length;
      await s.sendRaw(bytes.subarray(0, header + cut1));
      if (await s.probeTimeout("A", FIRST_WAIT_MS)) {
        await s.sendRaw(bytes.subarray(header + cut1, header + cut2));
        if (await s.probeTimeout("B", SECOND_WAIT_MS)) {
          await s.sendRaw(bytes.subarray(header + cut2));
        }
      }
      return failFastExpectation();
    },
  };
}

export const utf8Cases: ConformanceCase[] = [
  {
    id: "6.1.1",
    description: "Send an empty text message",
    async run(s) {
      await s.sendFrame({ opcode: 1 });
      return echoes(text(""));
    },
  },
  {
    id: "6.1.2",
    description: "Send a text message in 3 empty fragments",
    async run(s) {
      await s.sendFrames([
        { opcode: 1, fin: false },
        { opcode: 0, fin: false },
        { opcode: 0, fin: true },
      ]);
      return echoes(text(""));
    },
  },
  {
    id: "6.1.3",
    description: "Send a text message in 3 fragments, the first and last empty",
    async run(s) {
      await s.sendFrames([
        { opcode: 1, fin: false },
        { opcode: 0, payload: "middle frame payload", fin: false },
        { opcode: 0, fin: true },
      ]);
      return echoes(text("middle frame payload"));
    },
  },
  {
    id: "6.2.1",
    description: "Send valid UTF-8 in one fragment",
    async run(s) {
      await s.sendFrame({ opcode: 1, payload: VALID_MIXED });
      return echoes(text(VALID_MIXED));
    },
  },
  {
    id: "6.2.2",
    description: "Send valid UTF-8 in 2 fragments cut on a code point boundary",
    async run(s) {
      await s.sendFrames([
        { opcode: 1, payload: VALID_MIXED.subarray(0, 12), fin: false },
        { opcode: 0, payload: VALID_MIXED.subarray(12), fin: true },
      ]);
      return echoes(text(VALID_MIXED));
    },
  },
  {
    id: "6.2.3",
    description: "Send valid UTF-8 one byte per fragment (cutting inside code points)",
    async run(s) {
      await s.sendFrames(perOctet(VALID_MIXED));
      return echoes(text(VALID_MIXED));
    },
  },
  {
    id: "6.2.4",
    description: "Send valid UTF-8 (κόσμε) one byte per fragment",
    async run(s) {
      await s.sendFrames(perOctet(KOSME));
      return echoes(text(KOSME));
    },
  },
  {
    id: "6.2.5",
    description: "Send valid UTF-8 with 4-byte characters cut inside each of them across fragments",
    async run(s) {
      const p = Buffer.from("𝄞 music 😀 smile 𠜎 han");
      await s.sendFrames([
        { opcode: 1, payload: p.subarray(0, 2), fin: false },
        { opcode: 0, payload: p.subarray(2, 13), fin: false },
        { opcode: 0, payload: p.subarray(13), fin: true },
      ]);
      return echoes(text(p));
    },
  },
  {
    id: "6.3.1",
    description: "Send invalid UTF-8 (a surrogate) in one fragment",
    async run(s) {
      await s.sendFrame({ opcode: 1, payload: Buffer.concat([KOSME, hex("eda080"), FF3]) });
      return { ok: [], close: peerFails(1007) };
    },
  },
  {
    id: "6.3.2",
    description: "Send invalid UTF-8 (a surrogate) one byte per fragment",
    async run(s) {
      await s.sendFrames(perOctet(Buffer.concat([KOSME, hex("eda080"), FF3])));
      return { ok: [], close: peerFails(1007) };
    },
  },
  failFastFrames("6.4.1", 11, 15),
  failFastFrames("6.4.2", 12, 13),
  failFastChops("6.4.3", 11, 15),
  failFastChops("6.4.4", 12, 13),
  ...stressCases(),
];
