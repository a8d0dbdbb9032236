/**
 * The verdict of `ws`'s frame parser (its `Receiver`) on a byte stream, to
 * compare with ours: which messages it delivers, and the close code it
 * fails the connection with, if any. `ws` judges frames only: its handshake
 * and its decompression are tied to its sockets and run asynchronously.
 *
 * @module
 */

import { createRequire } from "node:module";

// ws's package exports don't expose lib/receiver.js; its main module does.
interface WsReceiver {
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "conclude", listener: (code: number) => void): void;
  on(event: "ping" | "pong", listener: () => void): void;
  _write(chunk: Buffer, encoding: string, callback: (error?: Error | null) => void): void;
}
interface WsModule {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
}
const { Receiver } = createRequire(import.meta.url)("ws") as WsModule;

/** What a parser made of a byte stream. */
export interface FrameVerdict {
  /** Close code the connection failed with, or `null` if it didn't. */
  failed: number | null;
  /** Lengths of the complete messages delivered, in order. */
  messages: number[];
  /** Whether a close frame was received (the stream's end for both parsers). */
  closed: boolean;
}

/** The close code ws attaches to its errors, under a symbol it doesn't export. */
function statusCode(error: Error): number {
  for (const symbol of Object.getOwnPropertySymbols(error)) {
    if (symbol.description === "status-code") {
      return (error as unknown as Record<symbol, number>)[symbol];
    }
  }
  throw new Error(`ws error without a status code: ${error.message}`);
}

/** Feeds `chunks` to a ws Receiver of the given role, stopping at the first error or close. */
export function wsVerdict(
  chunks: readonly Buffer[],
  role: "server" | "client",
  maxPayload: number,
): FrameVerdict {
  const receiver = new Receiver({ isServer: role === "server", maxPayload });
  const verdict: FrameVerdict = { failed: null, messages: [], closed: false };
  receiver.on("message", (data) => {
    verdict.messages.push(data.length);
  });
  receiver.on("conclude", () => {
    verdict.closed = true;
  });
  // Without listeners, pings and pongs are ignored: they need none.
  for (const chunk of chunks) {
    if (verdict.failed !== null || verdict.closed) break;
    receiver._write(chunk, "buffer", (error) => {
      if (error) verdict.failed = statusCode(error);
    });
  }
  return verdict;
}
