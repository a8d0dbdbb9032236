import { strict as assert } from "node:assert";
import { once } from "node:events";
import * as http from "node:http";
import * as https from "node:https";
import { type AddressInfo, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { InvalidHandshake, InvalidStatus, InvalidURI, SecurityError } from "../../src/errors.ts";
import { Headers } from "../../src/headers.ts";
import type { Response } from "../../src/http11.ts";
import { connect } from "../../src/node/client.ts";
import {
  DEFAULT_MAX_REDIRECTS,
  followRedirect,
  isRedirect,
  maxRedirects,
  REDIRECT_STATUSES,
  withoutCredentials,
} from "../../src/node/redirect.ts";
import { cert, key } from "../helpers/localhost-tls.ts";
import { acceptKey, closeFrame } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

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

// ---------------------------------------------------------------------------
// connect() against real servers answering the handshake with redirects.

interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
}

type Route = (path: string) => { status: number; location?: string; delay?: number } | "accept";

/** An HTTP(S) server whose `upgrade` handler redirects or accepts, as `route` says. */
async function upgradeServer(
  route: Route,
  options: { tls?: boolean; path?: string } = {},
): Promise<{ port: number; seen: Seen[]; url: string }> {
  const seen: Seen[] = [];
  const server = options.tls ? https.createServer({ key, cert }) : http.createServer();
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    socket.on("error", () => {});
    const action = route(req.url ?? "");
    if (action === "accept") {
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptKey(String(req.headers["sec-websocket-key"]))}\r\n\r\n`,
      );
      // Answer the client's close frame so that close() doesn't wait.
      socket.once("data", () => socket.end(closeFrame(1000, "", { mask: false })));
      return;
    }
    const location = action.location === undefined ? "" : `Location: ${action.location}\r\n`;
    const answer = `HTTP/1.1 ${action.status} Redirect\r\n${location}Content-Length: 0\r\n\r\n`;
    if (action.delay === undefined) socket.end(answer);
    else setTimeout(() => socket.end(answer), action.delay);
  });
  cleanups.push(() => {
    server.close();
    server.closeAllConnections();
  });
  if (options.path !== undefined) {
    server.listen(options.path);
    await once(server, "listening");
    return { port: 0, seen, url: "ws://localhost/" };
  }
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { port, seen, url: `${options.tls ? "wss" : "ws"}://127.0.0.1:${port}` };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  delete process.env.WEBSOCKETS_MAX_REDIRECTS;
});

/** Redirects /hop/N to /hop/N+1, and accepts /hop/`last`. */
const hops =
  (last: number, status = 302): Route =>
  (path) => {
    const n = Number(path.split("/")[2]);
    return n >= last ? "accept" : { status, location: `/hop/${n + 1}` };
  };

