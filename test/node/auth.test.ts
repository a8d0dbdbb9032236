import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidStatus } from "../../src/errors.ts";
import { type BasicAuthOptions, basicAuth } from "../../src/node/auth.ts";
import { connect } from "../../src/node/client.ts";
import { type ServerConnection, serve } from "../../src/node/server.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

async function withServer(
  options: BasicAuthOptions,
  run: (port: number, users: (string | null)[]) => Promise<void>,
): Promise<void> {
  const users: (string | null)[] = [];
  const server = await serve(
    async (ws: ServerConnection) => {
      users.push(ws.username);
    },
    { host: "127.0.0.1", port: 0, logger: false, processRequest: basicAuth(options) },
  );
  try {
    await run((server.address as { port: number }).port, users);
  } finally {
    await server.close();
  }
}

async function status(url: string, headers?: Record<string, string>): Promise<InvalidStatus> {
  try {
    const ws = await connect(url, { logger: false, additionalHeaders: headers });
    await ws.close();
  } catch (error) {
    assert.ok(error instanceof InvalidStatus, `expected InvalidStatus, got ${error}`);
    return error;
  }
  assert.fail("the handshake succeeded");
}

describe("basicAuth", () => {
  it("accepts valid credentials and sets connection.username", async () => {
    await withServer({ credentials: ["alice", "s3cret"] }, async (port, users) => {
      const ws = await connect(`ws://alice:s3cret@127.0.0.1:${port}`, { logger: false });
      await ws.closed;
      assert.deepEqual(users, ["alice"]);
    });
  });

  it("answers 401 with a challenge when credentials are missing", async () => {
    await withServer({ credentials: ["alice", "s3cret"], realm: "chat" }, async (port) => {
      const error = await status(`ws://127.0.0.1:${port}`);
      assert.equal(error.response.status, 401);
      assert.equal(
        error.response.headers.get("WWW-Authenticate"),
        'Basic realm="chat", charset="UTF-8"',
      );
      assert.equal(error.response.body.toString(), "Missing credentials\n");
    });
  });

  it("answers 401 for a wrong password and for an unknown user", async () => {
    await withServer({ credentials: [["alice", "s3cret"]] }, async (port) => {
      const wrong = await status(`ws://alice:nope@127.0.0.1:${port}`);
      assert.equal(wrong.response.status, 401);
      assert.equal(wrong.response.body.toString(), "Invalid credentials\n");
      const unknown = await status(`ws://mallory:s3cret@127.0.0.1:${port}`);
      assert.equal(unknown.response.status, 401);
      assert.equal(unknown.response.headers.get("WWW-Authenticate")?.startsWith("Basic "), true);
    });
  });

  it("answers 401 to another scheme and 400 to a malformed Basic header", async () => {
    await withServer({ credentials: ["alice", "s3cret"] }, async (port) => {
      const bearer = await status(`ws://127.0.0.1:${port}`, { Authorization: "Bearer abc" });
      assert.equal(bearer.response.status, 401);
      assert.equal(bearer.response.body.toString(), "Unsupported credentials\n");
      const malformed = await status(`ws://127.0.0.1:${port}`, { Authorization: "Basic %%%" });
      assert.equal(malformed.response.status, 400);
      const noColon = await status(`ws://127.0.0.1:${port}`, {
        Authorization: `Basic ${Buffer.from("alice").toString("base64")}`,
      });
      assert.equal(noColon.response.status, 400);
    });
  });

  it("checks a list of credentials", async () => {
    const credentials: [string, string][] = [
      ["alice", "a"],
      ["bob", "b"],
    ];
    await withServer({ credentials }, async (port, users) => {
      const ws = await connect(`ws://bob:b@127.0.0.1:${port}`, { logger: false });
      await ws.closed;
      assert.deepEqual(users, ["bob"]);
      const error = await status(`ws://bob:a@127.0.0.1:${port}`);
      assert.equal(error.response.status, 401);
    });
  });

  it("delegates to an async checkCredentials", async () => {
    const checked: string[] = [];
    const checkCredentials = async (username: string, password: string) => {
      checked.push(`${username}:${password}`);
      return password === `${username}!`;
    };
    await withServer({ checkCredentials }, async (port, users) => {
      const ws = await connect(`ws://carol:carol!@127.0.0.1:${port}`, { logger: false });
      await ws.closed;
      assert.deepEqual(users, ["carol"]);
      const error = await status(`ws://carol:nope@127.0.0.1:${port}`);
      assert.equal(error.response.status, 401);
      assert.deepEqual(checked, ["carol:carol!", "carol:nope"]);
    });
  });

  it("needs exactly one of credentials and checkCredentials", () => {
    assert.throws(() => basicAuth({}), { name: "TypeError", message: /either credentials/ });
    assert.throws(
      () => basicAuth({ credentials: ["a", "b"], checkCredentials: () => true }),
      TypeError,
    );
    assert.throws(() => basicAuth({ credentials: [["a"]] as never }), {
      name: "TypeError",
      message: /invalid credentials/,
    });
  });
});
