/**
 * What a conformance case is: a script the fuzzer plays against the peer
 * under test, and the outcomes that count as pass or non-strict — modelled on
 * Autobahn|Testsuite's `Case` (expected events + expected close behaviour).
 *
 * @module
 */

import type { DeflateParams, FuzzSession, Observed, Role } from "../fuzzer.ts";
import { toBuffer } from "../fuzzer.ts";

/** How the connection must end. */
export interface ExpectedClose {
  /**
   * true: the fuzzer starts the closing handshake once the expected events
   * arrived (the peer must not fail the connection); false: the peer must
   * fail it on its own.
   */
  closedByMe: boolean;
  /** Close codes that pass. No close frame at all (a dropped connection) passes too, unless `requireClean`. */
  codes: number[];
  /** Close codes tolerated as non-strict, with the reason shown in the report. */
  nonStrictCodes?: number[];
  nonStrictCodesReason?: string;
  /** The closing handshake must complete (a close frame each way). */
  requireClean: boolean;
}

/** What a case expects, returned by its script once it has sent everything. */
export interface Expectation {
  ok: Observed[];
  nonStrict?: Observed[];
  nonStrictReason?: string;
  close: ExpectedClose;
  /** Code of the fuzzer's close frame when it closes (default 1000). */
  closeWith?: number;
  /** Don't send a close frame: the script did (Autobahn's `suppressClose`). */
  suppressClose?: boolean;
  /** How long to wait for the `ok` events before closing anyway (ms, default 3000). */
  waitMs?: number;
  /** How long to wait for the peer to close before dropping the connection (ms, default 2000). */
  killAfterMs?: number;
  /**
   * The spec allows several outcomes: the case never fails, the report says
   * which one happened.
   */
  informational?: boolean;
}

/** A permessage-deflate setting of the implementation under test, in its own vocabulary. */
export type SubjectDeflate =
  | "default"
  | "off"
  | {
      serverNoContextTakeover?: boolean;
      clientNoContextTakeover?: boolean;
      serverMaxWindowBits?: number;
      /**
       * Client: a limit, `true` to offer the parameter without a value,
       * `false` not to offer it, absent for the implementation's default.
       * Server: the limit it sets when the client offers the parameter.
       */
      clientMaxWindowBits?: number | boolean;
      /** Server: decline offers without client_max_window_bits. */
      requireClientMaxWindowBits?: boolean;
    };

/** permessage-deflate set-up of a case in the server role (the fuzzer is the client). */
export interface ServerRoleDeflate {
  /** The fuzzing client's offers, in order of preference. */
  offers: DeflateParams[];
  /** An offer element sent verbatim instead of `offers` (to send bad parameters). */
  rawOffer?: string;
  /** The server under test. */
  server: SubjectDeflate;
  /** The server must decline every offer. */
  expectDecline?: boolean;
}

/** permessage-deflate set-up of a case in the client role (the fuzzer is the server). */
export interface ClientRoleDeflate {
  /** The client under test. */
  client: SubjectDeflate;
  /**
   * How the fuzzing server answers the client's offers: response parameters,
   * `null` to decline, or a raw extension header (to send bad answers).
   */
  accept: (offers: DeflateParams[]) => DeflateParams | null | { raw: string };
}

/** One case. */
export interface ConformanceCase {
  /** Autobahn's numbering where the case comes from Autobahn; our additions extend it. */
  id: string;
  description: string;
  /** The fuzzer roles the case applies to (default both): "client" tests a server, "server" a client. */
  fuzzerRoles?: readonly Role[];
  serverRole?: ServerRoleDeflate;
  clientRole?: ClientRoleDeflate;
  /** Client role: the client under test must refuse the handshake. */
  handshakeMustFail?: boolean;
  /** Plays the case; resolves with what to expect once everything is sent. */
  run(session: FuzzSession): Promise<Expectation>;
}

/** A text message the peer must echo. */
export function text(data: string | Buffer): Observed {
  return { type: "message", binary: false, data: toBuffer(data) };
}

/** A binary message the peer must echo. */
export function binary(data: Buffer | string): Observed {
  return { type: "message", binary: true, data: toBuffer(data) };
}

/** A pong with this payload. */
export function pong(data: Buffer | string = ""): Observed {
  return { type: "pong", data: toBuffer(data) };
}

/** Autobahn's fail-fast marker: the peer was still open after a wait. */
export function timeout(label: string): Observed {
  return { type: "timeout", label };
}

/** The fuzzer closes with 1000 after the expected events; the handshake must complete. */
/**
 * Why a peer that failed the connection on a bad frame without echoing the
 * valid message sent just before it is non-strict: the case accepts both
 * outcomes, and which one a peer gets depends on whether the two frames
 * reach it in one read.
 */
export const FAILED_BEFORE_ECHO =
  "failed the connection before echoing the valid message sent first";

export const CLEAN_CLOSE: ExpectedClose = { closedByMe: true, codes: [1000], requireClean: true };

/** The peer must fail the connection, with one of these codes or by dropping TCP. */
export function peerFails(...codes: number[]): ExpectedClose {
  return { closedByMe: false, codes, requireClean: false };
}

/** The expectation of an echo: these events, then a clean close. */
export function echoes(...events: Observed[]): Expectation {
  return { ok: events, close: CLEAN_CLOSE };
}

/** A deterministic pseudo-random generator (mulberry32), so payloads are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// 61 is prime: a payload built from it shows reordered or repeated chunks.
const PATTERN = "The quick brown fox jumps over the lazy dog, 0123456789 ABCDE";

/** `length` bytes of ASCII text. */
export function textPayload(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  const pattern = Buffer.from(PATTERN);
  for (let i = 0; i < length; i += pattern.length)
    pattern.copy(out, i, 0, Math.min(pattern.length, length - i));
  return out;
}

/** `length` bytes of binary data (every byte value occurs). */
export function binaryPayload(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  const next = prng(seed);
  const block = Buffer.allocUnsafe(Math.min(length, 4093));
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(next() * 256);
  for (let i = 0; i < length; i += block.length)
    block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}
