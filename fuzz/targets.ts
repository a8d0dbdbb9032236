/**
 * The fuzzing targets. Each turns one seeded {@link Random} into an input,
 * runs the code under test on it, and returns a verdict (a short label,
 * counted in the report). It throws only for a finding: an exception other
 * than the library's own errors, or a broken invariant.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { deflateRawSync, constants as zlibConstants } from "node:zlib";
import { ClientProtocol } from "../src/client.ts";
import { WebSocketError } from "../src/errors.ts";
import {
  enableClientPermessageDeflate,
  enableServerPermessageDeflate,
  PerMessageDeflate,
} from "../src/extensions/permessage-deflate.ts";
import { Frame, OP_BINARY, OP_CONT, OP_TEXT } from "../src/frames.ts";
import {
  buildExtension,
  buildSubprotocol,
  decodeBase64,
  decodedBase64Length,
  parseAuthorizationBasic,
  parseConnection,
  parseExtension,
  parseSubprotocol,
  parseUpgrade,
} from "../src/headers.ts";
import {
  type Parsed,
  type Request,
  RequestParser,
  type Response,
  ResponseParser,
} from "../src/http11.ts";
import { CLOSED, type Event, OPEN, Protocol } from "../src/protocol.ts";
import { ServerProtocol } from "../src/server.ts";
import { parseURI } from "../src/uri.ts";
import { chunks, mutate, type Random } from "./random.ts";
import {
  acceptOf,
  frame,
  frameStream,
  HEADER_SEEDS,
  handshakeRequest,
  handshakeResponse,
  text,
} from "./streams.ts";
import { explainDifference, type FrameVerdict, wsVerdict } from "./ws-receiver.ts";

/** What one input gave. */
export interface Outcome {
  /** A short label: `ok`, a close code, an error class... */
  verdict: string;
  /** Where `ws` judged the same input differently: a label for the difference. */
  difference?: string;
}

/** A fuzzing target. */
export interface Target {
  name: string;
  description: string;
  run(random: Random): Outcome;
}

/** A broken invariant: a finding, like an unexpected exception. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** The library's own errors are verdicts; anything else propagates as a finding. */
function errorVerdict(error: unknown): string {
  if (error instanceof WebSocketError) return error.constructor.name;
  throw error;
}

const MAX_SIZE = 1_048_576;

/** The frames a byte stream gives in our protocol (OPEN), as a verdict to compare with ws's. */
function ourVerdict(input: readonly Buffer[], role: "server" | "client"): FrameVerdict {
  const protocol = new Protocol(role, { maxSize: MAX_SIZE });
  const verdict: FrameVerdict = { failed: null, messages: [], closed: false };
  let size = 0;
  for (const chunk of input) {
    protocol.receiveData(chunk);
    for (const event of protocol.eventsReceived() as Frame[]) {
      if (event.opcode === 0x8) verdict.closed = true;
      if (event.opcode > 0x2) continue;
      size += event.data.length;
      check(size <= MAX_SIZE, `a message of ${size} bytes passed maxSize`);
      if (event.fin) {
        verdict.messages.push(size);
        size = 0;
      }
    }
    const exc = protocol.parserExc;
    if (exc !== null) {
      // The parser failed on something other than the peer's bytes.
      if (!(exc instanceof WebSocketError)) throw exc;
      // fail() sent a close frame with this code (1006: none).
      verdict.failed = protocol.closeSent?.code ?? 1006;
      break;
    }
    if (verdict.closed) break;
  }
  protocol.dataToSend();
  return verdict;
}

/** A label for a difference between our verdict and ws's, or undefined if none. */
function compareVerdicts(ours: FrameVerdict, theirs: FrameVerdict): string | undefined {
  const label = (v: FrameVerdict): string => (v.failed === null ? "ok" : String(v.failed));
  if (label(ours) !== label(theirs)) return `ours ${label(ours)}, ws ${label(theirs)}`;
  if (ours.messages.join() !== theirs.messages.join()) return "same verdict, different messages";
  return undefined;
}

/** Frames: our sans-I/O parser against ws's Receiver, both roles, same chunks. */
/** A frames input: the role of the parser, and the chunks it receives. */
export function framesInput(random: Random): { role: "server" | "client"; input: Buffer[] } {
  const role = random.chance(0.5) ? "server" : "client";
  const sender = role === "server" ? "client" : "server";
  let data: Buffer;
  const shape = random.int(20);
  if (shape === 0) data = random.bytes(random.length(512));
  else if (shape <= 6)
    data = mutate(random, frameStream(random, sender), 200_000, frameStream(random, sender));
  else data = frameStream(random, sender);
  return { role, input: chunks(random, data) };
}

