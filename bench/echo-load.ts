/**
 * The load generator of bench/echo.ts, run in its own process (forked with an
 * IPC channel) so it never shares an event loop with the server it measures.
 *
 * It speaks WebSocket over raw `node:net` sockets: it performs the upgrade
 * itself (offering no extension), sends frames masked once up front, keeps
 * `inflight` messages outstanding per connection (one new message per echo
 * received, written in one `write` per read chunk) and counts the echoes
 * without copying payloads.
 *
 * Jobs arrive as IPC messages (see `Job`); each gets exactly one reply.
 *
 * @module
 */

import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import {
  FrameCounter,
  maskedClose,
  maskedFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  upgradeRequest,
} from "./echo-frames.ts";
import type { LoadJob, LoadResult } from "./echo-loadgen.ts";

/**
 * A job: the measured ones of the C generator (bench/echo-loadgen.ts, same
 * shapes, so either generator runs a row; this one sends binary only), plus
 * holding and releasing idle connections.
 */
export type Job =
  | LoadJob
  | { type: "hold"; port: number; count: number; concurrency: number }
  | { type: "release" }
  | { type: "exit" };

export type JobResult =
  | LoadResult
  | { type: "hold"; opened: number; failures: number }
  | { type: "release"; closed: number }
  | { type: "error"; message: string };

const HOST = "127.0.0.1";
const HEADER_END = Buffer.from("\r\n\r\n");
const STATUS_101 = "HTTP/1.1 101";
const OPEN_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;
// Largest block of pre-built frames written at once.
const BLOCK_BYTES = 256 * 1024;

interface Peer {
  socket: Socket;
  counter: FrameCounter;
  closeSent: boolean;
  closed: Promise<void>;
}

/** Opens a TCP connection and performs the upgrade; rejects unless the answer is 101. */
function open(port: number): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: HOST, noDelay: true });
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error("opening handshake timed out")), OPEN_TIMEOUT_MS);
    function fail(err: Error): void {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.destroy();
      reject(err);
    }
    function onData(chunk: Buffer): void {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf(HEADER_END);
      if (end === -1) {
        if (head.length > 16_384) fail(new Error("response head over 16 KiB"));
        return;
      }
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", fail);
      socket.off("close", onClose);
      const status = head.subarray(0, STATUS_101.length).toString("latin1");
      if (status !== STATUS_101) {
        socket.destroy();
        reject(new Error(`expected 101, got ${JSON.stringify(head.subarray(0, 40).toString())}`));
        return;
      }
      // Paused until attach() listens, so no frame is emitted to nobody.
      socket.pause();
      resolve({ socket, rest: head.subarray(end + 4) });
    }
    function onClose(): void {
      fail(new Error("connection closed during the opening handshake"));
    }
    socket.once("connect", () => socket.write(upgradeRequest(HOST, port)));
    socket.on("data", onData);
    socket.on("error", fail);
    socket.on("close", onClose);
  });
}

/**
 * Wraps an open socket: answers pings, answers a server's close, and exposes
 * a promise that settles when the TCP connection is gone.
 */
function attach(socket: Socket, onMessages: (count: number) => void): Peer {
  const counter = new FrameCounter();
  const peer: Peer = {
    socket,
    counter,
    closeSent: false,
    closed: new Promise((resolve) => socket.once("close", () => resolve())),
  };
  counter.onControl = (opcode, payload) => {
    if (opcode === OP_PING) socket.write(maskedFrame(OP_PONG, payload));
    else if (opcode === OP_CLOSE) {
      // RFC 6455 §5.5.1: answer a close we did not start, then let the server
      // close TCP first (§7.1.1); ending our side too keeps it bounded.
      if (!peer.closeSent) {
        peer.closeSent = true;
        socket.write(maskedFrame(OP_CLOSE, payload.subarray(0, 2)));
      }
      socket.end();
    }
  };
  socket.on("data", (chunk: Buffer) => {
    const done = counter.feed(chunk);
    if (done > 0) onMessages(done);
  });
  socket.on("error", () => socket.destroy());
  socket.resume();
  return peer;
}

