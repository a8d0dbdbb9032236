/**
 * Child-process helpers shared by the benchmarks that run a server in its
 * own process (echo, logging).
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

/** Stops a server process: SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
export async function stopServer(server: { child: ChildProcess }): Promise<void> {
  // Gone already (exited, or killed by a signal: then exitCode stays null
  // and "exit" has fired): waiting for it would never end.
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()));
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of proc(5), utime and stime, in clock ticks (100 Hz on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
