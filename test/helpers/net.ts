/**
 * Raw TCP WebSocket peers for tests: they speak RFC 6455 byte by byte, with
 * no code from src/, so tests never check our frame code with itself, and
 * they misbehave on demand (never finish the handshake, never answer a ping
 * or a close, vanish mid-message, flood).
 *
 * A raw peer is passive: it never answers a ping or a close on its own. A
 * test that wants a well-behaved peer sends the answers itself.
 *
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const HEADER_END = Buffer.from("\r\n\r\n");
const DEFAULT_TIMEOUT_MS = 5000;

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept value for a Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

/** Options of {@link frame} and {@link frameHeader}. */
export interface FrameOptions {
  /** FIN bit. Default `true`. */
  fin?: boolean;
  /** Mask the payload, as a client must (RFC 6455 §5.3). Default `true`. */
  mask?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Masking key; default random. */
  maskKey?: Buffer;
}

/**
 * The header of a frame declaring `length` payload bytes, with its masking
 * key if masked. Sending only a header lets a test declare a length it never
 * sends (an oversized frame).
 */
export function frameHeader(
  opcode: number,
  length: number,
  options: FrameOptions = {},
): { header: Buffer; maskKey: Buffer | null } {
  const { fin = true, mask = true, rsv1 = false, rsv2 = false, rsv3 = false } = options;
  const lenBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
  header[0] =
    (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | (opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  if (lenBytes === 0) header[1] = maskBit | length;
  else if (lenBytes === 2) {
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  let maskKey: Buffer | null = null;
  if (mask) {
    maskKey = options.maskKey ?? randomBytes(4);
    maskKey.copy(header, 2 + lenBytes);
  }
  return { header, maskKey };
}

/** The bytes of one frame (RFC 6455 §5.2), masked unless `mask: false`. */
export function frame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  options: FrameOptions = {},
): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const { header, maskKey } = frameHeader(opcode, data.length, options);
  const out = Buffer.concat([header, data]);
  if (maskKey !== null) {
    for (let i = 0; i < data.length; i++) out[header.length + i] ^= maskKey[i & 3];
  }
  return out;
}

/** The payload of a close frame: a 2-byte code and a UTF-8 reason (RFC 6455 §5.5.1). */
export function closePayload(code: number, reason = ""): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, "utf8");
  return out;
}

/** A close frame, masked unless `mask: false`. */
export function closeFrame(code: number, reason = "", options: FrameOptions = {}): Buffer {
  return frame(OP_CLOSE, closePayload(code, reason), options);
}

/** A frame as read off the wire, payload unmasked. */
export interface ParsedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Code and reason of a close frame's payload; code 1005 when it is empty. */
export function parseClose(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") };
}

/**
 * Splits `data` into complete frames; returns them and the number of bytes
 * consumed (the rest is an incomplete frame).
 */
export function parseFrames(data: Buffer): { frames: ParsedFrame[]; consumed: number } {
  const frames: ParsedFrame[] = [];
  let offset = 0;
  while (data.length - offset >= 2) {
    const b0 = data[offset];
    const b1 = data[offset + 1];
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = offset + 2;
    if (length === 126) {
      if (data.length - p < 2) break;
      length = data.readUInt16BE(p);
      p += 2;
    } else if (length === 127) {
      if (data.length - p < 8) break;
      const big = data.readBigUInt64BE(p);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`frame length ${big} is absurd`);
      length = Number(big);
      p += 8;
    }
    let maskKey: Buffer | null = null;
    if (masked) {
      if (data.length - p < 4) break;
      maskKey = data.subarray(p, p + 4);
      p += 4;
    }
    if (data.length - p < length) break;
    const payload = Buffer.from(data.subarray(p, p + length));
    if (maskKey !== null) for (let i = 0; i < length; i++) payload[i] ^= maskKey[i & 3];
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      payload,
    });
    offset = p + length;
  }
  return { frames, consumed: offset };
}

/** Reads frames from a socket as they arrive. */
export class FrameReader {
  readonly socket: Socket;
  /** Every byte received after the handshake. */
  bytesReceived = 0;
  /** Whether the peer half-closed (TCP FIN received). */
  eof = false;
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;

  #buffer: Buffer = Buffer.alloc(0);
  #queue: ParsedFrame[] = [];
  #waiters: Array<() => void> = [];
  #done = false;
  #error: Error | null = null;

