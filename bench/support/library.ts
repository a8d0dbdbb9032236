/**
 * The library as the benchmarks that compare it with other servers and
 * clients load it: the build in `dist/`, what an application installs and
 * runs, not `src/` through tsx (whose transform adds work of its own, such
 * as a `__name()` call per closure created). `npm run bench` builds first;
 * a script started by hand needs `npm run build`. The types are the
 * sources', which the build is made from.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = new URL("../../dist/", import.meta.url);

async function load<T>(file: string): Promise<T> {
  const url = new URL(file, dist);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`bench: ${fileURLToPath(url)} is missing: run \`npm run build\` first`);
  }
  return (await import(url.href)) as T;
}

/** `websockets-ts`: `serve()`, `connect()` and the rest of the main entry point. */
export const loadMain = () => load<typeof import("../../src/index.ts")>("index.js");

/** `websockets-ts/ws`: the `ws`-compatible API. */
export const loadWs = () => load<typeof import("../../src/ws/index.ts")>("ws/index.js");

/** `websockets-ts/redis`: the Redis backplane. */
export const loadRedis = () => load<typeof import("../../src/redis.ts")>("redis.js");
