import { strict as assert } from "node:assert";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, mock, test } from "node:test";
import {
  type CloseMessage,
  closeChannel,
  type HandshakeContext,
  handshakeChannel,
  type OpenMessage,
  openChannel,
  type PingMessage,
  type PongMessage,
  pingChannel,
  pongChannel,
  publishClose,
  publishOpen,
  publishPing,
  publishPong,
  publishSocketError,
  type SocketErrorMessage,
  socketErrorChannel,
  traceHandshake,
} from "../../src/node/diagnostics.ts";

const connection = { id: "3f0c6a1e-0000-4000-8000-000000000000" };

/** Subscribes to `name` for the duration of `body`, returning what was received. */
async function received(name: string, body: () => void | Promise<void>): Promise<unknown[]> {
  const messages: unknown[] = [];
  const onMessage = (message: unknown, channelName: string | symbol) => {
    assert.equal(channelName, name);
    messages.push(message);
  };
  subscribe(name, onMessage);
  try {
    await body();
  } finally {
    unsubscribe(name, onMessage);
  }
  return messages;
}

describe("channels", () => {
  test("are named like undici's, under websockets:", () => {
    assert.equal(openChannel.name, "websockets:open");
    assert.equal(closeChannel.name, "websockets:close");
    assert.equal(socketErrorChannel.name, "websockets:socket_error");
    assert.equal(pingChannel.name, "websockets:ping");
    assert.equal(pongChannel.name, "websockets:pong");
    assert.equal(handshakeChannel.start.name, "tracing:websockets:handshake:start");
    assert.equal(handshakeChannel.error.name, "tracing:websockets:handshake:error");
  });
});

describe("publishing", () => {
  test("a subscriber sees open, close, socket_error, ping and pong with their payloads", async () => {
    const error = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const ping = Buffer.from("ping");
    const pong = Buffer.from([1, 2, 3, 4]);
    assert.deepEqual(await received("websockets:open", () => publishOpen(connection)), [
      { connection } satisfies OpenMessage,
    ]);
    assert.deepEqual(
      await received("websockets:close", () => publishClose(connection, 1001, "going away")),
      [{ connection, code: 1001, reason: "going away" } satisfies CloseMessage],
    );
    assert.deepEqual(
      await received("websockets:socket_error", () => publishSocketError(connection, error)),
      [{ connection, error } satisfies SocketErrorMessage],
    );
    const pings = await received("websockets:ping", () => publishPing(connection, ping));
    assert.deepEqual(pings, [{ connection, payload: ping } satisfies PingMessage]);
    const pongs = await received("websockets:pong", () => publishPong(connection, pong));
    assert.deepEqual(pongs, [{ connection, payload: pong } satisfies PongMessage]);
    // Passed by reference: subscribers see the connection object and the payload itself.
    assert.equal((pings[0] as PingMessage).connection, connection);
    assert.equal((pongs[0] as PongMessage).payload, pong);
  });

  test("publishes nothing, and builds no message, without subscribers", (t) => {
    const channels = [openChannel, closeChannel, socketErrorChannel, pingChannel, pongChannel];
    const spies = channels.map((c) => t.mock.method(c, "publish"));
    for (const c of channels) assert.equal(c.hasSubscribers, false);
    publishOpen(connection);
    publishClose(connection, 1000, "");
    publishSocketError(connection, new Error("x"));
    publishPing(connection, Buffer.alloc(0));
    publishPong(connection, Buffer.alloc(0));
    for (const spy of spies) assert.equal(spy.mock.callCount(), 0);
  });

  test("stops publishing once the last subscriber leaves", async (t) => {
    const spy = t.mock.method(openChannel, "publish");
    await received("websockets:open", () => publishOpen(connection));
    publishOpen(connection);
    assert.equal(spy.mock.callCount(), 1);
  });
});

describe("traceHandshake", () => {
  test("runs the handshake untraced, without a context, when nobody listens", async (t) => {
    const spy = t.mock.method(handshakeChannel, "tracePromise");
    const result = await traceHandshake("client", "ws://127.0.0.1:8765/", async () => connection);
    assert.equal(result, connection);
    assert.equal(spy.mock.callCount(), 0);
  });

  test("traces a successful handshake: start, end, asyncStart, asyncEnd with the result", async () => {
    const events: [string, HandshakeContext][] = [];
    const handlers = {
      start: (ctx: unknown) => events.push(["start", { ...(ctx as HandshakeContext) }]),
      end: (ctx: unknown) => events.push(["end", { ...(ctx as HandshakeContext) }]),
      asyncStart: (ctx: unknown) => events.push(["asyncStart", { ...(ctx as HandshakeContext) }]),
      asyncEnd: (ctx: unknown) => events.push(["asyncEnd", { ...(ctx as HandshakeContext) }]),
      error: (ctx: unknown) => events.push(["error", { ...(ctx as HandshakeContext) }]),
    };
    handshakeChannel.subscribe(handlers);
    try {
      const result = await traceHandshake("client", "ws://127.0.0.1:8765/", async () => connection);
      assert.equal(result, connection);
    } finally {
      handshakeChannel.unsubscribe(handlers);
    }
    assert.deepEqual(
      events.map(([name]) => name),
      ["start", "end", "asyncStart", "asyncEnd"],
    );
    assert.deepEqual(events[0][1], { side: "client", uri: "ws://127.0.0.1:8765/" });
    assert.equal(events[3][1].result, connection);
  });

  test("traces a failed handshake with the error, and still rejects", async () => {
    const failure = new Error("invalid upgrade");
    const contexts: HandshakeContext[] = [];
    const onError = (ctx: unknown) => contexts.push(ctx as HandshakeContext);
    handshakeChannel.error.subscribe(onError);
    try {
      await assert.rejects(
        traceHandshake("server", "127.0.0.1:5000", async () => {
          throw failure;
        }),
        failure,
      );
    } finally {
      handshakeChannel.error.unsubscribe(onError);
    }
    assert.equal(contexts.length, 1);
    assert.equal(contexts[0].side, "server");
    assert.equal(contexts[0].remoteAddress, "127.0.0.1:5000");
    assert.equal(contexts[0].error, failure);
  });

  test("is traced when only one subchannel has a subscriber", async () => {
    const spy = mock.fn();
    handshakeChannel.asyncEnd.subscribe(spy);
    try {
      await traceHandshake("server", "[::1]:5000", async () => connection);
    } finally {
      handshakeChannel.asyncEnd.unsubscribe(spy);
    }
    assert.equal(spy.mock.callCount(), 1);
  });
});
