import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConcurrencyError, ConnectionClosedError, ConnectionClosedOK } from "../../src/errors.ts";
import { Close, Frame, OP_BINARY, OP_CONT, OP_TEXT } from "../../src/frames.ts";
import { type Data, kInvalidUtf8, kPause, kResume, MessageQueue } from "../../src/node/messages.ts";

function text(data: string, fin = true): Frame {
  return new Frame(OP_TEXT, Buffer.from(data), fin);
}

function binary(data: number[], fin = true): Frame {
  return new Frame(OP_BINARY, Buffer.from(data), fin);
}

function cont(data: string, fin = true): Frame {
  return new Frame(OP_CONT, Buffer.from(data), fin);
}

function makeQueue(high: number | null = null, low: number | null = null) {
  const calls: string[] = [];
  const invalid: string[] = [];
  const queue = new MessageQueue(high, low, {
    [kPause]: () => calls.push("pause"),
    [kResume]: () => calls.push("resume"),
    [kInvalidUtf8]: (reason) => invalid.push(reason),
  });
  return { queue, calls, invalid };
}

const OK = new ConnectionClosedOK(new Close(1000, ""), new Close(1000, ""), true);
const ERROR = new ConnectionClosedError(null, null, null);

/** Whether `promise` is still pending after pending callbacks ran. */
async function isPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}

describe("MessageQueue.get", () => {
  it("keeps the frames queued in one queue out of every other queue", async () => {
    // Queues that never queued a frame share one empty array until their first put.
    const { queue: first } = makeQueue();
    const { queue: second } = makeQueue();
    first.put(text("one"));
    first.put(text("two"));
    assert.equal(first.length, 2);
    assert.equal(second.length, 0);
    assert.equal(await first.get(), "one");
    assert.equal(await first.get(), "two");
    second.put(text("three"));
    assert.equal(first.length, 0);
    assert.equal(second.length, 1);
    assert.equal(await second.get(), "three");
    const { queue: third } = makeQueue();
    assert.equal(third.length, 0);
    assert.equal(await isPending(third.get()), true);
  });

  it("returns a queued text message as a string", async () => {
    const { queue } = makeQueue();
    queue.put(text("café"));
    assert.equal(await queue.get(), "café");
  });

  it("returns a queued binary message as a Buffer", async () => {
    const { queue } = makeQueue();
    queue.put(binary([1, 2, 3]));
    assert.deepEqual(await queue.get(), Buffer.from([1, 2, 3]));
  });

  it("waits for a message that isn't there yet", async () => {
    const { queue } = makeQueue();
    const message = queue.get();
    assert.equal(await isPending(message), true);
    queue.put(text("later"));
    assert.equal(await message, "later");
  });

  it("reassembles a fragmented message arriving frame by frame", async () => {
    const { queue } = makeQueue();
    const message = queue.get();
    queue.put(text("ca", false));
    queue.put(cont("f", false));
    assert.equal(await isPending(message), true);
    queue.put(cont("é"));
    assert.equal(await message, "café");
  });

  it("reassembles a fragmented message already queued", async () => {
    const { queue } = makeQueue();
    queue.put(binary([1], false));
    queue.put(new Frame(OP_CONT, Buffer.from([2]), false));
    queue.put(new Frame(OP_CONT, Buffer.alloc(0), true));
    assert.deepEqual(await queue.get(), Buffer.from([1, 2]));
  });

  it("decodes text as a Buffer with decode: false", async () => {
    const { queue } = makeQueue();
    queue.put(text("hi"));
    queue.put(text("h", false));
    queue.put(cont("o"));
    assert.deepEqual(await queue.get(false), Buffer.from("hi"));
    assert.deepEqual(await queue.get(false), Buffer.from("ho"));
  });

  it("decodes binary as a string with decode: true", async () => {
    const { queue } = makeQueue();
    queue.put(binary([0x68, 0x69]));
    assert.equal(await queue.get(true), "hi");
  });

  it("asks to fail the connection when binary read as text isn't UTF-8", async () => {
    const { queue, invalid } = makeQueue();
    queue.put(binary([0xff]));
    const message = queue.get(true);
    assert.equal(await isPending(message), true);
    assert.equal(invalid.length, 1);
    queue.close(() => ERROR, false);
    await assert.rejects(message, ConnectionClosedError);
  });

  it("rejects a second concurrent get with ConcurrencyError", async () => {
    const { queue } = makeQueue();
    const first = queue.get();
    await assert.rejects(queue.get(), ConcurrencyError);
    queue.put(text("one"));
    assert.equal(await first, "one");
  });

  it("keeps a message arriving after the signal aborted for the next get", async () => {
    const { queue } = makeQueue();
    const controller = new AbortController();
    const message = queue.get(undefined, controller.signal);
    controller.abort(new Error("gave up"));
    await assert.rejects(message, /gave up/);
    queue.put(text("kept"));
    assert.equal(await queue.get(), "kept");
  });

  it("puts back the fragments consumed before the signal aborted", async () => {
    const { queue } = makeQueue();
    const controller = new AbortController();
    const message = queue.get(undefined, controller.signal);
    queue.put(text("a", false));
    queue.put(cont("b", false));
    controller.abort();
    await assert.rejects(message, { name: "AbortError" });
    queue.put(cont("c"));
    assert.equal(await queue.get(), "abc");
  });

  it("rejects at once with an already aborted signal", async () => {
    const { queue } = makeQueue();
    queue.put(text("stays"));
    await assert.rejects(queue.get(undefined, AbortSignal.abort()), { name: "AbortError" });
    assert.equal(await queue.get(), "stays");
  });
});

