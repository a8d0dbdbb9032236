/**
 * Runs one (client, server) pair of the matrix: starts the server twice
 * (permessage-deflate on and off) and the client, plays every check, stops
 * everything, and returns the failures. A peer that can't start is one
 * failed "peer available" result carrying the install hint.
 *
 * @module
 */

import type { ClientPeer, ClientSession } from "./clients.ts";
import { type ResultsFile, runPair, type ScenarioResult } from "./scenarios.ts";
import type { RunningServer, ServerPeer } from "./servers.ts";

export async function runMatrixPair(
  client: ClientPeer,
  server: ServerPeer,
  file: ResultsFile | null,
): Promise<string[]> {
  const mine: ScenarioResult[] = [];
  const record = (r: ScenarioResult) => {
    mine.push(r);
    file?.results.push(r);
  };
  const unavailable = (error: unknown) => {
    record({
      client: client.id,
      server: server.id,
      scenario: "peer available",
      status: "fail",
      note: error instanceof Error ? error.message : String(error),
    });
  };
  const started: RunningServer[] = [];
  let session: ClientSession | null = null;
  try {
    try {
      const on = await server.start(true);
      started.push(on);
      const off = await server.start(false);
      started.push(off);
      if (file)
        file.peers[`server:${server.id}`] = {
          name: server.name,
          version: on.version,
          role: "server",
        };
    } catch (error) {
      unavailable(error);
    }
    if (started.length === 2) {
      try {
        const c = await client.start();
        session = c.session;
        if (file)
          file.peers[`client:${client.id}`] = {
            name: client.name,
            version: c.version,
            role: "client",
          };
      } catch (error) {
        unavailable(error);
      }
    }
    if (session)
      await runPair(client, server, session, { on: started[0], off: started[1] }, record);
  } finally {
    await session?.stop().catch(() => {});
    for (const s of started) await s.stop().catch(() => {});
  }
  return mine.filter((r) => r.status === "fail").map((r) => `${r.scenario}: ${r.note ?? ""}`);
}
