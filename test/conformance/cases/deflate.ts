/**
 * Categories 12 and 13, permessage-deflate (RFC 7692). 12.x: five kinds of
 * data, 18 message sizes (some auto-fragmented), with each side's default
 * parameters. 13.x: every parameter combination the library supports,
 * Autobahn's seven first (client offers in the server role, server answers
 * in the client role), then ours, then negotiations the peer must decline or
 * refuse. Message counts are smaller than Autobahn's 1,000 so the suite stays
 * fast; context takeover is exercised by every multi-message case.
 *
 * @module
 */

import type { DeflateParams, Observed } from "../fuzzer.ts";
import {
  binary,
  type ClientRoleDeflate,
  type ConformanceCase,
  echoes,
  prng,
  type ServerRoleDeflate,
  text,
} from "./case.ts";

/** (payload length, auto-fragment size) as in Autobahn's 12.x.1 to 12.x.18; 0 = no fragmentation. */
export const SIZES_12: readonly [number, number][] = [
  [16, 0],
  [64, 0],
  [256, 0],
  [1024, 0],
  [4096, 0],
  [8192, 0],
  [16384, 0],
  [32768, 0],
  [65536, 0],
  [131072, 0],
  [8192, 256],
  [16384, 256],
  [32768, 256],
  [65536, 256],
  [131072, 256],
  [131072, 1024],
  [131072, 4096],
  [131072, 32768],
];

/** The sizes 13.x runs with, fewer than 12.x since it multiplies with parameter sets. */
const SIZES_13: [number, number][] = [
  [16, 0],
  [1024, 0],
  [16384, 0],
  [131072, 0],
  [65536, 256],
  [131072, 4096],
];

/** Enough messages to fill a 32 KiB window twice and reuse context, at most 20 (Autobahn sends 1,000). */
function countFor(length: number): number {
  return Math.max(2, Math.min(20, Math.floor((64 * 1024) / length)));
}

interface Dataset {
  title: string;
  binary: boolean;
  data: () => Buffer;
}

function memo(make: () => Buffer): () => Buffer {
  let value: Buffer | null = null;
  return () => {
    value ??= make();
    return value;
  };
}

const DATA_LENGTH = 300 * 1024;
const WORDS = [
  "Faust",
  "Mephistopheles",
  "Gretchen",
  "über",
  "Weltgeist",
  "schön",
  "Nacht",
  "ich",
  "und",
  "die",
  "der",
  "nicht",
  "Geist",
  "mußt",
  "Wagner",
  "Studierzimmer",
  "Blick",
  "heiß",
  "Herz",
];

function json(): Buffer {
  const next = prng(12);
  const parts: string[] = ["["];
  let n = 0;
  while (parts.join("").length < DATA_LENGTH) {
    const items = [];
    for (let i = 0; i < 50; i++, n++) {
      items.push(
        JSON.stringify({
          id: n,
          name: `user-${Math.floor(next() * 1e6)}`,
          city: ["Zürich", "München", "Kraków", "São Paulo", "東京"][n % 5],
          score: Math.round(next() * 1e4) / 100,
          tags: ["alpha", "beta", "gamma"].slice(0, 1 + (n % 3)),
          active: next() > 0.5,
        }),
      );
    }
    parts.push(items.join(","), ",");
  }
  parts.push("null]");
  return Buffer.from(parts.join(""));
}

function html(): Buffer {
  const next = prng(13);
  const parts = ["<!doctype html><html><head><title>data</title></head><body>"];
  let length = 0;
  for (let i = 0; length < DATA_LENGTH; i++) {
    const row = `<tr class="row-${i % 7}"><td>${i}</td><td><a href="/item/${Math.floor(next() * 1e5)}">Item ${i}</a></td><td>${WORDS[i % WORDS.length]} — ${(next() * 100).toFixed(2)} €</td></tr>\n`;
    parts.push(row);
    length += row.length;
  }
  parts.push("</body></html>");
  return Buffer.from(parts.join(""));
}

function prose(): Buffer {
  const next = prng(14);
  const words: string[] = [];
  let length = 0;
  while (length < DATA_LENGTH) {
    const w = WORDS[Math.floor(next() * WORDS.length)];
    words.push(next() < 0.08 ? `${w}.\n` : w);
    length += w.length + 1;
  }
  return Buffer.from(words.join(" "), "latin1");
}