describe("MessageQueue.close", () => {
  it("rejects a waiting get with the close error", async () => {
    const { queue } = makeQueue();
    const message = queue.get();
    queue.close(() => OK, true);
    await assert.rejects(message, (error) => error === OK);
  });

  it("still returns messages queued before closing, then rejects", async () => {
    const { queue } = makeQueue();
    queue.put(text("last"));
    queue.close(() => ERROR, false);
    assert.equal(await queue.get(), "last");
    await assert.rejects(queue.get(), (error) => error === ERROR);
  });

  it("builds the close error once, and only when a reader needs it", async () => {
    const { queue } = makeQueue();
    let built = 0;
    queue.close(() => {
      built++;
      return ERROR;
    }, false);
    assert.equal(built, 0);
    await assert.rejects(queue.get());
    await assert.rejects(queue.get());
    assert.equal(built, 1);
  });

  it("ignores frames put after closing", async () => {
    const { queue } = makeQueue();
    queue.close(() => OK, true);
    queue.put(text("late"));
    assert.equal(queue.length, 0);
  });
});

describe("MessageQueue.next", () => {
  it("resolves iterator results, then done on a normal close", async () => {
    const { queue } = makeQueue();
    queue.put(text("a"));
    assert.deepEqual(await queue.next(), { done: false, value: "a" });
    const pending = queue.next();
    queue.put(text("b"));
    assert.deepEqual(await pending, { done: false, value: "b" });
    const last = queue.next();
    queue.close(() => OK, true);
    assert.deepEqual(await last, { done: true, value: undefined });
    assert.deepEqual(await queue.next(), { done: true, value: undefined });
  });

  it("rejects on an abnormal close", async () => {
    const { queue } = makeQueue();
    const pending = queue.next();
    queue.close(() => ERROR, false);
    await assert.rejects(pending, ConnectionClosedError);
  });

  it("leaves the queue readable after a loop breaks: the next loop gets the next message", async () => {
    const { queue } = makeQueue();
    queue.put(text("a"));
    queue.put(text("b"));
    queue.put(text("c"));
    const iterable = { [Symbol.asyncIterator]: () => queue };
    const first: Data[] = [];
    for await (const message of iterable) {
      first.push(message);
      break;
    }
    assert.deepEqual(first, ["a"]);
    assert.equal(await queue.get(), "b");
    const second: Data[] = [];
    queue.close(() => OK, true);
    for await (const message of iterable) second.push(message);
    assert.deepEqual(second, ["c"]);
  });

  it("resolves a waiting next() with the message of a fragmented arrival", async () => {
    const { queue } = makeQueue();
    const pending = queue.next();
    queue.put(text("he", false));
    queue.put(cont("l", false));
    assert.equal(await isPending(pending), true);
    queue.put(cont("lo"));
    assert.deepEqual(await pending, { done: false, value: "hello" });
  });
});