/** Starts the closing handshake and waits for TCP close, destroying after a timeout. */
async function closePeer(peer: Peer): Promise<void> {
  if (!peer.socket.destroyed && !peer.closeSent) {
    peer.closeSent = true;
    peer.socket.write(maskedClose(1000));
  }
  const timer = setTimeout(() => peer.socket.destroy(), CLOSE_TIMEOUT_MS);
  await peer.closed;
  clearTimeout(timer);
}

function cpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

async function throughput(job: Extract<Job, { type: "throughput" }>): Promise<JobResult> {
  const frame = maskedFrame(OP_BINARY, Buffer.alloc(job.size, 0x61));
  const perBlock = Math.max(1, Math.min(job.inflight, Math.floor(BLOCK_BYTES / frame.length)));
  const block = Buffer.concat(Array.from({ length: perBlock }, () => frame));
  let received = 0;
  let running = true;

  function sendFrames(socket: Socket, count: number): void {
    if (count <= perBlock) {
      socket.write(block.subarray(0, count * frame.length));
      return;
    }
    socket.cork();
    while (count > 0) {
      const n = Math.min(count, perBlock);
      socket.write(block.subarray(0, n * frame.length));
      count -= n;
    }
    socket.uncork();
  }

  const opened = await Promise.all(Array.from({ length: job.conns }, () => open(job.port)));
  const peers = opened.map(({ socket, rest }) => {
    const peer = attach(socket, (count) => {
      received += count;
      if (running) sendFrames(socket, count);
    });
    if (rest.length > 0) peer.counter.feed(rest);
    return peer;
  });
  for (const peer of peers) sendFrames(peer.socket, job.inflight);

  await sleep(job.warmupMs);
  const count0 = received;
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await sleep(job.durationMs);
  const count1 = received;
  const cpu1 = cpuSeconds();
  const t1 = performance.now();
  running = false;
  await Promise.all(peers.map(closePeer));
  const seconds = (t1 - t0) / 1000;
  return {
    type: "throughput",
    messages: count1 - count0,
    total: received,
    seconds,
    cpu: (cpu1 - cpu0) / seconds,
    // This generator doesn't time round trips.
    p50_us: null,
    p99_us: null,
  };
}

async function handshakes(job: Extract<Job, { type: "handshakes" }>): Promise<JobResult> {
  let done = 0;
  let failures = 0;
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const deadline = t0 + job.durationMs;
  async function worker(): Promise<void> {
    // Bounded by the deadline, and by failures so a broken server cannot spin.
    while (performance.now() < deadline && failures < 1000) {
      try {
        const { socket } = await open(job.port);
        await closePeer(attach(socket, () => {}));
        done++;
      } catch {
        failures++;
      }
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return {
    type: "handshakes",
    handshakes: done,
    failures,
    seconds,
    cpu: (cpuSeconds() - cpu0) / seconds,
  };
}

let held: Peer[] = [];

async function hold(job: Extract<Job, { type: "hold" }>): Promise<JobResult> {
  let next = 0;
  let failures = 0;
  async function worker(): Promise<void> {
    while (next < job.count && failures < 100) {
      next++;
      try {
        const { socket } = await open(job.port);
        held.push(attach(socket, () => {}));
      } catch {
        failures++;
      }
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return { type: "hold", opened: held.length, failures };
}

async function release(): Promise<JobResult> {
  const peers = held;
  held = [];
  await Promise.all(peers.map(closePeer));
  return { type: "release", closed: peers.length };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function run(job: Job): Promise<JobResult | null> {
  switch (job.type) {
    case "throughput":
      return throughput(job);
    case "handshakes":
      return handshakes(job);
    case "hold":
      return hold(job);
    case "release":
      return release();
    case "exit":
      return null;
  }
}

process.on("message", (job: Job) => {
  run(job).then(
    (result) => {
      if (result === null) process.disconnect();
      else process.send?.(result);
    },
    (err: unknown) => {
      process.send?.({ type: "error", message: err instanceof Error ? err.message : String(err) });
    },
  );
});