function bitmap(): Buffer {
  // A 512x512 greyscale picture: smooth gradients with some noise.
  const next = prng(15);
  const out = Buffer.alloc(512 * 512 + 1078);
  for (let y = 0; y < 512; y++) {
    for (let x = 0; x < 512; x++) {
      out[1078 + y * 512 + x] = (Math.floor((x + y) / 4) + Math.floor(next() * 6)) & 0xff;
    }
  }
  return out;
}

function noise(): Buffer {
  const next = prng(16);
  const out = Buffer.alloc(DATA_LENGTH);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

const DATASETS: Dataset[] = [
  { title: "JSON text (UTF-8)", binary: false, data: memo(json) },
  { title: "Greyscale bitmap 512x512 (binary)", binary: true, data: memo(bitmap) },
  { title: "German prose, Latin-1 (binary)", binary: true, data: memo(prose) },
  { title: "HTML (UTF-8)", binary: false, data: memo(html) },
  { title: "Random bytes, incompressible (binary)", binary: true, data: memo(noise) },
];

/** The next `length` bytes of the dataset, wrapping around, cut on a character boundary for text. */
function slicer(dataset: Dataset): (length: number) => Buffer {
  let at = 0;
  return (length) => {
    const data = dataset.data();
    const out = Buffer.alloc(length);
    for (let filled = 0; filled < length; ) {
      const take = Math.min(length - filled, data.length - at);
      data.copy(out, filled, at, at + take);
      filled += take;
      at = (at + take) % data.length;
    }
    if (!dataset.binary) {
      // Replace a code point cut at either end with ASCII so the text stays valid.
      for (let i = 0; i < Math.min(4, length) && (out[i] & 0xc0) === 0x80; i++) out[i] = 0x2a;
      let end = length - 1;
      while (end >= 0 && end > length - 5 && (out[end] & 0xc0) === 0x80) end--;
      if (end >= 0 && out[end] >= 0xc0) {
        const need = out[end] >= 0xf0 ? 4 : out[end] >= 0xe0 ? 3 : 2;
        if (end + need > length) out.fill(0x2a, end);
      }
    }
    return out;
  };
}

function echoCase(
  id: string,
  description: string,
  dataset: Dataset,
  length: number,
  fragmentSize: number,
  roles: { serverRole?: ServerRoleDeflate; clientRole?: ClientRoleDeflate },
): ConformanceCase {
  const count = countFor(length);
  return {
    id,
    description: `${description}: ${count} messages of ${length} bytes${fragmentSize ? `, auto-fragmented to ${fragmentSize}` : ""}`,
    ...roles,
    async run(s) {
      const next = slicer(dataset);
      const expected: Observed[] = [];
      for (let k = 0; k < count; k++) {
        const p = next(length);
        expected.push(dataset.binary ? binary(p) : text(p));
        await s.sendMessage(p, { binary: dataset.binary, fragmentSize });
        if (!(await s.waitFor(() => s.received.length > k || !s.open, 5000))) break;
      }
      if (s.deflate === null && !roles.serverRole?.expectDecline) {
        s.violations.push("permessage-deflate was not negotiated");
      }
      return { ...echoes(...expected), waitMs: 10_000 };
    },
  };
}

/** The client offers `offers` … the server answers as Autobahn's accept policies do. */
function asIs(offer: DeflateParams): DeflateParams {
  const response: DeflateParams = {};
  if (offer.serverNoContextTakeover) response.serverNoContextTakeover = true;
  if (offer.serverMaxWindowBits !== undefined)
    response.serverMaxWindowBits = offer.serverMaxWindowBits;
  if (offer.clientNoContextTakeover) response.clientNoContextTakeover = true;
  if (typeof offer.clientMaxWindowBits === "number")
    response.clientMaxWindowBits = offer.clientMaxWindowBits;
  return response;
}

type Accept = ClientRoleDeflate["accept"];

const acceptFirst: Accept = (offers) => (offers[0] ? asIs(offers[0]) : null);

function acceptWith(extra: DeflateParams, needsClientBits = false): Accept {
  return (offers) => {
    for (const offer of offers) {
      if (needsClientBits && offer.clientMaxWindowBits === undefined) continue;
      const base = asIs(offer);
      const response = { ...base, ...extra };
      // Never raise a limit the client set itself.
      if (
        typeof offer.clientMaxWindowBits === "number" &&
        response.clientMaxWindowBits !== undefined
      ) {
        response.clientMaxWindowBits = Math.min(
          offer.clientMaxWindowBits,
          response.clientMaxWindowBits as number,
        );
      }
      return response;
    }
    return null;
  };
}

function firstOf(...accepts: Accept[]): Accept {
  return (offers) => {
    for (const accept of accepts) {
      const r = accept(offers);
      if (r !== null) return r;
    }
    return null;
  };
}

const CMWB = { clientMaxWindowBits: true } as const;

interface ParamSet {
  title: string;
  serverRole?: ServerRoleDeflate;
  clientRole?: ClientRoleDeflate;
}

const PARAM_SETS: ParamSet[] = [
  {
    title: "offer client_max_window_bits / accept as offered",
    serverRole: { offers: [{ ...CMWB }], server: "default" },
    clientRole: { client: "default", accept: acceptFirst },
  },
  {
    title: "offer server_no_context_takeover / accept with client_no_context_takeover",
    serverRole: { offers: [{ serverNoContextTakeover: true, ...CMWB }], server: "default" },
    clientRole: { client: "default", accept: acceptWith({ clientNoContextTakeover: true }) },
  },
  {
    title: "offer server_max_window_bits=8 / accept with client_max_window_bits=8",
    serverRole: { offers: [{ serverMaxWindowBits: 8, ...CMWB }], server: "default" },
    clientRole: { client: { ...CMWB }, accept: acceptWith({ clientMaxWindowBits: 8 }, true) },
  },
  {
    title: "offer server_max_window_bits=15 / accept with client_max_window_bits=15",
    serverRole: { offers: [{ serverMaxWindowBits: 15, ...CMWB }], server: "default" },
    clientRole: { client: { ...CMWB }, accept: acceptWith({ clientMaxWindowBits: 15 }, true) },
  },
  {
    title:
      "offer server_no_context_takeover, server_max_window_bits=8 / accept with client_no_context_takeover, client_max_window_bits=8",
    serverRole: {
      offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 8, ...CMWB }],
      server: "default",
    },
    clientRole: {
      client: { ...CMWB },
      accept: acceptWith({ clientNoContextTakeover: true, clientMaxWindowBits: 8 }, true),
    },
  },
  {
    title:
      "offer server_no_context_takeover, server_max_window_bits=15 / accept with client_no_context_takeover, client_max_window_bits=15",
    serverRole: {
      offers: [{ serverNoContextTakeover: true, serverMaxWindowBits: 15, ...CMWB }],
      server: "default",
    },
    clientRole: {
      client: { ...CMWB },
      accept: acceptWith({ clientNoContextTakeover: true, clientMaxWindowBits: 15 }, true),
    },
  },
  {
    title: "three offers in order of preference / the first acceptable of three answers",
    serverRole: {
      offers: [
        { serverNoContextTakeover: true, serverMaxWindowBits: 8, ...CMWB },
        { serverNoContextTakeover: true, ...CMWB },
        { ...CMWB },
      ],
      server: "default",
    },
    clientRole: {
      client: "default",
      accept: firstOf(
        acceptWith({ clientNoContextTakeover: true, clientMaxWindowBits: 8 }, true),
        acceptWith({ clientNoContextTakeover: true }),
        acceptFirst,
      ),
    },
  },
  {
    title: "offer client_no_context_takeover / client configured with client_no_context_takeover",
    serverRole: { offers: [{ clientNoContextTakeover: true }], server: "default" },
    clientRole: { client: { clientNoContextTakeover: true }, accept: acceptFirst },
  },
  {
    title: "offer client_max_window_bits=10 / client configured with client_max_window_bits=10",
    serverRole: { offers: [{ clientMaxWindowBits: 10 }], server: "default" },
    clientRole: { client: { clientMaxWindowBits: 10 }, accept: acceptFirst },
  },
  {
    title:
      "server configured with both no_context_takeover / server answers server_no_context_takeover unasked",
    serverRole: {
      offers: [{ ...CMWB }],
      server: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    },
    clientRole: { client: "default", accept: acceptWith({ serverNoContextTakeover: true }) },
  },
  {
    title:
      "server configured with server_max_window_bits=10 / server answers server_max_window_bits=10 unasked",
    serverRole: { offers: [{ ...CMWB }], server: { serverMaxWindowBits: 10 } },
    clientRole: { client: "default", accept: acceptWith({ serverMaxWindowBits: 10 }) },
  },
  {
    title:
      "server configured with client_max_window_bits=9 / client offers server_max_window_bits=12, server answers 11",
    serverRole: { offers: [{ ...CMWB }], server: { clientMaxWindowBits: 9 } },
    clientRole: {
      client: { serverMaxWindowBits: 12 },
      accept: acceptWith({ serverMaxWindowBits: 11 }),
    },
  },
  {
    title:
      "server requiring client_max_window_bits (10), client offering it / client offering it, server answering 10",
    serverRole: {
      offers: [{ ...CMWB }],
      server: { clientMaxWindowBits: 10, requireClientMaxWindowBits: true },
    },
    clientRole: { client: { ...CMWB }, accept: acceptWith({ clientMaxWindowBits: 10 }, true) },
  },
];

