/**
 * Runs TypeScript snippets of the README and of docs/ as pasted into a
 * fresh ES module of a project that depends on websockets-ts (here: tsx,
 * with `websockets-ts` mapped to the sources), one test per snippet, named
 * by its file and line. The only change is the address: a remote server
 * (`wss://example.com/...`, `ws://127.0.0.1:8765`) becomes a local one doing
 * what the snippet expects, and the fixed port a server snippet listens on
 * becomes a free one. How each runs is said by a comment before its fence
 * (test/helpers/snippets.ts). Type-checking the same snippets against the
 * built declarations is done by test/types/package.test.ts.
 *
 * @module
 */
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { connect as connectTcp, createServer, type Socket } from "node:net";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";
import { entryPoints, ROOT } from "../../scripts/package-exports.ts";
import { connect, type Server, type ServerConnection, serve } from "../../src/index.ts";
import { allSnippets, type Snippet } from "./snippets.ts";

const RUN_MS = 30_000;

/** The pages whose snippets test/snippets-server.test.ts runs; the others, test/snippets.test.ts. */
export const SERVER_PAGES: ReadonlySet<string> = new Set([
  "docs/examples.md",
  "docs/handshake.md",
  "docs/protocol.md",
  "docs/router.md",
  "docs/server.md",
  "docs/topics.md",
]);

// docs/logging.md shows example files, byte for byte: test/examples-logging.test.ts
// checks that and runs each, checking what it prints.
const SHOWN_EXAMPLES = "docs/logging.md";

let project = "";
const children = new Set<ChildProcess>();

/** The project the snippets run in, made once per test file. */
function makeProject(): string {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, ".tmp", "snippets-"));
  writeFileSync(join(dir, "package.json"), '{ "type": "module", "private": true }\n');
  const paths = Object.fromEntries(
    entryPoints().map((e) => [e.specifier, [relative(dir, join(ROOT, e.source))]]),
  );
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { module: "nodenext", target: "es2022", paths } }),
  );
  after(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

interface Run {
  child: ChildProcess;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves once `text` was printed (or the process exited). */
  printed(text: string): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `code` as a module of the project; killed after RUN_MS. */
function start(name: string, code: string): Run {
  const file = join(project, `${name}.mts`);
  writeFileSync(file, code);
  // Without the proxy variables of our environment: the snippet decides.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(https?|all|no)_proxy$/i.test(name)),
  );
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    cwd: project,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const waiting = new Set<() => void>();
  const onData = (text: string) => {
    output += text;
    for (const check of waiting) check();
  };
  child.stdout!.setEncoding("utf8").on("data", onData);
  child.stderr!.setEncoding("utf8").on("data", onData);
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      for (const check of waiting) check();
      resolve({ code, signal });
    });
  });
  return {
    child,
    output: () => output,
    exited,
    printed: (text) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (output.includes(text) || child.exitCode !== null || child.signalCode !== null) {
            waiting.delete(check);
            resolve();
          }
        };
        waiting.add(check);
        check();
      }),
  };
}

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

// The remote servers snippets talk to, run here; each peer a new server.
const PEERS: Record<string, () => (ws: ServerConnection) => Promise<void>> = {
  /** Sends back every message. */
  echo: () => async (ws) => {
    for await (const message of ws) await ws.send(message);
  },
  /** One `tick N` per connection (N counts connections), then a normal close. */
  feed: () => {
    let count = 0;
    return async (ws) => {
      count++;
      await ws.send(`tick ${count}`);
    };
  },
  /** With the `chat` subprotocol: sends back one message, then a normal close. */
  chat: () => async (ws) => {
    await ws.send(await ws.recv());
  },
  /** Drops the connection without a closing handshake. */
  reset: () => async (ws) => {
    // Once the 101 is out: a pong proves the client read it.
    await ws.ping();
    await ws.terminate();
  },
};

async function startPeer(kind: string): Promise<Server> {
  const makeHandler = PEERS[kind];
  assert.ok(makeHandler !== undefined, `unknown peer=${kind}`);
  const subprotocols = kind === "chat" ? ["chat"] : undefined;
  return serve(makeHandler(), { host: "127.0.0.1", port: 0, logger: false, subprotocols });
}

