/**
 * Category 3, reserved bits: with no extension negotiated, any RSV bit fails
 * the connection (RFC 6455 §5.2).
 *
 * @module
 */

import type { WriteMode } from "../fuzzer.ts";
import { type ConformanceCase, FAILED_BEFORE_ECHO, peerFails, text } from "./case.ts";

const HELLO = "Hello, world!";

function afterEcho(id: string, rsv: number, mode: WriteMode): ConformanceCase {
  return {
    id,
    description: `Send a text message, then one with RSV = ${rsv}, then a ping (${mode})`,
    async run(s) {
      await s.sendFrames(
        [{ opcode: 1, payload: HELLO }, { opcode: 1, payload: HELLO, rsv }, { opcode: 9 }],
        mode,
      );
      return {
        ok: [text(HELLO)],
        // A peer may fail before it echoed the first message.
        nonStrict: [],
        nonStrictReason: FAILED_BEFORE_ECHO,
        close: peerFails(1002),
      };
    },
  };
}

export const reservedBitCases: ConformanceCase[] = [
  {
    id: "3.1",
    description: "Send a small text message with RSV = 1",
    async run(s) {
      await s.sendFrame({ opcode: 1, payload: HELLO, rsv: 1 });
      return { ok: [], close: peerFails(1002) };
    },
  },
  afterEcho("3.2", 2, "one-write"),
  afterEcho("3.3", 3, "frame-wise"),
  afterEcho("3.4", 4, "octet-wise"),
  {
    id: "3.5",
    description: "Send a small binary message with RSV = 5",
    async run(s) {
      await s.sendFrame({ opcode: 2, payload: Buffer.from([0, 1, 2, 0xff]), rsv: 5 });
      return { ok: [], close: peerFails(1002) };
    },
  },
  {
    id: "3.6",
    description: "Send a ping with RSV = 6",
    async run(s) {
      await s.sendFrame({ opcode: 9, payload: HELLO, rsv: 6 });
      return { ok: [], close: peerFails(1002) };
    },
  },
  {
    id: "3.7",
    description: "Send a close frame with RSV = 7",
    async run(s) {
      const payload = Buffer.from([0x03, 0xe8]);
      await s.sendFrame({ opcode: 8, payload, rsv: 7 });
      return { ok: [], close: peerFails(1002) };
    },
  },
];
