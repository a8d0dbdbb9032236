/**
 * The library's version. A constant rather than a read of package.json at
 * run time (the sans-I/O core does no I/O, and bundlers inline constants);
 * test/version.test.ts fails if it drifts from package.json.
 *
 * @module
 */

/** The version of websockets-ts, as in package.json. */
export const VERSION = "0.1.0";
