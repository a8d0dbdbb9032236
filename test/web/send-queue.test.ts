// src/web/send-queue.ts: order of messages behind Blobs, and the byte count
// behind bufferedAmount, against a target that records what it's given.

import { strict as assert } from "node:assert";
import { test } from "node:test";
import { type Outgoing, SendQueue, type SendTarget } from "../../src/web/send-queue.ts";

function recorder(options: { open?: boolean } = {}) {
  const sent: (string | number[])[] = [];
  const failures: unknown[] = [];
  const pending: (() => void)[] = [];
  const target: SendTarget = {
    send(data: Outgoing) {
      sent.push(typeof data === "string" ? data : [...data]);
      // Written when the test says so.
      return new Promise<void>((resolve) => pending.push(resolve));
    },
    transportOpen: () => options.open ?? true,
    fail: (error) => failures.push(error),
  };
  return { target, sent, failures, pending };
}

const nextTask = () => new Promise((resolve) => setImmediate(resolve));

test("messages go out in order, behind a Blob still being read", async () => {
  const { target, sent } = recorder();
  const queue = new SendQueue(target);
  queue.push("a", 1);
  queue.push(new Blob([new Uint8Array([1, 2])]), 2);
  queue.push("b", 1);
  assert.deepEqual(sent, ["a"]);
  let closed = false;
  queue.after(() => {
    closed = true;
  });
  assert.equal(closed, false);
  for (let i = 0; i < 10 && !closed; i++) await nextTask();
  assert.deepEqual(sent, ["a", [1, 2], "b"]);
  assert.equal(closed, true);
});

test("buffered grows at once and shrinks in a later task, once the bytes are written", async () => {
  const { target, pending } = recorder();
  const queue = new SendQueue(target);
  queue.push("abc", 3);
  queue.push(Buffer.from([1]), 1);
  assert.equal(queue.buffered, 4);
  pending[0]();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(queue.buffered, 4);
  await nextTask();
  assert.equal(queue.buffered, 1);
  pending[1]();
  // The write's promise settles first (a microtask), then the update's task runs.
  await nextTask();
  await nextTask();
  assert.equal(queue.buffered, 0);
});

test("bytes of a transport that closed before writing them stay counted", async () => {
  const { target, pending } = recorder({ open: false });
  const queue = new SendQueue(target);
  queue.push("abc", 3);
  pending[0]();
  await nextTask();
  await nextTask();
  assert.equal(queue.buffered, 3);
  queue.count(2);
  assert.equal(queue.buffered, 5);
});

test("a Blob that can't be read fails the connection; later messages still keep their order", async () => {
  const { target, sent, failures } = recorder();
  const queue = new SendQueue(target);
  const broken = new Blob(["x"]);
  const error = new Error("unreadable");
  broken.arrayBuffer = () => Promise.reject(error);
  queue.push(broken, 1);
  queue.push("after", 5);
  for (let i = 0; i < 10 && sent.length === 0; i++) await nextTask();
  assert.deepEqual(failures, [error]);
  assert.deepEqual(sent, ["after"]);
});

test("with nothing waiting, after() runs its step at once", () => {
  const { target } = recorder();
  const queue = new SendQueue(target);
  let ran = false;
  queue.after(() => {
    ran = true;
  });
  assert.equal(ran, true);
});
