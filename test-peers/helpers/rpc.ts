/**
 * A child-process peer speaking JSON lines (see test-peers/peers/rpc.py):
 * requests `{ id, op, args }` on stdin, answers `{ id, ok, result | error }`
 * and events `{ event, ... }` on stdout.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export type Json = Record<string, unknown>;

export class RpcChild {
  readonly events: Json[] = [];
  #child: ChildProcess;
  #nextId = 1;
  #calls = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  #eventWaiters = new Set<() => void>();
  #stderr: string[] = [];
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    // No __pycache__ next to the Python peers.
    this.#child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once("exit", (code) => {
        this.#exitCode = code;
        const error = new Error(`${this.describe()} exited with ${code}`);
        for (const call of this.#calls.values()) call.reject(error);
        this.#calls.clear();
        this.#notify();
        resolve(code);
      });
      this.#child.once("error", (error) => {
        this.#exitCode = null;
        for (const call of this.#calls.values()) call.reject(error);
        this.#calls.clear();
        this.#notify();
        resolve(null);
      });
    });
    this.#child.stdin!.on("error", () => {});
    createInterface({ input: this.#child.stdout!, crlfDelay: Number.POSITIVE_INFINITY }).on(
      "line",
      (line) => {
        let message: Json;
        try {
          message = JSON.parse(line) as Json;
        } catch {
          this.#stderr.push(`stdout: ${line}`);
          return;
        }
        if (typeof message.event === "string") {
          this.events.push(message);
          this.#notify();
          return;
        }
        const call = this.#calls.get(message.id as number);
        if (!call) return;
        this.#calls.delete(message.id as number);
        if (message.ok) call.resolve((message.result ?? {}) as Json);
        else call.reject(new Error(String(message.error)));
      },
    );
    createInterface({ input: this.#child.stderr! }).on("line", (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 50) this.#stderr.shift();
    });
  }

  describe(): string {
    return this.#child.spawnargs.join(" ");
  }

  /** The last lines the child wrote to stderr, for error messages. */
  stderrTail(): string {
    return this.#stderr.slice(-10).join("\n");
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  call(op: string, args: Json = {}, timeoutMs = 20_000): Promise<Json> {
    if (!this.running) {
      return Promise.reject(new Error(`${this.describe()} is not running: ${this.stderrTail()}`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new Error(`${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#calls.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Resolves with the first event (past or future) matching `predicate`. */
  waitEvent(predicate: (event: Json) => boolean, timeoutMs = 10_000): Promise<Json> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.find(predicate);
        if (found) {
          done();
          resolve(found);
        } else if (!this.running) {
          done();
          reject(new Error(`${this.describe()} exited: ${this.stderrTail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching event within ${timeoutMs} ms; stderr: ${this.stderrTail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#eventWaiters.delete(check);
      };
      this.#eventWaiters.add(check);
      check();
    });
  }

  #notify(): void {
    for (const waiter of [...this.#eventWaiters]) waiter();
  }

  /** Closes stdin (the child's signal to stop), then kills it if it lingers. */
  async stop(): Promise<void> {
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 3000);
    await this.#exited;
    clearTimeout(timer);
  }
}