function deflate12(): ConformanceCase[] {
  const out: ConformanceCase[] = [];
  DATASETS.forEach((dataset, j) => {
    SIZES_12.forEach(([length, fragmentSize], i) => {
      out.push(
        echoCase(
          `12.${j + 1}.${i + 1}`,
          `${dataset.title}, default parameters`,
          dataset,
          length,
          fragmentSize,
          {
            serverRole: { offers: [{ ...CMWB }], server: "default" },
            clientRole: { client: "default", accept: acceptFirst },
          },
        ),
      );
    });
  });
  return out;
}

function deflate13(): ConformanceCase[] {
  const out: ConformanceCase[] = [];
  PARAM_SETS.forEach((set, j) => {
    SIZES_13.forEach(([length, fragmentSize], i) => {
      out.push(
        echoCase(`13.${j + 1}.${i + 1}`, set.title, DATASETS[0], length, fragmentSize, {
          serverRole: set.serverRole,
          clientRole: set.clientRole,
        }),
      );
    });
  });
  return out;
}

/** Negotiations the peer must decline (server) or refuse (client). */
const NEGOTIATION: ConformanceCase[] = [
  ...(
    [
      ["permessage-deflate; foo=bar", "an unknown parameter"],
      ["permessage-deflate; server_max_window_bits=7", "server_max_window_bits=7"],
      ["permessage-deflate; server_max_window_bits=16", "server_max_window_bits=16"],
      ["permessage-deflate; client_max_window_bits=abc", "client_max_window_bits=abc"],
      [
        "permessage-deflate; server_no_context_takeover=1",
        "server_no_context_takeover with a value",
      ],
      [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "a repeated parameter",
      ],
    ] as const
  ).map(
    ([raw, what], i): ConformanceCase => ({
      id: `13.50.${i + 1}`,
      description: `Offer permessage-deflate with ${what}: the server declines it and the connection works uncompressed`,
      fuzzerRoles: ["client"],
      serverRole: { offers: [], rawOffer: raw, server: "default", expectDecline: true },
      async run(s) {
        await s.sendMessage("uncompressed");
        return echoes(text("uncompressed"));
      },
    }),
  ),
  {
    id: "13.50.7",
    description:
      "Offer permessage-deflate without client_max_window_bits to a server that requires it: the server declines it",
    fuzzerRoles: ["client"],
    serverRole: {
      offers: [{}],
      server: { clientMaxWindowBits: 10, requireClientMaxWindowBits: true },
      expectDecline: true,
    },
    async run(s) {
      await s.sendMessage("uncompressed");
      return echoes(text("uncompressed"));
    },
  },
  ...(
    [
      [
        "permessage-deflate; client_max_window_bits=10",
        { clientMaxWindowBits: false },
        "client_max_window_bits the client did not offer",
      ],
      [
        "permessage-deflate; server_max_window_bits=13",
        { serverMaxWindowBits: 12 },
        "server_max_window_bits larger than offered",
      ],
      ["permessage-deflate; foo", "default", "an unknown parameter"],
      ["permessage-deflate", "off", "permessage-deflate the client did not offer"],
      ["permessage-deflate, permessage-deflate", "default", "permessage-deflate twice"],
      ["x-unknown-extension", "default", "an extension the client did not offer"],
    ] as const
  ).map(
    ([raw, client, what], i): ConformanceCase => ({
      id: `13.51.${i + 1}`,
      description: `Answer the client's offer with ${what}: the client must fail the handshake`,
      fuzzerRoles: ["server"],
      clientRole: { client, accept: () => ({ raw }) },
      handshakeMustFail: true,
      async run() {
        return { ok: [], close: { closedByMe: false, codes: [1002, 1010], requireClean: false } };
      },
    }),
  ),
];

export const deflateCases: ConformanceCase[] = [...deflate12(), ...deflate13(), ...NEGOTIATION];
