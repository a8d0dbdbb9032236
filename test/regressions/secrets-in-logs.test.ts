// Hardening: the DEBUG handshake lines printed Authorization, Cookie,
// Proxy-Authorization and Set-Cookie values as they were, so turning on
// debug logging wrote every user's credentials to the logs. They must show
// as redacted, saying the header was there, in both roles and through a
// proxy; and no URL password may reach a log record either.
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { connect, type Server, type ServerConnection, serve } from "../../src/index.ts";
import { REDACTED_PASSWORD, REDACTED_VALUE } from "../../src/redact.ts";
import { type CapturedRecord, createCaptureLogger } from "../helpers/capture-logger.ts";
import { type ConnectProxy, connectProxy } from "../helpers/connect-proxy.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const PASSWORD = "s3cret-pass";
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString("base64");
const PROXY_PASSWORD = "pr0xy-pass";
const PROXY_BASIC = Buffer.from(`bob:${PROXY_PASSWORD}`).toString("base64");
const SECRETS = [PASSWORD, BASIC, PROXY_PASSWORD, PROXY_BASIC, "tok-123", "session=abc", "sid=xyz"];

// Everything a log sink could write: message, fields, and the error with
// its own properties and causes.
function rendered(records: CapturedRecord[]): string {
  const parts: string[] = [];
  const addError = (error: unknown, depth: number): void => {
    if (!(error instanceof Error) || depth > 5) return;
    parts.push(error.message, error.stack ?? "", JSON.stringify({ ...error }));
    addError(error.cause, depth + 1);
  };
  for (const record of records) {
    parts.push(record.msg, JSON.stringify(record.fields));
    addError(record.err, 0);
  }
  return parts.join("\n");
}

function assertNoSecret(records: CapturedRecord[]): void {
  const text = rendered(records);
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} leaked:\n${text}`);
}

const echo = async (ws: ServerConnection): Promise<void> => {
  for await (const message of ws) await ws.send(message);
};

describe("DEBUG handshake lines", () => {
  const serverLog = createCaptureLogger("debug");
  let server: Server;
  let port: number;
  before(async () => {
    server = await serve(echo, {
      host: "127.0.0.1",
      port: 0,
      logger: serverLog.logger,
      processResponse: (_connection, _request, response) => {
        response.headers.append("Set-Cookie", "sid=xyz; HttpOnly");
      },
    });
    port = (server.address as { port: number }).port;
  });
  after(() => server.close());

  it("redact credentials in both roles, saying they were present", async () => {
    const clientLog = createCaptureLogger("debug");
    const ws = await connect(`ws://alice:${PASSWORD}@127.0.0.1:${port}/`, {
      logger: clientLog.logger,
      additionalHeaders: { Cookie: "session=abc", "Proxy-Authorization": "Bearer tok-123" },
    });
    await ws.close();
    await server.close();
    for (const [log, sent, received] of [
      [clientLog, ">", "<"],
      [serverLog, "<", ">"],
    ] as const) {
      const lines = log.messages("debug");
      for (const name of ["Authorization", "Cookie", "Proxy-Authorization"]) {
        assert.ok(lines.includes(`${sent} ${name}: ${REDACTED_VALUE}`), `${sent} ${name}`);
      }
      assert.ok(lines.includes(`${received} Set-Cookie: ${REDACTED_VALUE}`));
      // Other headers are shown as they are.
      assert.ok(lines.includes(`${sent} Sec-WebSocket-Version: 13`));
      assertNoSecret(log.records);
    }
  });
});

describe("through a proxy with user:password@", () => {
  let server: Server;
  let port: number;
  let proxy: ConnectProxy;

  // The tunnel's DEBUG lines name the proxy and its credentials as present, never their values.
  function assertTunnelLines(lines: string[], status: string): void {
    const target = `127.0.0.1:${port}`;
    const proxied = `http://bob:${REDACTED_PASSWORD}@127.0.0.1:${proxy.port}`;
    for (const line of [
      `= connecting through proxy ${proxied} to ${target}`,
      `> CONNECT ${target} HTTP/1.1`,
      `> Proxy-Authorization: ${REDACTED_VALUE}`,
      `< HTTP/1.1 ${status}`,
    ]) {
      assert.ok(lines.includes(line), `no DEBUG line ${line} among:\n${lines.join("\n")}`);
    }
  }
  before(async () => {
    server = await serve(echo, { host: "127.0.0.1", port: 0, logger: false });
    port = (server.address as { port: number }).port;
    proxy = await connectProxy({ credentials: PROXY_BASIC });
  });
  after(async () => {
    await server.close();
    await proxy.close();
  });

  it("logs no proxy credentials when the tunnel works", async () => {
    const log = createCaptureLogger("debug");
    const ws = await connect(`ws://127.0.0.1:${port}/`, {
      proxy: `http://bob:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`,
      logger: log.logger,
    });
    await ws.send("through");
    assert.equal(await ws.recv(), "through");
    await ws.close();
    assertTunnelLines(log.messages("debug"), "200 Connection Established");
    assertNoSecret(log.records);
  });

  it("logs no proxy credentials when the proxy refuses them and the client reconnects", async () => {
    const log = createCaptureLogger("debug");
    // A 407 is not retried; a proxy URL that isn't valid is named in the error.
    const wrong = `http://bob:${PROXY_PASSWORD}x@127.0.0.1:${proxy.port}`;
    await assert.rejects(connect(`ws://127.0.0.1:${port}/`, { proxy: wrong, logger: log.logger }), {
      name: "InvalidProxyStatus",
    });
    assertTunnelLines(log.messages("debug"), "407 Proxy Authentication Required");
    const invalid = `http://bob:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}/path`;
    let attempts = 0;
    await assert.rejects(
      (async () => {
        for await (const ws of connect(`ws://127.0.0.1:${port}/`, {
          proxy: invalid,
          logger: log.logger,
        })) {
          attempts++;
          await ws.close();
          if (attempts > 1) break;
        }
      })(),
      (error: Error) => {
        assert.equal(error.name, "InvalidProxy");
        assert.ok(
          !rendered([{ level: "error", msg: "", fields: {}, err: error }]).includes(PROXY_PASSWORD),
        );
        return true;
      },
    );
    assert.equal(attempts, 0);
    assertNoSecret(log.records);
  });
});
