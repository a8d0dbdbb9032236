// Property-based tests of the sans-I/O core with fast-check: whatever bytes
// arrive, the protocol never throws and only fails with documented errors and
// their close codes; messages never exceed maxSize; valid traffic round-trips.

import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PayloadTooBig, ProtocolError } from "../../src/errors.ts";
import {
  Frame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "../../src/frames.ts";
import { CLOSING, OPEN, Protocol, type Side } from "../../src/protocol.ts";
import { decodeAll, randomChunks, splitOutput } from "../support/wire.ts";

type Command =
  | { kind: "text"; data: string; fragments: number }
  | { kind: "binary"; data: Uint8Array; fragments: number }
  | { kind: "ping"; data: Uint8Array }
  | { kind: "pong"; data: Uint8Array };

const commandOf = (big: boolean): fc.Arbitrary<Command> =>
  fc.oneof(
    fc.record({
      kind: fc.constant("text" as const),
      data: fc.string({ unit: "binary", maxLength: 300 }),
      fragments: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({
      kind: fc.constant("binary" as const),
      data: big
        ? fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(new Uint8Array(70_000)))
        : fc.uint8Array({ maxLength: 300 }),
      fragments: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({
      kind: fc.constantFrom("ping" as const, "pong" as const),
      data: fc.uint8Array({ maxLength: 125 }),
    }),
  );
const command = commandOf(true);

/** Splits `data` into `n` pieces (some possibly empty), cutting UTF-8 anywhere. */
function pieces(data: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      data.subarray(Math.floor((data.length * i) / n), Math.floor((data.length * (i + 1)) / n)),
    );
  }
  return out;
}

/** Sends the commands, returns the frames the peer should see. */
function play(p: Protocol, commands: Command[]): Frame[] {
  const expected: Frame[] = [];
  for (const c of commands) {
    if (c.kind === "ping" || c.kind === "pong") {
      const data = Buffer.from(c.data);
      if (c.kind === "ping") p.sendPing(data);
      else p.sendPong(data);
      expected.push(new Frame(c.kind === "ping" ? OP_PING : OP_PONG, data));
      continue;
    }
    const data = c.kind === "text" ? Buffer.from(c.data, "utf8") : Buffer.from(c.data);
    const parts = pieces(data, c.fragments);
    parts.forEach((part, i) => {
      const fin = i === parts.length - 1;
      const opcode = i > 0 ? OP_CONT : c.kind === "text" ? OP_TEXT : OP_BINARY;
      if (i > 0) p.sendContinuation(part, fin);
      else if (c.kind === "text") p.sendText(part, fin);
      else p.sendBinary(part, fin);
      expected.push(new Frame(opcode, part, fin));
    });
  }
  return expected;
}

const summary = (frames: Frame[]) =>
  frames.map((f) => [f.opcode, f.fin, Buffer.from(f.data).toString("hex")]);

describe("Protocol properties", () => {
  it("valid traffic round-trips in any chunking, both ways", () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 8 }),
        fc.nat(),
        fc.integer({ min: 16, max: 3000 }),
        (commands, seed, max) => {
          for (const side of ["client", "server"] as Side[]) {
            const sender = new Protocol(side);
            const receiver = new Protocol(side === "client" ? "server" : "client", {
              maxSize: null,
            });
            const expected = play(sender, commands);
            sender.sendClose(1000, "done");
            const { bytes, eof } = splitOutput(sender.dataToSend());
            assert.equal(eof, false);
            for (const chunk of randomChunks(bytes, seed, max)) receiver.receiveData(chunk);
            const events = receiver.eventsReceived() as Frame[];
            assert.deepEqual(summary(events.slice(0, -1)), summary(expected));
            assert.equal(events.at(-1)?.opcode, OP_CLOSE);
            assert.equal(receiver.parserExc, null);
            // The receiver answered every ping, then echoed the close.
            const answers = decodeAll(splitOutput(receiver.dataToSend()).bytes);
            const pings = expected.filter((f) => f.opcode === OP_PING).length;
            assert.equal(answers.filter((f) => f.opcode === OP_PONG).length, pings);
            assert.equal(answers.at(-1)?.opcode, OP_CLOSE);
          }
        },
      ),
      { numRuns: 120 },
    );
  });

  // Streams to attack the parser with: random bytes, and valid streams with
  // bytes flipped, inserted or removed.
  const validStream = (side: Side) =>
    fc.array(commandOf(false), { maxLength: 5 }).map((commands) => {
      const peer = new Protocol(side === "server" ? "client" : "server");
      play(peer, commands);
      return Buffer.concat(peer.dataToSend());
    });
  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom("flip", "insert", "delete", "set"),
    byte: fc.integer({ min: 0, max: 255 }),
  });
  const hostile = (side: Side) =>
    fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
      fc
        .tuple(validStream(side), fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([stream, mutations]) => {
          const bytes = [...stream];
          for (const m of mutations) {
            if (bytes.length === 0) break;
            const at = m.at % bytes.length;
            if (m.kind === "flip") bytes[at] ^= 1 << (m.byte & 7);
            else if (m.kind === "insert") bytes.splice(at, 0, m.byte);
            else if (m.kind === "delete") bytes.splice(at, 1);
            else bytes[at] = m.byte;
          }
          return Buffer.from(bytes);
        }),
    );

  for (const side of ["server", "client"] as Side[]) {
    it(`never throws on hostile input, fails only with documented errors and codes, and keeps messages within maxSize (${side})`, () => {
      const maxSize = 1000;
      fc.assert(
        fc.property(
          hostile(side),
          fc.nat(),
          fc.integer({ min: 1, max: 200 }),
          (bytes, seed, max) => {
            const p = new Protocol(side, { maxSize });
            let messageSize = 0;
            const output: Buffer[] = [];
            let stateWhenFailed: number | null = null;
            for (const chunk of randomChunks(bytes, seed, max)) {
              const before = p.state;
              p.receiveData(chunk); // must not throw
              if (p.parserExc !== null && stateWhenFailed === null) stateWhenFailed = before;
              output.push(...p.dataToSend());
              for (const event of p.eventsReceived()) {
                assert.ok(event instanceof Frame);
                if (event.opcode === OP_TEXT || event.opcode === OP_BINARY)
                  messageSize = event.data.length;
                else if (event.opcode === OP_CONT) messageSize += event.data.length;
                assert.ok(messageSize <= maxSize, `message of ${messageSize} bytes`);
              }
            }
            const exc = p.parserExc;
            const written = decodeAll(splitOutput(output).bytes);
            const closes = written.filter((f) => f.opcode === OP_CLOSE);
            assert.ok(closes.length <= 1, "at most one close frame");
            if (exc !== null) {
              assert.ok(
                exc instanceof ProtocolError || exc instanceof PayloadTooBig,
                `unexpected ${exc}`,
              );
              assert.equal(p.state, CLOSING);
              if (stateWhenFailed === OPEN) {
                const code = exc instanceof ProtocolError ? exc.closeCode : 1009;
                assert.equal(closes.length, 1);
                assert.equal(closes[0].data.readUInt16BE(0), code);
              }
            }
            p.receiveEof();
            assert.ok(p.closeCode !== null);
          },
        ),
        { numRuns: 800 },
      );
    });
  }
});
