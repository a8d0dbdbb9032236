/**
 * Category 7, close handling (RFC 6455 §5.5.1, §7): what may follow a close
 * frame, close frame structure, and every class of valid and invalid close
 * code (§7.4 and the IANA registry).
 *
 * @module
 */

import { type ConformanceCase, type ExpectedClose, echoes, text, textPayload } from "./case.ts";

function closeCase(
  id: string,
  description: string,
  payload: Buffer,
  close: ExpectedClose,
): ConformanceCase {
  return {
    id,
    description,
    async run(s) {
      await s.sendCloseFrame(payload);
      return { ok: [], close, suppressClose: true };
    },
  };
}

function codePayload(code: number, reason: Buffer | string = ""): Buffer {
  const r = typeof reason === "string" ? Buffer.from(reason) : reason;
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

// The fuzzer sent the first close frame, so "closedByMe" holds even when the peer answers with an error.
const protocolError: ExpectedClose = { closedByMe: true, codes: [1002], requireClean: false };

/** Codes a peer may send and must accept: RFC 6455 §7.4.1 and the IANA registry, 3000-4999. */
const VALID_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
/** Codes that must never be on the wire: unused, reserved for local use (1005, 1006, 1015), unassigned. */
const INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999];

export const closeCases: ConformanceCase[] = [
  {
    id: "7.1.1",
    description: "Send a text message, then a close frame once it is echoed",
    async run(s) {
      await s.sendFrame({ opcode: 1, payload: "Hello World!" });
      return echoes(text("Hello World!"));
    },
  },
  {
    id: "7.1.2",
    description: "Send two close frames",
    async run(s) {
      await s.sendClose(1000);
      await s.sendFrame({ opcode: 8, payload: codePayload(1000) });
      return { ...echoes(), suppressClose: true };
    },
  },
  {
    id: "7.1.3",
    description: "Send a ping after a close frame",
    async run(s) {
      await s.sendClose(1000);
      await s.sendFrame({ opcode: 9, payload: "ping after close" });
      return { ...echoes(), suppressClose: true };
    },
  },
  {
    id: "7.1.4",
    description: "Send a text message after a close frame",
    async run(s) {
      await s.sendClose(1000);
      await s.sendFrame({ opcode: 1, payload: "text after close" });
      return { ...echoes(), suppressClose: true };
    },
  },
  {
    id: "7.1.5",
    description: "Send the first fragment of a text message, a close frame, then the last fragment",
    async run(s) {
      // RFC 6455 §5.4: control frames may come between fragments; nothing after close counts.
      await s.sendFrame({ opcode: 1, payload: "fragment1", fin: false });
      await s.sendClose(1000);
      await s.sendFrame({ opcode: 0, payload: "fragment2", fin: true });
      return { ...echoes(), suppressClose: true };
    },
  },
  {
    id: "7.1.6",
    description:
      "Send a 256 KiB text message and a small one, then a close frame, then a ping, back to back",
    async run(s) {
      const big = textPayload(256 * 1024);
      s.noteCloseSent();
      await s.sendFrames([
        { opcode: 1, payload: big },
        { opcode: 1, payload: "Hello World!" },
        { opcode: 8, payload: codePayload(1000) },
        { opcode: 9 },
      ]);
      return {
        ok: [text(big), text("Hello World!")],
        nonStrict: [],
        close: { closedByMe: true, codes: [1000], requireClean: true },
        suppressClose: true,
        // RFC 6455 leaves open whether messages queued before a close get echoed.
        informational: true,
      };
    },
  },
  {
    id: "7.1.7",
    description: "Send the first fragment of a text message, then a close frame, and wait",
    async run(s) {
      await s.sendFrame({ opcode: 1, payload: "fragment1", fin: false });
      await s.sendClose(1000, "closing mid-message");
      return { ...echoes(), suppressClose: true };
    },
  },
  closeCase("7.3.1", "Send a close frame with an empty payload", Buffer.alloc(0), {
    closedByMe: true,
    codes: [1000],
    requireClean: true,
  }),
  closeCase(
    "7.3.2",
    "Send a close frame with a 1-byte payload",
    Buffer.from([0x03]),
    protocolError,
  ),
  closeCase("7.3.3", "Send a close frame with code 1000 and no reason", codePayload(1000), {
    closedByMe: true,
    codes: [1000],
    requireClean: true,
  }),
  closeCase(
    "7.3.4",
    "Send a close frame with code 1000 and a reason",
    codePayload(1000, "Hello World!"),
    {
      closedByMe: true,
      codes: [1000],
      requireClean: true,
    },
  ),
  closeCase(
    "7.3.5",
    "Send a close frame with code 1000 and a 123-byte reason (the longest)",
    codePayload(1000, "*".repeat(123)),
    { closedByMe: true, codes: [1000], requireClean: true },
  ),
  {
    id: "7.3.6",
    description: "Send a close frame with code 1000 and a 124-byte reason (one too long)",
    async run(s) {
      // RFC 6455 §5.5: a 126-byte control frame is a protocol error.
      s.noteCloseSent();
      await s.sendFrame({ opcode: 8, payload: codePayload(1000, "*".repeat(124)) });
      return { ok: [], close: protocolError, suppressClose: true };
    },
  },
  closeCase(
    "7.5.1",
    "Send a close frame with a reason that is not UTF-8",
    codePayload(1000, Buffer.from("cebae1bdb9cf83cebcceb5eda080656469746564", "hex")),
    { closedByMe: true, codes: [1002, 1007], requireClean: false },
  ),
  closeCase(
    "7.5.2",
    "Send a close frame with a reason of 4-byte UTF-8 characters",
    codePayload(1000, "bye 👋🏽 𝄞"),
    { closedByMe: true, codes: [1000], requireClean: true },
  ),
  ...VALID_CODES.map((code, i) =>
    closeCase(`7.7.${i + 1}`, `Send a close frame with valid code ${code}`, codePayload(code), {
      closedByMe: true,
      codes: [1000, code],
      requireClean: true,
    }),
  ),
  ...INVALID_CODES.map((code, i) =>
    closeCase(
      `7.9.${i + 1}`,
      `Send a close frame with invalid code ${code}`,
      codePayload(code),
      protocolError,
    ),
  ),
  ...[5000, 65535].map((code, i) =>
    closeCase(
      `7.13.${i + 1}`,
      `Send a close frame with code ${code}, outside every defined range`,
      codePayload(code),
      {
        closedByMe: true,
        codes: [1002],
        nonStrictCodes: [1000, code],
        nonStrictCodesReason: `accepted close code ${code}, which RFC 6455 §7.4.2 leaves undefined`,
        requireClean: false,
      },
    ),
  ),
  {
    id: "7.13.3",
    description:
      "Send a close frame whose code is valid but whose reason is cut inside a UTF-8 character",
    async run(s) {
      const reason = Buffer.from("bye 👋").subarray(0, 6);
      await s.sendCloseFrame(codePayload(1000, reason));
      return {
        ok: [],
        close: { closedByMe: true, codes: [1002, 1007], requireClean: false },
        suppressClose: true,
      };
    },
  },
  {
    id: "7.13.4",
    description: "Send a close frame with code 1000 when the peer should fail the connection first",
    async run(s) {
      // An invalid frame first: the close that follows must not turn the failure into a clean close.
      await s.sendFrame({ opcode: 1, payload: "bad", rsv: 2 });
      await s.sendClose(1000);
      return {
        ok: [],
        close: { closedByMe: true, codes: [1002], requireClean: false },
        suppressClose: true,
      };
    },
  },
];
