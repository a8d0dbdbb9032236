// WebSocket (src/web/websocket.ts), over real sockets: the interface as
// WebIDL shapes it, argument checks, the order and tasks of events, send()
// of every type (Blobs in order), bufferedAmount, close() details, our
// extras, and GC safety. The scenario logs shared with Chromium, undici and
// ws are checked in differential.test.ts.

import { strict as assert } from "node:assert";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CloseEvent, MessageEvent, WebSocket } from "../../src/web/index.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { runScenario, scenarioRuns } from "../helpers/web-scenarios.mjs";
import { startWebServers, type WebServers } from "../helpers/web-servers.ts";

let servers: WebServers;

before(async () => {
  servers = await startWebServers("ours");
});

after(() => servers.close());
checkLeaksAfterAll();

/** Resolves with the next event of `type`. */
function next<E extends Event = Event>(ws: WebSocket, type: string): Promise<E> {
  return new Promise((resolve) =>
    ws.addEventListener(type, (event) => resolve(event as E), { once: true }),
  );
}

function echo(): WebSocket {
  return new WebSocket(`${servers.urls.ws}/echo`);
}

async function closed(ws: WebSocket): Promise<CloseEvent> {
  if (ws.readyState === WebSocket.OPEN) ws.close();
  return next<CloseEvent>(ws, "close");
}

describe("interface", () => {
  test("ready state constants are read-only and enumerable, on the class and the instance", async () => {
    const ws = echo();
    for (const [name, value] of Object.entries({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 })) {
      assert.equal((WebSocket as unknown as Record<string, number>)[name], value);
      assert.equal((ws as unknown as Record<string, number>)[name], value);
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket, name);
      assert.deepEqual(descriptor, {
        value,
        writable: false,
        enumerable: true,
        configurable: false,
      });
      assert.throws(() => {
        (WebSocket as unknown as Record<string, number>)[name] = 9;
      }, TypeError);
    }
    await next(ws, "open");
    await closed(ws);
  });

  test("attributes are accessors on the prototype; lengths and name as WebIDL says", () => {
    for (const name of [
      "url",
      "readyState",
      "bufferedAmount",
      "extensions",
      "protocol",
      "binaryType",
      "onopen",
      "onmessage",
      "onerror",
      "onclose",
    ]) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      assert.equal(typeof descriptor?.get, "function", name);
      assert.equal(descriptor?.enumerable, true, name);
    }
    assert.equal(WebSocket.length, 1);
    assert.equal(WebSocket.prototype.send.length, 1);
    assert.equal(WebSocket.prototype.close.length, 0);
    assert.equal(Object.prototype.toString.call(WebSocket.prototype), "[object WebSocket]");
    assert.ok(WebSocket.prototype instanceof EventTarget);
  });

  test("initial state: CONNECTING, empty protocol and extensions, binaryType blob, bufferedAmount 0", async () => {
    const ws = new WebSocket(`${servers.urls.ws.replace("ws:", "http:")}/echo?q=1`);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.equal(ws.url, `${servers.urls.ws}/echo?q=1`);
    assert.equal(ws.protocol, "");
    assert.equal(ws.extensions, "");
    assert.equal(ws.binaryType, "blob");
    assert.equal(ws.bufferedAmount, 0);
    await next(ws, "open");
    await closed(ws);
  });

  test("binaryType ignores values outside the enumeration", async () => {
    const ws = echo();
    ws.binaryType = "arraybuffer";
    ws.binaryType = "nodebuffer" as "blob";
    assert.equal(ws.binaryType, "arraybuffer");
    ws.binaryType = "blob";
    assert.equal(ws.binaryType, "blob");
    await next(ws, "open");
    await closed(ws);
  });

  test("the url is serialized: default port dropped, path added", async () => {
    const ws = new WebSocket("wss://127.0.0.1:443", { openTimeout: 1000 });
    assert.equal(ws.url, "wss://127.0.0.1/");
    ws.close();
    await next(ws, "close");
  });
});