/** Both verdicts on a frames input. */
export function judgeFrames(role: "server" | "client", input: readonly Buffer[]) {
  return { ours: ourVerdict(input, role), theirs: wsVerdict(input, role, MAX_SIZE) };
}

const frames: Target = {
  name: "frames",
  description: "frame parsing in both roles, verdicts compared with ws's Receiver",
  run(random) {
    const { role, input } = framesInput(random);
    const { ours, theirs } = judgeFrames(role, input);
    const difference = compareVerdicts(ours, theirs);
    return {
      verdict: ours.failed === null ? "ok" : String(ours.failed),
      difference:
        difference === undefined
          ? undefined
          : `${difference}: ${explainDifference(input, ours, theirs)}`,
    };
  },
};

/**
 * Feeds `input` chunk by chunk, then at once, to fresh parsers from
 * `makeParser`: the two must agree (chunking never changes a verdict).
 */
function parseTwice(
  makeParser: () => RequestParser | ResponseParser,
  input: readonly Buffer[],
  eof: boolean,
): string {
  const run = (pieces: readonly Buffer[]): { verdict: string; detail: string } => {
    const parser = makeParser();
    try {
      let parsed: Parsed<Request | Response> | null = null;
      for (const piece of pieces) {
        parsed = parser.feed(piece);
        if (parsed !== null) break;
      }
      if (parsed === null && eof) parsed = parser.feedEof();
      if (parsed === null) return { verdict: "incomplete", detail: "" };
      return { verdict: "parsed", detail: JSON.stringify([...parsed.message.headers]) };
    } catch (error) {
      return { verdict: errorVerdict(error), detail: "" };
    }
  };
  const chunked = run(input);
  const whole = run([Buffer.concat(input)]);
  // A message completes as soon as its last byte arrives: fed at once, the
  // same bytes can't give another verdict, nor other headers.
  check(
    chunked.verdict === whole.verdict && chunked.detail === whole.detail,
    `chunking changed the verdict: ${chunked.verdict} vs ${whole.verdict}`,
  );
  return chunked.verdict;
}

const httpRequest: Target = {
  name: "http-request",
  description: "HTTP/1.1 request parser (handshake requests, mutated), chunked vs whole",
  run(random) {
    let data = handshakeRequest(random);
    if (random.chance(0.7)) data = mutate(random, data, 64 * 1024, handshakeRequest(random));
    if (random.chance(0.05)) data = random.bytes(random.length(2048));
    return { verdict: parseTwice(() => new RequestParser(), chunks(random, data), false) };
  },
};

