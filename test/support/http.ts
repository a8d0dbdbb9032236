// HTTP/1.1 messages and parsing helpers shared by the tests of the parsers
// and of the serializers.

import { strict as assert } from "node:assert";
import type { Request, Response } from "../../src/http11.ts";
import { type Parsed, RequestParser, ResponseParser } from "../../src/http11-parser.ts";

/** RFC 6455's sample handshake request. */
export const REQUEST =
  "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Protocol: chat\r\n" +
  "Sec-WebSocket-Protocol: superchat\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "\r\n";

/** RFC 6455's sample handshake response. */
export const RESPONSE_101 =
  "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
  "\r\n";

/** Feeds `data` one byte at a time; asserts nothing completes before the end. */
export function feedBytes<T>(
  parser: { feed(chunk: Buffer): Parsed<T> | null },
  data: Buffer,
): Parsed<T> {
  for (let i = 0; i < data.length - 1; i++) {
    assert.equal(parser.feed(data.subarray(i, i + 1)), null, `complete after ${i + 1} bytes`);
  }
  const parsed = parser.feed(data.subarray(data.length - 1));
  assert.notEqual(parsed, null);
  return parsed as Parsed<T>;
}

/** Parses a whole request given as text. */
export function parseRequest(text: string): Request {
  const parsed = new RequestParser().feed(Buffer.from(text, "latin1"));
  assert.notEqual(parsed, null, "request incomplete");
  return (parsed as Parsed<Request>).message;
}

/** Parses a whole response given as text or bytes. */
export function parseResponse(text: string | Buffer): Parsed<Response> {
  const data = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  const parsed = new ResponseParser().feed(data);
  assert.notEqual(parsed, null, "response incomplete");
  return parsed as Parsed<Response>;
}