describe("constructor", () => {
  test("requires a URL", () => {
    assert.throws(() => new (WebSocket as unknown as new () => WebSocket)(), TypeError);
  });

  for (const [url, why] of [
    ["/relative", "no base URL in Node"],
    ["ws://[::1/", "unparsable"],
    ["ftp://127.0.0.1/", "ftp scheme"],
    ["ws://127.0.0.1/#x", "fragment"],
    ["ws://127.0.0.1/#", "empty fragment"],
  ]) {
    test(`a SyntaxError DOMException for ${why}, naming the URL`, () => {
      assert.throws(
        () => new WebSocket(url),
        (error: unknown) =>
          error instanceof DOMException &&
          error.name === "SyntaxError" &&
          error.message.includes(url.slice(0, 8)),
      );
    });
  }

  for (const [protocols, why] of [
    [["chat", "CHAT"], "repeated, compared case-insensitively"],
    [["a b"], "a space"],
    [[""], "empty"],
    [["é"], "non-ASCII"],
    ["a,b", "a separator"],
  ] as const) {
    test(`a SyntaxError DOMException for a subprotocol: ${why}`, () => {
      assert.throws(
        () => new WebSocket(`${servers.urls.ws}/echo`, protocols as string | string[]),
        (error: unknown) => error instanceof DOMException && error.name === "SyntaxError",
      );
    });
  }

  test("protocols: a string, an array, any iterable, or the dictionary's protocols", async () => {
    for (const protocols of ["chat", ["x", "chat"], new Set(["chat"]), { protocols: ["chat"] }]) {
      const ws = new WebSocket(`${servers.urls.ws}/echo`, protocols as string);
      await next(ws, "open");
      assert.equal(ws.protocol, "chat");
      await closed(ws);
    }
  });
});

describe("events", () => {
  test("nothing fires during the script that created the socket; open comes in a later task", async () => {
    const ws = echo();
    const fired: string[] = [];
    ws.addEventListener("open", () => fired.push("open"));
    await Promise.resolve();
    assert.deepEqual(fired, []);
    await next(ws, "open");
    assert.equal(ws.readyState, WebSocket.OPEN);
    await closed(ws);
  });

  test("on* attributes: a listener in the order first set, replaced in place, removed by null", async () => {
    const ws = echo();
    const calls: string[] = [];
    ws.onmessage = () => calls.push("first handler");
    ws.addEventListener("message", () => calls.push("listener"));
    ws.onmessage = function (this: EventTarget) {
      calls.push(this === ws ? "second handler, this = socket" : "wrong this");
    };
    ws.onopen = () => ws.send("one");
    await next(ws, "message");
    assert.deepEqual(calls, ["second handler, this = socket", "listener"]);
    ws.onmessage = null;
    assert.equal(ws.onmessage, null);
    ws.onmessage = "not an object" as unknown as null;
    assert.equal(ws.onmessage, null);
    ws.onmessage = () => calls.push("third handler");
    calls.length = 0;
    ws.send("two");
    await next(ws, "message");
    assert.deepEqual(calls, ["listener", "third handler"]);
    await closed(ws);
  });

  test("message events are Node's MessageEvent with the URL's origin", async () => {
    const ws = echo();
    ws.onopen = () => ws.send("hi");
    const event = await next<MessageEvent>(ws, "message");
    assert.ok(event instanceof MessageEvent);
    assert.equal(MessageEvent, globalThis.MessageEvent);
    assert.equal(event.data, "hi");
    assert.equal(event.origin, new URL(servers.urls.ws).origin);
    await closed(ws);
  });

  test("close events are CloseEvents (the platform's, where Node has one)", async () => {
    const ws = echo();
    await next(ws, "open");
    const event = await closed(ws);
    assert.ok(event instanceof CloseEvent);
    const platform = (globalThis as { CloseEvent?: unknown }).CloseEvent;
    if (platform !== undefined) assert.equal(CloseEvent, platform);
    const made = new CloseEvent("close", { code: 4000, reason: "r", wasClean: true });
    assert.deepEqual([made.code, made.reason, made.wasClean], [4000, "r", true]);
    const empty = new CloseEvent("close");
    assert.deepEqual([empty.code, empty.reason, empty.wasClean], [0, "", false]);
  });

  test("binaryType is read when the event fires, not when the message arrives", async () => {
    const ws = echo();
    ws.onopen = () => {
      ws.send(new Uint8Array([1]));
      ws.send(new Uint8Array([2]));
    };
    const types: string[] = [];
    await new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        types.push(Object.prototype.toString.call(event.data));
        ws.binaryType = "arraybuffer";
        if (types.length === 2) resolve();
      };
    });
    assert.deepEqual(types, ["[object Blob]", "[object ArrayBuffer]"]);
    await closed(ws);
  });
});

