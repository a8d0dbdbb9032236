/**
 * Category 9, large messages and many fragments — correctness only (speed is
 * bench/'s business), with sizes bounded so the suite stays fast — and
 * category 10, auto-fragmentation.
 *
 * @module
 */

import type { Observed } from "../fuzzer.ts";
import { binary, binaryPayload, type ConformanceCase, echoes, text, textPayload } from "./case.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function sizeName(n: number): string {
  return n >= MiB ? `${n / MiB} MiB` : n >= KiB ? `${n / KiB} KiB` : `${n} B`;
}

function payload(isBinary: boolean, n: number): Buffer {
  return isBinary ? binaryPayload(n, n) : textPayload(n);
}

function expectMessage(isBinary: boolean, p: Buffer): Observed {
  return isBinary ? binary(p) : text(p);
}

function kindCases(isBinary: boolean): ConformanceCase[] {
  const kind = isBinary ? "binary" : "text";
  const out: ConformanceCase[] = [];
  const sub = isBinary ? 0 : -1;
  // 9.1 / 9.2: one message of increasing size (16 MiB is in category 1).
  [64 * KiB, 256 * KiB, MiB, 4 * MiB].forEach((n, i) => {
    out.push({
      id: `9.${2 + sub}.${i + 1}`,
      description: `Send a ${kind} message of ${sizeName(n)}`,
      async run(s) {
        const p = payload(isBinary, n);
        await s.sendMessage(p, { binary: isBinary });
        return { ...echoes(expectMessage(isBinary, p)), waitMs: 10_000 };
      },
    });
  });
  // 9.3 / 9.4: a 1 MiB message in fragments of increasing size.
  [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB].forEach((size, i) => {
    out.push({
      id: `9.${4 + sub}.${i + 1}`,
      description: `Send a ${kind} message of 1 MiB in fragments of ${sizeName(size)}`,
      async run(s) {
        const p = payload(isBinary, MiB);
        await s.sendMessage(p, { binary: isBinary, fragmentSize: size });
        return { ...echoes(expectMessage(isBinary, p)), waitMs: 10_000 };
      },
    });
  });
  // 9.5 / 9.6: a 256 KiB message in one frame, written in chops of increasing size.
  [64, 128, 256, 512, KiB, 2 * KiB].forEach((chop, i) => {
    out.push({
      id: `9.${6 + sub}.${i + 1}`,
      description: `Send a ${kind} message of 256 KiB in one frame written in chops of ${chop} bytes`,
      async run(s) {
        const p = payload(isBinary, 256 * KiB);
        await s.sendMessage(p, { binary: isBinary, mode: { chop } });
        return { ...echoes(expectMessage(isBinary, p)), waitMs: 10_000 };
      },
    });
  });
  // 9.7 / 9.8: many messages, each echoed before the next is sent.
  [0, 16, 64, 256, KiB, 4 * KiB].forEach((n, i) => {
    out.push({
      id: `9.${8 + sub}.${i + 1}`,
      description: `Send 100 ${kind} messages of ${sizeName(n)}, one after the echo of the other`,
      async run(s) {
        const expected: Observed[] = [];
        for (let k = 0; k < 100; k++) {
          const p = payload(isBinary, n);
          if (n > 0) p[0] = 0x30 + (k % 10);
          expected.push(expectMessage(isBinary, p));
          await s.sendMessage(p, { binary: isBinary });
          if (!(await s.waitFor(() => s.received.length > k || !s.open, 5000))) break;
        }
        return echoes(...expected);
      },
    });
  });
  return out;
}

export const limitCases: ConformanceCase[] = [
  ...kindCases(false),
  ...kindCases(true),
  {
    id: "9.9.1",
    description:
      "Send a text message of 1 MiB in 16,384 fragments of 64 bytes with a ping every 1,024 fragments",
    async run(s) {
      const p = textPayload(MiB);
      const frames = [];
      const expected: Observed[] = [];
      for (let i = 0; i < p.length; i += 64) {
        frames.push({
          opcode: i === 0 ? 1 : 0,
          payload: p.subarray(i, i + 64),
          fin: i + 64 >= p.length,
        });
        if ((i / 64) % 1024 === 1023 && i + 64 < p.length) {
          const ping = `ping ${i / 64}`;
          frames.push({ opcode: 9, payload: ping });
          expected.push({ type: "pong", data: Buffer.from(ping) });
        }
      }
      await s.sendFrames(frames);
      return { ...echoes(...expected, text(p)), waitMs: 10_000 };
    },
  },
];

export const autoFragmentationCases: ConformanceCase[] = [
  {
    id: "10.1.1",
    description: "Send a text message of 65,536 bytes auto-fragmented into frames of 1,300 bytes",
    async run(s) {
      const p = textPayload(65_536);
      await s.sendMessage(p, { fragmentSize: 1300 });
      return echoes(text(p));
    },
  },
  {
    id: "10.1.2",
    description:
      "Send a binary message of 65,536 bytes auto-fragmented into frames of 1,300 bytes, written frame by frame",
    async run(s) {
      const p = binaryPayload(65_536);
      await s.sendMessage(p, { binary: true, fragmentSize: 1300, mode: "frame-wise" });
      return echoes(binary(p));
    },
  },
];
