/**
 * The fuzzing peer's wire layer, shared by the fuzzing client and the fuzzing
 * server: it writes whatever bytes a case asks for (any opcode, RSV bits,
 * masking, declared length, chopped writes) and reads what the peer under
 * test sends back with a strict RFC 6455 / RFC 7692 reader of its own. It
 * imports nothing from src/, so a bug there cannot hide itself here.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import * as zlib from "node:zlib";

/** The role the fuzzer plays: "client" tests a server, "server" tests a client. */
export type Role = "client" | "server";

/** permessage-deflate parameters, as offered or accepted (RFC 7692 §7.1). */
export interface DeflateParams {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  /** `true`: offered without a value (a client offer only). */
  clientMaxWindowBits?: number | true;
}

/** What both ends agreed on, with the RFC 7692 defaults filled in. */
export interface NegotiatedDeflate {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** One `Sec-WebSocket-Extensions` element: a name and its parameters. */
export interface ExtensionElement {
  name: string;
  params: [string, string | null][];
}

/** Formats permessage-deflate parameters as one extension element. */
export function formatDeflate(p: DeflateParams): string {
  const parts = ["permessage-deflate"];
  if (p.serverNoContextTakeover) parts.push("server_no_context_takeover");
  if (p.clientNoContextTakeover) parts.push("client_no_context_takeover");
  if (p.serverMaxWindowBits !== undefined)
    parts.push(`server_max_window_bits=${p.serverMaxWindowBits}`);
  if (p.clientMaxWindowBits === true) parts.push("client_max_window_bits");
  else if (p.clientMaxWindowBits !== undefined)
    parts.push(`client_max_window_bits=${p.clientMaxWindowBits}`);
  return parts.join("; ");
}

/** Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1); lenient about spaces and quotes. */
export function parseExtensions(value: string): ExtensionElement[] {
  const out: ExtensionElement[] = [];
  for (const element of value.split(",")) {
    const [name, ...rest] = element.split(";").map((s) => s.trim());
    if (!name) continue;
    const params: [string, string | null][] = [];
    for (const param of rest) {
      if (param === "") continue;
      const eq = param.indexOf("=");
      if (eq === -1) params.push([param.toLowerCase(), null]);
      else {
        let v = param.slice(eq + 1).trim();
        if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        params.push([param.slice(0, eq).trim().toLowerCase(), v]);
      }
    }
    out.push({ name: name.toLowerCase(), params });
  }
  return out;
}

/**
 * Reads permessage-deflate parameters, throwing on anything RFC 7692 forbids
 * (unknown or repeated parameter, bad window bits).
 */
export function deflateParamsOf(params: readonly [string, string | null][]): DeflateParams {
  const p: DeflateParams = {};
  const seen = new Set<string>();
  const bits = (name: string, v: string | null): number => {
    if (v === null || !/^(?:[89]|1[0-5])$/.test(v)) throw new Error(`invalid ${name}=${v}`);
    return Number(v);
  };
  for (const [name, value] of params) {
    if (seen.has(name)) throw new Error(`repeated parameter ${name}`);
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
        if (value !== null) throw new Error(`${name} takes no value`);
        p.serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover":
        if (value !== null) throw new Error(`${name} takes no value`);
        p.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
        p.serverMaxWindowBits = bits(name, value);
        break;
      case "client_max_window_bits":
        p.clientMaxWindowBits = value === null ? true : bits(name, value);
        break;
      default:
        throw new Error(`unknown parameter ${name}`);
    }
  }
  return p;
}

/** Fills in the defaults of an accepted response (RFC 7692 §7.1.2). */
export function negotiated(response: DeflateParams): NegotiatedDeflate {
  const client = response.clientMaxWindowBits;
  return {
    serverNoContextTakeover: response.serverNoContextTakeover ?? false,
    clientNoContextTakeover: response.clientNoContextTakeover ?? false,
    serverMaxWindowBits: response.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: typeof client === "number" ? client : 15,
  };
}

