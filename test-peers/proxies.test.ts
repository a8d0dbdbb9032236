// Our client through real proxies from Debian, all on 127.0.0.1, started by
// this file: tinyproxy (HTTP CONNECT, with and without Basic auth),
// microsocks (SOCKS5, with and without username/password) and dante
// (SOCKS4 and SOCKS5), to ws:// and wss:// servers. A missing binary fails
// every test that needs it with the command that installs it.

import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
  ConnectionClosed,
  type ConnectOptions,
  connect,
  InvalidProxyStatus,
  ProxyError,
  type Server,
  type ServerConnection,
  SocksProxyError,
  serve,
} from "../src/index.ts";
import { processException } from "../src/node/reconnect.ts";
import { cert, key } from "../test/helpers/localhost-tls.ts";

const TINYPROXY = process.env.PEERS_TINYPROXY ?? "/usr/bin/tinyproxy";
const MICROSOCKS = process.env.PEERS_MICROSOCKS ?? "/usr/bin/microsocks";
const DANTED = process.env.PEERS_DANTED ?? "/usr/sbin/danted";

function requireBinary(path: string, debianPackage: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `peer missing: no ${path}; install it with \`apt-get install ${debianPackage}\` ` +
        "(or run `sudo .ci/install-peers`, which installs every Debian peer)",
    );
  }
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, "close");
  return port;
}

const workDir = mkdtempSync(join(tmpdir(), "websockets-ts-proxies-"));
const children: ChildProcess[] = [];

/**
 * Starts `command` and resolves once something accepts TCP connections on
 * 127.0.0.1:`port` (polled for at most 10 s); rejects with the process's
 * output if it exits first.
 */
async function startPeer(command: string, args: string[], port: number): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (true) {
    if (exited) throw new Error(`${command} exited at startup:\n${output}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${command} isn't listening on ${port}:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Memoizes the start of a peer, so a missing binary fails each test that needs it. */
function lazily(start: () => Promise<number>): () => Promise<number> {
  let started: Promise<number> | null = null;
  return () => {
    started ??= start();
    return started;
  };
}

const tinyproxy = (auth: [string, string] | null) =>
  lazily(async () => {
    requireBinary(TINYPROXY, "tinyproxy");
    const port = await freePort();
    const conf = join(workDir, `tinyproxy-${port}.conf`);
    const lines = [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 30",
      "Allow 127.0.0.1",
      "MaxClients 20",
      "LogLevel Info",
      "DisableViaHeader Yes",
    ];
    if (auth !== null) lines.push(`BasicAuth ${auth[0]} ${auth[1]}`);
    writeFileSync(conf, `${lines.join("\n")}\n`);
    await startPeer(TINYPROXY, ["-d", "-c", conf], port);
    return port;
  });

const microsocks = (auth: [string, string] | null) =>
  lazily(async () => {
    requireBinary(MICROSOCKS, "microsocks");
    const port = await freePort();
    const args = ["-i", "127.0.0.1", "-p", String(port)];
    if (auth !== null) args.push("-u", auth[0], "-P", auth[1]);
    await startPeer(MICROSOCKS, args, port);
    return port;
  });

const dante = lazily(async () => {
  requireBinary(DANTED, "dante-server");
  const port = await freePort();
  const conf = join(workDir, `danted-${port}.conf`);
  const lines = [
    "logoutput: stderr",
    `internal: 127.0.0.1 port = ${port}`,
    "external: 127.0.0.1",
    "clientmethod: none",
    "socksmethod: none",
  ];
  // As root, dante insists on users to switch to.
  if (process.getuid?.() === 0) lines.push("user.privileged: root", "user.unprivileged: nobody");
  lines.push(
    "client pass {\n  from: 127.0.0.1/32 to: 127.0.0.1/32\n}",
    "socks pass {\n  from: 127.0.0.1/32 to: 127.0.0.1/32\n  command: connect\n  protocol: tcp\n}",
  );
  writeFileSync(conf, `${lines.join("\n")}\n`);
  await startPeer(DANTED, ["-f", conf, "-N", "1"], port);
  return port;
});

const plainTinyproxy = tinyproxy(null);
const authTinyproxy = tinyproxy(["alice", "s3cret"]);
const plainMicrosocks = microsocks(null);
const authMicrosocks = microsocks(["bob", "hunter2"]);

// ---------------------------------------------------------------------------

let wsUrl = "";
let wssUrl = "";
const servers: Server[] = [];

async function echo(ws: ServerConnection): Promise<void> {
  try {
    for await (const message of ws) await ws.send(message);
  } catch (error) {
    if (!(error instanceof ConnectionClosed)) throw error;
  }
}

before(async () => {
  const plain = await serve(echo, { host: "127.0.0.1", port: 0, logger: false });
  const secure = await serve(echo, {
    host: "127.0.0.1",
    port: 0,
    logger: false,
    tls: { key, cert },
  });
  servers.push(plain, secure);
  wsUrl = `ws://127.0.0.1:${(plain.address as { port: number }).port}/`;
  wssUrl = `wss://localhost:${(secure.address as { port: number }).port}/`;
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
  for (const server of servers) await server.close();
  rmSync(workDir, { recursive: true, force: true });
});

const PROXY_ENV = ["ws_proxy", "wss_proxy", "http_proxy", "https_proxy", "all_proxy", "no_proxy"];
const savedEnv = Object.fromEntries(PROXY_ENV.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of PROXY_ENV) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

/** Connects, sends a message, expects the echo, closes. */
async function roundTrip(url: string, options: ConnectOptions = {}): Promise<void> {
  const ws = await connect(url, {
    logger: false,
    tls: { ca: cert },
    openTimeout: 5000,
    ...options,
  });
  const text = `via ${String(options.proxy ?? "environment")}`;
  await ws.send(text);
  assert.equal(await ws.recv(), text);
  await ws.close();
}

