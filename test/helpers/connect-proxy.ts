/**
 * An HTTP CONNECT proxy on 127.0.0.1 for tests: it records the head of
 * each request it gets, refuses with 407 when `credentials` (the base64 of
 * `user:password`) don't come in `Proxy-Authorization: Basic`, and
 * otherwise tunnels to the host and port asked for.
 *
 * @module
 */

import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";

/** A running proxy. */
export interface ConnectProxy {
  readonly port: number;
  /** The request line of each CONNECT received, in order. */
  readonly seen: string[];
  /** Destroys the tunnels and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy; see the module comment. */
export async function connectProxy(options: { credentials?: string } = {}): Promise<ConnectProxy> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const proxy = createServer((client) => {
    track(client);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      client.removeListener("data", onData);
      const lines = head.subarray(0, end).toString("latin1").split("\r\n");
      seen.push(lines[0]);
      const wanted = `Proxy-Authorization: Basic ${options.credentials}`;
      if (options.credentials !== undefined && !lines.includes(wanted)) {
        client.end("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const [host, port] = lines[0].split(" ")[1].split(":");
      const upstream = connect({ host, port: Number(port) }, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head.subarray(end + 4));
        client.pipe(upstream).pipe(client);
      });
      track(upstream);
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  return {
    port: (proxy.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}
