/**
 * What `send()`, `ping()` and `pong()` of `websockets-ts/ws` accept, turned
 * into a payload as `ws` turns it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { EMPTY } from "../frames.ts";
import { toBuffer } from "../node/connection.ts";
import { describeType } from "../node/writer.ts";
import type { WsSendData } from "./websocket.ts";

/** `send()`'s data as `ws` converts it: numbers to strings, nothing to empty bytes. */
export function toPayload(data: WsSendData, method: string): string | Buffer {
  if (typeof data === "string") return data;
  if (typeof data === "number") return String(data);
  if (data === undefined || data === null) return EMPTY;
  const bytes = toBuffer(data);
  if (bytes !== null) return bytes;
  if (Array.isArray(data)) {
    // A message received as fragments, sent on whole; or an array of bytes.
    return data.every((item) => Buffer.isBuffer(item))
      ? Buffer.concat(data as Buffer[])
      : Buffer.from(data as number[]);
  }
  try {
    // valueOf() or Symbol.toPrimitive, as Buffer.from() reads them.
    return Buffer.from(data as unknown as string);
  } catch (cause) {
    throw new TypeError(
      `${method}() expects a string, a Buffer, an ArrayBuffer or a typed array; got ${describeType(data)}`,
      { cause },
    );
  }
}

/** A ping's or a pong's payload: at most 125 bytes (RFC 6455 §5.5). */
export function controlPayload(data: WsSendData): Buffer {
  const payload = toPayload(data, "ping");
  const bytes = typeof payload === "string" ? Buffer.from(payload) : payload;
  if (bytes.length > 125) throw new RangeError("The data size must not be greater than 125 bytes");
  return bytes;
}
