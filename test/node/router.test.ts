/**
 * route(): the matching itself (Router.match, no sockets), the patterns
 * refused when the router is built, and routers under serve() over real
 * sockets: its own listener, an attached http.Server, and handleUpgrade.
 */

import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { describe, it } from "node:test";
import { InvalidStatus } from "../../src/errors.ts";
import { connect } from "../../src/node/client.ts";
import { type RouteParams, Router, route } from "../../src/node/router.ts";
import { type ServeOptions, type Server, serve } from "../../src/node/server.ts";
import { exchange } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const noop = (): void => {};

// Compile-time checks: the parameters are typed from the pattern.
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typed: [
  Equal<RouteParams<"/rooms/:room">, { room: string }>,
  Equal<RouteParams<"/a/:id(int)/:u(uuid)">, { id: number; u: string }>,
  Equal<RouteParams<"/files/*path">, { path: string }>,
  Equal<RouteParams<"/any/*">, { "*": string }>,
  Equal<RouteParams<"/static">, Record<never, never>>,
] = [true, true, true, true, true];

function statusOf(router: Router, target: string): number {
  return router.match(target).status;
}

describe("Router.match", () => {
  const router = route({
    "/": noop,
    "/rooms/:room": noop,
    "/rooms/lobby": noop,
    "/items/:id(int)": noop,
    "/items/:name": noop,
    "/users/:id(uuid)": noop,
    "/files/*path": noop,
    "/dir/": noop,
    "/rooms/:room/members/": noop,
  });

  it("types the parameters of a pattern", () => {
    assert.deepEqual(typed, [true, true, true, true, true]);
  });

  it("matches a parameter and passes it decoded", () => {
    assert.deepEqual(router.match("/rooms/caf%C3%A9?x=1"), {
      status: 200,
      pattern: "/rooms/:room",
      params: { room: "café" },
    });
  });

  it("prefers a literal to a parameter, a converted parameter to a plain one", () => {
    assert.deepEqual(router.match("/rooms/lobby"), {
      status: 200,
      pattern: "/rooms/lobby",
      params: {},
    });
    assert.deepEqual(router.match("/items/42"), {
      status: 200,
      pattern: "/items/:id(int)",
      params: { id: 42 },
    });
    assert.deepEqual(router.match("/items/-4"), {
      status: 200,
      pattern: "/items/:name",
      params: { name: "-4" },
    });
    // Not a safe integer: not an int.
    assert.equal(router.match("/items/99999999999999999999").status, 200);
    assert.deepEqual((router.match("/items/99999999999999999999") as { params: object }).params, {
      name: "99999999999999999999",
    });
  });

  it("converts a uuid to lower case and refuses a non-uuid", () => {
    assert.deepEqual(router.match("/users/0F8FAD5B-D9CB-469F-A165-70867728950E"), {
      status: 200,
      pattern: "/users/:id(uuid)",
      params: { id: "0f8fad5b-d9cb-469f-a165-70867728950e" },
    });
    assert.equal(statusOf(router, "/users/42"), 404);
  });

  it("matches the root", () => {
    assert.deepEqual(router.match("/"), { status: 200, pattern: "/", params: {} });
  });

  it("gives a wildcard the rest of the path, possibly empty", () => {
    const paths = (router.match("/files/a/b%20c.txt") as { params: object }).params;
    assert.deepEqual(paths, { path: "a/b c.txt" });
    assert.deepEqual((router.match("/files") as { params: object }).params, { path: "" });
    assert.deepEqual((router.match("/files/") as { params: object }).params, { path: "" });
    assert.deepEqual((router.match("/files/d/") as { params: object }).params, { path: "d/" });
  });

  it("redirects to the path with a trailing slash, keeping the query", () => {
    assert.deepEqual(router.match("/dir?a=1"), { status: 308, location: "/dir/?a=1" });
    assert.deepEqual(router.match("/rooms/x/members"), {
      status: 308,
      location: "/rooms/x/members/",
    });
    assert.deepEqual(router.match("/rooms/x/members/"), {
      status: 200,
      pattern: "/rooms/:room/members/",
      params: { room: "x" },
    });
  });

  it("doesn't strip a trailing slash the pattern lacks", () => {
    assert.equal(statusOf(router, "/rooms/x/"), 404);
  });

  it("answers 404 when nothing matches, naming the path", () => {
    assert.deepEqual(router.match("/nope"), { status: 404, reason: 'no route for "/nope"' });
    assert.equal(statusOf(router, "/rooms"), 404);
    assert.equal(statusOf(router, "/rooms//"), 404);
    assert.equal(statusOf(router, "//rooms/x"), 404);
  });

  it("decodes once: %2F stays inside a segment, %252e%252e is not ..", () => {
    assert.deepEqual((router.match("/rooms/a%2Fb") as { params: object }).params, {
      room: "a/b",
    });
    assert.deepEqual((router.match("/rooms/%252e%252e") as { params: object }).params, {
      room: "%2e%2e",
    });
  });

  it("never matches a path with a dot segment, encoded or not", () => {
    for (const target of [
      "/rooms/..",
      "/rooms/.",
      "/rooms/%2e%2e",
      "/rooms/%2E.",
      "/files/../../etc/passwd",
      "/files/a/%2e%2e/%2e%2e/etc",
      "/x/../rooms/lobby",
    ]) {
      assert.equal(statusOf(router, target), 404, target);
    }
  });

  it("keeps wildcard segments single: no encoded separator, no empty segment", () => {
    assert.equal(statusOf(router, "/files/a%2F..%2F..%2Fetc"), 404);
    assert.equal(statusOf(router, "/files/a%5C..%5Cetc"), 404);
    assert.equal(statusOf(router, "/files//etc/passwd"), 404);
  });

  it("answers 400 for invalid percent-encoding", () => {
    assert.deepEqual(router.match("/rooms/%E0%A4%A"), {
      status: 400,
      reason: 'invalid percent-encoding in path: "/rooms/%E0%A4%A"',
    });
    assert.equal(statusOf(router, "/rooms/%FF"), 400);
  });

  it("answers 414 for a target over maxPathLength, before matching", () => {
    const small = route({ "/:x": noop }, { maxPathLength: 16 });
    assert.equal(statusOf(small, `/${"a".repeat(15)}`), 200);
    assert.deepEqual(small.match(`/${"a".repeat(16)}`), {
      status: 414,
      reason: "request target of 17 bytes exceeds limit of 16 bytes",
    });
    // Even one that would fail to decode.
    assert.equal(statusOf(small, `/${"%".repeat(20)}`), 414);
    assert.equal(statusOf(router, `/rooms/${"a".repeat(4090)}`), 414);
  });

  it("takes the path of an absolute-form target", () => {
    assert.equal(
      (router.match("ws://example.com/rooms/x?y") as { pattern: string }).pattern,
      "/rooms/:room",
    );
    assert.equal((router.match("http://example.com") as { pattern: string }).pattern, "/");
    assert.equal(statusOf(router, "*"), 400);
  });

  it("doesn't let a backslash in a redirect leave the origin", () => {
    const r = route({ "/:host/": noop });
    assert.deepEqual(r.match("/\\evil.example"), { status: 308, location: "/%5Cevil.example/" });
  });

  it("lists its patterns in the order it tries them", () => {
    assert.deepEqual(route({ "/*rest": noop, "/a/:b": noop, "/a/b": noop }).patterns, [
      "/a/b",
      "/a/:b",
      "/*rest",
    ]);
  });
});

