/**
 * The verdict of `ws`'s frame parser (its `Receiver`) on a byte stream, to
 * compare with ours: which messages it delivers, and the close code it
 * fails the connection with, if any. `ws` judges frames only: its handshake
 * and its decompression are tied to its sockets and run asynchronously.
 *
 * @module
 */

import { createRequire } from "node:module";

// ws's package exports don't expose lib/receiver.js; its main module does.
interface WsReceiver {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "conclude", listener: (code: number) => void): void;
  on(event: "ping" | "pong", listener: () => void): void;
  _write(chunk: Buffer, encoding: string, callback: (error?: Error | null) => void): void;
}
interface WsModule {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
}
const { Receiver } = createRequire(import.meta.url)("ws") as WsModule;

/** What a parser made of a byte stream. */
export interface FrameVerdict {
  /** Close code the connection failed with, or `null` if it didn't. */
  failed: number | null;
  /** Lengths of the complete messages delivered, in order. */
  messages: number[];
  /** Whether a close frame was received (the stream's end for both parsers). */
  closed: boolean;
}

/** The close code ws attaches to its errors, under a symbol it doesn't export. */
function statusCode(error: Error): number {
  for (const symbol of Object.getOwnPropertySymbols(error)) {
    if (symbol.description === "status-code") {
      return (error as unknown as Record<symbol, number>)[symbol];
    }
  }
  throw new Error(`ws error without a status code: ${error.message}`);
}

/** The header of a frame in a byte stream, as far as it goes. */
interface Header {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The 7-bit length field: 126 or 127 announce an extended length. */
  lengthField: number;
  /** The payload length, or -1 when the header is cut short. */
  length: number;
  /** The extended 64-bit length has its most significant bit set (RFC 6455 §5.2). */
  msbSet: boolean;
  /** The whole header (extended length, mask key) is in the stream. */
  headerComplete: boolean;
  /** The whole frame is in the stream. */
  complete: boolean;
}

/** Walks the frame headers of a stream, without judging them, up to `max`. */
function headers(data: Buffer, max = 64): Header[] {
  const out: Header[] = [];
  let at = 0;
  while (at < data.length && out.length < max) {
    const b0 = data[at];
    const b1 = at + 1 < data.length ? data[at + 1] : -1;
    const header: Header = {
      fin: (b0 & 0x80) !== 0,
      rsv: b0 & 0x70,
      opcode: b0 & 0x0f,
      masked: b1 !== -1 && (b1 & 0x80) !== 0,
      lengthField: b1 === -1 ? -1 : b1 & 0x7f,
      length: -1,
      msbSet: false,
      headerComplete: false,
      complete: false,
    };
    out.push(header);
    if (b1 === -1) break;
    let p = at + 2;
    if (header.lengthField === 126) {
      if (p + 2 > data.length) break;
      header.length = data.readUInt16BE(p);
      p += 2;
    } else if (header.lengthField === 127) {
      if (p + 8 > data.length) break;
      header.msbSet = (data[p] & 0x80) !== 0;
      header.length = Number(data.readBigUInt64BE(p));
      p += 8;
    } else {
      header.length = header.lengthField;
    }
    if (header.masked) p += 4;
    if (p > data.length) break;
    header.headerComplete = true;
    if (p + header.length > data.length) break;
    header.complete = true;
    at = p + header.length;
  }
  return out;
}

/**
 * Why our verdict on a stream differs from ws's: each known cause, tested
 * on the stream's frames; "unexplained" if none applies. docs/security.md
 * explains each label.
 */
export function explainDifference(
  chunks: readonly Buffer[],
  ours: FrameVerdict,
  theirs: FrameVerdict,
): string {
  const frames = headers(Buffer.concat(chunks));
  const last = frames[frames.length - 1];
  if (
    theirs.failed === 1002 &&
    frames.some((frame) => frame.opcode >= 0x8 && frame.lengthField >= 126)
  ) {
    return "control frame with an extended length: ws fails, we accept lengths <= 125 however encoded";
  }
  if (ours.failed === 1002 && theirs.failed === 1009 && frames.some((frame) => frame.msbSet)) {
    return "64-bit length with its top bit set: we fail with 1002 (RFC 6455 §5.2), ws with 1009";
  }
  if (ours.failed === 1007 && theirs.failed !== 1007) {
    return "invalid UTF-8 in an unfinished text message: we fail at once, ws once it ends";
  }
  if (ours.failed === null && theirs.failed !== null && last !== undefined && !last.complete) {
    // ws judges a frame from its first 2 bytes (a close frame declaring 1
    // byte too); we judge the header once whole, a close payload once here.
    return "stream ends within a frame that ws rejects already: we judge it once complete";
  }
  if (
    ours.failed !== null &&
    theirs.failed !== null &&
    ours.failed !== theirs.failed &&
    [ours.failed, theirs.failed].every((code) => code === 1002 || code === 1009)
  ) {
    return "one frame breaks two rules (size and sequence): checked in another order";
  }
  return "unexplained";
}

/** Feeds `chunks` to a ws Receiver of the given role, stopping at the first error or close. */
export function wsVerdict(
  chunks: readonly Buffer[],
  role: "server" | "client",
  maxPayload: number,
): FrameVerdict {
  const receiver = new Receiver({ isServer: role === "server", maxPayload });
  const verdict: FrameVerdict = { failed: null, messages: [], closed: false };
  receiver.on("message", (data) => {
    verdict.messages.push(data.length);
  });
  receiver.on("conclude", () => {
    verdict.closed = true;
  });
  // Without listeners, pings and pongs are ignored: they need none.
  for (const chunk of chunks) {
    if (verdict.failed !== null || verdict.closed) break;
    receiver._write(chunk, "buffer", (error) => {
      if (error) verdict.failed = statusCode(error);
    });
  }
  return verdict;
}
