// The echo bench's floors (bench/echo-floor.ts, bench/echo-floor-api.ts)
// are measuring tools, but their figures mean something only if they are
// conforming echoes: each is driven here by a `ws` client over a real
// socket on 127.0.0.1 (every length form, text, many messages in flight,
// ping, close, invalid UTF-8).
import { strict as assert } from "node:assert";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { type RawData, WebSocket } from "ws";
import { floorEcho } from "../../bench/echo-floor.ts";
import { floorAsync, floorEvents } from "../../bench/echo-floor-api.ts";

const MIB = 1024 * 1024;
// 7-bit, 16-bit and 64-bit lengths at their edges; 1 MiB arrives in many reads.
const SIZES = [0, 1, 125, 126, 65535, 65536, MIB];

const floors = { floor: floorEcho, "floor-async": floorAsync, "floor-events": floorEvents };

/** `size` bytes of text with two-byte characters. */
function textOfSize(size: number): string {
  const whole = "é".repeat(Math.floor(size / 2));
  return size % 2 === 0 ? whole : `${whole}x`;
}

for (const [name, serveSocket] of Object.entries(floors)) {
  describe(`echo bench: ${name}`, () => {
    const sockets = new Set<Socket>();
    let server: Server;
    let url: string;

    before(async () => {
      server = createServer({ noDelay: true }, (socket) => serveSocket(socket, sockets));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      url = `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
    });

    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    async function open(): Promise<WebSocket> {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      await once(ws, "open");
      return ws;
    }

    /** Sends every message at once; resolves to the echoes, in order. */
    async function roundTrip(
      ws: WebSocket,
      messages: (Buffer | string)[],
    ): Promise<{ data: Buffer; isBinary: boolean }[]> {
      const echoes: { data: Buffer; isBinary: boolean }[] = [];
      const done = new Promise<void>((resolve, reject) => {
        ws.on("message", (data: RawData, isBinary: boolean) => {
          echoes.push({ data: data as Buffer, isBinary });
          if (echoes.length === messages.length) resolve();
        });
        ws.once("close", (code) => reject(new Error(`closed with ${code}`)));
      });
      for (const message of messages) ws.send(message);
      await done;
      return echoes;
    }

    async function closeCode(ws: WebSocket): Promise<number> {
      const [code] = (await once(ws, "close")) as [number];
      return code;
    }

    test("echoes binary messages of every length form", async () => {
      const ws = await open();
      const messages = SIZES.map((size) => Buffer.alloc(size, size % 251));
      const echoes = await roundTrip(ws, messages);
      for (const [i, echo] of echoes.entries()) {
        assert.equal(echo.isBinary, true);
        assert.ok(echo.data.equals(messages[i]), `${SIZES[i]} bytes`);
      }
      ws.close();
      assert.equal(await closeCode(ws), 1000);
    });

    test("echoes text messages, multi-byte characters included", async () => {
      const ws = await open();
      const messages = SIZES.map(textOfSize);
      const echoes = await roundTrip(ws, messages);
      for (const [i, echo] of echoes.entries()) {
        assert.equal(echo.isBinary, false);
        assert.equal(echo.data.toString(), messages[i], `${SIZES[i]} bytes`);
      }
      ws.close();
      assert.equal(await closeCode(ws), 1000);
    });

    test("echoes 500 messages in flight in order", async () => {
      const ws = await open();
      const messages = Array.from({ length: 500 }, (_, i) =>
        i % 2 === 0 ? Buffer.from(`m${i}`) : `m${i}`,
      );
      const echoes = await roundTrip(ws, messages);
      assert.deepEqual(
        echoes.map((echo) => echo.data.toString()),
        messages.map(String),
      );
      ws.close();
      assert.equal(await closeCode(ws), 1000);
    });

    test("answers a ping with a pong of its payload", async () => {
      const ws = await open();
      ws.ping(Buffer.from("are you there"));
      const [data] = (await once(ws, "pong")) as [Buffer];
      assert.equal(data.toString(), "are you there");
      ws.close();
      assert.equal(await closeCode(ws), 1000);
    });

    test("echoes a close frame's code", async () => {
      const ws = await open();
      ws.close(4321, "bye");
      assert.equal(await closeCode(ws), 4321);
    });

    test("closes with 1007 on invalid UTF-8 in a text message", async () => {
      const ws = await open();
      ws.send(Buffer.from([0x61, 0xff, 0x62]), { binary: false });
      assert.equal(await closeCode(ws), 1007);
    });
  });
}
