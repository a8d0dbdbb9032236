/**
 * How frames look in debug logs: `OPCODE payload [metadata]`, the payload
 * quoted when it reads as text, else in hex, elided in the middle. Pure
 * rendering; `logging.ts` decides the size (`WEBSOCKETS_MAX_LOG_SIZE`).
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import {
  Close,
  type Frame,
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_TEXT,
  OPCODE_NAMES,
} from "./frames.ts";

/** The smallest payload size rendered: below it, the head and tail around `...` would be empty. */
export const MIN_MAX_LOG_SIZE = 6;

// The opcode's own kind of payload; a marker is shown when the guess differs.
// CONT, PING and PONG have none, so their payloads are always marked.
const DEFAULT_IS_TEXT: Readonly<Record<number, boolean>> = {
  [OP_TEXT]: true,
  [OP_BINARY]: false,
  [OP_CLOSE]: true,
};

/**
 * Renders a frame for debug logs, its payload elided to `maxSize`
 * characters (at least {@link MIN_MAX_LOG_SIZE}): see `formatFrame` in
 * `logging.ts`.
 */
export function renderFrame(frame: Frame, maxSize: number): string {
  const max = Math.max(Math.trunc(maxSize), MIN_MAX_LOG_SIZE);
  const data = frame.data;
  const expectText = DEFAULT_IS_TEXT[frame.opcode];
  let repr: string;
  let isText: boolean | undefined;
  if (data.length === 0) {
    repr = "''";
    isText = expectText;
  } else {
    // A close payload that doesn't parse falls back to the generic rendering.
    const close = frame.opcode === OP_CLOSE ? closeRepr(data) : "";
    repr = close !== "" ? close : payloadRepr(frame, max);
    isText = close !== "" || isQuoted(repr);
  }
  let metadata = isText === expectText ? "" : isText ? "text, " : "binary, ";
  metadata += data.length === 1 ? "1 byte" : `${data.length} bytes`;
  if (!frame.fin) metadata += ", continued";
  const name = OPCODE_NAMES[frame.opcode] ?? `OPCODE_${frame.opcode}`;
  return `${name} ${repr} [${metadata}]`;
}

function isQuoted(repr: string): boolean {
  const first = repr.charCodeAt(0);
  return first === 0x27 || first === 0x22;
}

/** `1000 (OK) reason` for a well-formed close payload, else `""`. */
function closeRepr(data: Buffer): string {
  if (data.length < 2) return "";
  const code = data.readUInt16BE(0);
  const reason = data.subarray(2);
  if (!isValidCloseCode(code) || !isUtf8(reason)) return "";
  // The reason comes from the peer: escape what could forge or hide log content.
  return new Close(code, escapeInvisible(reason.toString("utf8"))).toString();
}

// Characters that make a payload look binary: C0 controls other than tab,
// newline and carriage return, DEL and C1 controls.
const BINARY_CHARS = /(?![\t\n\r])\p{Cc}/u;
// Characters escaped in quoted text besides quotes and backslashes: controls,
// format characters (zero-width, bidi overrides), separators other than the
// space, private use and unassigned code points.
const ESCAPED_CHARS =
  /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;
const ESCAPED_CHARS_GLOBAL = new RegExp(ESCAPED_CHARS.source, "gu");
/** Printable ASCII without quotes or backslashes: shown as is, the common case. */
function isPlainAscii(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (byte < 0x20 || byte > 0x7e || byte === 0x27 || byte === 0x5c) return false;
  }
  return true;
}

function escapeInvisible(text: string): string {
  return ESCAPED_CHARS.test(text) ? text.replace(ESCAPED_CHARS_GLOBAL, escapeChar) : text;
}

function escapeChar(char: string): string {
  switch (char) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default: {
      const cp = char.codePointAt(0)!;
      return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
    }
  }
}

/**
 * The start of a payload that may be UTF-8 text, or -1 if it can't be: skips
 * the continuation bytes a fragment may start with (at most 3).
 */
function fragmentStart(data: Buffer, mustStartClean: boolean): number {
  if (mustStartClean) return 0;
  let start = 0;
  while (start < 3 && start < data.length && (data[start] & 0xc0) === 0x80) start++;
  return start;
}

/** The end of a payload without the incomplete sequence a fragment may end with. */
function fragmentEnd(data: Buffer, start: number, mustEndClean: boolean): number {
  if (mustEndClean) return data.length;
  let last = data.length - 1;
  const lowest = Math.max(data.length - 4, start);
  while (last >= lowest && (data[last] & 0xc0) === 0x80) last--;
  if (last < lowest) return data.length;
  const lead = data[last];
  const needed =
    lead < 0x80 ? 1 : lead < 0xc0 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : 0;
  // Cut only an incomplete sequence; a complete or invalid one is left for isUtf8 to judge.
  return needed > data.length - last ? last : data.length;
}

