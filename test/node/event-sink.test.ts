/**
 * The event-sink seam (`websockets-ts/ws` builds on it), over real sockets
 * on 127.0.0.1 against a raw peer: sendFrame() puts exactly the frame asked
 * for on the wire and counts data frames as messages only on FIN; an
 * installed sink hears every data frame, ping, pong and the close as they
 * are parsed. connection.test.ts covers the frames queued before a sink.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT } from "../../src/frames.ts";
import { type EventSink, kEventSink, sendFrame, sinks } from "../../src/node/event-sink.ts";
import { type Server, type ServerConnection, serve } from "../../src/node/server.ts";
import {
  closeFrame,
  frame,
  OP_CLOSE,
  type ParsedFrame,
  parseClose,
  type RawPeer,
  rawConnect,
} from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

/** A server whose handler hands over its connection and waits for it to close. */
async function startPair(): Promise<{ server: Server; ws: ServerConnection; peer: RawPeer }> {
  let handed!: (ws: ServerConnection) => void;
  const connection = new Promise<ServerConnection>((resolve) => {
    handed = resolve;
  });
  const server = await serve(
    async (ws) => {
      handed(ws);
      await ws.closed;
    },
    { host: "127.0.0.1", port: 0, logger: false, compression: null },
  );
  const peer = await rawConnect(server.port);
  return { server, ws: await connection, peer };
}

async function stop(server: Server, peer: RawPeer): Promise<void> {
  peer.socket.destroy();
  await server.close();
}

function describeFrame(f: ParsedFrame | null): string {
  if (f === null) return "none";
  return `${f.opcode} fin=${f.fin} masked=${f.masked} ${f.payload.toString()}`;
}

describe("sendFrame", () => {
  it("sends a message fragmented by the caller, counted once on its last frame", async () => {
    const { server, ws, peer } = await startPair();
    const before = ws.stats();
    sendFrame(ws, OP_TEXT, Buffer.from("hel"), false);
    sendFrame(ws, OP_CONT, Buffer.from("lo"), false);
    assert.equal(ws.stats().messagesOut, before.messagesOut, "no message until FIN");
    sendFrame(ws, OP_CONT, Buffer.from("!"), true);
    const frames = [await peer.reader.next(), await peer.reader.next(), await peer.reader.next()];
    assert.deepEqual(frames.map(describeFrame), [
      `${OP_TEXT} fin=false masked=false hel`,
      `${OP_CONT} fin=false masked=false lo`,
      `${OP_CONT} fin=true masked=false !`,
    ]);
    const after = ws.stats();
    assert.equal(after.messagesOut - before.messagesOut, 1);
    assert.equal(after.bytesOut - before.bytesOut, 6);
    await stop(server, peer);
  });

  it("sends a binary frame, a ping and a pong as given; control frames count as no message", async () => {
    const { server, ws, peer } = await startPair();
    const before = ws.stats();
    sendFrame(ws, OP_BINARY, Buffer.from([0, 1, 2, 255]), true);
    sendFrame(ws, OP_PING, Buffer.from("are you there"), true);
    sendFrame(ws, OP_PONG, Buffer.from("unsolicited"), true);
    const binary = await peer.reader.next();
    assert.equal(binary?.opcode, OP_BINARY);
    assert.equal(binary?.fin, true);
    assert.deepEqual([...(binary?.payload ?? [])], [0, 1, 2, 255]);
    assert.equal(
      describeFrame(await peer.reader.next()),
      `${OP_PING} fin=true masked=false are you there`,
    );
    assert.equal(
      describeFrame(await peer.reader.next()),
      `${OP_PONG} fin=true masked=false unsolicited`,
    );
    const after = ws.stats();
    assert.equal(after.messagesOut - before.messagesOut, 1);
    assert.equal(after.bytesOut - before.bytesOut, 4);
    await stop(server, peer);
  });
});

describe("an installed EventSink", () => {
  it("hears data frames, pings (answered already), pongs and the close, in order", async () => {
    const { server, ws, peer } = await startPair();
    const heard: string[] = [];
    let closed!: () => void;
    const sinkClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const sink: EventSink = {
      data: (f) => heard.push(`data ${f.opcode} fin=${f.fin} ${f.data.toString()}`),
      ping: (payload) => heard.push(`ping ${payload.toString()}`),
      pong: (payload) => heard.push(`pong ${payload.toString()}`),
      closed: () => {
        heard.push(`closed ${ws.closeCode}`);
        closed();
      },
    };
    assert.deepEqual(ws[kEventSink](sink), [], "nothing was queued before");
    assert.equal(sinks.get(ws), sink);

    peer.send(frame(OP_TEXT, "a", { fin: false }));
    peer.send(frame(OP_CONT, "b"));
    peer.send(frame(OP_PING, "p1"));
    peer.send(frame(OP_PONG, "p2"));
    peer.send(frame(OP_BINARY, Buffer.from("c")));
    // The ping is answered by the connection before the sink hears it.
    const pong = await peer.reader.next();
    assert.equal(describeFrame(pong), `${OP_PONG} fin=true masked=false p1`);
    peer.send(closeFrame(4001, "done"));
    const close = await peer.reader.next();
    assert.equal(close?.opcode, OP_CLOSE);
    assert.deepEqual(parseClose(close!.payload), { code: 4001, reason: "done" });
    peer.socket.end();
    await sinkClosed;
    assert.deepEqual(heard, [
      `data ${OP_TEXT} fin=false a`,
      `data ${OP_CONT} fin=true b`,
      "ping p1",
      "pong p2",
      `data ${OP_BINARY} fin=true c`,
      "closed 4001",
    ]);
    await stop(server, peer);
  });
});
