/**
 * The handshake of the `raw` servers (bench/echo-server.ts,
 * bench/topics-server.ts), whose reading of the head the `floor` server
 * (bench/echo-floor.ts) shares: Node doing only what it must, the floor every
 * Node WebSocket server stands on. Any request gets a fixed 101 (nothing
 * checked, no `Sec-WebSocket-Accept` computed: the C load generator doesn't
 * check it). Not WebSocket-correct, and not meant to be.
 *
 * @module
 */

import type { Socket } from "node:net";

const HEADER_END = Buffer.from("\r\n\r\n");
const MAX_HEAD = 8192;
/** The answer to a request the floor refuses, or to an over-long head. */
export const BAD_REQUEST =
  "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/** The fixed answer to every request. */
export const RAW_101 = Buffer.from(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: not-checked-by-the-bench\r\n\r\n",
);

/**
 * Reads the request head from `socket`, then stops listening and calls
 * `upgraded` with the head (its lines, latin1, each ending in CRLF, without
 * the blank line) and the bytes that followed it. A head over 8 KiB gets a
 * 400. The caller answers, and reads the socket from then on.
 */
export function readHead(socket: Socket, upgraded: (head: string, rest: Buffer) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const onHead = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf(HEADER_END);
    if (end === -1) {
      if (head.length > MAX_HEAD) {
        socket.off("data", onHead);
        socket.end(BAD_REQUEST);
      }
      return;
    }
    socket.off("data", onHead);
    upgraded(head.toString("latin1", 0, end + 2), head.subarray(end + 4));
  };
  socket.on("data", onHead);
}

/**
 * The `raw` echo of one accepted socket: a fixed 101 once the request head
 * is read, then every chunk written back as read. `sockets` holds the open
 * ones, for the server to destroy when it stops.
 */
export function rawEcho(socket: Socket, sockets: Set<Socket>): void {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => socket.destroy());
  socket.on("end", () => socket.end());
  readHead(socket, (_head, rest) => {
    socket.write(rest.length > 0 ? Buffer.concat([RAW_101, rest]) : RAW_101);
    socket.on("data", (chunk: Buffer) => socket.write(chunk));
  });
}
