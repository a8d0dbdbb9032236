/**
 * What the matrix checks for each (client, server) pair, and the results
 * JSON it writes. Every check ends as pass, fail or n/a (with the reason):
 * nothing is skipped silently.
 *
 * @module
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ClientPeer, ClientSession, Data } from "./clients.ts";
import { FRAGMENTS, type RunningServer, type ServerEvent, type ServerPeer } from "./servers.ts";

export type Status = "pass" | "fail" | "n/a";

export interface ScenarioResult {
  client: string;
  server: string;
  /** Stable name of the check, a row of the table. */
  scenario: string;
  status: Status;
  note?: string;
}

const KiB = 1024;
export const ECHO_SIZES = [0, 125, 126, 65_535, 65_536, 1024 * KiB];
const UTF8_4BYTE = "4-byte UTF-8: 𝄞 😀 𠜎 🧩 — and 3-byte: € ✓";

function sizeLabel(n: number): string {
  return n >= 1024 * KiB ? `${n / (1024 * KiB)} MiB` : `${n.toLocaleString("en-US")} B`;
}

function textOf(n: number): string {
  const unit = "websockets-ts interop ";
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

function bytesOf(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

function sameData(a: Data, b: Data): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.equals(b);
}

function describe(d: Data): string {
  return typeof d === "string" ? `text of ${Buffer.byteLength(d)} B` : `binary of ${d.length} B`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs every check of one pair; `record` receives each result as it is known. */
export async function runPair(
  clientPeer: ClientPeer,
  serverPeer: ServerPeer,
  session: ClientSession,
  servers: { on: RunningServer; off: RunningServer },
  record: (r: ScenarioResult) => void,
): Promise<void> {
  const put = (scenario: string, status: Status, note?: string) =>
    record({
      client: clientPeer.id,
      server: serverPeer.id,
      scenario,
      status,
      ...(note ? { note } : {}),
    });
  let seq = 0;
  const tag = (what: string) => `${what}-${++seq}`;

  /** Opens a connection, runs `body`, closes; a throw fails `scenario` (or the named step). */
  async function withConnection(
    server: RunningServer,
    path: string,
    compression: boolean,
    body: () => Promise<void>,
  ): Promise<void> {
    await session.open(`${server.url}${path}`, { compression });
    try {
      await body();
    } finally {
      await session.close(1000, "").catch(() => {});
    }
  }

  async function check(scenario: string, body: () => Promise<unknown>): Promise<void> {
    try {
      const note = await body();
      put(scenario, "pass", typeof note === "string" && note !== "" ? note : undefined);
    } catch (error) {
      put(scenario, "fail", message(error));
    }
  }

  async function serverEvent(
    server: RunningServer,
    event: ServerEvent["event"],
    path: string,
  ): Promise<ServerEvent> {
    return server.waitEvent((e) => e.event === event && e.path === path, 10_000);
  }

  for (const mode of ["on", "off"] as const) {
    const compression = mode === "on";
    const server = servers[mode];
    const suffix = `, permessage-deflate ${mode}`;
    const path = `/echo?id=${tag(`echo-${mode}`)}`;
    const echoes: [string, Data][] = [];
    for (const n of ECHO_SIZES) echoes.push([`echo text ${sizeLabel(n)}`, textOf(n)]);
    for (const n of ECHO_SIZES) echoes.push([`echo binary ${sizeLabel(n)}`, bytesOf(n)]);
    echoes.push(["echo UTF-8 with 4-byte characters", UTF8_4BYTE]);

    let opened: { subprotocol: string | null; extensions: string | null } | null = null;
    try {
      opened = await session.open(`${server.url}${path}`, { compression });
    } catch (error) {
      put(`permessage-deflate ${mode}`, "fail", `could not connect: ${message(error)}`);
      for (const [name] of echoes) put(name + suffix, "fail", "could not connect");
      continue;
    }
    try {
      await check(`permessage-deflate ${mode}`, async () => {
        const open = await serverEvent(server, "open", path);
        const serverSays = /permessage-deflate/.test(open.extensions ?? "");
        const clientSays = /permessage-deflate/.test(opened?.extensions ?? "");
        if (serverSays !== compression) {
          throw new Error(
            `server ${compression ? "did not negotiate" : "negotiated"} permessage-deflate (${open.extensions})`,
          );
        }
        if (clientSays !== compression && opened?.extensions !== null) {
          throw new Error(`client reports extensions ${JSON.stringify(opened?.extensions)}`);
        }
        const notes: string[] = [];
        if (open.extensions) notes.push(`server: ${open.extensions}`);
        if (compression && !clientPeer.cannot.compressionOff && opened?.extensions === null) {
          notes.push("the client does not report extensions");
        }
        if (!compression && clientPeer.cannot.compressionOff)
          notes.push(clientPeer.cannot.compressionOff);
        return notes.join("; ");
      });
      let broken: string | null = null;
      for (const [name, data] of echoes) {
        if (broken) {
          put(name + suffix, "fail", `not run: ${broken}`);
          continue;
        }
        try {
          await session.send(data);
          const reply = await session.recv();
          if (!sameData(reply, data))
            throw new Error(`sent ${describe(data)}, received ${describe(reply)}`);
          put(name + suffix, "pass");
        } catch (error) {
          broken = `${name} failed: ${message(error)}`;
          put(name + suffix, "fail", message(error));
        }
      }
      const fragmented = `fragmented message, client to server${suffix}`;
      if (clientPeer.cannot.fragments) put(fragmented, "n/a", clientPeer.cannot.fragments);
      else if (broken) put(fragmented, "fail", `not run: ${broken}`);
      else {
        await check(fragmented, async () => {
          const parts = ["client ", "frag", "ments 🧩"];
          await session.sendFragments(parts);
          const reply = await session.recv();
          if (reply !== parts.join("")) throw new Error(`echo was ${describe(reply)}`);
        });
      }
    } finally {
      await session.close(1000, "").catch(() => {});
    }
  }

  const server = servers.on;

  await check("fragmented message, server to client", async () => {
    await withConnection(server, `/fragments?id=${tag("fragments")}`, true, async () => {
      const reply = await session.recv();
      if (reply !== FRAGMENTS.join("")) throw new Error(`received ${describe(reply)}`);
    });
  });

  await check("subprotocol negotiation", async () => {
    const path = `/echo?id=${tag("subprotocol")}`;
    const opened = await session.open(`${server.url}${path}`, {
      compression: true,
      subprotocols: ["chat.v2", "chat.v1"],
    });
    try {
      const open = await serverEvent(server, "open", path);
      if (opened.subprotocol !== "chat.v1")
        throw new Error(`client got ${JSON.stringify(opened.subprotocol)}`);
      if (open.subprotocol !== "chat.v1")
        throw new Error(`server chose ${JSON.stringify(open.subprotocol)}`);
    } finally {
      await session.close(1000, "").catch(() => {});
    }
  });

  await check("close code and reason, client to server", async () => {
    const path = `/echo?id=${tag("close-client")}`;
    await session.open(`${server.url}${path}`, { compression: true });
    const reason = "client bye ✓";
    const answer = await session.close(4000, reason);
    const closed = await serverEvent(server, "closed", path);
    if (closed.code !== 4000 || closed.reason !== reason) {
      throw new Error(`server received ${closed.code} ${JSON.stringify(closed.reason)}`);
    }
    // RFC 6455 §5.5.1: the answer typically echoes the code.
    if (answer.code !== 4000 && answer.code !== 1000)
      throw new Error(`server answered ${answer.code}`);
    return `server answered ${answer.code}${answer.reason ? ` ${JSON.stringify(answer.reason)}` : ""}`;
  });

  await check("close code and reason, server to client", async () => {
    const reason = "server bye ✓";
    await session.open(
      `${server.url}/close?code=4001&reason=${encodeURIComponent(reason)}&id=${tag("close-server")}`,
      {
        compression: true,
      },
    );
    const closed = await session.waitClosed();
    if (closed.code !== 4001 || closed.reason !== reason) {
      throw new Error(`client saw ${closed.code} ${JSON.stringify(closed.reason)}`);
    }
  });

  if (clientPeer.cannot.ping)
    put("ping from client, pong from server", "n/a", clientPeer.cannot.ping);
  else {
    await check("ping from client, pong from server", async () => {
      await withConnection(server, `/echo?id=${tag("ping")}`, true, () =>
        session.ping("client-ping"),
      );
    });
  }

  await check("ping from server, pong from client", async () => {
    await withConnection(server, `/ping?id=${tag("ping")}`, true, async () => {
      const reply = await session.recv();
      if (reply !== "pong:server-ping") throw new Error(`received ${describe(reply)}`);
    });
  });

  await check("handshake refused with 403", async () => {
    const seen = await session.openExpectReject(`${server.url}/reject`);
    if (seen.status === 403) return undefined;
    if (seen.status === null && clientPeer.cannot.status)
      return `${clientPeer.cannot.status} (${seen.detail})`;
    throw new Error(`client saw status ${seen.status}: ${seen.detail}`);
  });
}

/** The results file of one run: what ran, where, and every check. */
export interface ResultsFile {
  generatedAt: string;
  node: string;
  platform: string;
  peers: Record<string, { name: string; version: string; role: "client" | "server" }>;
  results: ScenarioResult[];
}

export function writeResults(path: string, file: ResultsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
}
