/**
 * Category 4, opcodes: reserved non-control (3-7) and control (11-15) opcodes
 * fail the connection (RFC 6455 §5.2).
 *
 * @module
 */

import { type ConformanceCase, FAILED_BEFORE_ECHO, peerFails, text } from "./case.ts";

const HELLO = "Hello, world!";

function alone(id: string, opcode: number, withPayload: boolean): ConformanceCase {
  return {
    id,
    description: `Send a frame with reserved opcode ${opcode}${withPayload ? " and a payload" : ""}`,
    async run(s) {
      await s.sendFrame({ opcode, payload: withPayload ? "reserved opcode payload" : "" });
      return { ok: [], close: peerFails(1002) };
    },
  };
}

function afterEcho(id: string, opcode: number, withPayload: boolean): ConformanceCase {
  return {
    id,
    description: `Send a text message, then a frame with reserved opcode ${opcode}${withPayload ? " and a payload" : ""}, then a ping`,
    async run(s) {
      await s.sendFrames([
        { opcode: 1, payload: HELLO },
        { opcode, payload: withPayload ? "reserved opcode payload" : "" },
        { opcode: 9 },
      ]);
      return {
        ok: [text(HELLO)],
        nonStrict: [],
        nonStrictReason: FAILED_BEFORE_ECHO,
        close: peerFails(1002),
      };
    },
  };
}

export const opcodeCases: ConformanceCase[] = [
  alone("4.1.1", 3, false),
  alone("4.1.2", 4, true),
  afterEcho("4.1.3", 5, false),
  afterEcho("4.1.4", 6, true),
  afterEcho("4.1.5", 7, true),
  alone("4.2.1", 11, false),
  alone("4.2.2", 12, true),
  afterEcho("4.2.3", 13, false),
  afterEcho("4.2.4", 14, true),
  afterEcho("4.2.5", 15, true),
];
