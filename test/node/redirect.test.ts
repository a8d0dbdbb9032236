import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { InvalidHandshake, InvalidStatus, InvalidURI, SecurityError } from "../../src/errors.ts";
import { Headers } from "../../src/headers.ts";
import type { Response } from "../../src/http11.ts";
import {
  DEFAULT_MAX_REDIRECTS,
  followRedirect,
  isRedirect,
  maxRedirects,
  REDIRECT_STATUSES,
  withoutCredentials,
} from "../../src/node/redirect.ts";

function response(status: number, location?: string): Response {
  const headers = new Headers();
  if (location !== undefined) headers.append("Location", location);
  return { status, reason: "Redirect", headers, body: Buffer.alloc(0) };
}

describe("redirect rules", () => {
  it("treats 300, 301, 302, 303, 307 and 308 with a Location as redirects", () => {
    assert.deepEqual([...REDIRECT_STATUSES].sort(), [300, 301, 302, 303, 307, 308]);
    for (const status of REDIRECT_STATUSES) assert.ok(isRedirect(response(status, "/x")));
  });

  it("doesn't treat 304, 305, other statuses or a missing Location as redirects", () => {
    for (const status of [200, 304, 305, 306, 400, 403, 500, 503]) {
      assert.equal(isRedirect(response(status, "/x")), false, `status ${status}`);
    }
    assert.equal(isRedirect(response(302)), false);
  });

  it("allows 10 redirects unless WEBSOCKETS_MAX_REDIRECTS says otherwise", () => {
    assert.equal(DEFAULT_MAX_REDIRECTS, 10);
    assert.equal(maxRedirects({}), 10);
    assert.equal(maxRedirects({ WEBSOCKETS_MAX_REDIRECTS: "" }), 10);
    assert.equal(maxRedirects({ WEBSOCKETS_MAX_REDIRECTS: "3" }), 3);
    assert.equal(maxRedirects({ WEBSOCKETS_MAX_REDIRECTS: "0" }), 0);
  });

  it("names an invalid WEBSOCKETS_MAX_REDIRECTS", () => {
    for (const raw of ["many", "-1", "2.5"]) {
      assert.throws(() => maxRedirects({ WEBSOCKETS_MAX_REDIRECTS: raw }), {
        name: "RangeError",
        message: `WEBSOCKETS_MAX_REDIRECTS must be a non-negative integer, got "${raw}"`,
      });
    }
  });

  it("resolves a relative Location against the current URI", () => {
    const cases: [string, string, string][] = [
      ["ws://example.com/a/b?q=1", "/c", "ws://example.com/c"],
      ["ws://example.com/a/b", "c?x=y", "ws://example.com/a/c?x=y"],
      ["ws://example.com:8080/a", "../d", "ws://example.com:8080/d"],
      ["wss://example.com/a", "//other.example/e", "wss://other.example/e"],
    ];
    for (const [current, location, expected] of cases) {
      assert.equal(
        followRedirect(current, response(302, location), { redirects: 0 }).uri,
        expected,
        location,
      );
    }
  });

  it("follows an absolute Location and maps http and https to ws and wss", () => {
    const follow = (location: string) =>
      followRedirect("ws://a.example/", response(301, location), { redirects: 0 }).uri;
    assert.equal(follow("ws://b.example:9000/x"), "ws://b.example:9000/x");
    assert.equal(follow("wss://b.example/x"), "wss://b.example/x");
    assert.equal(follow("http://b.example/x"), "ws://b.example/x");
    assert.equal(follow("https://b.example/x"), "wss://b.example/x");
  });

  it("drops the fragment of the Location", () => {
    const redirect = followRedirect("ws://a.example/", response(307, "/x#frag"), { redirects: 0 });
    assert.equal(redirect.uri, "ws://a.example/x");
  });

  it("tells same-origin from cross-origin redirects", () => {
    const cross = (current: string, location: string) =>
      followRedirect(current, response(302, location), { redirects: 0 }).crossOrigin;
    assert.equal(cross("ws://a.example/", "/b"), false);
    assert.equal(cross("ws://a.example/", "ws://A.EXAMPLE:80/b"), false);
    assert.equal(cross("ws://a.example/", "ws://b.example/"), true);
    assert.equal(cross("ws://a.example/", "ws://a.example:8080/"), true);
    assert.equal(cross("ws://a.example/", "wss://a.example/"), true);
  });

  it("keeps user info on a same-origin redirect and never sends it to another origin", () => {
    const follow = (location: string) =>
      followRedirect("ws://user:secret@a.example/", response(302, location), { redirects: 0 }).uri;
    assert.equal(follow("/b"), "ws://user:secret@a.example/b");
    assert.equal(follow("ws://a.example/c"), "ws://user:secret@a.example/c");
    assert.equal(follow("ws://b.example/"), "ws://b.example/");
    assert.equal(follow("//b.example/"), "ws://b.example/");
    assert.equal(follow("wss://a.example/"), "wss://a.example/");
    // Credentials chosen by the redirecting server are its own to give.
    assert.equal(follow("ws://other:pw@b.example/"), "ws://other:pw@b.example/");
  });

  it("allows the 10th redirect and refuses the 11th with SecurityError", () => {
    const ok = followRedirect("ws://a.example/9", response(302, "/10"), { redirects: 9 });
    assert.equal(ok.uri, "ws://a.example/10");
    const cause = new InvalidStatus(response(302, "/11"));
    assert.throws(
      () => followRedirect("ws://a.example/10", response(302, "/11"), { redirects: 10, cause }),
      (error: unknown) => {
        assert.ok(error instanceof SecurityError);
        assert.equal(
          error.message,
          "more than 10 redirects; the last one leads to ws://a.example/11",
        );
        assert.equal(error.cause, cause);
        return true;
      },
    );
  });

  it("honours an explicit limit, including zero", () => {
    assert.throws(
      () =>
        followRedirect("ws://a.example/", response(302, "/b"), { redirects: 0, maxRedirects: 0 }),
      { name: "SecurityError", message: /more than 0 redirects/ },
    );
  });

  it("refuses a redirect from wss:// to ws:// with SecurityError", () => {
    for (const location of ["ws://a.example/", "http://a.example/x"]) {
      assert.throws(
        () => followRedirect("wss://a.example/", response(302, location), { redirects: 0 }),
        (error: unknown) =>
          error instanceof SecurityError &&
          error.message.startsWith(
            "cannot follow redirect from wss://a.example/ to non-secure URI ws://",
          ),
      );
    }
  });

  it("allows a redirect from ws:// to wss://", () => {
    const redirect = followRedirect("ws://a.example/", response(308, "wss://a.example/"), {
      redirects: 0,
    });
    assert.deepEqual(redirect, { uri: "wss://a.example/", crossOrigin: true });
  });

  it("refuses redirects over a Unix socket or a given socket", () => {
    assert.throws(
      () =>
        followRedirect("ws://localhost/", response(302, "/b"), { redirects: 0, transport: "unix" }),
      (error: unknown) =>
        error instanceof InvalidHandshake &&
        error.message ===
          "cannot follow redirect to ws://localhost/b when connecting over a Unix socket",
    );
    assert.throws(
      () =>
        followRedirect("ws://localhost/", response(302, "/b"), {
          redirects: 0,
          transport: "socket",
        }),
      {
        name: "InvalidHandshake",
        message: "cannot follow redirect to ws://localhost/b with a socket given to connect()",
      },
    );
  });

  it("rejects a Location that isn't a URI or has another scheme with InvalidURI", () => {
    assert.throws(
      () => followRedirect("ws://a.example/", response(302, "http://[bad"), { redirects: 0 }),
      (error: unknown) => error instanceof InvalidURI && error.uri === "http://[bad",
    );
    assert.throws(
      () => followRedirect("ws://a.example/", response(302, "ftp://a.example/f"), { redirects: 0 }),
      (error: unknown) => error instanceof InvalidURI && error.uri === "ftp://a.example/f",
    );
  });

  it("refuses a redirect without Location", () => {
    assert.throws(() => followRedirect("ws://a.example/", response(302), { redirects: 0 }), {
      name: "InvalidHandshake",
      message: "redirect 302 without a Location header",
    });
  });

  it("drops Authorization, Cookie and Proxy-Authorization in any case and shape", () => {
    const expected = [
      ["X-Trace", "1"],
      ["Accept-Language", "fr"],
    ];
    assert.deepEqual(
      withoutCredentials([
        ["X-Trace", "1"],
        ["authorization", "Bearer t"],
        ["COOKIE", "a=b"],
        ["Accept-Language", "fr"],
        ["Proxy-Authorization", "Basic eDp5"],
      ]),
      expected,
    );
    assert.deepEqual(
      withoutCredentials({
        "X-Trace": "1",
        Authorization: "Bearer t",
        Cookie: ["a=b", "c=d"],
        "Accept-Language": "fr",
      }),
      expected,
    );
    assert.deepEqual(
      withoutCredentials(
        new Map([
          ["X-Trace", "1"],
          ["Proxy-Authorization", "x"],
          ["Accept-Language", "fr"],
        ]),
      ),
      expected,
    );
  });

  it("keeps repeated headers that aren't credentials", () => {
    assert.deepEqual(withoutCredentials({ "X-Tag": ["a", "b"] }), [
      ["X-Tag", "a"],
      ["X-Tag", "b"],
    ]);
  });
});
