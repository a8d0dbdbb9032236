/**
 * The transport adapter: what a connection asks of its byte stream beyond
 * the `Duplex` interface. A TCP or TLS socket answers; another Duplex (an
 * HTTP/2 stream, a test's pair of streams) may not, and the connection
 * works all the same. Socket-only calls are made here and nowhere else.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Http2Stream } from "node:http2";
import { type NetConnectOpts, connect as netConnect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { FastBuffer } from "../buffers.ts";
import { formatAddress } from "../logging.ts";
import type { Address } from "./options.ts";

/**
 * Small messages must not wait for Nagle's algorithm: a connection already
 * coalesces its writes per event-loop turn.
 */
export function disableNagle(transport: Duplex): void {
  (transport as Partial<Socket>).setNoDelay?.(true);
}

// RFC 9113 §7: CANCEL, "the stream is no longer needed".
const HTTP2_CANCEL = 0x8;

/**
 * Drops the transport at once, without a goodbye: a socket is destroyed
 * (a reset once nothing is written); an HTTP/2 stream is reset with
 * RST_STREAM CANCEL, which leaves its session and the other streams alone
 * (a plain `destroy()` would send NO_ERROR, as if all went well).
 */
export function destroyTransport(transport: Duplex): void {
  const stream = transport as Partial<Http2Stream>;
  if ("rstCode" in transport && typeof stream.close === "function") {
    stream.close(HTTP2_CANCEL);
    return;
  }
  transport.destroy();
}

/** The transport's remote or local address, or `null` when it doesn't tell. */
export function addressOf(transport: Duplex, which: "remote" | "local"): Address | null {
  // An HTTP/2 stream's addresses are its session's socket's.
  const s = ((transport as { session?: { socket?: Socket } }).session?.socket ??
    transport) as Partial<Socket>;
  const host = which === "remote" ? s.remoteAddress : s.localAddress;
  const port = which === "remote" ? s.remotePort : s.localPort;
  if (typeof host === "string" && host !== "" && typeof port === "number") return { host, port };
  // Unix sockets: the server's end has the path; the client's is unnamed.
  const server = (transport as { server?: { address?(): unknown } }).server;
  if (which === "local" && server != null && typeof server.address === "function") {
    const address = server.address();
    if (typeof address === "string") return { path: address };
  }
  return null;
}

/**
 * A connection's addresses, read from its transport on first use and kept:
 * a net.Socket forgets them once it is ended or destroyed, so the
 * connection also reads them just before (`keep`). Caching them here rather
 * than asking the socket each time matters too: a net.Socket keeps a copy
 * of each address it was asked for (~150 bytes). Created on first read, so
 * an idle connection nobody asked about pays nothing. @internal
 */
export class AddressCache {
  // `undefined`: not known yet.
  #remote: Address | null | undefined = undefined;
  #local: Address | null | undefined = undefined;

  /** The transport's remote or local address, or `null` when it doesn't tell. */
  get(transport: Duplex, which: "remote" | "local"): Address | null {
    const known = which === "remote" ? this.#remote : this.#local;
    if (known !== undefined) return known;
    const address = addressOf(transport, which);
    // A socket that isn't connected yet may tell later; a destroyed one never.
    if (address !== null || transport.destroyed) {
      if (which === "remote") this.#remote = address;
      else this.#local = address;
    }
    return address;
  }

  /** Reads both addresses while the transport still knows them. */
  keep(transport: Duplex): void {
    this.get(transport, "remote");
    this.get(transport, "local");
  }
}

/** `127.0.0.1:8765`, `[::1]:8765`, a Unix socket's path, or `unknown` for `null`. */
export function describeAddress(address: Address | null): string {
  if (address === null) return "unknown";
  if ("path" in address) return address.path;
  return formatAddress({ address: address.host, port: address.port });
}

/** What a transport's listeners call on the connection it belongs to. @internal */
export interface TransportUser {
  /** `lent`: the chunk is the shared read buffer, reused after this call. */
  dataReceived(chunk: Buffer, lent?: boolean): void;
  onEnd(): void;
  onError(error: Error): void;
  onClose(): void;
}

// The connection a transport belongs to: the transport's listeners are
// shared functions rather than closures per connection.
const kUser = Symbol("websockets-ts.connection");

interface TaggedTransport extends Duplex {
  [kUser]: TransportUser;
}

/** Listens to `transport` for `user`, with listeners shared by every transport. @internal */
export function listen(transport: Duplex, user: TransportUser): void {
  (transport as TaggedTransport)[kUser] = user;
  // Our 'end' listener must run before net.Socket's own, which makes
  // writes fail once the peer half-closed: pending bytes go out first.
  transport.prependListener("end", transportEnd);
  transport.on("data", transportData);
  transport.on("error", transportError);
  transport.on("close", transportClose);
}

// Node's read size; a socket reading into READ_SIZE bytes reads as much a call.
const READ_SIZE = 65_536;
// Reads this large are parsed in the shared buffer, their payloads copied
// out; smaller ones are copied whole, then parsed as Node's own reads are
// (payloads are views), one copy of the chunk rather than one per frame.
const LEND_ABOVE = 4_096;
// One read buffer for every socket that reads through sharedReads():
// reads are parsed synchronously, one at a time, so it's free again as
// soon as the callback returns.
let readBuffer: Buffer | null = null;

/**
 * `net.connect()` with its reads going into the one shared buffer instead
 * of a fresh buffer Node allocates for every read (see docs/performance.md,
 * "Hot paths"). For a plain TCP or Unix socket only: TLS reads through the
 * socket's handle. The socket comes back paused, and must stay so until
 * {@link listen} tagged it: its reads go to its connection only.
 * @internal
 */
export function connectSharingReads(options: NetConnectOpts): Socket {
  readBuffer ??= Buffer.allocUnsafeSlow(READ_SIZE);
  const socket = netConnect({
    ...options,
    onread: { buffer: readBuffer, callback: transportRead },
  });
  socket.pause();
  return socket;
}

function transportRead(this: Socket, length: number, buffer: Uint8Array): boolean {
  const user = (this as unknown as TaggedTransport)[kUser];
  if (length > LEND_ABOVE) {
    user.dataReceived(new FastBuffer(buffer.buffer, buffer.byteOffset, length), true);
  } else {
    const chunk = Buffer.allocUnsafe(length);
    chunk.set(buffer.subarray(0, length));
    user.dataReceived(chunk);
  }
  // Keep reading: pausing is the writer's, through pause().
  return true;
}

// `this` is the transport, tagged with its connection.
function transportData(this: Duplex, chunk: Buffer): void {
  (this as TaggedTransport)[kUser].dataReceived(chunk);
}

function transportEnd(this: Duplex): void {
  (this as TaggedTransport)[kUser].onEnd();
}

function transportError(this: Duplex, error: Error): void {
  (this as TaggedTransport)[kUser].onError(error);
}

function transportClose(this: Duplex): void {
  (this as TaggedTransport)[kUser].onClose();
}
