/**
 * Floods: how much one attacking peer makes a server or a client grow, ours
 * and `ws`'s, in the same run, each victim in a fresh process with default
 * options (test/helpers/flood-victim.ts).
 *
 *   npm run bench -- floods [--quick] [--only TEXT] [--impl ours,ws] [--json] [--by-type]
 *
 * Attacks (docs/security.md says which limit answers each):
 * - fragments: one binary message as 1,000,000 empty, or 1-byte,
 *   continuation frames; growth while the message is assembled (all
 *   fragments but the last sent and processed), then whether it's echoed.
 * - pings: 100,000 pings with 125-byte payloads, written as fast as the
 *   victim reads them, never reading the pongs; growth once the victim
 *   stopped reading or all were written.
 * - resets: 2,000 clients resetting the TCP connection at random stages
 *   (after connecting, mid-handshake, after it, mid-frame, mid-fragmented
 *   message, mid-echo of 64 KiB), in two halves; growth of the second half.
 *   With `--by-type`, the victim's heap snapshots after forced collections,
 *   after each half, are compared object type by object type: what the
 *   second half left behind, if anything.
 *
 * Growth is the victim's RSS, and its heap plus Buffers after forced
 * collections, after the attack minus before. Figures, not assertions: the
 * tests under test/regressions/ assert the bounds.
 *
 * @module
 */

import type { Socket } from "node:net";
import { parseArgs } from "node:util";
import { type Memory, startVictim, type Victim } from "../test/helpers/flood-victim.ts";
import { growthByType } from "../test/helpers/heap-by-type.ts";
import {
  fakeServer,
  frame,
  handshakeResponse,
  OP_BINARY,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type ParsedFrame,
  parseClose,
  rawConnect,
  readFrames,
  tcpConnect,
  upgradeRequest,
  withTimeout,
} from "../test/helpers/net.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", multiple: true },
    impl: { type: "string", default: "ours,ws" },
    json: { type: "boolean", default: false },
    "by-type": { type: "boolean", default: false },
  },
});
const quick = values.quick === true;
const FRAGMENTS = quick ? 100_000 : 1_000_000;
const PINGS = quick ? 10_000 : 100_000;
const RESETS = quick ? 200 : 2_000;
const impls = values.impl.split(",").filter((name) => name !== "");
const MiB = 1024 * 1024;

/** What one attack did to one victim. */
interface Row {
  attack: string;
  role: string;
  impl: string;
  rss: number;
  heap: number;
  outcome: string;
}

/** The attacker's end of a connection: a socket and the victim's frames. */
interface Wire {
  socket: Socket;
  reader: ReturnType<typeof readFrames>;
  /** Client frames are masked (RFC 6455 §5.3). */
  masked: boolean;
}

/** Runs `attack` against a fresh victim in `role`; returns the growth it caused. */
async function measure(
  impl: string,
  role: "server" | "client",
  attack: (wire: Wire, victim: Victim) => Promise<string>,
): Promise<{ rss: number; heap: number; outcome: string }> {
  if (role === "server") {
    const victim = await startVictim(impl, "server");
    try {
      const peer = await rawConnect(victim.port);
      const wire = { socket: peer.socket, reader: peer.reader, masked: true };
      return await growth(victim, () => attack(wire, victim));
    } finally {
      await victim.stop();
    }
  }
  let accepted: (wire: Wire) => void = () => {};
  const connected = new Promise<Wire>((resolve) => {
    accepted = resolve;
  });
  const fake = await fakeServer((socket, request) => {
    socket.write(handshakeResponse(request.key));
    accepted({ socket, reader: readFrames(socket, request.rest), masked: false });
  });
  const victim = await startVictim(impl, "client", fake.url);
  try {
    const wire = await withTimeout(connected, 30_000, "the client did not connect");
    return await growth(victim, () => attack(wire, victim));
  } finally {
    await victim.stop();
    await fake.close();
  }
}

/** Memory before, the attack, memory after: the difference and the attack's outcome. */
async function growth(
  victim: Victim,
  attack: () => Promise<string>,
): Promise<{ rss: number; heap: number; outcome: string }> {
  const before = await victim.memory();
  const outcome = await attack();
  const after = await victim.memory();
  return { rss: after.rss - before.rss, heap: after.heap - before.heap, outcome };
}

function send(wire: Wire, opcode: number, payload: Buffer, fin = true): boolean {
  return wire.socket.write(frame(opcode, payload, { fin, mask: wire.masked }));
}