/** Decodes `data` as a UTF-8 fragment, or returns `null` if it isn't printable UTF-8. */
function decodeFragment(
  data: Buffer,
  mustStartClean: boolean,
  mustEndClean: boolean,
): string | null {
  const start = fragmentStart(data, mustStartClean);
  const end = fragmentEnd(data, start, mustEndClean);
  const clean = data.subarray(start, end);
  if (!isUtf8(clean)) return null;
  // Partial sequences at the edges of a fragment show as U+FFFD, as they are.
  const text = start === 0 && end === data.length ? clean.toString("utf8") : data.toString("utf8");
  return BINARY_CHARS.test(text) ? null : text;
}

function payloadRepr(frame: Frame, max: number): string {
  const data = frame.data;
  const cut = Math.floor(max / 3) - 1; // 24 by default: 48 characters, "...", 24 characters
  const startClean = frame.opcode !== OP_CONT;
  // Each character takes at most 4 bytes, so past this size the rendering is
  // longer than `max` whatever the payload, and only the bytes that can show
  // in the head and the tail need decoding.
  if (data.length > 4 * max + 8) {
    const head = decodeFragment(data.subarray(0, 8 * cut + 4), startClean, false);
    const tail =
      head === null ? null : decodeFragment(data.subarray(-(4 * cut + 4)), false, frame.fin);
    if (head !== null && tail !== null) {
      const quote = quoteFor(head + tail);
      return elideTokens(
        quoteTokens(head, quote, true, false),
        quoteTokens(tail, quote, false, true),
        cut,
      );
    }
    return hexElided(data, cut);
  }
  if (data.length + 2 <= max && isPlainAscii(data)) return `'${data.toString("latin1")}'`;
  const text = decodeFragment(data, startClean, frame.fin);
  if (text === null) return data.length * 3 - 1 > max ? hexElided(data, cut) : hex(data);
  const tokens = quoteTokens(text, quoteFor(text), true, true);
  let width = 0;
  for (const token of tokens) width += tokenWidth(token);
  return width <= max ? tokens.join("") : elideTokens(tokens, tokens, cut);
}

// Like Python's repr(): double quotes when that avoids escaping single ones.
function quoteFor(text: string): string {
  return text.includes("'") && !text.includes('"') ? '"' : "'";
}

/** One token per code point, escaped, with the opening and/or closing quote. */
function quoteTokens(text: string, quote: string, open: boolean, close: boolean): string[] {
  const tokens: string[] = open ? [quote] : [];
  for (const char of text) {
    if (char === "\\") tokens.push("\\\\");
    else if (char === quote) tokens.push(`\\${quote}`);
    else tokens.push(ESCAPED_CHARS.test(char) ? escapeChar(char) : char);
  }
  if (close) tokens.push(quote);
  return tokens;
}

// An escape is ASCII and shows as many characters as it has; anything else
// is one code point, one or two UTF-16 units.
function tokenWidth(token: string): number {
  return token.length === 2 && token.charCodeAt(0) !== 0x5c ? 1 : token.length;
}

/**
 * `2 × cut` characters from the start of `head`, `...`, `cut` characters from
 * the end of `tail`, never splitting a character or an escape.
 */
function elideTokens(head: string[], tail: string[], cut: number): string {
  let start = "";
  let width = 0;
  for (const token of head) {
    const w = tokenWidth(token);
    if (width + w > 2 * cut) break;
    start += token;
    width += w;
  }
  let end = "";
  width = 0;
  for (let i = tail.length - 1; i >= 0; i--) {
    const w = tokenWidth(tail[i]);
    if (width + w > cut) break;
    end = tail[i] + end;
    width += w;
  }
  return `${start}...${end}`;
}

function hex(data: Buffer): string {
  let out = "";
  for (let i = 0; i < data.length; i++) {
    if (i > 0) out += " ";
    out += HEX_BYTES[data[i]];
  }
  return out;
}

// `00 01 ... 0f ... f8 ff`: whole bytes only, 2 × cut characters then cut characters.
function hexElided(data: Buffer, cut: number): string {
  const headBytes = Math.floor((2 * cut) / 3);
  const tailBytes = Math.floor(cut / 3);
  const head = headBytes > 0 ? `${hex(data.subarray(0, headBytes))} ` : "";
  const tail = tailBytes > 0 ? ` ${hex(data.subarray(data.length - tailBytes))}` : "";
  return `${head}...${tail}`;
}

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, byte) =>
  byte.toString(16).padStart(2, "0"),
);