  constructor(socket: Socket, initial: Buffer = Buffer.alloc(0)) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once("close", () => resolve());
    });
    socket.on("data", (chunk: Buffer) => this.#push(chunk));
    socket.on("end", () => {
      this.eof = true;
      this.#finish();
    });
    socket.on("close", () => this.#finish());
    // Errors (ECONNRESET) end the stream; tests look at what was read.
    socket.on("error", () => {});
    if (initial.length > 0) this.#push(initial);
    socket.resume();
  }

  #push(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      const { frames, consumed } = parseFrames(this.#buffer);
      this.#buffer = this.#buffer.subarray(consumed);
      this.#queue.push(...frames);
    } catch (err) {
      this.#error = err as Error;
    }
    this.#wake();
  }

  #finish(): void {
    this.#done = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * The next frame; `null` once the connection ended with no further frame.
   * Rejects after `timeoutMs` (a hang is a failure, not a wait forever).
   */
  async next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ParsedFrame | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#error !== null) throw this.#error;
      const frame = this.#queue.shift();
      if (frame !== undefined) return frame;
      if (this.#done) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next frame that is not a ping or pong (those are skipped). */
  async nextData(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ParsedFrame | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (frame === null || (frame.opcode !== OP_PING && frame.opcode !== OP_PONG)) return frame;
    }
  }

  /** Frames received and not yet taken by `next`. */
  pending(): ParsedFrame[] {
    return [...this.#queue];
  }

  /** Waits for the socket to close; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await withTimeout(this.closed, timeoutMs, "socket did not close");
  }
}

/** Starts a {@link FrameReader} on a socket. */
export function readFrames(socket: Socket, initial?: Buffer): FrameReader {
  return new FrameReader(socket, initial);
}

/** A parsed HTTP response head. */
export interface RawResponse {
  status: number;
  reason: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The whole head, for error messages. */
  head: string;
}

function parseHead(head: string): RawResponse {
  const [statusLine, ...lines] = head.split("\r\n");
  const match = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(statusLine);
  if (match === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(match[1]), reason: match[2], headers, head };
}

/** Options of {@link rawConnect}. */
export interface RawConnectOptions {
  host?: string;
  /** Request target. Default `/`. */
  path?: string;
  /** Extra request headers (added after the standard ones). */
  headers?: Record<string, string>;
  /** Sec-WebSocket-Key; default random. */
  key?: string;
  timeoutMs?: number;
}

/** A raw peer after a successful upgrade. */
export interface RawPeer {
  socket: Socket;
  response: RawResponse;
  reader: FrameReader;
  /** Writes bytes (frames built with {@link frame}). */
  send(data: Buffer): void;
  /** Sends a close frame and waits for the server's (masked like a client). */
  close(code?: number, reason?: string): Promise<ParsedFrame | null>;
  /**
   * The next frame other than a ping or pong, answering pings on the way
   * like a well-behaved peer (the one exception to passivity).
   */
  recvData(timeoutMs?: number): Promise<ParsedFrame | null>;
}

/** Opens a TCP connection to 127.0.0.1:`port`; resolves once connected. */
export function tcpConnect(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host, noDelay: true });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/**
 * Reads an HTTP response head from `socket`; returns it and the bytes after
 * it. Rejects on timeout or if the socket closes first.
 */
export function readResponseHead(
  socket: Socket,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ response: RawResponse; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => done(new Error(`no response head within ${timeoutMs} ms`)),
      timeoutMs,
    );
    function done(err: Error | null, value?: { response: RawResponse; rest: Buffer }): void {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (err !== null) reject(err);
      else {
        // Paused until a reader listens, so no byte after the head is lost.
        socket.pause();
        resolve(value!);
      }
    }
    function onData(chunk: Buffer): void {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf(HEADER_END);
      if (end === -1) return;
      try {
        const response = parseHead(buffer.subarray(0, end).toString("latin1"));
        done(null, { response, rest: buffer.subarray(end + 4) });
      } catch (err) {
        done(err as Error);
      }
    }
    function onClose(): void {
      done(
        new Error(`connection closed before a response head: ${JSON.stringify(buffer.toString())}`),
      );
    }
    function onError(err: Error): void {
      done(err);
    }
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", onError);
  });
}

/** The upgrade request bytes a client sends (RFC 6455 §4.1). */
export function upgradeRequest(
  host: string,
  port: number,
  options: { path?: string; key?: string; headers?: Record<string, string> } = {},
): Buffer {
  const { path = "/", key = randomBytes(16).toString("base64"), headers = {} } = options;
  let head =
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return Buffer.from(`${head}\r\n`, "latin1");
}

/**
 * Connects and upgrades to WebSocket; resolves once a 101 with the right
 * Sec-WebSocket-Accept arrived, rejects otherwise (with the response head).
 */
export async function rawConnect(port: number, options: RawConnectOptions = {}): Promise<RawPeer> {
  const host = options.host ?? "127.0.0.1";
  const key = options.key ?? randomBytes(16).toString("base64");
  const socket = await tcpConnect(port, host);
  socket.write(upgradeRequest(host, port, { path: options.path, key, headers: options.headers }));
  let head: { response: RawResponse; rest: Buffer };
  try {
    head = await readResponseHead(socket, options.timeoutMs);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  const { response, rest } = head;
  const accept = response.headers["sec-websocket-accept"];
  if (response.status !== 101 || accept !== acceptKey(key)) {
    socket.destroy();
    throw new Error(`upgrade failed:\n${response.head}`);
  }
  const reader = readFrames(socket, rest);
  return {
    socket,
    response,
    reader,
    send: (data) => {
      socket.write(data);
    },
    close: async (code = 1000, reason = "") => {
      socket.write(closeFrame(code, reason));
      return reader.nextData();
    },
    recvData: async (timeoutMs = DEFAULT_TIMEOUT_MS) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const next = await reader.next(Math.max(1, deadline - Date.now()));
        if (next === null) return null;
        if (next.opcode === OP_PING) socket.write(frame(OP_PONG, next.payload));
        else if (next.opcode !== OP_PONG) return next;
      }
    },
  };
}

