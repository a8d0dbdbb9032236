/**
 * Category 5, fragmentation (RFC 6455 §5.4): control frames may not be
 * fragmented but may come between fragments; continuations need a message to
 * continue; a new message may not start inside another.
 *
 * @module
 */

import type { FrameSpec, WriteMode } from "../fuzzer.ts";
import {
  type ConformanceCase,
  type Expectation,
  echoes,
  FAILED_BEFORE_ECHO,
  peerFails,
  pong,
  text,
} from "./case.ts";

const MODES: WriteMode[] = ["one-write", "frame-wise", "octet-wise"];

function modeName(mode: WriteMode): string {
  return typeof mode === "string" ? mode : `chops of ${mode.chop}`;
}

/** Three cases (one write, frame-wise, octet-wise) from one frame sequence. */
function threeWays(
  firstId: number,
  description: string,
  frames: FrameSpec[],
  expect: () => Expectation,
): ConformanceCase[] {
  return MODES.map((mode, i) => ({
    id: `5.${firstId + i}`,
    description: `${description} (${modeName(mode)})`,
    async run(s) {
      await s.sendFrames(frames, mode);
      return expect();
    },
  }));
}

export const fragmentationCases: ConformanceCase[] = [
  {
    id: "5.1",
    description: "Send a ping in 2 fragments",
    async run(s) {
      await s.sendFrames([
        { opcode: 9, payload: "fragment1", fin: false },
        { opcode: 0, payload: "fragment2", fin: true },
      ]);
      return { ok: [], close: peerFails(1002) };
    },
  },
  {
    id: "5.2",
    description: "Send a pong in 2 fragments",
    async run(s) {
      await s.sendFrames([
        { opcode: 10, payload: "fragment1", fin: false },
        { opcode: 0, payload: "fragment2", fin: true },
      ]);
      return { ok: [], close: peerFails(1002) };
    },
  },
  ...threeWays(
    3,
    "Send a text message in 2 fragments",
    [
      { opcode: 1, payload: "fragment1", fin: false },
      { opcode: 0, payload: "fragment2", fin: true },
    ],
    () => echoes(text("fragment1fragment2")),
  ),
  ...threeWays(
    6,
    "Send a text message in 2 fragments with a ping between them",
    [
      { opcode: 1, payload: "fragment1", fin: false },
      { opcode: 9, payload: "pongme!" },
      { opcode: 0, payload: "fragment2", fin: true },
    ],
    () => echoes(pong("pongme!"), text("fragment1fragment2")),
  ),
  ...threeWays(
    9,
    "Send a continuation frame with FIN set and nothing to continue, then a text message",
    [
      { opcode: 0, payload: "non-continuation payload", fin: true },
      { opcode: 1, payload: "Hello, world!" },
    ],
    () => ({ ok: [], close: peerFails(1002) }),
  ),
  ...threeWays(
    12,
    "Send a continuation frame without FIN and nothing to continue, then a text message",
    [
      { opcode: 0, payload: "non-continuation payload", fin: false },
      { opcode: 1, payload: "Hello, world!" },
    ],
    () => ({ ok: [], close: peerFails(1002) }),
  ),
  {
    id: "5.15",
    description:
      "Send a text message in 2 fragments, then a continuation frame without FIN and nothing to continue, then a text message",
    async run(s) {
      await s.sendFrames([
        { opcode: 1, payload: "fragment1", fin: false },
        { opcode: 0, payload: "fragment2", fin: true },
        { opcode: 0, payload: "fragment3", fin: false },
        { opcode: 1, payload: "fragment4", fin: true },
      ]);
      return {
        ok: [text("fragment1fragment2")],
        nonStrict: [],
        nonStrictReason: FAILED_BEFORE_ECHO,
        close: peerFails(1002),
      };
    },
  },
  {
    id: "5.16",
    description:
      "Send twice: a continuation without FIN (nothing to continue), a text fragment, a final continuation",
    async run(s) {
      const round: FrameSpec[] = [
        { opcode: 0, payload: "fragment1", fin: false },
        { opcode: 1, payload: "fragment2", fin: false },
        { opcode: 0, payload: "fragment3", fin: true },
      ];
      await s.sendFrames([...round, ...round]);
      return { ok: [], close: peerFails(1002) };
    },
  },
  {
    id: "5.17",
    description:
      "Send twice: a final continuation (nothing to continue), a text fragment, a final continuation",
    async run(s) {
      const round: FrameSpec[] = [
        { opcode: 0, payload: "fragment1", fin: true },
        { opcode: 1, payload: "fragment2", fin: false },
        { opcode: 0, payload: "fragment3", fin: true },
      ];
      await s.sendFrames([...round, ...round]);
      return { ok: [], close: peerFails(1002) };
    },
  },
  {
    id: "5.18",
    description: "Send a text message in 2 fragments, both with the text opcode",
    async run(s) {
      await s.sendFrames([
        { opcode: 1, payload: "fragment1", fin: false },
        { opcode: 1, payload: "fragment2", fin: true },
      ]);
      return { ok: [], close: peerFails(1002) };
    },
  },
  ...[false, true].map(
    (frameWise, i): ConformanceCase => ({
      id: `5.${19 + i}`,
      description: `Send a text message in 5 fragments with a ping after the 2nd and the 4th, pausing after the 1st ping${frameWise ? " (frame-wise)" : ""}`,
      async run(s) {
        const mode: WriteMode = frameWise ? "frame-wise" : "one-write";
        await s.sendFrames(
          [
            { opcode: 1, payload: "fragment1", fin: false },
            { opcode: 0, payload: "fragment2", fin: false },
            { opcode: 9, payload: "pongme 1!" },
          ],
          mode,
        );
        // The peer must answer a ping in the middle of a message without waiting for its end.
        await s.waitFor(() => s.received.length > 0 || !s.open, 2000);
        const early = s.received.length;
        await s.sendFrames(
          [
            { opcode: 0, payload: "fragment3", fin: false },
            { opcode: 0, payload: "fragment4", fin: false },
            { opcode: 9, payload: "pongme 2!" },
            { opcode: 0, payload: "fragment5", fin: true },
          ],
          mode,
        );
        const expected = echoes(
          pong("pongme 1!"),
          pong("pongme 2!"),
          text("fragment1fragment2fragment3fragment4fragment5"),
        );
        if (early === 0) {
          return {
            ...expected,
            ok: [],
            nonStrict: expected.ok,
            nonStrictReason: "answered the first ping only after the message ended",
          };
        }
        return expected;
      },
    }),
  ),
];