/** A frame exactly as the fuzzer will write it. */
export interface FrameSpec {
  /** Any 4-bit value: the fuzzer sends reserved opcodes too. */
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV bits as a 3-bit number, as in Autobahn's cases: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
  rsv?: number;
  /** Defaults to the role's duty (RFC 6455 §5.1: clients mask, servers don't). */
  mask?: boolean;
  /** A given masking key (4 bytes); random otherwise. */
  maskKey?: Buffer;
  /** Declared payload length written in the header instead of the real one. */
  declaredLength?: number;
}

/** How bytes are handed to the socket. */
export type WriteMode =
  /** Everything in one write. */
  | "one-write"
  /** One write per frame, with an event-loop turn between writes. */
  | "frame-wise"
  /** One write per byte, with an event-loop turn between writes. */
  | "octet-wise"
  /** Fixed-size pieces, with an event-loop turn between writes. */
  | { chop: number };

export function toBuffer(data: Buffer | string | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  return typeof data === "string" ? Buffer.from(data, "utf8") : data;
}

function mask(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  const n = payload.length;
  const k0 = key[0];
  const k1 = key[1];
  const k2 = key[2];
  const k3 = key[3];
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    out[i] = payload[i] ^ k0;
    out[i + 1] = payload[i + 1] ^ k1;
    out[i + 2] = payload[i + 2] ^ k2;
    out[i + 3] = payload[i + 3] ^ k3;
  }
  for (; i < n; i++) out[i] = payload[i] ^ key[i & 3];
  return out;
}

