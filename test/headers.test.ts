import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { InvalidHeader, InvalidHeaderFormat, InvalidUpgrade } from "../src/errors.ts";
import {
  acceptKey,
  buildHost,
  checkUpgradeHeaders,
  decodeBase64,
  decodedBase64Length,
  generateKey,
  Headers,
  isToken,
} from "../src/headers.ts";

describe("Headers", () => {
  test("looks names up regardless of case", () => {
    const headers = new Headers();
    headers.append("Sec-WebSocket-Key", "abc");
    assert.equal(headers.get("sec-websocket-key"), "abc");
    assert.equal(headers.get("SEC-WEBSOCKET-KEY"), "abc");
    assert.equal(headers.has("Sec-Websocket-Key"), true);
    assert.equal(headers.get("Missing"), undefined);
    assert.equal(headers.has("Missing"), false);
  });

  test("keeps several values of a name, in order", () => {
    const headers = new Headers();
    headers.append("Sec-WebSocket-Protocol", "chat");
    headers.append("X-Other", "1");
    headers.append("sec-websocket-protocol", "superchat");
    assert.equal(headers.get("Sec-WebSocket-Protocol"), "chat");
    assert.deepEqual(headers.getAll("SEC-WEBSOCKET-PROTOCOL"), ["chat", "superchat"]);
    assert.deepEqual(headers.getAll("Missing"), []);
    assert.equal(headers.size, 3);
  });

  test("iterates lines in insertion order with their original casing", () => {
    const headers = new Headers([
      ["Host", "example.com"],
      ["X-A", "1"],
      ["x-a", "2"],
    ]);
    assert.deepEqual(
      [...headers],
      [
        ["Host", "example.com"],
        ["X-A", "1"],
        ["x-a", "2"],
      ],
    );
    const seen: string[] = [];
    for (const [name, value] of headers) seen.push(`${name}=${value}`);
    assert.deepEqual(seen, ["Host=example.com", "X-A=1", "x-a=2"]);
    assert.deepEqual([...headers.entries()], [...headers]);
    assert.deepEqual([...headers.keys()], ["host", "x-a"]);
  });

  test("getAll returns a copy that doesn't alias the headers", () => {
    const headers = new Headers({ A: "1" });
    headers.getAll("A").push("2");
    assert.deepEqual(headers.getAll("A"), ["1"]);
  });

  test("set replaces every value in place of the first one", () => {
    const headers = new Headers([
      ["A", "1"],
      ["B", "2"],
      ["a", "3"],
      ["C", "4"],
    ]);
    headers.set("A", "5");
    assert.deepEqual(headers.raw(), [
      ["A", "5"],
      ["B", "2"],
      ["C", "4"],
    ]);
    assert.deepEqual(headers.getAll("a"), ["5"]);
    headers.set("D", "6");
    assert.deepEqual(headers.raw().at(-1), ["D", "6"]);
  });

  test("delete removes every value and says whether there was one", () => {
    const headers = new Headers([
      ["A", "1"],
      ["B", "2"],
      ["a", "3"],
    ]);
    assert.equal(headers.delete("A"), true);
    assert.equal(headers.delete("A"), false);
    assert.deepEqual(headers.raw(), [["B", "2"]]);
    assert.equal(headers.has("a"), false);
    headers.append("a", "7");
    assert.deepEqual(headers.getAll("A"), ["7"]);
  });

  test("builds from an object with string or list values, and from another Headers", () => {
    const headers = new Headers({ A: "1", B: ["2", "3"] });
    assert.deepEqual(headers.raw(), [
      ["A", "1"],
      ["B", "2"],
      ["B", "3"],
    ]);
    const copy = new Headers(headers);
    copy.append("C", "4");
    assert.equal(headers.has("C"), false);
    assert.deepEqual(copy.getAll("b"), ["2", "3"]);
    const clone = headers.clone();
    clone.delete("A");
    assert.equal(headers.get("A"), "1");
  });

  test("serializes to header lines followed by an empty line", () => {
    const headers = new Headers([
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
    ]);
    assert.equal(String(headers), "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    assert.equal(String(new Headers()), "\r\n");
  });

  test("toJSON groups repeated names into arrays", () => {
    const headers = new Headers([
      ["A", "1"],
      ["B", "2"],
      ["A", "3"],
      ["A", "4"],
    ]);
    assert.deepEqual(headers.toJSON(), { A: ["1", "3", "4"], B: "2" });
  });

  test("getOne returns the single value and throws InvalidHeader on duplicates", () => {
    const headers = new Headers([
      ["Origin", "https://a"],
      ["Sec-WebSocket-Key", "k1"],
      ["Sec-WebSocket-Key", "k2"],
    ]);
    assert.equal(headers.getOne("origin"), "https://a");
    assert.equal(headers.getOne("Missing"), undefined);
    assert.throws(
      () => headers.getOne("Sec-WebSocket-Key"),
      (error: unknown) =>
        error instanceof InvalidHeader &&
        error.header === "Sec-WebSocket-Key" &&
        /more than one Sec-WebSocket-Key header/.test(error.message),
    );
  });

  test("refuses CR and LF in values so headers can't be injected", () => {
    const headers = new Headers();
    assert.throws(
      () => headers.append("X-A", "1\r\nX-Injected: 2"),
      /invalid value for header X-A/,
    );
    assert.throws(() => headers.set("X-A", "1\n"), TypeError);
    assert.throws(() => new Headers({ "X-A": "\u0000" }), TypeError);
    assert.throws(() => headers.append("X-A", "snowman \u2603"), TypeError);
    assert.equal(headers.size, 0);
  });

  test("refuses header names that aren't tokens", () => {
    const headers = new Headers();
    assert.throws(() => headers.append("", "1"), /invalid header name/);
    assert.throws(() => headers.append("X A", "1"), TypeError);
    assert.throws(() => headers.append("X:A", "1"), TypeError);
    assert.throws(() => headers.append("X\r\nA", "1"), TypeError);
  });

  test("accepts tabs, spaces and obs-text in values", () => {
    const headers = new Headers();
    headers.append("X-A", "a\tb c \u00e9\u00ff");
    assert.equal(headers.get("x-a"), "a\tb c \u00e9\u00ff");
  });
});

describe("Headers from a header block", () => {
  const BLOCK = "Host: example.com\r\nX-A: 1\r\nUpgrade: websocket\r\nx-a: 2\r\nX-Empty: \r\n";
  const LINES: [string, string][] = [
    ["Host", "example.com"],
    ["X-A", "1"],
    ["Upgrade", "websocket"],
    ["x-a", "2"],
    ["X-Empty", ""],
  ];

  test("answers lookups, iteration and serialization like the same lines appended", () => {
    const block = Headers.fromBlock(BLOCK);
    const appended = new Headers(LINES);
    for (const headers of [block, appended]) {
      assert.equal(headers.size, 5);
      assert.equal(headers.get("x-A"), "1");
      assert.equal(headers.get("upgrade"), "websocket");
      assert.equal(headers.get("X-Empty"), "");
      assert.equal(headers.get("Missing"), undefined);
      assert.equal(headers.has("HOST"), true);
      assert.equal(headers.has("Hos"), false);
      assert.deepEqual(headers.getAll("X-A"), ["1", "2"]);
      assert.equal(headers.getOne("Host"), "example.com");
      assert.throws(() => headers.getOne("X-A"), InvalidHeader);
      assert.deepEqual([...headers], LINES);
      assert.deepEqual(headers.raw(), LINES);
      assert.deepEqual([...headers.keys()], ["host", "x-a", "upgrade", "x-empty"]);
      assert.deepEqual(headers.toJSON(), {
        Host: "example.com",
        "X-A": "1",
        Upgrade: "websocket",
        "x-a": "2",
        "X-Empty": "",
      });
      assert.equal(headers.toString(), `${BLOCK}\r\n`);
      assert.deepEqual([...headers.clone()], LINES);
    }
  });

  test("pairsOf() gives the lines as node:http's rawHeaders, in a new array", () => {
    const flat = LINES.flat();
    for (const headers of [Headers.fromBlock(BLOCK), new Headers(LINES)]) {
      const pairs = Headers.pairsOf(headers);
      assert.deepEqual(pairs, flat);
      pairs.push("X-B", "3");
      assert.equal(headers.size, 5);
    }
  });

  test("an empty block is an empty Headers", () => {
    const headers = Headers.fromBlock("");
    assert.equal(headers.size, 0);
    assert.equal(headers.toString(), "\r\n");
    headers.append("A", "1");
    assert.deepEqual([...headers], [["A", "1"]]);
  });

  test("turns into lines on the first change, keeping every other line in order", () => {
    const appended = Headers.fromBlock(BLOCK);
    appended.append("X-B", "3");
    assert.deepEqual([...appended], [...LINES, ["X-B", "3"]]);

    const set = Headers.fromBlock(BLOCK);
    set.set("x-a", "9");
    assert.deepEqual([...set], [LINES[0], ["x-a", "9"], LINES[2], LINES[4]]);

    const deleted = Headers.fromBlock(BLOCK);
    assert.equal(deleted.delete("Missing"), false);
    assert.equal(deleted.delete("X-A"), true);
    assert.deepEqual([...deleted], [LINES[0], LINES[2], LINES[4]]);
  });

  test("a copy is independent of the block it was made from", () => {
    const headers = Headers.fromBlock(BLOCK);
    const copy = new Headers(headers);
    copy.append("X-B", "3");
    headers.delete("Host");
    assert.equal(copy.get("Host"), "example.com");
    assert.equal(headers.get("X-B"), undefined);
  });

  test("appendBlock adds the lines of a block after the others", () => {
    const headers = new Headers({ First: "0" });
    headers.appendBlock("X-A: 1\r\nX-B: 2\r\n");
    headers.appendBlock("X-C: 3\r\n");
    assert.deepEqual(
      [...headers],
      [
        ["First", "0"],
        ["X-A", "1"],
        ["X-B", "2"],
        ["X-C", "3"],
      ],
    );
  });

  test("writeTo writes toString's bytes, wireLength of them, in both forms", () => {
    const appended = new Headers(LINES);
    appended.append("X-Latin1", "\u00e9\u00ff");
    for (const headers of [Headers.fromBlock(BLOCK), appended, new Headers()]) {
      const expected = Buffer.from(headers.toString(), "latin1");
      assert.equal(headers.wireLength(), expected.length);
      const buf = Buffer.alloc(expected.length + 4, 0x2e);
      assert.equal(headers.writeTo(buf, 2), 2 + expected.length);
      assert.deepEqual(buf.subarray(2, 2 + expected.length), expected);
      assert.equal(buf.toString("latin1", 0, 2), "..");
    }
  });
});

describe("Headers.soleValue", () => {
  test("returns the value of a name present exactly once, else undefined", () => {
    for (const headers of [
      new Headers({ A: "1", B: ["2", "3"] }),
      Headers.fromBlock("A: 1\r\nB: 2\r\nb: 3\r\n"),
    ]) {
      assert.equal(headers.soleValue("a"), "1");
      assert.equal(headers.soleValue("B"), undefined);
      assert.equal(headers.soleValue("C"), undefined);
    }
  });

  test("looks names up through the index of large headers", () => {
    const headers = new Headers();
    for (let i = 0; i < 40; i++) headers.append(`X-${i}`, String(i));
    headers.append("x-7", "again");
    assert.equal(headers.soleValue("X-39"), "39");
    assert.equal(headers.soleValue("X-7"), undefined);
    assert.deepEqual(headers.getAll("X-7"), ["7", "again"]);
    assert.throws(() => headers.getOne("x-7"), InvalidHeader);
  });

  test("keeps the index of large headers up to date through every change", () => {
    const headers = new Headers();
    for (let i = 0; i < 40; i++) headers.append(`X-${i}`, String(i));
    assert.equal(headers.get("X-40"), undefined);
    headers.append("X-40", "40");
    assert.equal(headers.get("x-40"), "40");
    headers.appendValidated("X-41", "41");
    assert.equal(headers.get("x-41"), "41");
    headers.appendBlock("X-42: 42\r\n");
    assert.equal(headers.get("x-42"), "42");
    headers.set("X-0", "zero");
    assert.equal(headers.get("x-0"), "zero");
    assert.equal(headers.delete("X-1"), true);
    assert.equal(headers.get("x-1"), undefined);
    assert.equal(headers.get("x-2"), "2");
    headers.compact();
    assert.deepEqual(headers.getAll("X-42"), ["42"]);
    assert.equal(headers.size, 42);
  });
});

describe("helpers", () => {
  test("buildHost omits default ports and brackets IPv6 literals", () => {
    assert.equal(buildHost("example.com", 80, false), "example.com");
    assert.equal(buildHost("example.com", 443, true), "example.com");
    assert.equal(buildHost("example.com", 443, false), "example.com:443");
    assert.equal(buildHost("example.com", 80, true), "example.com:80");
    assert.equal(buildHost("::1", 80, false), "[::1]");
    assert.equal(buildHost("::1", 8080, false), "[::1]:8080");
    assert.equal(buildHost("127.0.0.1", 8765, true), "127.0.0.1:8765");
  });

  test("acceptKey matches RFC 6455's sample", () => {
    assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  test("generateKey returns base64 of 16 random bytes", () => {
    const key = generateKey();
    assert.equal(key.length, 24);
    assert.equal(decodeBase64(key)?.length, 16);
    assert.notEqual(generateKey(), key);
  });

  test("decodeBase64 accepts only strict, padded base64", () => {
    assert.deepEqual(decodeBase64("YQ=="), Buffer.from("a"));
    assert.deepEqual(decodeBase64(""), Buffer.alloc(0));
    assert.equal(decodeBase64("YQ"), null);
    assert.equal(decodeBase64("Y==="), null);
    assert.equal(decodeBase64("Y=Q="), null);
    assert.equal(decodeBase64("YQ-_"), null);
    assert.equal(decodeBase64("YQ= "), null);
  });

  test("decodedBase64Length says how many bytes strict base64 decodes to, or -1", () => {
    assert.equal(decodedBase64Length("dGhlIHNhbXBsZSBub25jZQ=="), 16);
    assert.equal(decodedBase64Length("YQ=="), 1);
    assert.equal(decodedBase64Length("YWI="), 2);
    assert.equal(decodedBase64Length("YWJj"), 3);
    assert.equal(decodedBase64Length(""), 0);
    for (const invalid of ["YQ", "Y===", "Y=Q=", "YQ-_", "YQ= ", "===="]) {
      assert.equal(decodedBase64Length(invalid), -1, invalid);
    }
  });

  test("isToken follows RFC 7230's tchar", () => {
    assert.equal(isToken("permessage-deflate"), true);
    assert.equal(isToken("!#$%&'*+-.^_`|~09azAZ"), true);
    assert.equal(isToken(""), false);
    assert.equal(isToken("a b"), false);
    assert.equal(isToken("a/b"), false);
    assert.equal(isToken("é"), false);
  });
});

describe("checkUpgradeHeaders", () => {
  test("accepts Connection listing upgrade among other options, and Upgrade in any case", () => {
    checkUpgradeHeaders(new Headers({ Connection: "keep-alive, Upgrade", Upgrade: "WebSocket" }));
  });

  test("accepts single values in any case, and Connection or Upgrade split over lines", () => {
    checkUpgradeHeaders(new Headers({ Connection: "UPGRADE", Upgrade: "websocket" }));
    checkUpgradeHeaders(Headers.fromBlock("Connection: upgrade\r\nUpgrade: WEBSOCKET\r\n"));
    checkUpgradeHeaders(
      new Headers({ Connection: ["keep-alive", "Upgrade"], Upgrade: "websocket" }),
    );
    checkUpgradeHeaders(new Headers({ Connection: ["Upgrade", "Upgrade"], Upgrade: "websocket" }));
  });

  test("rejects websocket offered twice, on two lines", () => {
    assert.throws(
      () =>
        checkUpgradeHeaders(
          new Headers({ Connection: "Upgrade", Upgrade: ["websocket", "websocket"] }),
        ),
      (error: unknown) => error instanceof InvalidUpgrade && error.value === "websocket, websocket",
    );
  });

  test("rejects a malformed Connection header even when it mentions upgrade", () => {
    assert.throws(
      () => checkUpgradeHeaders(new Headers({ Connection: "Upgrade;", Upgrade: "websocket" })),
      InvalidHeaderFormat,
    );
  });

  test("rejects a missing Connection header, naming it", () => {
    assert.throws(
      () => checkUpgradeHeaders(new Headers({ Upgrade: "websocket" })),
      (error: unknown) =>
        error instanceof InvalidUpgrade &&
        error.header === "Connection" &&
        error.value === null &&
        error.message === "missing Connection header",
    );
  });

  test("rejects an Upgrade header offering another protocol, naming the value", () => {
    assert.throws(
      () => checkUpgradeHeaders(new Headers({ Connection: "Upgrade", Upgrade: "h2c" })),
      (error: unknown) =>
        error instanceof InvalidUpgrade && error.header === "Upgrade" && error.value === "h2c",
    );
  });

  test("rejects two protocols in Upgrade", () => {
    assert.throws(
      () => checkUpgradeHeaders(new Headers({ Connection: "Upgrade", Upgrade: "websocket, h2c" })),
      (error: unknown) => error instanceof InvalidUpgrade && error.value === "websocket, h2c",
    );
  });
});
