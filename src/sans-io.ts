/**
 * The public sans-I/O API, `websockets-ts/protocol`: frames, the protocol
 * state machine and errors, to run WebSocket over any transport.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./frames.ts";
export * from "./protocol.ts";
export { Utf8Validator } from "./utf8.ts";
