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

/** `127.0.0.1:8765`, `[::1]:8765`, a Unix socket's path, or `unknown` for `null`. */
export function describeAddress(address: Address | null): string {
  if (address === null) return "unknown";
  if ("path" in address) return address.path;
  return formatAddress({ address: address.host, port: address.port });
}
