/**
 * Records the serialized frames `broadcast()` or `publish()` hand to each
 * connection's shared-frame path: one array per write, to tell whether
 * the bytes were built once for all.
 */
import type { Connection } from "../../src/node/connection.ts";
import { kWriteFrame } from "../../src/node/connection.ts";

export function recordSharedFrames(connections: Iterable<Connection>): (readonly Buffer[])[] {
  const framed: (readonly Buffer[])[] = [];
  for (const connection of connections) {
    const original = connection[kWriteFrame].bind(connection);
    connection[kWriteFrame] = (bytes, opcode, payload) => {
      framed.push(bytes);
      original(bytes, opcode, payload);
    };
  }
  return framed;
}
