/**
 * Generators of the byte streams the fuzzer feeds: WebSocket frames (valid,
 * nearly valid, broken), handshake requests and responses, header values.
 * Each takes a {@link Random} and returns bytes or a string; mutations are
 * applied by the targets.
 *
 * @module
 */

import type { Random } from "./random.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const DATA_OPCODES = [0x0, 0x1, 0x2];
const CONTROL_OPCODES = [0x8, 0x9, 0xa];
const RESERVED_OPCODES = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];
const CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
  1016, 999, 0, 2999, 3000, 3999, 4000, 4999, 5000, 65535,
];
// Valid and invalid UTF-8 sequences, including surrogates, overlongs and
// truncations, to be cut anywhere by fragmentation.
const UTF8_PIECES = [
  "a",
  "hello",
  "é",
  "€",
  "𝄞",
  "\u0000",
  "\uffff",
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xff]),
  Buffer.from([0xf0, 0x9f, 0x98]),
];

/** Bytes of text, mostly valid UTF-8. */
export function text(random: Random, maxPieces = 12): Buffer {
  const parts: Buffer[] = [];
  const count = random.int(maxPieces + 1);
  for (let i = 0; i < count; i++) {
    const piece = random.chance(0.9)
      ? random.pick(UTF8_PIECES.slice(0, 7))
      : random.pick(UTF8_PIECES);
    parts.push(typeof piece === "string" ? Buffer.from(piece) : piece);
  }
  return Buffer.concat(parts);
}

/** A close frame's payload: nothing, a lone byte, or a code and a reason. */
function closePayload(random: Random): Buffer {
  const shape = random.int(10);
  if (shape === 0) return Buffer.alloc(0);
  if (shape === 1) return random.bytes(1);
  const reason = random.chance(0.2) ? random.bytes(random.length(130)) : text(random, 6);
  const out = Buffer.alloc(2 + reason.length);
  out.writeUInt16BE(random.pick(CLOSE_CODES), 0);
  reason.copy(out, 2);
  return out;
}

/** Options of {@link frame}. */
export interface FrameShape {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  /** Mask key, or null. */
  mask: Buffer | null;
  /** Length written in the header, if not the payload's. */
  declared?: number;
  /** Length encoding: 7, 16 or 64 bits; the shortest by default. */
  lengthBits?: 7 | 16 | 64;
}

/** The bytes of one frame, as described (RFC 6455 §5.2), however wrong. */
export function frame(shape: FrameShape): Buffer {
  const { opcode, payload, fin = true, rsv = 0, mask } = shape;
  const length = shape.declared ?? payload.length;
  const bits = shape.lengthBits ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const header: number[] = [(fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0f)];
  const maskBit = mask === null ? 0 : 0x80;
  if (bits === 7) header.push(maskBit | (length & 0x7f));
  else if (bits === 16) header.push(maskBit | 126, (length >>> 8) & 0xff, length & 0xff);
  else {
    const high = Math.floor(length / 2 ** 32);
    const low = length >>> 0;
    header.push(maskBit | 127, high >>> 24, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff);
    header.push(low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff);
  }
  if (mask !== null) header.push(mask[0], mask[1], mask[2], mask[3]);
  const body = Buffer.from(payload);
  if (mask !== null) for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([Buffer.from(header), body]);
}

/**
 * A stream of 1 to 8 frames as a peer in `role` sends them: mostly valid
 * messages (some fragmented, with control frames in between), with a few
 * wrong bits: reserved opcodes or RSV bits, wrong masking, non-minimal or
 * lying lengths, oversized control frames, bad close payloads.
 */