describe("route() validates patterns when built", () => {
  const cases: [string, string][] = [
    ["rooms", 'invalid route pattern "rooms": it must start with /'],
    ["/a//b", 'invalid route pattern "/a//b": empty segment'],
    ["/a/:", 'invalid route pattern "/a/:": invalid parameter name ""'],
    ["/a/:1x", 'invalid route pattern "/a/:1x": invalid parameter name "1x"'],
    ["/a/:x/:x", 'invalid route pattern "/a/:x/:x": parameter "x" appears twice'],
    [
      "/a/:x(float)",
      'invalid route pattern "/a/:x(float)": unknown converter "float" (known: string, int, uuid)',
    ],
    ["/a/:x(int", 'invalid route pattern "/a/:x(int": invalid parameter ":x(int"'],
    ["/*rest/a", 'invalid route pattern "/*rest/a": a wildcard must be the last segment'],
    ["/*rest/", 'invalid route pattern "/*rest/": a wildcard must be the last segment'],
    ["/a/../b", 'invalid route pattern "/a/../b": dot segment ".."'],
    ["/a b", 'invalid route pattern "/a b": invalid character in segment "a b"'],
    ["/a%2Fb", 'invalid route pattern "/a%2Fb": invalid character in segment "a%2Fb"'],
    ["/a?b", 'invalid route pattern "/a?b": invalid character in segment "a?b"'],
  ];
  for (const [pattern, message] of cases) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(() => new Router({ [pattern]: noop }), { name: "TypeError", message });
    });
  }

  it("refuses two patterns that match the same paths", () => {
    assert.throws(() => route({ "/a/:x": noop, "/b": noop, "/a/:y": noop }), {
      name: "TypeError",
      message: 'patterns "/a/:x" and "/a/:y" match the same paths',
    });
  });

  it("refuses an entry that isn't a handler, and bad route options", () => {
    assert.throws(() => new Router({ "/a": 42 }), {
      message:
        'invalid route pattern "/a": expected a handler function or { handler, ... }; got number',
    });
    assert.throws(() => new Router({ "/a": { maxSize: 1 } }), {
      message: 'invalid route pattern "/a": its handler must be a function; got undefined',
    });
    assert.throws(() => new Router({ "/a": { handler: noop, compression: "gzip" } }), {
      message: 'invalid route pattern "/a": unsupported compression: gzip',
    });
    assert.throws(() => new Router({}), { message: "route() needs at least one pattern" });
    assert.throws(() => new Router({ "/": noop }, { maxPathLength: 0 }), {
      name: "RangeError",
      message: "maxPathLength must be a positive integer; got 0",
    });
  });
});

