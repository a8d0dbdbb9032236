/**
 * Frames (RFC 6455 §5): opcodes, close codes, the `Frame` and `Close` value
 * types, an incremental parser and the serializer.
 *
 * @module
 */

/** Continuation frame (RFC 6455 §5.4). */
export const OP_CONT = 0x0;
/** Text frame. */
export const OP_TEXT = 0x1;
/** Binary frame. */
export const OP_BINARY = 0x2;
/** Close frame (RFC 6455 §5.5.1). */
export const OP_CLOSE = 0x8;
/** Ping frame (RFC 6455 §5.5.2). */
export const OP_PING = 0x9;
/** Pong frame (RFC 6455 §5.5.3). */
export const OP_PONG = 0xa;

/** One of the six opcodes RFC 6455 defines. */
export type Opcode =
  | typeof OP_CONT
  | typeof OP_TEXT
  | typeof OP_BINARY
  | typeof OP_CLOSE
  | typeof OP_PING
  | typeof OP_PONG;

/** Names of opcodes, for logs. */
export const OPCODE_NAMES: Readonly<Record<Opcode, string>> = {
  [OP_CONT]: "CONT",
  [OP_TEXT]: "TEXT",
  [OP_BINARY]: "BINARY",
  [OP_CLOSE]: "CLOSE",
  [OP_PING]: "PING",
  [OP_PONG]: "PONG",
};

// Close codes (RFC 6455 §7.4.1 and the IANA registry).
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_NO_STATUS_RCVD = 1005;
export const CLOSE_ABNORMAL_CLOSURE = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_MESSAGE_TOO_BIG = 1009;
export const CLOSE_MANDATORY_EXTENSION = 1010;
export const CLOSE_INTERNAL_ERROR = 1011;
export const CLOSE_SERVICE_RESTART = 1012;
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_BAD_GATEWAY = 1014;
export const CLOSE_TLS_HANDSHAKE = 1015;

/** Human-readable names of close codes, as in logs: `1000 (OK)`. */
export const CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  1000: "OK",
  1001: "going away",
  1002: "protocol error",
  1003: "unsupported data",
  1005: "no status received [internal]",
  1006: "abnormal closure [internal]",
  1007: "invalid frame payload data",
  1008: "policy violation",
  1009: "message too big",
  1010: "mandatory extension",
  1011: "internal error",
  1012: "service restart",
  1013: "try again later",
  1014: "bad gateway",
  1015: "TLS handshake failure [internal]",
};

/** A WebSocket frame. `data` is the unmasked payload. */
export class Frame {
  constructor(
    public opcode: Opcode,
    public data: Buffer,
    public fin = true,
    public rsv1 = false,
    public rsv2 = false,
    public rsv3 = false,
  ) {}
}

/** The payload of a close frame: a code and a reason. */
export class Close {
  constructor(
    public readonly code: number,
    public readonly reason: string,
  ) {}

  /** `1000 (OK) bye`, as in logs and error messages. */
  toString(): string {
    let name = CLOSE_CODE_NAMES[this.code];
    if (name === undefined) {
      if (this.code >= 3000 && this.code < 4000) name = "registered";
      else if (this.code >= 4000 && this.code < 5000) name = "private use";
      else name = "unknown";
    }
    return this.reason === "" ? `${this.code} (${name})` : `${this.code} (${name}) ${this.reason}`;
  }
}