export function frameStream(random: Random, sender: "client" | "server"): Buffer {
  const frames: Buffer[] = [];
  const masked = sender === "client";
  const key = (): Buffer | null => {
    const wrong = random.chance(0.02);
    return masked !== wrong ? random.bytes(4) : null;
  };
  const count = random.range(1, 8);
  for (let i = 0; i < count; i++) {
    const kind = random.int(10);
    if (kind <= 2) {
      // A fragmented message, possibly interleaved with control frames.
      const opcode = random.chance(0.6) ? 0x1 : 0x2;
      const payload = opcode === 0x1 ? text(random, 24) : random.bytes(random.length(300));
      const parts = random.range(1, 5);
      for (let p = 0; p < parts; p++) {
        const from = Math.floor((payload.length * p) / parts);
        const to = Math.floor((payload.length * (p + 1)) / parts);
        frames.push(
          frame({
            opcode: p === 0 ? opcode : 0x0,
            payload: payload.subarray(from, to),
            fin: p === parts - 1,
            mask: key(),
          }),
        );
        if (random.chance(0.2)) {
          frames.push(
            frame({ opcode: 0x9, payload: random.bytes(random.length(125)), mask: key() }),
          );
        }
      }
      continue;
    }
    let opcode: number;
    if (kind <= 6) opcode = random.pick([0x1, 0x2, 0x2]);
    else if (kind <= 8) opcode = random.pick(CONTROL_OPCODES);
    else opcode = random.pick(random.chance(0.5) ? RESERVED_OPCODES : DATA_OPCODES);
    let payload: Buffer;
    if (opcode === 0x8) payload = closePayload(random);
    else if (opcode === 0x1) payload = text(random);
    else if (opcode >= 0x8) payload = random.bytes(random.chance(0.05) ? 126 : random.length(125));
    else payload = random.bytes(random.length(random.chance(0.02) ? 70_000 : 2000));
    const shape: FrameShape = {
      opcode,
      payload,
      fin: opcode >= 0x8 ? random.chance(0.97) : random.chance(0.9),
      rsv: random.chance(0.03) ? random.pick([0x40, 0x20, 0x10, 0x70]) : 0,
      mask: key(),
    };
    if (random.chance(0.05)) shape.lengthBits = random.pick([16, 64] as const);
    if (random.chance(0.03)) {
      // A length the payload doesn't match: the stream ends mid-frame, or
      // is read as something else; sometimes beyond any limit.
      shape.declared = random.pick([
        payload.length + random.range(1, 10),
        2 ** 20 + 1,
        2 ** 31,
        2 ** 53,
        2 ** 63,
      ]);
    }
    frames.push(frame(shape));
  }
  return Buffer.concat(frames);
}

/** A random base64 Sec-WebSocket-Key (16 bytes). */
export function webSocketKey(random: Random): string {
  return random.bytes(16).toString("base64");
}

/** The Sec-WebSocket-Accept of `key` (RFC 6455 §4.2.2). */
export function acceptOf(key: string, sha1: (data: string) => string): string {
  return sha1(key + GUID);
}

// Sec-WebSocket-Extensions offers and answers, valid and not.
const EXTENSION_VALUES = [
  "permessage-deflate",
  "permessage-deflate; client_max_window_bits",
  "permessage-deflate; client_max_window_bits=10; server_max_window_bits=9",
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  'permessage-deflate; client_max_window_bits="12"',
  "permessage-deflate; server_max_window_bits=8",
  "permessage-deflate; server_max_window_bits=16",
  "permessage-deflate; unknown=1",
  "permessage-deflate, permessage-deflate; client_max_window_bits",
  "x-webkit-deflate-frame",
  "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
];

const SUBPROTOCOL_VALUES = ["chat", "chat, superchat", "v1.json", "", ", ,", "chat;x"];

