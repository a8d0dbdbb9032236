/**
 * A throwaway redis-server (Debian's): on a Unix socket in a folder of
 * yours, and on 127.0.0.1:`port` only when a port is given; no
 * persistence. Used by test-peers/redis.test.ts and bench/topics.ts.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { REDIS_SERVER } from "./requirements.ts";

export class RedisServer {
  /** The Unix socket it listens on. */
  readonly socket: string;
  /** Its TCP port on 127.0.0.1, or 0 for none. */
  readonly port: number;
  readonly #dir: string;
  readonly #extra: readonly string[];
  #child: ChildProcess | null = null;

  /** `extra`: more arguments, e.g. `["--cluster-enabled", "yes"]`. */
  constructor(dir: string, name: string, port = 0, extra: readonly string[] = []) {
    this.#dir = dir;
    this.socket = join(dir, `${name}.sock`);
    this.port = port;
    this.#extra = extra;
  }

  /** Starts it and resolves once it answers PING (bounded: 10 s). */
  async start(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      [
        ...["--port", String(this.port), "--bind", "127.0.0.1"],
        ...["--unixsocket", this.socket, "--unixsocketperm", "700"],
        ...["--save", "", "--appendonly", "no", "--dir", this.#dir],
        ...this.#extra,
      ],
      { stdio: "ignore" },
    );
    this.#child = child;
    const deadline = Date.now() + 10_000;
    while (!(await this.#ping())) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error("redis-server didn't answer PING within 10 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  #ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.socket);
      let reply = "";
      socket.setEncoding("utf8");
      socket.on("connect", () => socket.write("PING\r\n"));
      socket.on("data", (text: string) => {
        reply += text;
        if (reply.includes("\r\n")) {
          socket.destroy();
          resolve(reply.startsWith("+PONG"));
        }
      });
      socket.on("error", () => resolve(false));
    });
  }

  /** Kills it (SIGKILL: as if the machine went away) and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
}
