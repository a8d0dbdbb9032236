import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { InvalidHeader } from "../src/errors.ts";
import { Headers } from "../src/headers.ts";
import { checkRequestFields, isValidHost } from "../src/request-checks.ts";

describe("isValidHost", () => {
  it("accepts names, IPv4, IP literals, ports and percent-encoding (RFC 3986 §3.2.2)", () => {
    for (const host of [
      "example.com",
      "example.com:8765",
      "127.0.0.1",
      "127.0.0.1:80",
      "[::1]",
      "[::1]:443",
      "[2001:db8::7]:8080",
      "[::ffff:192.0.2.1]",
      "[v1.fe80::a+en1]",
      "xn--bcher-kva.example",
      "a_b~c!$&'()*+,;=",
      "caf%C3%A9.example",
      "example.com:",
      "",
    ]) {
      assert.equal(isValidHost(host), true, host);
    }
  });

  it("refuses spaces, paths, user info, bad ports and bad literals", () => {
    for (const host of [
      "a b",
      "a/c",
      "user@a",
      "a:b:c",
      "a:80x",
      "a:-1",
      "[::1",
      "[]",
      "[::1]x",
      "[::g]",
      "[v]",
      "%zz.example",
      "a%2",
      "a\\b",
      "é.example",
    ]) {
      assert.equal(isValidHost(host), false, host);
    }
  });
});

describe("checkRequestFields", () => {
  const headers = (pairs: [string, string][]): Headers => {
    const h = new Headers();
    for (const [name, value] of pairs) h.append(name, value);
    return h;
  };

  it("passes one valid Host and one Authorization", () => {
    checkRequestFields(
      headers([
        ["Host", "a.example"],
        ["Authorization", "Basic YTpi"],
      ]),
    );
  });

  it("names what's wrong", () => {
    const cases: [[string, string][], string][] = [
      [[], "missing Host header"],
      [
        [
          ["Host", "a"],
          ["host", "b"],
        ],
        "invalid Host header: more than one Host header found",
      ],
      [[["Host", "a b"]], "invalid Host header: a b"],
      [
        [
          ["Host", "a"],
          ["Authorization", "x"],
          ["Authorization", "y"],
        ],
        "invalid Authorization header: more than one Authorization header found",
      ],
      [
        [
          ["Host", "a"],
          ["Proxy-Authorization", "x"],
          ["proxy-authorization", "y"],
        ],
        "invalid Proxy-Authorization header: more than one Proxy-Authorization header found",
      ],
    ];
    for (const [pairs, message] of cases) {
      assert.throws(
        () => checkRequestFields(headers(pairs)),
        (error) => error instanceof InvalidHeader && error.message === message,
      );
    }
  });
});