describe("route() under serve()", () => {
  async function start(
    router: Router,
    options: ServeOptions = {},
  ): Promise<{ server: Server; url: string; port: number }> {
    const server = await serve(router, { host: "127.0.0.1", port: 0, logger: false, ...options });
    const { port } = server.address as { port: number };
    return { server, url: `ws://127.0.0.1:${port}`, port };
  }

  const rooms = route({
    "/rooms/:room": async (ws, { room }) => {
      await ws.send(`room ${room}`);
    },
    "/items/:id(int)": async (ws, { id }) => {
      await ws.send(`item ${id + 1}`);
    },
    "/dir/": async (ws) => {
      await ws.send(`dir ${ws.request?.path}`);
    },
  });

  it("runs the handler of the matching route with its parameters", async () => {
    const { server, url } = await start(rooms);
    try {
      for (const [path, expected] of [
        ["/rooms/a%20b", "room a b"],
        ["/items/41", "item 42"],
      ]) {
        const ws = await connect(url + path);
        assert.equal(await ws.recv(), expected);
        await ws.close();
      }
    } finally {
      await server.close();
    }
  });

  it("answers 404 before the upgrade when nothing matches", async () => {
    const { server, url } = await start(rooms);
    try {
      await assert.rejects(connect(`${url}/elsewhere`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 404);
        assert.equal(error.response.body.toString(), 'no route for "/elsewhere"\n');
        return true;
      });
    } finally {
      await server.close();
    }
  });

  it("redirects to the trailing slash, and the client follows", async () => {
    const { server, url, port } = await start(rooms);
    try {
      const { received } = await exchange(
        port,
        `GET /dir?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      assert.match(received.toString(), /^HTTP\/1\.1 308 Permanent Redirect\r\n/);
      assert.match(received.toString(), /\r\nLocation: \/dir\/\?q=1\r\n/);
      const ws = await connect(`${url}/dir?q=1`, { followRedirects: true });
      assert.equal(await ws.recv(), "dir /dir/?q=1");
      await ws.close();
    } finally {
      await server.close();
    }
  });

  it("answers 414 for a long path and 400 for bad percent-encoding", async () => {
    const { server, url } = await start(route({ "/:x": noop }, { maxPathLength: 64 }));
    try {
      await assert.rejects(connect(`${url}/${"a".repeat(100)}`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 414);
        return true;
      });
      await assert.rejects(connect(`${url}/%FF`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 400);
        return true;
      });
    } finally {
      await server.close();
    }
  });

  it("runs the server's processRequest first, then the route's with the parameters", async () => {
    const seen: string[] = [];
    const router = route({
      "/private/:who": {
        handler: async (ws, { who }) => {
          await ws.send(`hello ${who}`);
        },
        processRequest: (connection, request, { who }) => {
          seen.push(`route ${who}`);
          if (request.headers.get("Authorization") !== "Bearer ok") {
            return connection.respond(401, "who are you?\n");
          }
        },
      },
      "/public": async (ws) => {
        await ws.send("public");
      },
    });
    const { server, url } = await start(router, {
      processRequest: (connection, request) => {
        seen.push(`server ${request.path}`);
        if (request.path === "/healthz") return connection.respond(200, "OK\n");
      },
    });
    try {
      await assert.rejects(connect(`${url}/private/ada`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 401);
        return true;
      });
      const ws = await connect(`${url}/private/ada`, {
        additionalHeaders: { Authorization: "Bearer ok" },
      });
      assert.equal(await ws.recv(), "hello ada");
      await ws.close();
      await assert.rejects(connect(`${url}/healthz`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 200);
        return true;
      });
      const open = await connect(`${url}/public`);
      assert.equal(await open.recv(), "public");
      await open.close();
      assert.deepEqual(seen, [
        "server /private/ada",
        "route ada",
        "server /private/ada",
        "route ada",
        "server /healthz",
        "server /public",
      ]);
    } finally {
      await server.close();
    }
  });

  it("applies each route's subprotocols, compression and maxSize", async () => {
    const router = route({
      "/v2": {
        handler: async (ws) => {
          await ws.send(`${ws.subprotocol}`);
          for await (const message of ws) await ws.send(message);
        },
        subprotocols: ["v2"],
        compression: null,
        maxSize: 8,
      },
      "/plain": async (ws) => {
        await ws.send(`${ws.subprotocol}`);
        for await (const message of ws) await ws.send(message);
      },
    });
    const { server, url } = await start(router, { subprotocols: ["v1"] });
    try {
      const v2 = await connect(`${url}/v2`, { subprotocols: ["v1", "v2"] });
      assert.equal(v2.subprotocol, "v2");
      assert.equal(v2.response?.headers.get("Sec-WebSocket-Extensions"), undefined);
      assert.equal(await v2.recv(), "v2");
      await v2.send("123456789");
      await v2.closed;
      assert.equal(v2.closeCode, 1009);

      const plain = await connect(`${url}/plain`, { subprotocols: ["v1", "v2"] });
      assert.equal(plain.subprotocol, "v1");
      assert.match(
        plain.response?.headers.get("Sec-WebSocket-Extensions") ?? "",
        /permessage-deflate/,
      );
      assert.equal(await plain.recv(), "v1");
      await plain.send("123456789");
      assert.equal(await plain.recv(), "123456789");
      await plain.close();
    } finally {
      await server.close();
    }
  });

  it("works attached to an http.Server, leaving plain HTTP to it", async () => {
    const http = createHttpServer((_req, res) => res.end("page"));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const server = await serve(rooms, { server: http, logger: false });
    try {
      const { port } = http.address() as { port: number };
      const ws = await connect(`ws://127.0.0.1:${port}/rooms/r1`);
      assert.equal(await ws.recv(), "room r1");
      await ws.close();
      await assert.rejects(connect(`ws://127.0.0.1:${port}/nope`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 404);
        return true;
      });
      const page = await fetch(`http://127.0.0.1:${port}/rooms/r1`);
      assert.equal(await page.text(), "page");
    } finally {
      await server.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it("works through handleUpgrade from your own upgrade listener", async () => {
    const server = await serve(rooms, { noServer: true, logger: false });
    const http = createHttpServer();
    http.on("upgrade", (req, socket, head) => server.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = http.address() as { port: number };
      const ws = await connect(`ws://127.0.0.1:${port}/items/1`);
      assert.equal(await ws.recv(), "item 2");
      await ws.close();
      await assert.rejects(connect(`ws://127.0.0.1:${port}/rooms/%2e%2e`), (error: unknown) => {
        assert.ok(error instanceof InvalidStatus);
        assert.equal(error.response.status, 404);
        return true;
      });
    } finally {
      await server.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
