import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BROWSER_HINT, httpDate, items101, PROXY_HINT } from "../src/server-response.ts";

describe("httpDate", () => {
  it("is the IMF-fixdate of now, to the second", () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const parsed = Date.parse(httpDate());
    const after = Date.now();
    assert.match(httpDate(), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.ok(parsed >= before && parsed <= after, `${parsed} outside [${before}, ${after}]`);
  });

  it("gives the same text for calls within one second", () => {
    // Bounded: at most a few calls straddle a second boundary.
    for (let attempt = 0; attempt < 5; attempt++) {
      const second = Math.floor(Date.now() / 1000);
      const first = httpDate();
      const again = httpDate();
      if (Math.floor(Date.now() / 1000) !== second) continue;
      assert.equal(first, again);
      return;
    }
    assert.fail("five attempts each straddled a second boundary");
  });
});

describe("items101", () => {
  // What every 101 starts with, for a date "D" and an accept key "A".
  const head = ["Date", "D", "Upgrade", "websocket", "Connection", "Upgrade"];
  const accept = ["Sec-WebSocket-Accept", "A"];

  it("lists the 101's headers as flat pairs, Server last, in the common case", () => {
    assert.deepEqual(items101("D", "A", null, null, "S"), [...head, ...accept, "Server", "S"]);
  });

  it("adds extensions and a subprotocol before Server, and leaves out what is null", () => {
    assert.deepEqual(items101("D", "A", "permessage-deflate", "chat", "S"), [
      ...head,
      ...accept,
      "Sec-WebSocket-Extensions",
      "permessage-deflate",
      "Sec-WebSocket-Protocol",
      "chat",
      "Server",
      "S",
    ]);
    assert.deepEqual(items101("D", "A", null, "chat", null), [
      ...head,
      ...accept,
      "Sec-WebSocket-Protocol",
      "chat",
    ]);
  });
});

describe("hints", () => {
  it("each starts on a line of its own and names what to do", () => {
    assert.match(BROWSER_HINT, /^\n.*You need a WebSocket client\.\n$/);
    assert.match(PROXY_HINT, /^\n.*It must forward them\.\n$/s);
  });
});
