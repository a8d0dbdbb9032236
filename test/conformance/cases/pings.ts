/**
 * Category 2, pings and pongs (RFC 6455 §5.5.2, §5.5.3).
 *
 * @module
 */

import type { WriteMode } from "../fuzzer.ts";
import { binaryPayload, type ConformanceCase, echoes, peerFails, pong } from "./case.ts";

function pingCase(
  id: string,
  description: string,
  payload: Buffer | string,
  mode: WriteMode = "one-write",
): ConformanceCase {
  return {
    id,
    description,
    async run(s) {
      await s.sendFrame({ opcode: 9, payload }, mode);
      return echoes(pong(payload));
    },
  };
}

function tenPings(id: string, mode: WriteMode): ConformanceCase {
  return {
    id,
    description: `Send 10 pings with payloads${mode === "octet-wise" ? ", one byte per write" : ""}`,
    async run(s) {
      const expected = [];
      for (let i = 0; i < 10; i++) {
        const payload = `payload-${i}`;
        expected.push(pong(payload));
        await s.sendFrame({ opcode: 9, payload }, mode);
      }
      // RFC 6455 §5.5.3 lets a peer answer only the latest of pending pings; Autobahn
      // (and we) expect every one answered.
      return echoes(...expected);
    },
  };
}

export const pingCases: ConformanceCase[] = [
  pingCase("2.1", "Send a ping without payload", ""),
  pingCase("2.2", "Send a ping with a small text payload", "Hello, world!"),
  pingCase(
    "2.3",
    "Send a ping with a small binary payload",
    Buffer.from([0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0, 0xff]),
  ),
  pingCase("2.4", "Send a ping with a 125-byte binary payload", binaryPayload(125)),
  {
    id: "2.5",
    description: "Send a ping with a 126-byte payload",
    async run(s) {
      // RFC 6455 §5.5: control frames carry at most 125 bytes.
      await s.sendFrame({ opcode: 9, payload: binaryPayload(126) });
      return { ok: [], close: peerFails(1002) };
    },
  },
  pingCase(
    "2.6",
    "Send a ping with a 125-byte payload, one byte per write",
    binaryPayload(125),
    "octet-wise",
  ),
  {
    id: "2.7",
    description: "Send an unsolicited pong without payload",
    async run(s) {
      await s.sendFrame({ opcode: 10 });
      return echoes();
    },
  },
  {
    id: "2.8",
    description: "Send an unsolicited pong with payload",
    async run(s) {
      await s.sendFrame({ opcode: 10, payload: "unsolicited pong payload" });
      return echoes();
    },
  },
  {
    id: "2.9",
    description: "Send an unsolicited pong, then a ping",
    async run(s) {
      await s.sendFrame({ opcode: 10, payload: "unsolicited pong payload" });
      await s.sendFrame({ opcode: 9, payload: "ping payload" });
      return echoes(pong("ping payload"));
    },
  },
  tenPings("2.10", "one-write"),
  tenPings("2.11", "octet-wise"),
];