describe("MessageQueue.stream", () => {
  async function collect(iterator: AsyncIterableIterator<Data>): Promise<Data[]> {
    const out: Data[] = [];
    for await (const fragment of iterator) out.push(fragment);
    return out;
  }

  it("yields each fragment as it arrives", async () => {
    const { queue } = makeQueue();
    const iterator = queue.stream();
    const first = iterator.next();
    queue.put(text("ab", false));
    assert.deepEqual(await first, { done: false, value: "ab" });
    queue.put(cont("c"));
    assert.deepEqual(await iterator.next(), { done: false, value: "c" });
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  });

  it("decodes a character split across fragments", async () => {
    const { queue } = makeQueue();
    const euro = Buffer.from("€");
    queue.put(new Frame(OP_TEXT, euro.subarray(0, 1), false));
    queue.put(new Frame(OP_CONT, euro.subarray(1), true));
    assert.deepEqual(await collect(queue.stream()), ["", "€"]);
  });

  it("yields Buffers for binary, strings with decode: true", async () => {
    const { queue } = makeQueue();
    queue.put(binary([0x61], false));
    queue.put(new Frame(OP_CONT, Buffer.from([0x62]), true));
    queue.put(binary([0x63]));
    assert.deepEqual(await collect(queue.stream()), [Buffer.from("a"), Buffer.from("b")]);
    assert.deepEqual(await collect(queue.stream(true)), ["c"]);
  });

  it("excludes get while streaming, not before the first next()", async () => {
    const { queue } = makeQueue();
    const iterator = queue.stream();
    queue.put(text("x", false));
    const first = iterator.next();
    await assert.rejects(queue.get(), ConcurrencyError);
    await assert.rejects(queue.stream().next(), ConcurrencyError);
    assert.deepEqual(await first, { done: false, value: "x" });
    queue.put(cont("y"));
    assert.deepEqual(await iterator.next(), { done: false, value: "y" });
    queue.put(text("z"));
    assert.equal(await queue.get(), "z");
  });

  it("discards the rest of a message when the loop exits early", async () => {
    const { queue } = makeQueue();
    queue.put(text("a", false));
    for await (const fragment of queue.stream()) {
      assert.equal(fragment, "a");
      break;
    }
    queue.put(cont("b", false));
    queue.put(cont("c"));
    queue.put(text("next"));
    assert.equal(await queue.get(), "next");
  });

  it("discards queued fragments of an abandoned message", async () => {
    const { queue } = makeQueue();
    queue.put(text("a", false));
    queue.put(cont("b"));
    queue.put(text("next"));
    const iterator = queue.stream();
    await iterator.next();
    await iterator.return!();
    assert.equal(await queue.get(), "next");
  });

  it("rejects when the connection closes mid-message", async () => {
    const { queue } = makeQueue();
    queue.put(text("a", false));
    const iterator = queue.stream();
    await iterator.next();
    const second = iterator.next();
    queue.close(() => ERROR, false);
    await assert.rejects(second, ConnectionClosedError);
  });

  it("fails the connection for binary read as text that isn't UTF-8", async () => {
    const { queue, invalid } = makeQueue();
    queue.put(binary([0xc3], false));
    queue.put(new Frame(OP_CONT, Buffer.from([0x28]), true));
    const iterator = queue.stream(true);
    assert.deepEqual(await iterator.next(), { done: false, value: "" });
    const second = iterator.next();
    assert.equal(await isPending(second), true);
    queue.close(() => ERROR, false);
    await assert.rejects(second, ConnectionClosedError);
    assert.equal(invalid.length, 1);
  });
});

describe("MessageQueue flow control", () => {
  it("pauses above the high-water mark and resumes at the low-water mark", async () => {
    const { queue, calls } = makeQueue(4, 1);
    for (let i = 0; i < 5; i++) queue.put(text(String(i)));
    assert.deepEqual(calls, ["pause"]);
    assert.equal(queue.paused, true);
    for (let i = 0; i < 3; i++) await queue.get();
    assert.deepEqual(calls, ["pause"]);
    await queue.get();
    assert.deepEqual(calls, ["pause", "resume"]);
    assert.equal(queue.paused, false);
  });

  it("doesn't count frames handed to a waiting reader", async () => {
    const { queue, calls } = makeQueue(0, 0);
    const message = queue.get();
    queue.put(text("direct"));
    assert.equal(await message, "direct");
    assert.deepEqual(calls, []);
  });

  it("never pauses without a high-water mark", () => {
    const { queue, calls } = makeQueue(null, null);
    for (let i = 0; i < 1000; i++) queue.put(text("x"));
    assert.equal(queue.length, 1000);
    assert.deepEqual(calls, []);
  });

  it("resumes and drops excess frames while draining for a close", () => {
    const { queue, calls } = makeQueue(2, 0);
    for (let i = 0; i < 3; i++) queue.put(text("x"));
    queue.drain();
    assert.deepEqual(calls, ["pause", "resume"]);
    for (let i = 0; i < 10; i++) queue.put(text("y"));
    assert.equal(queue.length, 3);
  });

  it("keeps dequeuing correct over a long queue", async () => {
    const { queue } = makeQueue();
    for (let i = 0; i < 5000; i++) queue.put(text(String(i)));
    for (let i = 0; i < 5000; i++) assert.equal(await queue.get(), String(i));
    assert.equal(queue.length, 0);
  });
});