describe("tinyproxy (HTTP CONNECT)", () => {
  it("tunnels ws://", async () => {
    await roundTrip(wsUrl, { proxy: `http://127.0.0.1:${await plainTinyproxy()}` });
  });

  it("tunnels wss://", async () => {
    await roundTrip(wssUrl, { proxy: `http://127.0.0.1:${await plainTinyproxy()}` });
  });

  it("tunnels ws:// and wss:// with Basic authentication", async () => {
    const proxy = `http://alice:s3cret@127.0.0.1:${await authTinyproxy()}`;
    await roundTrip(wsUrl, { proxy });
    await roundTrip(wssUrl, { proxy });
  });

  it("answers 407 without credentials: InvalidProxyStatus, fatal when reconnecting", async () => {
    const proxy = `http://127.0.0.1:${await authTinyproxy()}`;
    await assert.rejects(connect(wsUrl, { logger: false, proxy }), (error) => {
      assert.ok(error instanceof InvalidProxyStatus);
      assert.equal(error.response.status, 407);
      assert.equal(processException(error), error);
      return true;
    });
    await assert.rejects(
      connect(wsUrl, { logger: false, proxy: `${proxy.replace("//", "//alice:wrong@")}` }),
      {
        name: "InvalidProxyStatus",
      },
    );
  });

  it("answers 500 when the server is down: retried when reconnecting", async () => {
    const proxy = `http://127.0.0.1:${await plainTinyproxy()}`;
    const down = await freePort();
    await assert.rejects(connect(`ws://127.0.0.1:${down}/`, { logger: false, proxy }), (error) => {
      assert.ok(error instanceof InvalidProxyStatus);
      assert.equal(error.response.status, 500);
      assert.equal(processException(error), undefined);
      return true;
    });
  });

  it("is taken from ws_proxy and wss_proxy, and bypassed for hosts in no_proxy", async () => {
    const port = await authTinyproxy();
    process.env.ws_proxy = `http://alice:s3cret@127.0.0.1:${port}`;
    process.env.wss_proxy = `http://alice:s3cret@127.0.0.1:${port}`;
    await roundTrip(wsUrl);
    await roundTrip(wssUrl);
    // Without credentials the proxy would answer 407: succeeding proves the bypass.
    process.env.ws_proxy = `http://127.0.0.1:${port}`;
    process.env.wss_proxy = `http://127.0.0.1:${port}`;
    await assert.rejects(connect(wsUrl, { logger: false }), InvalidProxyStatus);
    process.env.no_proxy = "localhost, 127.0.0.0/8";
    await roundTrip(wsUrl);
    await roundTrip(wssUrl);
  });
});

describe("microsocks (SOCKS5)", () => {
  it("tunnels ws:// and wss:// with socks5 and socks5h", async () => {
    const port = await plainMicrosocks();
    for (const scheme of ["socks5", "socks5h"]) {
      await roundTrip(wsUrl, { proxy: `${scheme}://127.0.0.1:${port}` });
      await roundTrip(wssUrl, { proxy: `${scheme}://127.0.0.1:${port}` });
    }
  });

  it("tunnels ws:// and wss:// with username and password", async () => {
    const proxy = `socks5h://bob:hunter2@127.0.0.1:${await authMicrosocks()}`;
    await roundTrip(wsUrl, { proxy });
    await roundTrip(wssUrl, { proxy });
  });

  it("rejects a wrong password and missing credentials with ProxyError", async () => {
    const port = await authMicrosocks();
    await assert.rejects(
      connect(wsUrl, { logger: false, proxy: `socks5://bob:wrong@127.0.0.1:${port}` }),
      (error) => error instanceof ProxyError && /rejected username "bob"/.test(error.message),
    );
    await assert.rejects(
      connect(wsUrl, { logger: false, proxy: `socks5://127.0.0.1:${port}` }),
      (error) => error instanceof ProxyError && /requires authentication$/.test(error.message),
    );
  });

  it("reports a server that is down with SOCKS5 reply 5, and reconnects once it's up", async () => {
    const proxy = `socks5://127.0.0.1:${await plainMicrosocks()}`;
    const port = await freePort();
    const errors: Error[] = [];
    let starting: Promise<Server> | null = null;
    try {
      for await (const ws of connect(`ws://127.0.0.1:${port}/`, {
        logger: false,
        proxy,
        // Room for serve() to bind the port; normally the first retry succeeds.
        backoff: [50, 100, 200, 400, 800, 1600, 3200],
        processException: (error) => {
          errors.push(error);
          starting ??= serve(echo, { host: "127.0.0.1", port, logger: false });
          return processException(error);
        },
      })) {
        await ws.send("up");
        assert.equal(await ws.recv(), "up");
        break;
      }
    } finally {
      await (await (starting as Promise<Server> | null))?.close();
    }
    assert.ok(errors.length >= 1);
    for (const error of errors) {
      assert.ok(error instanceof SocksProxyError);
      assert.equal(error.reply, 5);
      assert.match(error.message, /connection refused by destination host \(SOCKS5 reply 5\)$/);
    }
  });
});

describe("dante (SOCKS4 and SOCKS5)", () => {
  it("tunnels ws:// and wss:// with socks4", async () => {
    const proxy = `socks4://127.0.0.1:${await dante()}`;
    await roundTrip(wsUrl, { proxy });
    await roundTrip(wssUrl, { proxy });
  });

  it("tunnels ws:// and wss:// with socks5", async () => {
    const proxy = `socks5://127.0.0.1:${await dante()}`;
    await roundTrip(wsUrl, { proxy });
    await roundTrip(wssUrl, { proxy });
  });
});
