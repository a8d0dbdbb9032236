// Found by the http-response fuzzing target (seed 1, input #584248): a
// header line over the line limit that ends with a bare LF got a verdict
// that depended on how the bytes arrived. In one chunk, the parser saw the
// whole line and reported the bare LF (InvalidMessage: a server answers
// 400); in several, it reported the length as the line grew (SecurityError:
// 431). The limit is now checked first either way.
import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { SecurityError } from "../../src/errors.ts";
import { RequestParser, ResponseParser } from "../../src/http11.ts";
import { serve } from "../../src/index.ts";
import { exchange } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const LONG = `X-Filler: ${"a".repeat(9000)}\n`;
const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: example.test\r\n${LONG}Upgrade: websocket\r\n\r\n`,
  "latin1",
);
const RESPONSE = Buffer.from(
  `HTTP/1.1 101 Switching Protocols\r\n${LONG}Upgrade: websocket\r\n\r\n`,
  "latin1",
);

/** Feeds `data` in pieces of `size` bytes; returns the error thrown. */
function errorOf(parser: RequestParser | ResponseParser, data: Buffer, size: number): unknown {
  try {
    for (let at = 0; at < data.length; at += size) parser.feed(data.subarray(at, at + size));
  } catch (error) {
    return error;
  }
  return null;
}

describe("a header line over the limit ending with a bare LF", () => {
  for (const size of [REQUEST.length, 4096, 1000, 7]) {
    test(`fails the request parser with SecurityError, fed ${size} bytes at a time`, () => {
      const error = errorOf(new RequestParser(), REQUEST, size);
      assert.ok(error instanceof SecurityError, String(error));
      assert.match((error as Error).message, /line too long in HTTP headers/);
    });

    test(`fails the response parser with SecurityError, fed ${size} bytes at a time`, () => {
      const error = errorOf(new ResponseParser(), RESPONSE, size);
      assert.ok(error instanceof SecurityError, String(error));
    });
  }

  test("gets a 431 from the server, sent in one write", async () => {
    const server = await serve(() => {}, { host: "127.0.0.1", port: 0, logger: null });
    try {
      const { port } = server.address as { port: number };
      const { received } = await exchange(port, REQUEST);
      assert.match(received.toString("latin1"), /^HTTP\/1\.1 431 /);
    } finally {
      await server.close();
    }
  });
});
