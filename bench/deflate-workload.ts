/**
 * The workload of bench/deflate.ts and bench/deflate-memory.ts: JSON chat
 * messages from a seeded generator, the same on every run.
 *
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** mulberry32: a small seeded PRNG, so every run sends the same messages. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `count` chat messages: 70% messages, 15% typing, 10% presence lists, 5% history pages. */
export function chatMessages(count: number): Buffer[] {
  const next = prng(20240601);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const names = ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy"];
  const words = [
    "the",
    "deploy",
    "is",
    "done",
    "can",
    "you",
    "review",
    "my",
    "PR",
    "lunch",
    "at",
    "noon",
    "tests",
    "are",
    "green",
    "again",
    "👍",
    "thanks!",
    "see",
    "standup",
    "in",
    "5",
    "min",
    "merged",
    "rollback",
    "why",
    "not",
    "ok",
    "sure",
    "ça",
    "marche",
    "later",
    "meeting",
  ];
  const sentence = (n: number) => Array.from({ length: n }, () => pick(words)).join(" ");
  const messages: Buffer[] = [];
  for (let id = 0; id < count; id++) {
    const kind = next();
    let value: unknown;
    if (kind < 0.7) {
      value = {
        type: "message",
        id: `m${100000 + id}`,
        room: `room-${Math.floor(next() * 8)}`,
        user: { id: Math.floor(next() * 5000), name: pick(names) },
        text: sentence(3 + Math.floor(next() * 25)),
        ts: 1_717_200_000_000 + id * 1371,
      };
    } else if (kind < 0.85) {
      value = { type: "typing", room: `room-${Math.floor(next() * 8)}`, user: pick(names) };
    } else if (kind < 0.95) {
      value = {
        type: "presence",
        users: Array.from({ length: 5 + Math.floor(next() * 30) }, () => ({
          name: pick(names),
          status: pick(["online", "away", "busy"]),
        })),
      };
    } else {
      value = {
        type: "history",
        messages: Array.from({ length: 20 }, (_, i) => ({
          id: `m${id * 100 + i}`,
          user: pick(names),
          text: sentence(5 + Math.floor(next() * 20)),
        })),
      };
    }
    messages.push(Buffer.from(JSON.stringify(value)));
  }
  return messages;
}

/** ws's PerMessageDeflate (lib/permessage-deflate.js), as far as the benchmarks use it. */
export interface WsPerMessageDeflate {
  offer(): Record<string, unknown>;
  accept(configurations: unknown): Record<string, unknown>;
  compress(
    data: Buffer,
    fin: boolean,
    callback: (error: Error | null, result?: Buffer) => void,
  ): void;
  decompress(
    data: Buffer,
    fin: boolean,
    callback: (error: Error | null, result?: Buffer) => void,
  ): void;
}
type WsPerMessageDeflateClass = new (
  options: Record<string, unknown>,
  isServer: boolean,
  maxPayload: number,
) => WsPerMessageDeflate;

// ws's package exports don't include lib/: load the files by path.
const require = createRequire(import.meta.url);
const wsLib = join(dirname(require.resolve("ws")), "lib");
const WsPMD = require(join(wsLib, "permessage-deflate.js")) as WsPerMessageDeflateClass;
const wsExtension = require(join(wsLib, "extension.js")) as {
  parse(header: string): Record<string, unknown[]>;
  format(extensions: Record<string, unknown>): string;
};

/** A ws client and server that negotiated through ws's own header parser and formatter. */
export function wsHandshake(options: Record<string, unknown>): {
  client: WsPerMessageDeflate;
  server: WsPerMessageDeflate;
} {
  const client = new WsPMD(options, false, 0);
  const server = new WsPMD(options, true, 0);
  const offer = wsExtension.parse(wsExtension.format({ "permessage-deflate": client.offer() }));
  const accepted = server.accept(offer["permessage-deflate"]);
  const answer = wsExtension.parse(wsExtension.format({ "permessage-deflate": accepted }));
  client.accept(answer["permessage-deflate"]);
  return { client, server };
}

/** One whole message through ws's callback API. */
export function wsCall(
  pmd: WsPerMessageDeflate,
  method: "compress" | "decompress",
  data: Buffer,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pmd[method](data, true, (error, result) => (error ? reject(error) : resolve(result!))),
  );
}
