/**
 * Records the serialized frames `broadcast()` or `publish()` hand to each
 * connection's writer for sharing: one array per write, to tell whether
 * the bytes were built once for all.
 */
import type { Connection } from "../../src/node/connection.ts";

export function recordSharedFrames(connections: Iterable<Connection>): (readonly Buffer[])[] {
  const framed: (readonly Buffer[])[] = [];
  for (const connection of connections) {
    const writer = connection.writer;
    const original = writer.writeShared.bind(writer);
    writer.writeShared = (bytes) => {
      framed.push(bytes);
      original(bytes);
    };
  }
  return framed;
}