/** The next frame that isn't a ping or pong, or what ended the connection. */
async function nextData(wire: Wire, timeoutMs = 60_000): Promise<ParsedFrame | null> {
  for (let i = 0; i < 10_000; i++) {
    const next = await wire.reader.next(timeoutMs).catch(() => null);
    if (next === null || (next.opcode !== OP_PING && next.opcode !== OP_PONG)) return next;
  }
  return null;
}

/** Sends a ping and waits for its pong: every frame before it was processed. */
async function sync(wire: Wire): Promise<ParsedFrame | null> {
  send(wire, OP_PING, Buffer.from("sync"));
  for (let i = 0; i < 10_000; i++) {
    const next = await wire.reader.next(60_000).catch(() => null);
    if (next === null || next.opcode === OP_PONG || next.opcode === 0x8) return next;
  }
  return null;
}

function describeEnd(frame: ParsedFrame | null): string {
  if (frame === null) return "connection dropped";
  if (frame.opcode === 0x8) return `closed ${parseClose(frame.payload).code}`;
  return `opcode ${frame.opcode}`;
}

/** One message of FRAGMENTS fragments of `size` bytes; memory is read before the last one. */
function fragments(size: 0 | 1) {
  return async (wire: Wire, victim: Victim): Promise<string> => {
    const piece = Buffer.alloc(size, 0x61);
    const options = { fin: false, mask: wire.masked, maskKey: Buffer.from([1, 2, 3, 4]) };
    send(wire, OP_BINARY, piece, false);
    // The same continuation frame, 10,000 times a write: built once.
    const one = frame(OP_CONT, piece, options);
    const BATCH = 10_000;
    const batch = Buffer.alloc(one.length * BATCH).fill(one);
    let left = FRAGMENTS - 2;
    while (left > 0) {
      // A victim that refuses the message (ws: 1008) closes the connection.
      if (wire.socket.destroyed) break;
      const count = Math.min(left, BATCH);
      left -= count;
      if (!wire.socket.write(batch.subarray(0, count * one.length))) await drained(wire.socket);
    }
    const synced = await sync(wire);
    if (synced === null || synced.opcode !== OP_PONG) return describeEnd(synced);
    // The peak: every fragment but the last is held. Measured here, then the end.
    peak = await victim.memory();
    send(wire, OP_CONT, piece, true);
    const echo = await nextData(wire);
    if (echo?.opcode === OP_BINARY) return `echoed ${echo.payload.length} bytes`;
    return describeEnd(echo);
  };
}

// The memory at the peak of the fragments attack: the growth reported.
let peak: Memory | null = null;

function drained(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("drain", resolve);
    socket.once("close", resolve);
  });
}

/** PINGS pings, written as fast as the victim reads, the pongs never read. */
async function pings(wire: Wire): Promise<string> {
  wire.socket.pause();
  wire.socket.removeAllListeners("data");
  const ping = Buffer.alloc(125, 0x70);
  let written = 0;
  for (; written < PINGS; written++) {
    if (wire.socket.destroyed) return `dropped after ${written} pings`;
    if (send(wire, OP_PING, ping)) continue;
    const more = await withTimeout(drained(wire.socket), 2_000, "").then(
      () => true,
      () => false,
    );
    if (!more) return `stopped reading after ${written} pings`;
  }
  return `read all ${written} pings`;
}

/** A connection reset at a random stage. */
async function resetAtRandom(port: number, stage: number): Promise<void> {
  const socket = await tcpConnect(port);
  socket.on("error", () => {});
  const reset = (): Promise<void> => {
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.resetAndDestroy();
    return closed;
  };
  if (stage === 0) return reset();
  const request = upgradeRequest("127.0.0.1", port);
  if (stage === 1) {
    socket.write(request.subarray(0, 50));
    return reset();
  }
  socket.write(request);
  const reader = readFrames(socket);
  // The 101 is read as a bad frame by the frame reader: wait for any bytes.
  for (let i = 0; i < 1000 && reader.bytesReceived === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const mask = { mask: true };
  if (stage === 3) socket.write(frame(OP_BINARY, Buffer.alloc(1000)).subarray(0, 300));
  if (stage === 4) socket.write(frame(OP_TEXT, "first of many", { fin: false, ...mask }));
  if (stage === 5) {
    const received = reader.bytesReceived;
    socket.write(frame(OP_BINARY, Buffer.alloc(65_536, 0x65), mask));
    for (let i = 0; i < 1000 && reader.bytesReceived === received; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
  return reset();
}

/** RESETS connections in two halves; the growth is the second half's. */
async function resets(impl: string): Promise<{ rss: number; heap: number; outcome: string }> {
  const victim = await startVictim(impl, "server");
  try {
    const half = async (seed: number): Promise<void> => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < RESETS / 2) {
            const i = next++;
            await withTimeout(resetAtRandom(victim.port, (i * 7 + seed) % 6), 10_000, "").catch(
              () => {},
            );
          }
        }),
      );
      // Let the victim see the last resets.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    };
    await half(1);
    // The snapshot before the memory reading: parsing it grows the victim's heap.
    const typesFirst = values["by-type"] ? await victim.byType() : null;
    const first = await victim.memory();
    await half(2);
    const second = await victim.memory();
    if (typesFirst !== null)
      printGrowthByType(impl, growthByType(typesFirst, await victim.byType(), 1024));
    return {
      rss: second.rss - first.rss,
      heap: second.heap - first.heap,
      outcome: `${RESETS} connections reset`,
    };
  } finally {
    await victim.stop();
  }
}