/** Header lines for a handshake request or response, beyond the required ones. */
function extraHeaders(random: Random, lines: string[]): void {
  if (random.chance(0.5)) lines.push(`Sec-WebSocket-Extensions: ${random.pick(EXTENSION_VALUES)}`);
  if (random.chance(0.2)) lines.push(`Sec-WebSocket-Protocol: ${random.pick(SUBPROTOCOL_VALUES)}`);
  if (random.chance(0.2)) lines.push("Origin: https://example.test");
  if (random.chance(0.1)) lines.push(`X-Filler: ${"a".repeat(random.length(9000))}`);
  if (random.chance(0.1)) lines.push(" folded continuation");
  if (random.chance(0.05)) {
    for (let i = random.int(140); i > 0; i--) lines.push(`X-Many-${i}: ${i}`);
  }
}

/** An opening handshake request (RFC 6455 §4.1), sometimes slightly wrong. */
export function handshakeRequest(random: Random, key = webSocketKey(random)): Buffer {
  const lines = [
    random.chance(0.95)
      ? "GET /chat?room=1 HTTP/1.1"
      : random.pick(["POST / HTTP/1.1", "GET / HTTP/1.0", "GET  HTTP/1.1", "GET / HTTP/1.1 x"]),
    "Host: example.test",
    random.chance(0.97) ? "Upgrade: websocket" : "Upgrade: h2c",
    random.chance(0.97) ? "Connection: Upgrade" : "Connection: keep-alive, upgrade",
    `Sec-WebSocket-Key: ${random.chance(0.97) ? key : "not base64!"}`,
    `Sec-WebSocket-Version: ${random.chance(0.97) ? "13" : "8"}`,
  ];
  extraHeaders(random, lines);
  if (random.chance(0.05)) lines.push(`Content-Length: ${random.pick(["0", "5", "-1", "1e3"])}`);
  if (random.chance(0.03)) lines.push("Transfer-Encoding: chunked");
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

/** A handshake response (RFC 6455 §4.2.2): a 101, or an error with a body. */
export function handshakeResponse(random: Random, accept: string): Buffer {
  if (random.chance(0.15)) {
    const body = random.bytes(random.length(300)).toString("latin1");
    const framing = random.int(3);
    const lines = [
      `HTTP/1.1 ${random.pick(["400 Bad Request", "302 Found", "500 Oops", "204 No Content", "404 Not Found"])}`,
    ];
    if (framing === 0) lines.push(`Content-Length: ${body.length}`);
    if (framing === 1) {
      lines.push("Transfer-Encoding: chunked");
      const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${chunked}`, "latin1");
    }
    return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`, "latin1");
  }
  const lines = [
    random.chance(0.97)
      ? "HTTP/1.1 101 Switching Protocols"
      : random.pick(["HTTP/1.0 101 OK", "HTTP/1.1 101", "HTTP/1.1 1011 x"]),
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${random.chance(0.97) ? accept : "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
  ];
  extraHeaders(random, lines);
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

// Seeds of the header grammars: values as found in the wild, valid or not.
export const HEADER_SEEDS: Readonly<Record<string, readonly string[]>> = {
  connection: ["Upgrade", "keep-alive, Upgrade", "upgrade,,close", ",", "Up grade", '"Upgrade"'],
  upgrade: ["websocket", "WebSocket, h2c", "websocket/13", "TLS/1.0, websocket", "web socket", "/"],
  subprotocol: SUBPROTOCOL_VALUES,
  extension: EXTENSION_VALUES,
  authorization: [
    "Basic dXNlcjpwYXNz",
    "Basic dXNlcg==",
    "basic   dXNlcjpwYXNz",
    "Bearer abc",
    "Basic ====",
    "Basic dXNlcjpwYXNz extra",
  ],
  base64: ["dGhlIHNhbXBsZSBub25jZQ==", "", "=", "A", "AB==", "ABC=", "####", "dGhl IHNh"],
  uri: [
    "ws://example.test/chat",
    "wss://user:pass@example.test:8443/a?b=c",
    "ws://[::1]:80/",
    "ws://example.test:99999/",
    "http://example.test/",
    "ws://exa mple/",
    "ws://%41/",
    "wss://xn--nxasmq6b.test/#frag",
  ],
};