describe("connect() following redirects", () => {
  it("follows a chain of relative redirects with every redirect status", async () => {
    const chain: Record<string, { status: number; location: string }> = {
      "/a": { status: 300, location: "/b" },
      "/b": { status: 301, location: "c" },
      "/c": { status: 302, location: "/d?x=1" },
      "/d?x=1": { status: 303, location: "./e" },
      "/e": { status: 307, location: "/f#fragment" },
      "/f": { status: 308, location: "/final" },
    };
    const server = await upgradeServer((path) => chain[path] ?? "accept");
    const ws = await connect(`${server.url}/a`, { logger: false, followRedirects: true });
    assert.deepEqual(
      server.seen.map((s) => s.path),
      ["/a", "/b", "/c", "/d?x=1", "/e", "/f", "/final"],
    );
    assert.equal(ws.request?.path, "/final");
    await ws.close();
  });

  it("follows an absolute redirect to another server", async () => {
    const target = await upgradeServer(() => "accept");
    const origin = await upgradeServer(() => ({ status: 302, location: `${target.url}/there` }));
    const ws = await connect(origin.url, { logger: false, followRedirects: true });
    assert.equal(target.seen[0].path, "/there");
    assert.equal(target.seen[0].headers.host, `127.0.0.1:${target.port}`);
    await ws.close();
  });

  it("follows 10 redirects", async () => {
    const server = await upgradeServer(hops(10));
    const ws = await connect(`${server.url}/hop/0`, { logger: false, followRedirects: true });
    assert.equal(server.seen.length, 11);
    assert.equal(ws.request?.path, "/hop/10");
    await ws.close();
  });

  it("refuses the 11th redirect with SecurityError", async () => {
    const server = await upgradeServer(hops(11));
    await assert.rejects(
      connect(`${server.url}/hop/0`, { logger: false, followRedirects: true }),
      (error) => {
        assert.ok(error instanceof SecurityError);
        assert.equal(
          error.message,
          `more than 10 redirects; the last one leads to ws://127.0.0.1:${server.port}/hop/11`,
        );
        assert.ok(error.cause instanceof InvalidStatus);
        return true;
      },
    );
    assert.equal(server.seen.length, 11);
  });

  it("reads the limit from WEBSOCKETS_MAX_REDIRECTS", async () => {
    process.env.WEBSOCKETS_MAX_REDIRECTS = "2";
    const server = await upgradeServer(hops(3));
    await assert.rejects(connect(`${server.url}/hop/0`, { logger: false, followRedirects: true }), {
      name: "SecurityError",
      message: /^more than 2 redirects/,
    });
    assert.equal(server.seen.length, 3);
  });

  it("covers the whole chain with one openTimeout", async () => {
    // Each hop takes 40 ms, well within the timeout; the chain doesn't.
    const server = await upgradeServer((path) => {
      const n = Number(path.split("/")[2]);
      return n >= 10 ? "accept" : { status: 302, location: `/hop/${n + 1}`, delay: 40 };
    });
    await assert.rejects(
      connect(`${server.url}/hop/0`, { logger: false, followRedirects: true, openTimeout: 150 }),
      {
        name: "TimeoutError",
      },
    );
    assert.ok(server.seen.length < 11, `${server.seen.length} requests`);
  });

  it("refuses a redirect from wss:// to ws:// with SecurityError", async () => {
    const plain = await upgradeServer(() => "accept");
    const secure = await upgradeServer(() => ({ status: 302, location: `${plain.url}/` }), {
      tls: true,
    });
    await assert.rejects(
      connect(`${secure.url.replace("127.0.0.1", "localhost")}/`, {
        logger: false,
        followRedirects: true,
        tls: { ca: cert },
      }),
      (error) =>
        error instanceof SecurityError &&
        error.message ===
          `cannot follow redirect from wss://localhost:${secure.port}/ to non-secure URI ${plain.url}/`,
    );
    assert.equal(plain.seen.length, 0);
  });

  it("follows a redirect from ws:// to wss://", async () => {
    const secure = await upgradeServer(() => "accept", { tls: true });
    const plain = await upgradeServer(() => ({
      status: 301,
      location: `wss://localhost:${secure.port}/secure`,
    }));
    const ws = await connect(plain.url, {
      logger: false,
      followRedirects: true,
      tls: { ca: cert },
    });
    assert.equal(secure.seen[0].path, "/secure");
    await ws.close();
  });

  it("drops custom headers, credentials included, on a cross-origin redirect", async () => {
    const target = await upgradeServer(() => "accept");
    const origin = await upgradeServer(() => ({ status: 307, location: `${target.url}/` }));
    const ws = await connect(origin.url, {
      logger: false,
      followRedirects: true,
      additionalHeaders: {
        Authorization: "Bearer secret",
        Cookie: "session=1",
        "Proxy-Authorization": "Basic eDp5",
        "X-Trace": "abc",
      },
    });
    await ws.close();
    const first = origin.seen[0].headers;
    assert.equal(first.authorization, "Bearer secret");
    assert.equal(first.cookie, "session=1");
    assert.equal(first["proxy-authorization"], "Basic eDp5");
    const second = target.seen[0].headers;
    assert.equal(second.authorization, undefined);
    assert.equal(second.cookie, undefined);
    assert.equal(second["proxy-authorization"], undefined);
    assert.equal(second["x-trace"], undefined);
  });

  it("sends the URI's Basic credentials to its origin only", async () => {
    const target = await upgradeServer(() => "accept");
    const origin = await upgradeServer(() => ({ status: 302, location: `${target.url}/` }));
    const ws = await connect(origin.url.replace("ws://", "ws://alice:pw@"), {
      logger: false,
      followRedirects: true,
    });
    await ws.close();
    assert.equal(
      origin.seen[0].headers.authorization,
      `Basic ${Buffer.from("alice:pw").toString("base64")}`,
    );
    assert.equal(target.seen[0].headers.authorization, undefined);
  });

  it("keeps credentials on a same-origin redirect", async () => {
    const server = await upgradeServer((path) =>
      path === "/start" ? { status: 302, location: "/next" } : "accept",
    );
    const ws = await connect(`${server.url.replace("ws://", "ws://alice:pw@")}/start`, {
      logger: false,
      followRedirects: true,
      additionalHeaders: { Cookie: "session=1" },
    });
    await ws.close();
    assert.deepEqual(
      server.seen.map((s) => [s.path, s.headers.authorization, s.headers.cookie]),
      [
        ["/start", `Basic ${Buffer.from("alice:pw").toString("base64")}`, "session=1"],
        ["/next", `Basic ${Buffer.from("alice:pw").toString("base64")}`, "session=1"],
      ],
    );
  });

  it("refuses to follow a redirect over a Unix socket", async () => {
    const path = join(tmpdir(), `websockets-ts-redirect-${process.pid}-${Date.now()}.sock`);
    const server = await upgradeServer(() => ({ status: 302, location: "/elsewhere" }), { path });
    await assert.rejects(connect(server.url, { logger: false, followRedirects: true, path }), {
      name: "InvalidHandshake",
      message:
        "cannot follow redirect to ws://localhost/elsewhere when connecting over a Unix socket",
    });
    assert.equal(server.seen.length, 1);
  });

  it("refuses to follow a redirect over a socket given to connect()", async () => {
    const server = await upgradeServer(() => ({ status: 302, location: "/elsewhere" }));
    const sock = netConnect({ host: "127.0.0.1", port: server.port });
    await once(sock, "connect");
    await assert.rejects(
      connect(`${server.url}/`, { logger: false, followRedirects: true, sock }),
      (error) => {
        assert.ok(error instanceof InvalidHandshake);
        assert.equal(
          error.message,
          `cannot follow redirect to ${server.url}/elsewhere with a socket given to connect()`,
        );
        return true;
      },
    );
  });

  it("doesn't follow a 3xx without Location, nor a 304", async () => {
    for (const [status, location] of [
      [302, undefined],
      [304, "/x"],
    ] as const) {
      const server = await upgradeServer(() => ({ status, location }));
      await assert.rejects(
        connect(server.url, { logger: false, followRedirects: true }),
        (error) => error instanceof InvalidStatus && error.response.status === status,
      );
      assert.equal(server.seen.length, 1);
    }
  });

  it("names an invalid maxRedirects", async () => {
    const server = await upgradeServer(hops(1));
    await assert.rejects(
      connect(`${server.url}/hop/0`, { logger: false, followRedirects: true, maxRedirects: -1 }),
      { name: "RangeError", message: "maxRedirects must be a non-negative integer, got -1" },
    );
  });

  it("follows no redirect with maxRedirects: 0", async () => {
    const server = await upgradeServer(hops(1));
    await assert.rejects(
      connect(`${server.url}/hop/0`, { logger: false, followRedirects: true, maxRedirects: 0 }),
      { name: "SecurityError", message: /^more than 0 redirects/ },
    );
    assert.equal(server.seen.length, 1);
  });

  it("passes checkRedirect each hop, with what it will send, and lets it wait", async () => {
    const server = await upgradeServer(hops(2));
    const seen: [string, boolean, number][] = [];
    const ws = await connect(`${server.url}/hop/0`, {
      logger: false,
      followRedirects: true,
      subprotocols: ["chat"],
      checkRedirect: async (hop) => {
        await new Promise((resolve) => setImmediate(resolve));
        seen.push([new URL(hop.to).pathname, hop.crossOrigin, hop.redirects]);
        assert.deepEqual(hop.subprotocols, ["chat"]);
        return true;
      },
    });
    await ws.close();
    assert.deepEqual(seen, [
      ["/hop/1", false, 0],
      ["/hop/2", false, 1],
    ]);
  });

  it("rejects a redirect to another scheme with InvalidURI", async () => {
    const server = await upgradeServer(() => ({ status: 302, location: "ftp://127.0.0.1/" }));
    await assert.rejects(connect(server.url, { logger: false, followRedirects: true }), InvalidURI);
  });
});

// Registered last, so it runs after the hooks above: every socket, server and
// timer this file opened must be gone by then.
checkLeaksAfterAll();
