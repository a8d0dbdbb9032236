/**
 * The transport adapter: what a connection asks of its byte stream beyond
 * the `Duplex` interface. A TCP or TLS socket answers; another Duplex (an
 * HTTP/2 stream, a test's pair of streams) may not, and the connection
 * works all the same. Socket-only calls are made here and nowhere else.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { formatAddress } from "../logging.ts";
import type { Address } from "./options.ts";

/**
 * Small messages must not wait for Nagle's algorithm: a connection already
 * coalesces its writes per event-loop turn.
 */
export function disableNagle(transport: Duplex): void {
  (transport as Partial<Socket>).setNoDelay?.(true);
}

/** The transport's remote or local address, or `null` when it doesn't tell. */
export function addressOf(transport: Duplex, which: "remote" | "local"): Address | null {
  const s = transport as Partial<Socket>;
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
  dataReceived(chunk: Buffer): void;
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