/** What the second half of the resets left on the victim's heap, by object type. */
function printGrowthByType(impl: string, rows: ReturnType<typeof growthByType>): void {
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  console.error(
    `resets, ${impl}: heap growth over the second ${RESETS / 2} connections by object type ` +
      `(types that moved by 1 KiB or more: ${(total / 1024).toFixed(1)} KiB in all)`,
  );
  for (const { type, bytes, count } of [...rows.slice(0, 12), ...rows.slice(12).slice(-3)]) {
    console.error(
      `  ${(bytes / 1024).toFixed(1).padStart(8)} KiB ${String(count).padStart(7)} objects  ${type}`,
    );
  }
}

const ATTACKS: Array<{
  attack: string;
  roles: Array<"server" | "client">;
  run: (
    impl: string,
    role: "server" | "client",
  ) => Promise<{ rss: number; heap: number; outcome: string }>;
}> = [
  {
    attack: `${FRAGMENTS.toLocaleString("en")} empty fragments`,
    roles: ["server", "client"],
    run: (impl, role) => fragmentsRow(impl, role, 0),
  },
  {
    attack: `${FRAGMENTS.toLocaleString("en")} 1-byte fragments`,
    roles: ["server", "client"],
    run: (impl, role) => fragmentsRow(impl, role, 1),
  },
  {
    attack: `${PINGS.toLocaleString("en")} pings, pongs unread`,
    roles: ["server", "client"],
    run: (impl, role) => measure(impl, role, pings),
  },
  {
    attack: `${RESETS.toLocaleString("en")} resets at random stages`,
    roles: ["server"],
    run: (impl) => resets(impl),
  },
];

/** The fragments attack, its growth taken at the peak rather than after the echo. */
async function fragmentsRow(impl: string, role: "server" | "client", size: 0 | 1) {
  peak = null;
  let before: Memory | null = null;
  const result = await measure(impl, role, async (wire, victim) => {
    before = await victim.memory();
    return fragments(size)(wire, victim);
  });
  if (peak === null || before === null) return result;
  const top: Memory = peak;
  const base: Memory = before;
  return { rss: top.rss - base.rss, heap: top.heap - base.heap, outcome: result.outcome };
}

const rows: Row[] = [];
for (const { attack, roles, run } of ATTACKS) {
  if (values.only !== undefined && !values.only.some((text) => attack.includes(text))) continue;
  for (const role of roles) {
    for (const impl of impls) {
      const result = await run(impl, role);
      rows.push({ attack, role, impl, ...result });
      if (!values.json) {
        console.error(
          `${attack} (${role}) ${impl}: RSS ${(result.rss / MiB).toFixed(1)} MiB, heap ${(result.heap / MiB).toFixed(1)} MiB, ${result.outcome}`,
        );
      }
    }
  }
}

if (values.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)}`;
  console.log(
    "\n| attack | victim | impl | RSS growth (MiB) | heap + Buffers growth (MiB) | outcome |",
  );
  console.log("| --- | --- | --- | ---: | ---: | --- |");
  for (const row of rows) {
    console.log(
      `| ${row.attack} | ${row.role} | ${row.impl} | ${mib(row.rss)} | ${mib(row.heap)} | ${row.outcome} |`,
    );
  }
  console.log(
    "\nGrowth of the victim process, after minus before, each in a fresh process with default options.",
  );
}