const httpResponse: Target = {
  name: "http-response",
  description: "HTTP/1.1 response parser (101s and error responses with bodies, mutated)",
  run(random) {
    let data = handshakeResponse(random, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    if (random.chance(0.7)) data = mutate(random, data, 64 * 1024, handshakeResponse(random, "x"));
    if (random.chance(0.05)) data = random.bytes(random.length(2048));
    const requestMethod = random.pick(["GET", "GET", "HEAD", "CONNECT"]);
    const allowHttp10 = random.chance(0.3);
    const eof = random.chance(0.5);
    const make = () => new ResponseParser({ requestMethod, allowHttp10 });
    return { verdict: parseTwice(make, chunks(random, data), eof) };
  },
};

/** Latin-1 text of a header value: mutated from a seed, or random. */
function headerValue(random: Random, seeds: readonly string[]): string {
  const seed = Buffer.from(random.pick(seeds), "latin1");
  if (random.chance(0.1)) return seed.toString("latin1");
  if (random.chance(0.1)) return random.bytes(random.length(256)).toString("latin1");
  return mutate(random, seed, 16 * 1024, Buffer.from(random.pick(seeds), "latin1")).toString(
    "latin1",
  );
}

const GRAMMARS: ReadonlyArray<readonly [string, (value: string) => void]> = [
  ["connection", (value) => void parseConnection(value)],
  ["upgrade", (value) => void parseUpgrade(value)],
  [
    "subprotocol",
    (value) => {
      const parsed = parseSubprotocol(value);
      // What was parsed builds a header that parses the same.
      if (parsed.length > 0) {
        const again = parseSubprotocol(buildSubprotocol(parsed));
        check(again.join() === parsed.join(), `subprotocols don't round-trip: ${value}`);
      }
    },
  ],
  [
    "extension",
    (value) => {
      const parsed = parseExtension(value);
      if (parsed.length > 0) {
        const again = parseExtension(buildExtension(parsed));
        check(
          JSON.stringify(again) === JSON.stringify(parsed),
          `extensions don't round-trip: ${value}`,
        );
      }
    },
  ],
  ["authorization", (value) => void parseAuthorizationBasic(value)],
  [
    "base64",
    (value) => {
      const decoded = decodeBase64(value);
      // Not decoded.toString("base64") === value: like Python's and ws's
      // checks, non-canonical padding bits ("AB==") are accepted (RFC 4648
      // §3.5 lets decoders do either).
      if (decoded !== null) {
        check(decoded.length === decodedBase64Length(value), `wrong length for ${value}`);
        const again = decodeBase64(decoded.toString("base64"));
        check(again?.equals(decoded) === true, `base64 doesn't round-trip: ${value}`);
      }
    },
  ],
  ["uri", (value) => void parseURI(value)],
];

const headers: Target = {
  name: "headers",
  description:
    "header grammars (Connection, Upgrade, subprotocols, extensions, Basic auth, base64, URIs)",
  run(random) {
    const [name, parse] = random.pick(GRAMMARS);
    const value = headerValue(random, HEADER_SEEDS[name]);
    try {
      parse(value);
      return { verdict: `${name} ok` };
    } catch (error) {
      return { verdict: `${name} ${errorVerdict(error)}` };
    }
  },
};

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A compressed message as some sender would write it (RFC 7692 §7.2.1, §7.2.3.4). */
function compressed(random: Random, plain: Buffer, windowBits: number): Buffer {
  return compressedAs(random.int(3), plain, windowBits);
}

/** Style 0: ending with a BFINAL block; 1: a sync flush; 2: a full flush (trailer removed). */
function compressedAs(style: number, plain: Buffer, windowBits: number): Buffer {
  if (style === 0) return deflateRawSync(plain, { windowBits });
  const out = deflateRawSync(plain, {
    windowBits,
    finishFlush: style === 1 ? zlibConstants.Z_SYNC_FLUSH : zlibConstants.Z_FULL_FLUSH,
  });
  return out.subarray(-4).equals(TRAILER) ? out.subarray(0, -4) : out;
}

// Highly compressible messages ("bombs"), compressed once per shape: the
// compression would otherwise cost more than the decoding under test.
const bombs = new Map<string, { plain: Buffer; payload: Buffer }>();

function bomb(random: Random, windowBits: number): { plain: Buffer; payload: Buffer } {
  const size = random.pick([70_000, 2_000_000]);
  const style = random.int(3);
  const key = `${size} ${windowBits} ${style}`;
  let found = bombs.get(key);
  if (found === undefined) {
    const plain = Buffer.alloc(size, 0x61);
    found = { plain, payload: compressedAs(style, plain, windowBits) };
    bombs.set(key, found);
  }
  return found;
}

const deflate: Target = {
  name: "deflate",
  description: "permessage-deflate decoder: messages from zlib, mutated, fragmented, bombs",
  run(random) {
    const noContextTakeover = random.chance(0.5);
    const windowBits = random.range(8, 15);
    const receiver = new PerMessageDeflate({
      remoteNoContextTakeover: noContextTakeover,
      localNoContextTakeover: false,
      remoteMaxWindowBits: windowBits,
      localMaxWindowBits: 15,
    });
    const maxSize = random.pick([1024, 65_536, MAX_SIZE, null]);
    let verdict = "ok";
    // Once a mutated message decoded, the stream may be anywhere (in a
    // stored block, say): later messages can't be expected to decode.
    let intact = true;
    try {
      for (let m = random.range(1, 4); m > 0; m--) {
        // Independent streams: each decodes whatever the context takeover.
        const bits = Math.max(9, windowBits);
        let plain: Buffer;
        let payload: Buffer;
        if (random.chance(0.05)) {
          ({ plain, payload } = bomb(random, bits));
        } else {
          plain = random.chance(0.5) ? text(random, 40) : random.bytes(random.length(3000));
          payload = compressed(random, plain, bits);
        }
        const mutated = random.chance(0.4);
        if (mutated) payload = mutate(random, payload, 64 * 1024);
        if (random.chance(0.05)) {
          payload = random.bytes(random.length(1024));
          intact = false;
        }
        const pieces = chunks(random, payload).slice(0, 64);
        const whole = Buffer.concat(pieces);
        const out: Buffer[] = [];
        let size = 0;
        pieces.forEach((piece, i) => {
          const fin = i === pieces.length - 1;
          const opcode = i === 0 ? (random.chance(0.5) ? OP_TEXT : OP_BINARY) : OP_CONT;
          // As the protocol does: what is left of the message's budget.
          const limit = maxSize === null ? null : maxSize - size;
          const frame = receiver.decode(new Frame(opcode, piece, fin, i === 0), limit);
          out.push(frame.data);
          size += frame.data.length;
        });
        // The bomb check: never more than maxSize bytes out of one message.
        check(maxSize === null || size <= maxSize, `${size} bytes decoded over maxSize ${maxSize}`);
        if (!whole.equals(payload) || mutated) intact = false;
        if (intact)
          check(Buffer.concat(out).equals(plain), "a valid message decoded to other bytes");
      }
    } catch (error) {
      verdict = errorVerdict(error);
    } finally {
      receiver.release();
    }
    return { verdict };
  },
};

/** A few compressed frames (RSV1) a peer could send once permessage-deflate is on. */
function compressedFrames(random: Random, masked: boolean): Buffer {
  const out: Buffer[] = [];
  for (let i = random.int(3); i > 0; i--) {
    const payload = compressed(random, text(random, 30), 9);
    out.push(frame({ opcode: OP_TEXT, payload, rsv: 0x40, mask: masked ? random.bytes(4) : null }));
  }
  return Buffer.concat(out);
}

/**
 * One message as many tiny fragments (17 to 80 of 0 to 3 bytes), text cut
 * anywhere, sometimes compressed, sometimes with a ping among them: what
 * `mergeFragments` acts on once a batch has had 16 small fragments.
 */
function tinyFragments(random: Random, masked: boolean): Buffer {
  const isText = random.chance(0.6);
  const compress = random.chance(0.25);
  let payload = isText ? text(random, 60) : random.bytes(random.length(200));
  if (compress) payload = compressed(random, payload, 9);
  const mask = (): Buffer | null => (masked ? random.bytes(4) : null);
  const out: Buffer[] = [];
  const parts = random.range(17, 80);
  let at = 0;
  for (let p = 0; p < parts; p++) {
    const fin = p === parts - 1;
    const size = fin ? payload.length - at : Math.min(payload.length - at, random.int(4));
    const opcode = p > 0 ? OP_CONT : isText ? OP_TEXT : OP_BINARY;
    const rsv = p === 0 && compress ? 0x40 : 0;
    out.push(frame({ opcode, payload: payload.subarray(at, at + size), fin, rsv, mask: mask() }));
    at += size;
    if (random.chance(0.03))
      out.push(frame({ opcode: 0x9, payload: random.bytes(3), mask: mask() }));
  }
  return Buffer.concat(out);
}

/** What a protocol made of a stream: its verdict, and a digest of the events it delivered. */
interface Driven {
  verdict: string;
  /** Every event, in order, where data frames count by message, not by fragment. */
  transcript: string;
}

/** Feeds the chunks to a protocol, handling its events; then EOF. Checks what must always hold. */
function drive(
  protocol: Protocol,
  input: readonly Buffer[],
  onEvent: (event: Event) => void,
): Driven {
  const maxSize = protocol.maxSize ?? Number.POSITIVE_INFINITY;
  let size = 0;
  // Fragment boundaries don't count: mergeFragments may move them.
  const transcript = createHash("sha1");
  const events = (): void => {
    for (const event of protocol.eventsReceived()) {
      if (event instanceof Frame) {
        if (event.opcode !== OP_CONT) transcript.update(`|${event.opcode}:`);
        transcript.update(event.data);
        if (event.opcode > 0x2) continue;
        size += event.data.length;
        check(size <= maxSize, `a message of ${size} bytes passed maxSize ${maxSize}`);
        if (event.fin) {
          transcript.update("|fin");
          size = 0;
        }
      } else {
        onEvent(event);
      }
    }
    protocol.dataToSend();
  };
  for (const chunk of input) {
    protocol.receiveData(chunk);
    events();
  }
  const open = protocol.state === OPEN;
  protocol.receiveEof();
  events();
  check(protocol.state === CLOSED, `state after EOF is ${protocol.state}`);
  for (const extension of protocol.extensions) extension.release?.();
  const exc = protocol.parserExc ?? protocol.handshakeExc;
  if (
    exc !== null &&
    !(exc instanceof WebSocketError) &&
    exc.message !== "unexpected end of stream"
  ) {
    throw exc;
  }
  let verdict: string;
  if (protocol.handshakeExc !== null)
    verdict = `handshake ${protocol.handshakeExc.constructor.name}`;
  else if (protocol.parserExc !== null && protocol.closeSent !== null && !open) {
    verdict = String(protocol.closeSent.code);
  } else verdict = open ? "open at EOF" : `closed ${protocol.closeSent?.code ?? "-"}`;
  return { verdict, transcript: transcript.digest("hex") };
}

/**
 * Drives `protocol`; then, if it merges fragments, a twin that doesn't on
 * the same chunks, which must deliver the same messages and reach the same
 * verdict.
 */
function driveBoth(
  protocol: Protocol,
  twin: () => Protocol,
  input: readonly Buffer[],
  onEvent: (protocol: Protocol, event: Event) => void,
): string {
  const driven = drive(protocol, input, (event) => onEvent(protocol, event));
  if (!protocol.mergeFragments) return driven.verdict;
  const other = twin();
  const unmerged = drive(other, input, (event) => onEvent(other, event));
  check(
    driven.verdict === unmerged.verdict && driven.transcript === unmerged.transcript,
    `merging fragments changed the outcome: ${driven.verdict} vs ${unmerged.verdict} without`,
  );
  return driven.verdict;
}

const serverExtensions = enableServerPermessageDeflate();
const clientExtensions = enableClientPermessageDeflate();

const protocolServer: Target = {
  name: "protocol-server",
  description: "ServerProtocol: handshake then frames, random and mutated streams",
  run(random) {
    const merge = random.chance(0.5);
    let frames: Buffer = Buffer.concat([
      random.chance(0.5) ? tinyFragments(random, true) : Buffer.alloc(0),
      frameStream(random, "client"),
      compressedFrames(random, true),
    ]);
    if (random.chance(0.4))
      frames = mutate(random, frames, 256 * 1024, frameStream(random, "client"));
    let data: Buffer = Buffer.concat([handshakeRequest(random), frames]);
    if (random.chance(0.1)) data = mutate(random, data, 256 * 1024);
    if (random.chance(0.05)) data = random.bytes(random.length(4096));
    const make = (mergeFragments: boolean): Protocol =>
      new ServerProtocol({ extensions: serverExtensions, maxSize: 65_536, mergeFragments });
    const protocol = make(merge);
    return {
      verdict: driveBoth(
        protocol,
        () => make(false),
        chunks(random, data),
        (protocol, event) => {
          const server = protocol as ServerProtocol;
          if ("method" in event) server.sendResponse(server.accept(event));
        },
      ),
    };
  },
};

function sha1Base64(data: string): string {
  return createHash("sha1").update(data).digest("base64");
}

const protocolClient: Target = {
  name: "protocol-client",
  description: "ClientProtocol: response then frames, random and mutated streams",
  run(random) {
    const merge = random.chance(0.5);
    let key: string | null = null;
    const make = (mergeFragments: boolean): ClientProtocol => {
      const protocol = new ClientProtocol("ws://example.test/chat", {
        extensions: clientExtensions,
        maxSize: 65_536,
        mergeFragments,
      });
      // The twin sends the same key, so that the same response accepts it.
      if (key === null) key = protocol.key;
      else (protocol as { key: string }).key = key;
      protocol.sendRequest(protocol.connect());
      protocol.dataToSend();
      return protocol;
    };
    const protocol = make(merge);
    let frames: Buffer = Buffer.concat([
      random.chance(0.5) ? tinyFragments(random, false) : Buffer.alloc(0),
      frameStream(random, "server"),
      compressedFrames(random, false),
    ]);
    if (random.chance(0.4))
      frames = mutate(random, frames, 256 * 1024, frameStream(random, "server"));
    let data: Buffer = Buffer.concat([
      handshakeResponse(random, acceptOf(protocol.key, sha1Base64)),
      frames,
    ]);
    if (random.chance(0.1)) data = mutate(random, data, 256 * 1024);
    if (random.chance(0.05)) data = random.bytes(random.length(4096));
    return {
      verdict: driveBoth(
        protocol,
        () => make(false),
        chunks(random, data),
        () => {},
      ),
    };
  },
};

/** Every target, by name, in the order they run. */
export const TARGETS: ReadonlyMap<string, Target> = new Map(
  [frames, httpRequest, httpResponse, headers, deflate, protocolServer, protocolClient].map(
    (target) => [target.name, target],
  ),
);
