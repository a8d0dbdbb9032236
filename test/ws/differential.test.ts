// The differential suite: every scenario of scenarios.ts, written against
// ws 8's API, runs against `ws` itself and against `websockets-ts/ws`; what
// each side observed (events, arguments, close codes, errors) must match.
import { deepStrictEqual } from "node:assert/strict";
import { describe, test } from "node:test";
import * as ws from "ws";
import * as ours from "../../src/ws/index.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";
import { scenarios, type WsApi } from "./scenarios.ts";

const reference: WsApi = ws;
const candidate = ours as unknown as WsApi;

checkLeaksAfterAll();

describe("websockets-ts/ws behaves as ws", () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    test(name, async () => {
      const expected = await scenario(reference);
      const actual = await scenario(candidate);
      deepStrictEqual(actual, expected);
    });
  }
});
