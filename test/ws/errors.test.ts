// toWsError: each way the core fails a connection because of the peer maps
// to the ws error code a ws user matches on; other causes are not errors.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { describe, test } from "node:test";
import { PayloadTooBig, ProtocolError } from "../../src/errors.ts";
import { isSendableCloseCode, toWsError, WS_ERR_CODES } from "../../src/ws/errors.ts";

describe("toWsError", () => {
  const cases: [ProtocolError | PayloadTooBig, string, string, number][] = [
    [
      new ProtocolError("reserved bits must be 0: got 0x4"),
      "WS_ERR_UNEXPECTED_RSV_1",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("reserved bits must be 0: got 0x2"),
      "WS_ERR_UNEXPECTED_RSV_2_3",
      "RangeError",
      1002,
    ],
    [new ProtocolError("RSV1 set on a PING frame"), "WS_ERR_UNEXPECTED_RSV_1", "RangeError", 1002],
    [new ProtocolError("invalid opcode: 3"), "WS_ERR_INVALID_OPCODE", "RangeError", 1002],
    [
      new ProtocolError("unexpected continuation frame"),
      "WS_ERR_INVALID_OPCODE",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("expected a continuation frame, got TEXT"),
      "WS_ERR_INVALID_OPCODE",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("frame from client isn't masked"),
      "WS_ERR_EXPECTED_MASK",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("frame from server is masked"),
      "WS_ERR_UNEXPECTED_MASK",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("invalid payload length: most significant bit is set"),
      "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("control frame too long: PING with 126 bytes, limit is 125 bytes"),
      "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("close frame too short: 1 byte, expected 0 or at least 2"),
      "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
      "RangeError",
      1002,
    ],
    [
      new ProtocolError("fragmented control frame: PING"),
      "WS_ERR_EXPECTED_FIN",
      "RangeError",
      1002,
    ],
    [new ProtocolError("invalid close code: 999"), "WS_ERR_INVALID_CLOSE_CODE", "RangeError", 1002],
    [
      new ProtocolError("invalid UTF-8 in text message", 1007),
      "WS_ERR_INVALID_UTF8",
      "Error",
      1007,
    ],
    [new ProtocolError("invalid compressed data: bad block", 1007), "Z_DATA_ERROR", "Error", 1007],
    [new PayloadTooBig(11, 10), "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", "RangeError", 1009],
  ];
  for (const [cause, code, type, closeCode] of cases) {
    test(`${cause.message} -> ${code}`, () => {
      const error = toWsError(cause);
      ok(error !== null);
      deepStrictEqual(
        [error.code, error.constructor.name, error.closeCode, error.cause],
        [code, type, closeCode, cause],
      );
      ok(WS_ERR_CODES.includes(error.code));
      ok(error.message.includes(cause.message), error.message);
    });
  }

  test("a protocol error it doesn't know still gets a WS_ERR code and its close code", () => {
    const error = toWsError(new ProtocolError("something new", 1003));
    deepStrictEqual([error?.code, error?.closeCode], ["WS_ERR_INVALID_OPCODE", 1003]);
  });

  test("the peer leaving or the network failing is no ws error", () => {
    equal(toWsError(new Error("unexpected end of stream")), null);
    equal(toWsError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })), null);
    equal(toWsError(undefined), null);
  });
});

describe("isSendableCloseCode", () => {
  test("accepts 1000-1014 but 1004-1006, and 3000-4999", () => {
    const sendable = [1000, 1001, 1003, 1007, 1014, 3000, 4999];
    const refused = [0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000, "1000", null];
    deepStrictEqual(
      sendable.map(isSendableCloseCode),
      sendable.map(() => true),
    );
    deepStrictEqual(
      refused.map(isSendableCloseCode),
      refused.map(() => false),
    );
  });
});
