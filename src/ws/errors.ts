/**
 * The errors of `websockets-ts/ws`, shaped like `ws`'s: an `Error` or
 * `RangeError` with a stable `code` (`WS_ERR_INVALID_OPCODE`...) and the
 * close code the connection failed with. The core's `ProtocolError` and
 * `PayloadTooBig` are translated here, once, by what they report.
 *
 * @module
 */

import { PayloadTooBig, ProtocolError } from "../errors.ts";
import { isValidCloseCode } from "../frames.ts";

/** The `code` of the errors a `ws` receiver emits, and ours with it. */
export type WsErrorCode =
  | "WS_ERR_EXPECTED_FIN"
  | "WS_ERR_EXPECTED_MASK"
  | "WS_ERR_INVALID_CLOSE_CODE"
  | "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH"
  | "WS_ERR_INVALID_OPCODE"
  | "WS_ERR_INVALID_UTF8"
  | "WS_ERR_UNEXPECTED_MASK"
  | "WS_ERR_UNEXPECTED_RSV_1"
  | "WS_ERR_UNEXPECTED_RSV_2_3"
  | "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"
  | "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
  // ws passes zlib's own error for bad compressed data, with zlib's code.
  | "Z_DATA_ERROR";

/** Every {@link WsErrorCode}, for matching: `if (WS_ERR_CODES.includes(err.code))`. */
export const WS_ERR_CODES: readonly WsErrorCode[] = Object.freeze([
  "WS_ERR_EXPECTED_FIN",
  "WS_ERR_EXPECTED_MASK",
  "WS_ERR_INVALID_CLOSE_CODE",
  "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH",
  "WS_ERR_INVALID_OPCODE",
  "WS_ERR_INVALID_UTF8",
  "WS_ERR_UNEXPECTED_MASK",
  "WS_ERR_UNEXPECTED_RSV_1",
  "WS_ERR_UNEXPECTED_RSV_2_3",
  "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
  "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
  "Z_DATA_ERROR",
]);

/** An error a `WebSocket` emits when the peer broke the protocol. */
export interface WsProtocolError extends Error {
  /** Which rule was broken. */
  code: WsErrorCode;
  /** The close code the connection was failed with (1002, 1007, 1009). */
  closeCode: number;
}

// Our ProtocolError messages start with what was wrong; each prefix names
// one ws code. Checked in order: the first match wins.
const RULES: readonly (readonly [prefix: string, code: WsErrorCode, range: boolean])[] = [
  ["reserved bits must be 0: got 0x4", "WS_ERR_UNEXPECTED_RSV_1", true],
  ["reserved bits must be 0", "WS_ERR_UNEXPECTED_RSV_2_3", true],
  ["RSV1 set", "WS_ERR_UNEXPECTED_RSV_1", true],
  ["invalid opcode", "WS_ERR_INVALID_OPCODE", true],
  ["unexpected continuation frame", "WS_ERR_INVALID_OPCODE", true],
  ["expected a continuation frame", "WS_ERR_INVALID_OPCODE", true],
  ["frame from client isn't masked", "WS_ERR_EXPECTED_MASK", true],
  ["frame from server is masked", "WS_ERR_UNEXPECTED_MASK", true],
  ["invalid payload length", "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH", true],
  ["control frame too long", "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH", true],
  ["close frame too short", "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH", true],
  ["fragmented control frame", "WS_ERR_EXPECTED_FIN", true],
  ["invalid close code", "WS_ERR_INVALID_CLOSE_CODE", true],
  ["invalid UTF-8", "WS_ERR_INVALID_UTF8", false],
  ["invalid compressed data", "Z_DATA_ERROR", false],
];

/**
 * The `ws`-style error for why the core failed a connection, or `null`
 * when the peer broke no rule (it left, the network failed): `ws` emits
 * `error` only for the former.
 */
export function toWsError(cause: unknown): WsProtocolError | null {
  let error: Error;
  let code: WsErrorCode;
  let closeCode: number;
  if (cause instanceof PayloadTooBig) {
    error = new RangeError(`Max payload size exceeded: ${cause.message}`);
    code = "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
    closeCode = 1009;
  } else if (cause instanceof ProtocolError) {
    const rule = RULES.find(([prefix]) => cause.message.startsWith(prefix));
    if (rule === undefined) {
      error = new RangeError(`Invalid WebSocket frame: ${cause.message}`);
      code = "WS_ERR_INVALID_OPCODE";
    } else {
      error = rule[2]
        ? new RangeError(`Invalid WebSocket frame: ${cause.message}`)
        : new Error(`Invalid WebSocket frame: ${cause.message}`);
      code = rule[1];
    }
    closeCode = cause.closeCode;
  } else {
    return null;
  }
  return Object.assign(error, { code, closeCode, cause });
}

/** Whether `code` may be sent in a close frame (RFC 6455 §7.4), checked as `ws` checks it. */
export function isSendableCloseCode(code: unknown): code is number {
  return typeof code === "number" && isValidCloseCode(code);
}
