/**
 * The bench peers scripts/install-bench-peers.mjs installed (Bun, Deno):
 * how to run each and which runtime it is. Installs nothing (`--check`).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** A peer runtime, as install-bench-peers.mjs --json describes it. */
export interface Peer {
  name: string;
  installed: boolean;
  /** `bun 1.4.5`..., or null when it doesn't run. */
  runtime: string | null;
  bin: string;
  /** Its arguments for the echo bench. */
  args: string[];
  env: Record<string, string>;
}

/** Every pinned peer, installed or not; `root` is the repository. */
export function listPeers(root: string): Peer[] {
  const listing = spawnSync(
    process.execPath,
    [join(root, "scripts", "install-bench-peers.mjs"), "--check", "--json"],
    { encoding: "utf8", timeout: 60_000 },
  );
  try {
    return (JSON.parse(listing.stdout) as { peers: Peer[] }).peers;
  } catch {
    throw new Error(`install-bench-peers.mjs --check --json failed: ${listing.stderr}`);
  }
}
