/**
 * The `websockets-ts/protocol` entry point (src/sans-io.ts): the classes
 * docs/protocol.md builds on exist and are related as documented, and the
 * wire constants it re-exports carry RFC 6455's values (§5.2 opcodes,
 * §7.4.1 close codes, plus the IANA registry's 1012-1015), each with its
 * name. The classes' behaviour is tested with their own source files.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as p from "../src/sans-io.ts";
import { isClass } from "./support/exports.ts";

describe("websockets-ts/protocol", () => {
  it("exports the protocol classes: both roles extend Protocol", () => {
    assert.equal(Object.getPrototypeOf(p.ServerProtocol), p.Protocol);
    assert.equal(Object.getPrototypeOf(p.ClientProtocol), p.Protocol);
    for (const cls of [
      p.ServerProtocolConfig,
      p.RequestParser,
      p.ResponseParser,
      p.FrameParser,
      p.Frame,
      p.Close,
      p.Headers,
      p.ServerPerMessageDeflateFactory,
      p.ClientPerMessageDeflateFactory,
    ]) {
      assert.ok(isClass(cls), cls.name);
    }
    for (const fn of [
      p.acceptKey,
      p.enableServerPermessageDeflate,
      p.enableClientPermessageDeflate,
    ]) {
      assert.equal(typeof fn, "function", fn.name);
      assert.equal(isClass(fn), false, fn.name);
    }
  });

  it("exports the opcodes with RFC 6455's values and names", () => {
    const opcodes: [number, number, string][] = [
      [p.OP_CONT, 0x0, "CONT"],
      [p.OP_TEXT, 0x1, "TEXT"],
      [p.OP_BINARY, 0x2, "BINARY"],
      [p.OP_CLOSE, 0x8, "CLOSE"],
      [p.OP_PING, 0x9, "PING"],
      [p.OP_PONG, 0xa, "PONG"],
    ];
    for (const [constant, value, name] of opcodes) {
      assert.equal(constant, value, name);
      assert.equal(new Map(Object.entries(p.OPCODE_NAMES)).get(String(value)), name);
      assert.equal(p.isControlOpcode(value), value >= 0x8, name);
    }
  });

  it("exports the close codes with their registered values, each named", () => {
    const codes: [number, number][] = [
      [p.CLOSE_NORMAL, 1000],
      [p.CLOSE_GOING_AWAY, 1001],
      [p.CLOSE_PROTOCOL_ERROR, 1002],
      [p.CLOSE_UNSUPPORTED_DATA, 1003],
      [p.CLOSE_NO_STATUS_RCVD, 1005],
      [p.CLOSE_ABNORMAL_CLOSURE, 1006],
      [p.CLOSE_INVALID_DATA, 1007],
      [p.CLOSE_POLICY_VIOLATION, 1008],
      [p.CLOSE_MESSAGE_TOO_BIG, 1009],
      [p.CLOSE_MANDATORY_EXTENSION, 1010],
      [p.CLOSE_INTERNAL_ERROR, 1011],
      [p.CLOSE_SERVICE_RESTART, 1012],
      [p.CLOSE_TRY_AGAIN_LATER, 1013],
      [p.CLOSE_BAD_GATEWAY, 1014],
      [p.CLOSE_TLS_HANDSHAKE, 1015],
    ];
    for (const [constant, value] of codes) {
      assert.equal(constant, value);
      assert.equal(typeof p.CLOSE_CODE_NAMES[value], "string", String(value));
    }
    // 1005, 1006 and 1015 are never sent on the wire (§7.4.1).
    for (const [code, valid] of [
      [1000, true],
      [1005, false],
      [1006, false],
      [1015, false],
      [4000, true],
    ] as const) {
      assert.equal(p.isValidCloseCode(code), valid, String(code));
    }
  });

  it("exports the states with their names", () => {
    assert.deepEqual(
      [
        p.STATE_NAMES[p.CONNECTING],
        p.STATE_NAMES[p.OPEN],
        p.STATE_NAMES[p.CLOSING],
        p.STATE_NAMES[p.CLOSED],
      ],
      ["CONNECTING", "OPEN", "CLOSING", "CLOSED"],
    );
  });
});