/** Serializes one frame (RFC 6455 §5.2). */
export function encodeFrame(spec: FrameSpec, role: Role): Buffer {
  const payload = toBuffer(spec.payload);
  const fin = spec.fin ?? true;
  const rsv = spec.rsv ?? 0;
  const masked = spec.mask ?? role === "client";
  const length = spec.declaredLength ?? payload.length;
  let header: Buffer;
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (spec.opcode & 0x0f);
  const m = masked ? 0x80 : 0;
  if (length <= 125) {
    header = Buffer.from([b0, m | length]);
  } else if (length <= 0xffff) {
    header = Buffer.alloc(4);
    header[0] = b0;
    header[1] = m | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = b0;
    header[1] = m | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const key = spec.maskKey ?? randomBytes(4);
  return Buffer.concat([header, key, mask(payload, key)]);
}

/** Compresses messages for one direction (RFC 7692 §7.2.1). */
class MessageDeflater {
  #windowBits: number;
  #noContextTakeover: boolean;
  #stream: zlib.DeflateRaw | null = null;

  constructor(windowBits: number, noContextTakeover: boolean) {
    // zlib cannot deflate with an 8-bit window (it silently uses 9), like every
    // zlib-based peer; see docs/conformance.md.
    this.#windowBits = Math.max(windowBits, 9);
    this.#noContextTakeover = noContextTakeover;
  }

  async compress(data: Buffer): Promise<Buffer> {
    this.#stream ??= zlib.createDeflateRaw({ windowBits: this.#windowBits });
    const out = await flushThrough(this.#stream, data);
    if (this.#noContextTakeover) {
      this.#stream.close();
      this.#stream = null;
    }
    // RFC 7692 §7.2.1: remove the 0x00 0x00 0xff 0xff tail of the sync flush.
    return out.subarray(0, out.length - 4);
  }

  close(): void {
    this.#stream?.close();
  }
}

/** Decompresses the peer's messages, strictly: a fresh window per message when it promised no context takeover. */
class MessageInflater {
  #windowBits: number;
  #noContextTakeover: boolean;
  #stream: zlib.InflateRaw | null = null;

  constructor(windowBits: number, noContextTakeover: boolean) {
    this.#windowBits = windowBits;
    this.#noContextTakeover = noContextTakeover;
  }

  async decompress(data: Buffer): Promise<Buffer> {
    this.#stream ??= zlib.createInflateRaw({ windowBits: this.#windowBits });
    const out = await flushThrough(this.#stream, Buffer.concat([data, TAIL]));
    if (this.#noContextTakeover) {
      this.#stream.close();
      this.#stream = null;
    }
    return out;
  }

  close(): void {
    this.#stream?.close();
  }
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

function flushThrough(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onError = (error: Error) => {
      stream.off("data", onData);
      reject(error);
    };
    stream.on("data", onData);
    stream.once("error", onError);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off("data", onData);
      stream.off("error", onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** What the fuzzer observed, in order: the subject of a verdict. */
export type Observed =
  | { type: "message"; binary: boolean; data: Buffer }
  | { type: "pong"; data: Buffer }
  | { type: "timeout"; label: string };

/** A close frame the peer sent. */
export interface CloseInfo {
  code: number | null;
  reason: Buffer;
}

interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

const VALID_OPCODES = new Set([0, 1, 2, 8, 9, 10]);

/** RFC 6455 §7.4 and the IANA registry: codes a peer may put in a close frame. */
export function isSendableCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * One WebSocket connection seen from the fuzzer, after the opening
 * handshake: sends what a case says, records what comes back, answers pings
 * and closes like Autobahn's fuzzer does.
 */
export class FuzzSession {
  readonly role: Role;
  readonly deflate: NegotiatedDeflate | null;
  /** Messages, pongs and fail-fast timeouts, in arrival order. */
  readonly received: Observed[] = [];
  /** RFC violations by the peer under test; any of them fails the case. */
  readonly violations: string[] = [];
  /** Pings the peer sent (answered with pongs; not part of the verdict). */
  pingsReceived = 0;
  /** Whether the fuzzer sent the first close frame or dropped the connection first. */
  closedByMe: boolean | null = null;
  closeSent = false;
  closeReceived: CloseInfo | null = null;
  /** The fuzzer had to drop the TCP connection because the peer did not. */
  droppedByMe = false;
  /** The TCP connection is gone. */
  readonly finished: Promise<void>;

  // A TCP socket, or an HTTP/2 stream (RFC 8441): END_STREAM plays FIN.
  #socket: Duplex;
  #tcpClosed = false;
  #peerEnded = false;
  #writes: Promise<void> = Promise.resolve();
  #reads: Promise<void> = Promise.resolve();
  #chunks: Buffer[] = [];
  #buffered = 0;
  #fragments: Buffer[] | null = null;
  #fragmentOpcode = 0;
  #fragmentCompressed = false;
  #deflater: MessageDeflater | null = null;
  #inflater: MessageInflater | null = null;
  #waiters = new Set<() => void>();
  #parseFailed = false;
  /** How long a client-side fuzzer waits for the server to close TCP after the closing handshake. */
  #tcpCloseWait: number;

  constructor(
    socket: Duplex,
    role: Role,
    deflate: NegotiatedDeflate | null,
    leftover: Buffer,
    tcpCloseWait = 2000,
  ) {
    this.#socket = socket;
    this.role = role;
    this.deflate = deflate;
    this.#tcpCloseWait = tcpCloseWait;
    if (deflate) {
      const mine = role === "client" ? "client" : "server";
      const theirs = role === "client" ? "server" : "client";
      this.#deflater = new MessageDeflater(
        deflate[`${mine}MaxWindowBits`],
        deflate[`${mine}NoContextTakeover`],
      );
      this.#inflater = new MessageInflater(
        // zlib's inflate needs at least the window the peer's zlib really used
        // (9 for a negotiated 8, see MessageDeflater).
        Math.max(deflate[`${theirs}MaxWindowBits`], 9),
        deflate[`${theirs}NoContextTakeover`],
      );
    }
    (socket as Partial<Socket>).setNoDelay?.(true);
    this.finished = new Promise((resolve) => {
      socket.once("close", () => {
        this.#tcpClosed = true;
        this.#deflater?.close();
        this.#inflater?.close();
        this.#notify();
        resolve();
      });
    });
    // Writes after the peer dropped the connection fail with EPIPE/ECONNRESET:
    // that is the peer's right, the verdict looks at what was observed.
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => {
      this.#peerEnded = true;
      this.#notify();
      this.#reads = this.#reads.then(() => this.#onPeerEnd());
    });
    if (leftover.length > 0) this.#onData(leftover);
  }

  /** No close frame either way yet and TCP still up. */
  get open(): boolean {
    return !this.#tcpClosed && !this.closeSent && this.closeReceived === null && !this.#peerEnded;
  }

  get tcpClosed(): boolean {
    return this.#tcpClosed;
  }

  /** The closing handshake completed: a close frame went each way. */
  get wasClean(): boolean {
    return this.closeSent && this.closeReceived !== null;
  }

  /** Writes frames in the given mode; resolves once they are handed to the kernel. */
  sendFrames(frames: FrameSpec[], mode: WriteMode = "one-write"): Promise<void> {
    const encoded = frames.map((f) => encodeFrame(f, this.role));
    return this.#enqueue(() => this.#writeEncoded(encoded, mode));
  }

  sendFrame(frame: FrameSpec, mode: WriteMode = "one-write"): Promise<void> {
    return this.sendFrames([frame], mode);
  }

  /** Raw bytes, e.g. a truncated frame. */
  sendRaw(bytes: Buffer, mode: WriteMode = "one-write"): Promise<void> {
    return this.#enqueue(() => this.#writeEncoded([bytes], mode));
  }

  /**
   * Sends a whole message, compressed when permessage-deflate is on, cut into
   * frames of `fragmentSize` bytes (of the payload on the wire) if given.
   */
  sendMessage(
    payload: Buffer | string,
    options: { binary?: boolean; fragmentSize?: number; mode?: WriteMode } = {},
  ): Promise<void> {
    // Compression happens inside the write queue: context takeover depends on send order.
    return this.#enqueue(async () => {
      let data = toBuffer(payload);
      const compressed = this.#deflater !== null;
      if (this.#deflater) data = await this.#deflater.compress(data);
      const opcode = options.binary ? 2 : 1;
      const size = options.fragmentSize ?? 0;
      const frames: FrameSpec[] = [];
      if (size <= 0 || data.length <= size) {
        frames.push({ opcode, payload: data, rsv: compressed ? 4 : 0 });
      } else {
        for (let i = 0; i < data.length; i += size) {
          frames.push({
            opcode: i === 0 ? opcode : 0,
            payload: data.subarray(i, i + size),
            fin: i + size >= data.length,
            rsv: compressed && i === 0 ? 4 : 0,
          });
        }
      }
      const encoded = frames.map((f) => encodeFrame(f, this.role));
      await this.#writeEncoded(encoded, options.mode ?? "one-write");
    });
  }

  /** Sends a close frame with a code and reason (none when `code` is undefined). */
  sendClose(
    code?: number,
    reason: Buffer | string = "",
    mode: WriteMode = "one-write",
  ): Promise<void> {
    let payload = Buffer.alloc(0);
    if (code !== undefined) {
      const r = toBuffer(reason);
      payload = Buffer.alloc(2 + r.length);
      payload.writeUInt16BE(code, 0);
      r.copy(payload, 2);
    }
    return this.sendCloseFrame(payload, mode);
  }

  /** Records that a close frame the script wrote itself (with `sendFrames`) went out. */
  noteCloseSent(): void {
    if (!this.closeSent && this.closeReceived === null && this.closedByMe === null) {
      this.closedByMe = true;
    }
    this.closeSent = true;
  }

  /** Sends a close frame with exactly this payload. */
  sendCloseFrame(payload: Buffer, mode: WriteMode = "one-write"): Promise<void> {
    this.noteCloseSent();
    const done = this.sendFrame({ opcode: 8, payload }, mode);
    if (this.closeReceived !== null) void done.then(() => this.#afterHandshake());
    return done;
  }

  /** Resolves true once `predicate` holds (checked after every event), false after `ms`. */
  waitFor(predicate: () => boolean, ms: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (predicate()) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve(true);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(false);
      }, ms);
      this.#waiters.add(check);
    });
  }

  /**
   * Autobahn's fail-fast probe: waits `ms` for the peer to close; if it
   * stays open, records a `timeout` event with this label and returns true.
   */
  async probeTimeout(label: string, ms: number): Promise<boolean> {
    const closed = await this.waitFor(() => !this.open, ms);
    if (closed) return false;
    this.received.push({ type: "timeout", label });
    return true;
  }

  /** Waits for the connection to end; after `ms`, drops it. */
  async waitClosed(ms: number): Promise<void> {
    const done = await this.waitFor(() => this.#tcpClosed, ms);
    if (!done) this.kill();
    await this.finished;
  }

  /** Drops the TCP connection now. */
  kill(): void {
    if (this.#tcpClosed) return;
    if (this.closedByMe === null) this.closedByMe = true;
    this.droppedByMe = true;
    this.#socket.destroy();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.#writes.then(task);
    this.#writes = run.catch(() => {});
    return run;
  }

  async #writeEncoded(encoded: Buffer[], mode: WriteMode): Promise<void> {
    if (mode === "one-write") {
      await this.#write(encoded.length === 1 ? encoded[0] : Buffer.concat(encoded));
    } else if (mode === "frame-wise") {
      for (const bytes of encoded) {
        await this.#write(bytes);
        await nextTurn();
      }
    } else {
      const size = mode === "octet-wise" ? 1 : mode.chop;
      const all = encoded.length === 1 ? encoded[0] : Buffer.concat(encoded);
      for (let i = 0; i < all.length; i += size) {
        await this.#write(all.subarray(i, i + size));
        await nextTurn();
      }
    }
  }

  #write(bytes: Buffer): Promise<void> {
    if (this.#socket.destroyed || this.#socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.write(bytes, () => resolve());
    });
  }

  #violation(message: string): void {
    if (!this.violations.includes(message)) this.violations.push(message);
  }

  #onData(chunk: Buffer): void {
    if (this.#parseFailed) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      const frame = this.#parseOne();
      if (frame === null) break;
      this.#reads = this.#reads
        .then(() => this.#onFrame(frame))
        .catch((error: unknown) => {
          this.#violation(`fuzzer could not process a frame: ${String(error)}`);
        });
    }
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0].length >= n) return this.#chunks[0].subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const c of this.#chunks) {
      const take = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, take);
      filled += take;
      if (filled === n) break;
    }
    return out;
  }

  #consume(n: number): Buffer {
    const out = this.#peek(n);
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0];
      if (first.length <= left) {
        this.#chunks.shift();
        left -= first.length;
      } else {
        this.#chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#buffered -= n;
    return out;
  }

  #parseOne(): ParsedFrame | null {
    if (this.#buffered < 2) return null;
    const head = this.#peek(2);
    const masked = (head[1] & 0x80) !== 0;
    let length = head[1] & 0x7f;
    let headerLength = 2;
    if (length === 126) headerLength = 4;
    else if (length === 127) headerLength = 10;
    if (masked) headerLength += 4;
    if (this.#buffered < headerLength) return null;
    const header = this.#peek(headerLength);
    if (length === 126) length = header.readUInt16BE(2);
    else if (length === 127) {
      const big = header.readBigUInt64BE(2);
      if (big > BigInt(2 ** 32)) {
        this.#violation(`peer sent a frame of ${big} bytes`);
        this.#parseFailed = true;
        return null;
      }
      length = Number(big);
    }
    if (this.#buffered < headerLength + length) return null;
    this.#consume(headerLength);
    let payload = length > 0 ? this.#consume(length) : Buffer.alloc(0);
    if (masked) payload = mask(payload, header.subarray(headerLength - 4, headerLength));
    return {
      fin: (head[0] & 0x80) !== 0,
      rsv: (head[0] >> 4) & 7,
      opcode: head[0] & 0x0f,
      masked,
      payload,
    };
  }

  async #onFrame(frame: ParsedFrame): Promise<void> {
    if (this.closeReceived !== null) {
      this.#violation(`peer sent a frame (opcode ${frame.opcode}) after its close frame`);
      return;
    }
    // RFC 6455 §5.1: clients mask every frame, servers none.
    if (this.role === "server" && !frame.masked) this.#violation("client sent an unmasked frame");
    if (this.role === "client" && frame.masked) this.#violation("server sent a masked frame");
    if (!VALID_OPCODES.has(frame.opcode)) {
      this.#violation(`peer sent reserved opcode ${frame.opcode}`);
      return;
    }
    const control = frame.opcode >= 8;
    const compressible = !control && frame.opcode !== 0 && this.deflate !== null;
    if ((frame.rsv & 3) !== 0 || ((frame.rsv & 4) !== 0 && !compressible)) {
      this.#violation(`peer sent RSV bits ${frame.rsv} on opcode ${frame.opcode}`);
    }
    if (control) {
      if (!frame.fin) this.#violation(`peer fragmented a control frame (opcode ${frame.opcode})`);
      if (frame.payload.length > 125) {
        this.#violation(`peer sent a ${frame.payload.length}-byte control frame`);
      }
      if (frame.opcode === 9) {
        this.pingsReceived++;
        if (!this.closeSent) await this.sendFrame({ opcode: 10, payload: frame.payload });
      } else if (frame.opcode === 10) {
        this.received.push({ type: "pong", data: frame.payload });
      } else {
        await this.#onClose(frame.payload);
      }
      this.#notify();
      return;
    }
    if (frame.opcode === 0) {
      if (this.#fragments === null) {
        this.#violation("peer sent a continuation frame with nothing to continue");
        return;
      }
      this.#fragments.push(frame.payload);
    } else {
      if (this.#fragments !== null) this.#violation("peer started a message inside another");
      this.#fragments = [frame.payload];
      this.#fragmentOpcode = frame.opcode;
      this.#fragmentCompressed = (frame.rsv & 4) !== 0;
    }
    if (!frame.fin) return;
    let data: Buffer = Buffer.concat(this.#fragments);
    this.#fragments = null;
    if (this.#fragmentCompressed && this.#inflater) {
      try {
        data = await this.#inflater.decompress(data);
      } catch (error) {
        this.#violation(`peer sent a message that does not inflate: ${String(error)}`);
        return;
      }
    }
    const binary = this.#fragmentOpcode === 2;
    if (!binary && !isUtf8(data)) this.#violation("peer sent a text message that is not UTF-8");
    this.received.push({ type: "message", binary, data });
    this.#notify();
  }

  async #onClose(payload: Buffer): Promise<void> {
    let info: CloseInfo;
    if (payload.length === 0) info = { code: null, reason: Buffer.alloc(0) };
    else if (payload.length === 1) {
      this.#violation("peer sent a 1-byte close frame");
      info = { code: null, reason: Buffer.alloc(0) };
    } else {
      info = { code: payload.readUInt16BE(0), reason: payload.subarray(2) };
      if (!isSendableCloseCode(info.code!)) {
        this.#violation(`peer sent close code ${info.code}`);
      }
      if (!isUtf8(info.reason)) this.#violation("peer sent a close reason that is not UTF-8");
    }
    this.closeReceived = info;
    if (this.closedByMe === null) this.closedByMe = false;
    if (!this.closeSent) {
      // Echo the code, as Autobahn's fuzzer does (RFC 6455 §5.5.1).
      this.closeSent = true;
      const echo = Buffer.alloc(info.code === null ? 0 : 2);
      if (info.code !== null) echo.writeUInt16BE(info.code, 0);
      await this.sendFrame({ opcode: 8, payload: echo });
    }
    await this.#afterHandshake();
  }

  /** RFC 6455 §7.1.1: the server closes TCP first; a client waits for it, then gives up. */
  async #afterHandshake(): Promise<void> {
    if (!this.closeSent || this.closeReceived === null) return;
    if (this.role === "server") {
      this.#socket.end();
      return;
    }
    const closed = await this.waitFor(() => this.#tcpClosed || this.#peerEnded, this.#tcpCloseWait);
    if (!closed) this.kill();
    else if (!this.#tcpClosed) this.#socket.end();
  }

  async #onPeerEnd(): Promise<void> {
    if (this.closedByMe === null) this.closedByMe = false;
    if (!this.#socket.writableEnded) this.#socket.end();
    this.#notify();
  }
}

/** Resolves after `ms` milliseconds (for cases that wait on purpose). */
export function pause(ms: number): Promise<void> {
  return sleep(ms);
}