/** What docs/proxies.md's proxy.internal:3128 becomes. */
interface LocalProxy {
  port: number;
  /** CONNECT requests tunnelled. */
  tunnels: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy for user `alice`, password `s3cret`, as the docs write it;
 * it tunnels to 127.0.0.1 only.
 */
async function startProxy(): Promise<LocalProxy> {
  const expected = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
  const sockets = new Set<Socket>();
  const proxy: LocalProxy = { port: 0, tunnels: 0, close: async () => {} };
  const server = createHttpServer();
  server.on("connect", (request: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    const target = /^127\.0\.0\.1:(\d+)$/.exec(request.url ?? "");
    if (request.headers["proxy-authorization"] !== expected || target === null) {
      client.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const upstream = connectTcp(Number(target[1]), "127.0.0.1", () => {
      proxy.tunnels++;
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client).on("error", () => upstream.destroy());
      client.pipe(upstream).on("error", () => client.destroy());
    });
    sockets.add(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.port = (server.address() as { port: number }).port;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return proxy;
}

/** Opens (and closes) a WebSocket connection to `url`, retrying while nothing listens yet. */
async function reach(url: string, run: Run): Promise<void> {
  const deadline = Date.now() + RUN_MS;
  for (let attempt = 0; attempt < 300 && Date.now() < deadline; attempt++) {
    if (run.child.exitCode !== null) {
      assert.fail(`exited with ${run.child.exitCode} before serving:\n${run.output()}`);
    }
    try {
      const ws = await connect(url, { logger: false, openTimeout: 5_000, closeTimeout: 2_000 });
      await ws.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  assert.fail(`nothing served ${url} within ${RUN_MS} ms:\n${run.output()}`);
}

async function runSnippet(snippet: Snippet, index: number): Promise<void> {
  const { peer: peerKind, serves, prints, until, proxy: proxyAddress } = snippet.settings;
  let code = snippet.code;
  let servesUrl = serves;
  // Never the network, never a fixed port: an address is mapped, or the
  // snippet doesn't run.
  if (peerKind === undefined) {
    assert.doesNotMatch(code, /wss?:\/\/example\.com|:8765|\.internal\b/, "needs peer=KIND");
  }
  const peer = peerKind === undefined ? null : await startPeer(peerKind);
  const proxy = proxyAddress === undefined ? null : await startProxy();
  try {
    if (peer !== null) {
      const local = `ws://127.0.0.1:${peer.port}`;
      code = code.replaceAll(/wss:\/\/example\.com|ws:\/\/127\.0\.0\.1:8765/g, local);
    }
    if (proxy !== null) code = code.replaceAll(proxyAddress!, `127.0.0.1:${proxy.port}`);
    assert.doesNotMatch(code, /\.internal\b/, "needs proxy=HOST:PORT");
    if (serves === undefined) assert.doesNotMatch(code, /\b(8765|8080)\b/, "needs serves=URL");
    if (serves !== undefined) {
      const port = String(await freePort());
      code = code.replaceAll(/\b(8765|8080)\b/g, port);
      servesUrl = serves.replaceAll(/\b(8765|8080)\b/g, port);
    }
    const run = start(`snippet-${index}`, code);
    const where = () => `${snippet.where}:\n${run.output()}`;
    if (servesUrl !== undefined) {
      await reach(servesUrl, run);
      run.child.kill("SIGTERM");
      const { code: exitCode, signal } = await run.exited;
      // Stopped by SIGTERM, or ended cleanly by its own SIGTERM handler.
      assert.ok(exitCode === 0 || signal === "SIGTERM", `${exitCode} ${signal} ${where()}`);
    } else if (until !== undefined) {
      await run.printed(until);
      assert.ok(run.output().includes(until), `never printed ${until}: ${where()}`);
      run.child.kill("SIGTERM");
      const { code: exitCode, signal } = await run.exited;
      assert.ok(exitCode === 0 || signal === "SIGTERM", `${exitCode} ${signal} ${where()}`);
    } else {
      const { code: exitCode } = await run.exited;
      assert.equal(exitCode, 0, where());
    }
    if (prints !== undefined) assert.ok(run.output().includes(prints), `no ${prints}: ${where()}`);
    if (proxy !== null) assert.ok(proxy.tunnels > 0, `the proxy tunnelled nothing: ${where()}`);
  } finally {
    await proxy?.close();
    await peer?.close();
  }
}

/**
 * One test per snippet of the pages `pages` accepts, a few at a time (each
 * is a process of its own, mostly waiting). Snippets marked no-run are only
 * type-checked.
 */
export function runSnippets(title: string, pages: (file: string) => boolean): void {
  project = makeProject();
  const chosen = allSnippets().filter((s) => pages(s.where.slice(0, s.where.lastIndexOf(":"))));
  describe(title, { concurrency: 4 }, () => {
    test("there are snippets to run", () => assert.ok(chosen.length > 0));
    for (const [index, snippet] of chosen.entries()) {
      if (snippet.noRun !== null) continue;
      if (snippet.where.startsWith(`${SHOWN_EXAMPLES}:`)) continue;
      test(`${snippet.where} runs as pasted`, () => runSnippet(snippet, index));
    }
  });
}