describe("send()", () => {
  test("every type, in order, even behind a Blob that must be read first", async () => {
    const ws = echo();
    ws.binaryType = "arraybuffer";
    await next(ws, "open");
    const big = new Blob([new Uint8Array(1536 * 1024).fill(7)]);
    const received: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        received.push(
          typeof event.data === "string" ? event.data : (event.data as ArrayBuffer).byteLength,
        );
        if (received.length === 5) resolve();
      };
    });
    ws.send(big);
    ws.send("after the blob");
    ws.send(new Blob(["small"]));
    ws.send(123 as unknown as string);
    ws.send(new Float64Array(2));
    assert.equal(ws.bufferedAmount, big.size + 14 + 5 + 3 + 16);
    await done;
    assert.deepEqual(received, [big.size, "after the blob", 5, "123", 16]);
    await closed(ws);
  });

  test("the bytes sent are those at the time of the call", async () => {
    const ws = echo();
    ws.binaryType = "arraybuffer";
    await next(ws, "open");
    const bytes = new Uint8Array([1, 2, 3]);
    ws.send(bytes);
    bytes.fill(9);
    const event = await next<MessageEvent>(ws, "message");
    assert.deepEqual([...new Uint8Array(event.data as ArrayBuffer)], [1, 2, 3]);
    await closed(ws);
  });

  test("bufferedAmount counts UTF-8 bytes and shrinks in a later task, not within the script", async () => {
    const ws = echo();
    await next(ws, "open");
    ws.send("é€");
    assert.equal(ws.bufferedAmount, 5);
    await Promise.resolve();
    assert.equal(ws.bufferedAmount, 5);
    await next(ws, "message");
    assert.equal(ws.bufferedAmount, 0);
    await closed(ws);
  });

  test("a view on a SharedArrayBuffer is a TypeError; no argument is a TypeError", async () => {
    const ws = echo();
    await next(ws, "open");
    assert.throws(() => ws.send(new Uint8Array(new SharedArrayBuffer(4))), TypeError);
    assert.throws(() => (ws.send as () => void)(), TypeError);
    await closed(ws);
  });

  test("after a failure, send() only grows bufferedAmount", async () => {
    const ws = new WebSocket(`${servers.urls.raw}/status-403`);
    await next(ws, "close");
    ws.send("abc");
    ws.send(new Blob(["de"]));
    assert.equal(ws.bufferedAmount, 5);
  });
});

