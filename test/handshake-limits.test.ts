import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  extensionOffers,
  failureText,
  MAX_ECHOED_ERROR,
  MAX_EXTENSION_OFFERS,
} from "../src/handshake-limits.ts";
import { Headers } from "../src/headers.ts";

describe("failureText", () => {
  it("repeats a short error whole", () => {
    assert.equal(
      failureText(new Error("missing Host header")),
      "Failed to open a WebSocket connection: missing Host header.\n",
    );
  });

  it("cuts a long one, saying how long it was, without splitting a surrogate pair", () => {
    const long = `${"a".repeat(MAX_ECHOED_ERROR - 1)}😀${"b".repeat(10_000)}`;
    const text = failureText(new Error(long));
    assert.equal(
      text,
      `Failed to open a WebSocket connection: ${"a".repeat(MAX_ECHOED_ERROR - 1)}... (${long.length} characters).\n`,
    );
  });
});

describe("extensionOffers", () => {
  it(`returns the first ${MAX_EXTENSION_OFFERS} offers across header lines`, () => {
    const headers = new Headers();
    for (let line = 0; line < 3; line++) {
      headers.append(
        "Sec-WebSocket-Extensions",
        Array.from({ length: 10 }, (_, i) => `x-${line}-${i}; p=${i}`).join(", "),
      );
    }
    const offers = extensionOffers(headers);
    assert.equal(offers.length, MAX_EXTENSION_OFFERS);
    assert.deepEqual(offers[0], ["x-0-0", [["p", "0"]]]);
    assert.deepEqual(offers[MAX_EXTENSION_OFFERS - 1], ["x-1-5", [["p", "5"]]]);
  });

  it("returns fewer when fewer are offered", () => {
    const headers = new Headers();
    headers.append("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
    assert.deepEqual(extensionOffers(headers), [
      ["permessage-deflate", [["client_max_window_bits", null]]],
    ]);
  });
});
