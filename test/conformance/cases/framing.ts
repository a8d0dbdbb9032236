/**
 * Category 1, framing: every payload length encoding boundary (RFC 6455 §5.2)
 * up to 16 MiB, text and binary; then our additions on masking and lengths.
 *
 * @module
 */

import { encodeFrame } from "../fuzzer.ts";
import {
  binary,
  binaryPayload,
  type ConformanceCase,
  echoes,
  peerFails,
  text,
  textPayload,
} from "./case.ts";

// 7-bit lengths end at 125, 16-bit ones at 65,535; 16 MiB is the largest the suite sends.
const LENGTHS = [0, 125, 126, 127, 128, 65_535, 65_536];
const SIXTEEN_MIB = 16 * 1024 * 1024;

function lengthCases(sub: number, kind: "text" | "binary"): ConformanceCase[] {
  const isBinary = kind === "binary";
  const make = (n: number) => (isBinary ? binaryPayload(n) : textPayload(n));
  const expect = (p: Buffer) => (isBinary ? binary(p) : text(p));
  const cases: ConformanceCase[] = LENGTHS.map((n, i) => ({
    id: `1.${sub}.${i + 1}`,
    description: `Send a ${kind} message of ${n} bytes`,
    async run(s) {
      const p = make(n);
      await s.sendFrame({ opcode: isBinary ? 2 : 1, payload: p });
      return echoes(expect(p));
    },
  }));
  cases.push({
    id: `1.${sub}.8`,
    description: `Send a ${kind} message of 65,536 bytes in chops of 997 bytes`,
    async run(s) {
      const p = make(65_536);
      await s.sendFrame({ opcode: isBinary ? 2 : 1, payload: p }, { chop: 997 });
      return echoes(expect(p));
    },
  });
  cases.push({
    id: `1.${sub}.9`,
    description: `Send a ${kind} message of 65,537 bytes, one byte over the 16-bit length`,
    async run(s) {
      const p = make(65_537);
      await s.sendFrame({ opcode: isBinary ? 2 : 1, payload: p });
      return echoes(expect(p));
    },
  });
  cases.push({
    id: `1.${sub}.10`,
    description: `Send a ${kind} message of 16 MiB`,
    async run(s) {
      const p = make(SIXTEEN_MIB);
      await s.sendFrame({ opcode: isBinary ? 2 : 1, payload: p });
      return { ...echoes(expect(p)), waitMs: 20_000, killAfterMs: 10_000 };
    },
  });
  return cases;
}

const masking: ConformanceCase[] = [
  {
    id: "1.3.1",
    description:
      "Send a text frame masked against the role's duty (unmasked from a client, masked from a server)",
    async run(s) {
      // RFC 6455 §5.1: a server MUST fail on an unmasked frame; a client MUST fail on a masked one.
      await s.sendFrame({ opcode: 1, payload: "Hello, world!", mask: s.role !== "client" });
      await s.sendFrame({ opcode: 9 });
      return { ok: [], close: peerFails(1002) };
    },
  },
  {
    id: "1.3.2",
    description: "Send a text frame masked with the all-zero key",
    fuzzerRoles: ["client"],
    async run(s) {
      // A zero key is a valid key (RFC 6455 §5.3 only asks for unpredictability).
      const p = "Hello, zero mask!";
      await s.sendFrame({ opcode: 1, payload: p, maskKey: Buffer.alloc(4) });
      return echoes(text(p));
    },
  },
  {
    id: "1.3.3",
    description: "Send a frame header whose 64-bit length has its most significant bit set",
    async run(s) {
      // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
      const header = encodeFrame(
        { opcode: 2, payload: Buffer.alloc(0), declaredLength: 2 ** 20 },
        s.role,
      );
      const bad = Buffer.from(header);
      bad[2] |= 0x80;
      await s.sendRaw(bad);
      return { ok: [], close: { ...peerFails(1002, 1009) } };
    },
  },
  {
    id: "1.3.4",
    description: "Send a frame header declaring 1 TiB of payload (and no payload)",
    async run(s) {
      // Limits are checked before buffering: the header alone must be enough to refuse it.
      const header = encodeFrame(
        { opcode: 2, payload: Buffer.alloc(0), declaredLength: 2 ** 40 },
        s.role,
      );
      await s.sendRaw(header);
      return { ok: [], close: peerFails(1009) };
    },
  },
  {
    id: "1.3.5",
    description: "Send a text message whose header (and masking key) arrives one byte per write",
    async run(s) {
      const p = "split header";
      const bytes = encodeFrame({ opcode: 1, payload: p }, s.role);
      const headerLength = s.role === "client" ? 6 : 2;
      await s.sendRaw(bytes.subarray(0, headerLength), "octet-wise");
      await s.sendRaw(bytes.subarray(headerLength));
      return echoes(text(p));
    },
  },
];

export const framingCases: ConformanceCase[] = [
  ...lengthCases(1, "text"),
  ...lengthCases(2, "binary"),
  ...masking,
];