describe("close()", () => {
  test("a reason without a code closes with 1000 and the reason", async () => {
    const ws = echo();
    ws.onopen = () => ws.close(undefined, "why");
    const event = await next<CloseEvent>(ws, "close");
    assert.deepEqual([event.code, event.reason, event.wasClean], [1000, "why", true]);
  });

  test("the code is converted as [Clamp] unsigned short, then checked", async () => {
    const ws = echo();
    await next(ws, "open");
    assert.throws(() => ws.close(4999.6), { name: "InvalidAccessError" });
    assert.throws(() => ws.close(-1), { name: "InvalidAccessError" });
    assert.throws(() => ws.close(Number.NaN), { name: "InvalidAccessError" });
    assert.throws(() => ws.close(Symbol() as unknown as number), TypeError);
    // Round half to even: 3000.5 is 3000.
    ws.close(3000.5, "half");
    const event = await next<CloseEvent>(ws, "close");
    assert.deepEqual([event.code, event.reason], [3000, "half"]);
  });

  test("a reason of 123 bytes is allowed; lone surrogates count as U+FFFD (3 bytes)", async () => {
    const ws = echo();
    await next(ws, "open");
    assert.throws(() => ws.close(1000, "\ud800".repeat(42)), { name: "SyntaxError" });
    ws.close(1000, "x".repeat(123));
    const event = await next<CloseEvent>(ws, "close");
    assert.equal(event.reason, "x".repeat(123));
  });

  test("close() after the open task: errors are still checked; a second close() does nothing", async () => {
    const ws = echo();
    await next(ws, "open");
    ws.close(4000);
    assert.equal(ws.readyState, WebSocket.CLOSING);
    ws.close(4001);
    assert.throws(() => ws.close(1001), { name: "InvalidAccessError" });
    const event = await next<CloseEvent>(ws, "close");
    assert.equal(event.code, 4000);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  test("close() waits for a Blob sent before it", async () => {
    const ws = echo();
    await next(ws, "open");
    let messages = 0;
    ws.onmessage = () => {
      messages += 1;
    };
    ws.send(new Blob([new Uint8Array(1024 * 1024)]));
    ws.close(4000, "after the blob");
    const event = await next<CloseEvent>(ws, "close");
    // The server echoed the blob before it saw the close frame; the echo
    // arrived while CLOSING, so it wasn't delivered (§3.4).
    assert.deepEqual(
      [event.code, event.reason, event.wasClean, messages],
      [4000, "after the blob", true, 0],
    );
  });
});

describe("extras", () => {
  test("compression is negotiated by default and reported in extensions; null turns it off", async () => {
    const on = echo();
    await next(on, "open");
    assert.match(on.extensions, /^permessage-deflate/);
    await closed(on);
    const off = new WebSocket(`${servers.urls.ws}/echo`, { compression: null });
    await next(off, "open");
    assert.equal(off.extensions, "");
    await closed(off);
  });

  test("headers are added to the handshake request", async () => {
    const ws = new WebSocket(`${servers.urls.ws}/headers`, { headers: { "X-Test": "yes" } });
    const event = await next<MessageEvent>(ws, "message");
    assert.equal(event.data, '["yes"]');
    await closed(ws);
  });

  test("maxSize: a larger message fails the connection (error, then close 1006)", async () => {
    const ws = new WebSocket(`${servers.urls.ws}/big`, { maxSize: 1024 });
    const events: string[] = [];
    ws.onopen = () => events.push("open");
    ws.onmessage = () => events.push("message");
    ws.onerror = () => events.push("error");
    const event = await next<CloseEvent>(ws, "close");
    assert.deepEqual(events, ["open", "error"]);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
  });

  test("redirects fail the handshake by default, as in browsers; followRedirects follows them", async () => {
    const refused = new WebSocket(`${servers.urls.raw}/redirect`);
    const events: string[] = [];
    refused.onopen = () => events.push("open");
    refused.onerror = () => events.push("error");
    assert.equal((await next<CloseEvent>(refused, "close")).code, 1006);
    assert.deepEqual(events, ["error"]);

    const followed = new WebSocket(`${servers.urls.raw}/redirect`, { followRedirects: true });
    const message = await next<MessageEvent>(followed, "message");
    assert.equal(message.data, "x");
    await next(followed, "close");
  });

  test("logger: why the handshake failed is logged at WARN, as a browser's console shows it", async () => {
    const capture = createCaptureLogger();
    const ws = new WebSocket(`${servers.urls.raw}/status-403`, { logger: capture.logger });
    await next(ws, "close");
    const record = capture.records.find((r) => r.msg === "opening handshake failed");
    assert.equal(record?.level, "warn");
    assert.equal(record?.fields.url, `${servers.urls.raw}/status-403`);
    assert.match(String(record?.err), /403/);
    // Giving up on purpose isn't worth a warning.
    const quiet = createCaptureLogger();
    const closedEarly = new WebSocket(`${servers.urls.raw}/slow`, { logger: quiet.logger });
    closedEarly.close();
    await next(closedEarly, "close");
    assert.deepEqual(
      quiet.records.filter((r) => r.level === "warn"),
      [],
    );
  });

  test("a bad port (Fetch) fails the connection without connecting, as in browsers", async () => {
    const capture = createCaptureLogger();
    const ws = new WebSocket("ws://127.0.0.1:25/", { logger: capture.logger });
    const events: string[] = [];
    ws.onerror = () => events.push("error");
    const event = await next<CloseEvent>(ws, "close");
    assert.deepEqual([events, event.code, event.wasClean], [["error"], 1006, false]);
    assert.match(String(capture.records[0]?.err), /port 25 is blocked/);
  });

  test("openTimeout: a handshake slower than it fails the connection", async () => {
    const ws = new WebSocket(`${servers.urls.raw}/slow`, { openTimeout: 200 });
    const events: string[] = [];
    ws.onerror = () => events.push("error");
    const event = await next<CloseEvent>(ws, "close");
    assert.deepEqual([events, event.code], [["error"], 1006]);
  });
});

test("an open socket with listeners isn't collected while the program holds no reference", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const collected: string[] = [];
  const registry = new FinalizationRegistry<string>((name) => collected.push(name));
  let resolveMessage!: (result: { data: unknown; collected: number }) => void;
  const message = new Promise<{ data: unknown; collected: number }>((resolve) => {
    resolveMessage = resolve;
  });
  (() => {
    const ws = echo();
    registry.register(ws, "socket");
    ws.onopen = () => {
      // The echo comes back only after several collections.
      setTimeout(() => ws.send("still here"), 200);
    };
    ws.onmessage = (event) => {
      resolveMessage({ data: event.data, collected: collected.length });
      ws.close();
    };
  })();
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  // A collected socket would never deliver its message: bounded wait.
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    message,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), 5000);
    }),
  ]);
  clearTimeout(timer);
  assert.deepEqual(result, { data: "still here", collected: 0 });
});

test("failed handshakes and abrupt closes of the shared scenarios leave no socket behind", async () => {
  // The leak check of this file (checkLeaksAfterAll) fails if any does.
  const runs = scenarioRuns().filter(
    (run) => run.scenario.server === "raw" && run.scenario.path !== "/slow",
  );
  assert.ok(runs.length >= 5);
  for (const run of runs) {
    const log = await runScenario(WebSocket, servers.urls, run.scenario, run.binaryType);
    assert.match(log.at(-1) ?? "", /^close code=/, run.label);
  }
});