/**
 * Sends `data` on a fresh TCP connection and collects everything the server
 * sends back until it closes the connection (or `timeoutMs` passes).
 */
export async function exchange(
  port: number,
  data: Buffer | string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ received: Buffer; closedByServer: boolean }> {
  const socket = await tcpConnect(port);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  socket.write(data);
  const closedByServer = await withTimeout(
    new Promise<boolean>((resolve) => socket.once("close", () => resolve(true))),
    timeoutMs,
    "",
  ).catch(() => false);
  socket.destroy();
  return { received: Buffer.concat(chunks), closedByServer };
}

/**
 * Slowloris: opens a connection and dribbles an opening handshake one byte
 * every `intervalMs`, never finishing it. Stops when the server closes the
 * connection or after `maxBytes`. `closed` resolves when the server dropped it.
 */
export async function slowloris(
  port: number,
  options: { intervalMs?: number; maxBytes?: number } = {},
): Promise<{ socket: Socket; closed: Promise<void>; bytesSent: () => number }> {
  const { intervalMs = 20, maxBytes = 8192 } = options;
  const socket = await tcpConnect(port);
  socket.on("error", () => {});
  socket.resume();
  // One header line that never ends, so the request head is never complete.
  const start = Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || !socket.writable || sent >= maxBytes) {
      clearInterval(timer);
      return;
    }
    socket.write(Buffer.of(sent < start.length ? start[sent] : 0x61));
    sent++;
  }, intervalMs);
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      clearInterval(timer);
      resolve();
    }),
  );
  return { socket, closed, bytesSent: () => sent };
}

/**
 * Vanishes mid-message: sends the header and the first half of a frame
 * declaring `length` bytes, then drops the connection (FIN, or RST when
 * `reset`).
 */
export function vanishMidMessage(
  peer: RawPeer,
  options: { length?: number; reset?: boolean } = {},
): void {
  const { length = 1000, reset = false } = options;
  const whole = frame(OP_BINARY, Buffer.alloc(length, 0x62));
  peer.socket.write(whole.subarray(0, Math.floor(whole.length / 2)), () => {
    if (reset) peer.socket.resetAndDestroy();
    else peer.socket.destroy();
  });
}

/**
 * Floods: writes `frameBytes` again and again, honouring backpressure, until
 * `maxBytes` were accepted or no 'drain' came for `stallMs` (the receiver
 * stopped reading). Returns the bytes the socket accepted and whether it
 * stalled. A receiver without flow control never stalls.
 */
export async function flood(
  socket: Socket,
  frameBytes: Buffer,
  options: { maxBytes: number; stallMs?: number },
): Promise<{ written: number; stalled: boolean }> {
  const { maxBytes, stallMs = 500 } = options;
  let written = 0;
  while (written < maxBytes) {
    if (socket.destroyed) return { written, stalled: false };
    written += frameBytes.length;
    if (socket.write(frameBytes)) continue;
    const drained = await withTimeout(
      new Promise<boolean>((resolve) => socket.once("drain", () => resolve(true))),
      stallMs,
      "",
    ).catch(() => false);
    if (!drained) return { written: written - socket.writableLength, stalled: true };
  }
  return { written, stalled: false };
}

/** What a fake server's connection handler receives. */
export interface FakeRequest {
  head: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Sec-WebSocket-Key, or "" when missing. */
  key: string;
  /** Bytes received after the request head. */
  rest: Buffer;
}

/** A fake server for testing clients against misbehaviour. */
export interface FakeServer {
  port: number;
  url: string;
  server: Server;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * A raw TCP server on 127.0.0.1 that reads each request head and hands the
 * socket to `onRequest`, which answers (or does not) however the test wants.
 * {@link handshakeResponse} builds a correct 101.
 */
export async function fakeServer(
  onRequest: (socket: Socket, request: FakeRequest) => void,
): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffer: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf(HEADER_END);
      if (end === -1) return;
      socket.off("data", onData);
      socket.pause();
      const head = buffer.subarray(0, end).toString("latin1");
      const headers: Record<string, string> = {};
      for (const line of head.split("\r\n").slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0)
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      onRequest(socket, {
        head,
        headers,
        key: headers["sec-websocket-key"] ?? "",
        rest: buffer.subarray(end + 4),
      });
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    port: address.port,
    url: `ws://127.0.0.1:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A 101 response for `key`, with extra headers, as bytes. */
export function handshakeResponse(key: string, headers: Record<string, string> = {}): Buffer {
  let head =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return Buffer.from(`${head}\r\n`, "latin1");
}

/** Resolves like `promise`, or rejects with `message` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message || `timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
