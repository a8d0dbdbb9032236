/**
 * Scenarios written against `ws` 8's API and run, unchanged, against `ws`
 * itself and against `websockets-ts/ws` (see differential.test.ts). Each
 * returns a transcript: what each side observed, in order (events, their
 * arguments, close codes, errors), which must be the same for both.
 *
 * Both ends of a scenario use the same implementation; the peer-side
 * misbehaviour scenarios use a raw TCP peer from test/helpers/net.ts.
 *
 * @module
 */

import { once } from "node:events";
import { createServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type * as WsModule from "ws";
import {
  closeFrame,
  frame,
  OP_BINARY,
  OP_TEXT,
  rawConnect,
  readResponseHead,
  tcpConnect,
  upgradeRequest,
  withTimeout,
} from "../helpers/net.ts";

/** The part of a `ws`-like module the scenarios use. */
export type WsApi = Pick<
  typeof WsModule,
  "WebSocket" | "WebSocketServer" | "createWebSocketStream"
>;
type Ws = WsModule.WebSocket;
type Wss = WsModule.WebSocketServer;
type ServerOptions = WsModule.ServerOptions;

/** What one scenario observed. */
export type Transcript = Record<string, unknown>;

/** A scenario: runs against one implementation, returns what it saw. */
export type Scenario = (api: WsApi) => Promise<Transcript>;

const LIMIT_MS = 5000;

/** Describes received data the same way whatever its type. */
function show(data: unknown, isBinary?: boolean): string {
  const kind = isBinary === undefined ? "" : isBinary ? "binary " : "text ";
  if (typeof data === "string") return `${kind}string ${JSON.stringify(data)}`;
  if (Buffer.isBuffer(data)) return `${kind}Buffer ${data.toString("hex")}`;
  if (data instanceof ArrayBuffer) return `${kind}ArrayBuffer ${Buffer.from(data).toString("hex")}`;
  if (Array.isArray(data)) return `${kind}fragments [${data.map((part) => show(part)).join(", ")}]`;
  return `${kind}${typeof data}`;
}

/** Records a WebSocket's events into `log`. */
function record(ws: Ws, log: string[]): Promise<void> {
  ws.on("open", () => log.push("open"));
  ws.on("message", (data, isBinary) => log.push(`message ${show(data, isBinary)}`));
  ws.on("ping", (data) => log.push(`ping ${show(data)}`));
  ws.on("pong", (data) => log.push(`pong ${show(data)}`));
  ws.on("error", (error: Error & { code?: string }) => {
    log.push(`error ${error.constructor.name} ${error.code ?? "-"}`);
  });
  return new Promise<void>((resolve) => {
    ws.on("close", (code, reason) => {
      log.push(`close ${code} ${show(reason)} readyState=${ws.readyState}`);
      resolve();
    });
  });
}

/** Runs `body` with a server on 127.0.0.1 and closes it afterwards. */
async function withServer<T>(
  api: WsApi,
  options: ServerOptions,
  body: (wss: Wss, url: string) => Promise<T>,
): Promise<T> {
  const wss = new api.WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await once(wss, "listening");
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  try {
    return await withTimeout(body(wss, url), LIMIT_MS, "scenario timed out");
  } finally {
    for (const client of wss.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

/** The next `connection` of `wss`, recorded into `log`; resolves with its close. */
function nextConnection(
  wss: Wss,
  log: string[],
): Promise<{ ws: Ws; closed: Promise<void>; req: IncomingMessage }> {
  return new Promise((resolve) => {
    wss.once("connection", (ws: Ws, req: IncomingMessage) => {
      log.push(`connection ${req.url} protocol=${JSON.stringify(ws.protocol)}`);
      resolve({ ws, closed: record(ws, log), req });
    });
  });
}

function opened(ws: Ws): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
}

/** A client and its server side, both recorded, once open; `closed`: both closed. */
async function recordedPair(
  api: WsApi,
  wss: Wss,
  url: string,
  address = url,
): Promise<{ server: string[]; client: string[]; ws: Ws; peer: Ws; closed: Promise<unknown> }> {
  const server: string[] = [];
  const client: string[] = [];
  const accepted = nextConnection(wss, server);
  const ws = new api.WebSocket(address);
  const clientClosed = record(ws, client);
  const { ws: peer, closed } = await accepted;
  await opened(ws);
  return { server, client, ws, peer, closed: Promise.all([clientClosed, closed]) };
}

/**
 * A raw client sends `bytes` after the handshake: what the server side saw,
 * and the code of the close frame it answered with.
 */
function rawPeerSends(api: WsApi, bytes: Buffer): Promise<Transcript> {
  return withServer(api, {}, async (wss, url) => {
    const server: string[] = [];
    const accepted = nextConnection(wss, server);
    const peer = await rawConnect(Number(new URL(url).port));
    const { closed } = await accepted;
    peer.send(bytes);
    const reply = await peer.reader.next(LIMIT_MS);
    peer.socket.end();
    await closed;
    peer.socket.destroy();
    return { server, reply: reply === null ? null : reply.payload.readUInt16BE(0) };
  });
}

export const scenarios: Record<string, Scenario> = {
  "text and binary messages, echoed, then a close from the client": (api) =>
    withServer(api, {}, async (wss, url) => {
      const { server, client, ws, peer, closed } = await recordedPair(
        api,
        wss,
        url,
        `${url}/echo?x=1`,
      );
      peer.on("message", (data, isBinary) => peer.send(data, { binary: isBinary }));
      let replies = 0;
      const allEchoed = new Promise<void>((resolve) => {
        ws.on("message", () => {
          replies += 1;
          if (replies === 6) resolve();
        });
      });
      ws.send("hello");
      ws.send("été ☃");
      ws.send(Buffer.from([1, 2, 3]));
      ws.send(new Uint8Array([4, 5]));
      ws.send("");
      ws.send(42 as never);
      await allEchoed;
      ws.close(1000, "done");
      client.push(`readyState after close() ${ws.readyState}`);
      await closed;
      return { server, client, url: ws.url.replace(/:\d+\//, ":PORT/") };
    }),

  "send(Blob) and valueOf() objects: each message keeps its place, callbacks in order": (api) =>
    withServer(api, {}, async (wss, url) => {
      const { server, client, ws, peer, closed } = await recordedPair(api, wss, url);
      let received = 0;
      const allReceived = new Promise<void>((resolve) => {
        peer.on("message", () => {
          received += 1;
          if (received === 4) resolve();
        });
      });
      const done = (name: string) => (error?: Error) =>
        client.push(`${name} sent ${error == null ? "ok" : error.message}`);
      ws.send(new Blob([Buffer.from([1, 2])]), done("blob"));
      ws.send("after the blob", done("text"));
      ws.send({ valueOf: () => new Uint8Array([3]) } as never, done("valueOf"));
      ws.send(new Blob(["blob text"]), { binary: false }, done("text blob"));
      await allReceived;
      ws.close();
      await closed;
      return { server, client };
    }),

  "a port in use: error EADDRINUSE, neither listening nor the callback; close() calls back": (
    api,
  ) =>
    withServer(api, {}, async (first, url) => {
      const events: string[] = [];
      const port = Number(new URL(url).port);
      const wss = new api.WebSocketServer({ host: "127.0.0.1", port }, () =>
        events.push("callback"),
      );
      wss.on("listening", () => events.push("listening"));
      const error = await new Promise<Error & { code?: string }>((resolve) =>
        wss.on("error", resolve),
      );
      events.push(`error ${error.code}`);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      events.push("closed");
      events.push(`first still listening: ${first.address() !== null}`);
      return { events };
    }),

  "a close from the server with a code and reason": (api) =>
    withServer(api, {}, async (wss, url) => {
      const { server, client, peer, closed } = await recordedPair(api, wss, url);
      peer.close(4001, "going");
      server.push(`readyState after close() ${peer.readyState}`);
      await closed;
      return { server, client };
    }),

  "close() without a code: the peer sees 1005": (api) =>
    withServer(api, {}, async (wss, url) => {
      const { server, client, ws, closed } = await recordedPair(api, wss, url);
      ws.close();
      await closed;
      return { server, client };
    }),

  "terminate(): the peer sees 1006": (api) =>
    withServer(api, {}, async (wss, url) => {
      const { server, client, ws, closed } = await recordedPair(api, wss, url);
      ws.terminate();
      client.push(`readyState after terminate() ${ws.readyState}`);
      await closed;
      return { server, client };
    }),

  "pings and pongs, with and without data": (api) =>
    withServer(api, {}, async (wss, url) => {
      const { server, client, ws, peer, closed } = await recordedPair(api, wss, url);
      const callbacks: string[] = [];
      ws.ping("abc", undefined, (error) => callbacks.push(`ping cb ${error ?? "ok"}`));
      await once(ws, "pong");
      peer.ping();
      await once(ws, "ping");
      peer.pong(Buffer.from([7]));
      await once(ws, "pong");
      ws.pong();
      await once(peer, "pong");
      ws.close(1000);
      await closed;
      return { server, client, callbacks };
    }),

  "subprotocols: the first offered by default": (api) =>
    withServer(api, {}, async (wss, url) => {
      const server: string[] = [];
      const accepted = nextConnection(wss, server);
      const ws = new api.WebSocket(url, ["chat", "superchat"]);
      const { ws: peer, closed } = await accepted;
      await opened(ws);
      const result = { client: ws.protocol, serverSide: peer.protocol };
      ws.terminate();
      await closed;
      return { ...result, server };
    }),

  "subprotocols: handleProtocols picks one, or none": (api) =>
    withServer(
      api,
      {
        handleProtocols: (protocols, req) =>
          req.url === "/none" ? false : ([...protocols].find((p) => p.startsWith("v2")) ?? false),
      },
      async (_wss, url) => {
        const protocols: string[] = [];
        const pick = new api.WebSocket(`${url}/pick`, ["v1.chat", "v2.chat"]);
        await opened(pick);
        protocols.push(`picked ${JSON.stringify(pick.protocol)}`);
        pick.terminate();
        // None selected while the client asked for some: the client fails.
        const none = new api.WebSocket(`${url}/none`, ["v1.chat"]);
        none.on("error", (error) => protocols.push(`error: ${error.message}`));
        await record(none, protocols);
        return { protocols };
      },
    ),

  "verifyClient refuses, synchronously and with a callback": (api) =>
    withServer(
      api,
      {
        verifyClient: (
          info: { req: IncomingMessage },
          cb: (
            ok: boolean,
            code?: number,
            message?: string,
            headers?: Record<string, string>,
          ) => void,
        ) => {
          if (info.req.url === "/ok") cb(true);
          else cb(false, 403, "Forbidden here", { "X-Why": "path" });
        },
      },
      async (_wss, url) => {
        const client: string[] = [];
        const refused = new api.WebSocket(`${url}/no`);
        refused.on("unexpected-response", (_req, res) => {
          client.push(`unexpected-response ${res.statusCode} x-why=${res.headers["x-why"]}`);
          refused.terminate();
        });
        await record(refused, client);
        const accepted = new api.WebSocket(`${url}/ok`);
        await opened(accepted);
        client.push(`accepted readyState=${accepted.readyState}`);
        accepted.terminate();
        return { client };
      },
    ),

  "verifyClient returning false: 401, and an error without unexpected-response listeners": (api) =>
    withServer(api, { verifyClient: () => false }, async (_wss, url) => {
      const client: string[] = [];
      const ws = new api.WebSocket(url);
      const errors: string[] = [];
      ws.on("error", (error) => errors.push(error.message));
      await record(ws, client);
      return { client, errors };
    }),

  "path: other paths get 400": (api) =>
    withServer(api, { path: "/ws" }, async (wss, url) => {
      const client: string[] = [];
      const errors: string[] = [];
      const ws = new api.WebSocket(`${url}/other`);
      ws.on("error", (error) => errors.push(error.message));
      await record(ws, client);
      const good = new api.WebSocket(`${url}/ws?q=1`);
      await opened(good);
      const handled = wss.shouldHandle({ url: "/ws?x" } as IncomingMessage);
      good.terminate();
      return { client, errors, handled };
    }),

  "headers event: a header added to the 101 reaches the client's upgrade event": (api) =>
    withServer(api, {}, async (wss, url) => {
      wss.on("headers", (headers, req) => headers.push(`X-Path: ${req.url}`));
      const ws = new api.WebSocket(`${url}/h`);
      const upgraded = once(ws, "upgrade");
      await opened(ws);
      const [response] = (await upgraded) as [IncomingMessage];
      const result = { status: response.statusCode, xPath: response.headers["x-path"] };
      ws.terminate();
      return result;
    }),

  "binaryType: nodebuffer, arraybuffer, fragments (a message sent in two frames)": (api) =>
    withServer(api, {}, async (wss, url) => {
      const client: string[] = [];
      const results: string[] = [];
      for (const type of ["nodebuffer", "arraybuffer", "fragments"] as const) {
        const accepted = nextConnection(wss, []);
        const ws = new api.WebSocket(url);
        ws.binaryType = type;
        const { ws: peer } = await accepted;
        await opened(ws);
        const got = once(ws, "message");
        peer.send(Buffer.from([1, 2]), { fin: false });
        peer.send(Buffer.from([3]), { fin: true });
        const [data, isBinary] = await got;
        results.push(`${ws.binaryType}: ${show(data, isBinary as boolean)}`);
        const text = once(ws, "message");
        peer.send("ab", { fin: false });
        peer.send("c");
        const [textData, textBinary] = await text;
        results.push(`${ws.binaryType}: ${show(textData, textBinary as boolean)}`);
        ws.binaryType = "blob" as never;
        client.push(`after an unknown type: ${ws.binaryType}`);
        ws.terminate();
      }
      return { client, results };
    }),

  "maxPayload: a larger message fails the connection with 1009": (api) =>
    withServer(api, { maxPayload: 10 }, async (wss, url) => {
      const { server, client, ws, closed } = await recordedPair(api, wss, url);
      ws.send(Buffer.alloc(11));
      await closed;
      // We say why in the close reason, where ws sends none
      // (docs/migrating-from-ws.md): the client's reason isn't compared.
      return { server, client: client.map((line) => line.replace(/ Buffer [0-9a-f]*/, "")) };
    }),

  "a protocol violation: an unmasked frame from a client": (api) =>
    rawPeerSends(api, frame(OP_TEXT, Buffer.from("hi"), { mask: false })),

  "invalid UTF-8 in a text message": (api) =>
    rawPeerSends(api, frame(OP_TEXT, Buffer.from([0xff, 0xfe]))),

  "a close frame with an invalid code": (api) => rawPeerSends(api, closeFrame(999)),

  "messages and a ping that arrive with the handshake reach connection listeners": (api) =>
    withServer(api, {}, async (wss, url) => {
      const server: string[] = [];
      const accepted = nextConnection(wss, server);
      const port = Number(new URL(url).port);
      const socket = await tcpConnect(port);
      socket.write(
        Buffer.concat([
          upgradeRequest("127.0.0.1", port, { path: "/early" }),
          frame(OP_TEXT, Buffer.from("first")),
          frame(OP_BINARY, Buffer.from([9])),
        ]),
      );
      const { closed } = await accepted;
      await readResponseHead(socket);
      socket.resume();
      socket.write(closeFrame(1000));
      await closed;
      socket.destroy();
      return { server };
    }),

  "wsClientError: bad requests go to its listeners, or get ws's answer": (api) =>
    withServer(api, {}, async (wss, url) => {
      const port = Number(new URL(url).port);
      const answers: string[] = [];
      const requests: Record<string, string> = {
        "wrong version": upgradeRequest("127.0.0.1", port)
          .toString("latin1")
          .replace("Version: 13", "Version: 7"),
        "bad key": upgradeRequest("127.0.0.1", port, { key: "short" }).toString("latin1"),
        POST: upgradeRequest("127.0.0.1", port).toString("latin1").replace("GET", "POST"),
        "bad subprotocol": upgradeRequest("127.0.0.1", port, {
          headers: { "Sec-WebSocket-Protocol": "a, a" },
        }).toString("latin1"),
      };
      for (const [name, request] of Object.entries(requests)) {
        const socket = await tcpConnect(port);
        socket.write(request);
        const { response } = await readResponseHead(socket);
        // ws also speaks version 8 (hybi-08) and says so; we speak 13 only
        // (docs/migrating-from-ws.md): the header's first version is compared.
        const versions = response.headers["sec-websocket-version"];
        answers.push(`${name}: ${response.status} version=${versions?.split(",")[0]}`);
        socket.destroy();
      }
      const reported: string[] = [];
      wss.on("wsClientError", (error, socket, req) => {
        reported.push(`${req.method} ${error.message}`);
        socket.end("HTTP/1.1 418 Teapot\r\nContent-Length: 0\r\n\r\n");
      });
      for (const request of Object.values(requests)) {
        const socket = await tcpConnect(port);
        socket.write(request);
        const { response } = await readResponseHead(socket);
        answers.push(`with a listener: ${response.status}`);
        socket.destroy();
      }
      return { answers, reported };
    }),

  "sending while CONNECTING throws; after closing, the callback gets the error": (api) =>
    withServer(api, {}, async (_wss, url) => {
      const errors: string[] = [];
      const ws = new api.WebSocket(url);
      for (const call of [() => ws.send("x"), () => ws.ping(), () => ws.pong()]) {
        try {
          call();
        } catch (error) {
          errors.push(`${(error as Error).constructor.name}: ${(error as Error).message}`);
        }
      }
      await opened(ws);
      ws.close(1000);
      const callbacks: string[] = [];
      await new Promise<void>((resolve) => {
        ws.send("late", (error) => {
          callbacks.push(`send: ${error?.message}`);
          resolve();
        });
      });
      client(ws, callbacks);
      await once(ws, "close");
      await new Promise<void>((resolve) => {
        ws.ping("late", undefined, (error) => {
          callbacks.push(`ping after close: ${error?.message}`);
          resolve();
        });
      });
      return { errors, callbacks, bufferedAmount: ws.bufferedAmount };
    }),

  "close() arguments are checked as ws checks them": (api) =>
    withServer(api, {}, async (_wss, url) => {
      const ws = new api.WebSocket(url);
      await opened(ws);
      const errors: string[] = [];
      for (const [code, reason] of [
        [999, ""],
        [1005, ""],
        [3000, "x".repeat(124)],
        ["1000", ""],
      ] as const) {
        try {
          ws.close(code as number, reason);
        } catch (error) {
          errors.push(`${(error as Error).constructor.name}: ${(error as Error).message}`);
        }
      }
      const state = ws.readyState;
      ws.terminate();
      return { errors, state };
    }),

  "invalid URLs and subprotocols throw at construction": async (api) => {
    const errors: string[] = [];
    const attempts: [string, string | string[] | undefined][] = [
      ["not a url", undefined],
      ["ftp://127.0.0.1/", undefined],
      ["ws://127.0.0.1/#frag", undefined],
      ["ws://127.0.0.1:1/", ["a", "a"]],
      ["ws://127.0.0.1:1/", ["bad token"]],
    ];
    for (const [address, protocols] of attempts) {
      try {
        new api.WebSocket(address, protocols);
        errors.push(`${address}: no error`);
      } catch (error) {
        errors.push(`${(error as Error).constructor.name}: ${(error as Error).message}`);
      }
    }
    return { errors };
  },

  "a refused connection: error, then close 1006": async (api) => {
    const blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as AddressInfo).port;
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const client: string[] = [];
    const ws = new api.WebSocket(`ws://127.0.0.1:${port}/`);
    const codes: string[] = [];
    ws.on("error", (error: Error & { code?: string }) => codes.push(String(error.code)));
    await withTimeout(record(ws, client), LIMIT_MS, "no close");
    return { client, codes };
  },

  "close() and terminate() while CONNECTING": (api) =>
    withServer(api, {}, async (_wss, url) => {
      const results: Record<string, string[]> = {};
      for (const method of ["close", "terminate"] as const) {
        const client: string[] = [];
        const ws = new api.WebSocket(url);
        const closed = record(ws, client);
        ws.on("error", (error) => client.push(`message: ${error.message}`));
        ws[method]();
        client.push(`readyState ${ws.readyState}`);
        await closed;
        results[method] = client;
      }
      return results;
    }),

  "redirects: refused by default, followed with followRedirects, limited by maxRedirects": async (
    api,
  ) => {
    const wss = new api.WebSocketServer({ noServer: true });
    const http: HttpServer = createServer();
    http.on("upgrade", (req, socket, head) => {
      if (req.url === "/final") {
        wss.handleUpgrade(req, socket, head, (ws) => ws.close(1000, "arrived"));
      } else {
        const next = req.url === "/a" ? "/b" : "/final";
        socket.end(`HTTP/1.1 302 Found\r\nLocation: ${next}\r\nContent-Length: 0\r\n\r\n`);
      }
    });
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    const base = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const results: Record<string, string[]> = {};
    const runs: [string, WsModule.ClientOptions][] = [
      ["default", {}],
      ["follow", { followRedirects: true }],
      ["limited", { followRedirects: true, maxRedirects: 1 }],
    ];
    try {
      for (const [name, options] of runs) {
        const client: string[] = [];
        const ws = new api.WebSocket(`${base}/a`, options);
        ws.on("redirect", (url) => client.push(`redirect ${new URL(url).pathname}`));
        ws.on("error", (error) => client.push(`message: ${error.message}`));
        await withTimeout(record(ws, client), LIMIT_MS, "no close");
        results[name] = client;
      }
    } finally {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    return results;
  },

  "noServer: handleUpgrade from an application's HTTP server, and a second call is refused": async (
    api,
  ) => {
    const wss = new api.WebSocketServer({ noServer: true });
    const http = createServer((_req, res) => res.end("plain"));
    const thrown: string[] = [];
    http.on("upgrade", (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws, request) => wss.emit("connection", ws, request));
      try {
        wss.handleUpgrade(req, socket, head, () => {});
      } catch (error) {
        thrown.push((error as Error).message);
      }
    });
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    const server: string[] = [];
    const accepted = nextConnection(wss, server);
    let address: string;
    try {
      wss.address();
      address = "no error";
    } catch (error) {
      address = (error as Error).message;
    }
    const ws = new api.WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/up`);
    const { closed } = await accepted;
    await opened(ws);
    const clients = wss.clients.size;
    ws.close(1000);
    await closed;
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    return { server, thrown, address, clients };
  },

  "close() of the server: open clients stay, close waits for them": (api) =>
    withServer(api, {}, async (wss, url) => {
      const events: string[] = [];
      const accepted = nextConnection(wss, []);
      const ws = new api.WebSocket(url);
      const { ws: peer } = await accepted;
      await opened(ws);
      const serverClosed = new Promise<void>((resolve) =>
        wss.close(() => {
          events.push("server close");
          resolve();
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      events.push(`client readyState ${ws.readyState}, tracked ${wss.clients.size}`);
      const echoed = once(ws, "message");
      peer.send("still here");
      events.push(`still open: ${show((await echoed)[0])}`);
      ws.close(1000);
      await serverClosed;
      events.push(`after close: tracked ${wss.clients.size}`);
      return { events };
    }),

  "permessage-deflate when both sides enable it": (api) =>
    withServer(api, { perMessageDeflate: true }, async (wss, url) => {
      const server: string[] = [];
      const accepted = nextConnection(wss, server);
      const ws = new api.WebSocket(url, { perMessageDeflate: true });
      const { ws: peer } = await accepted;
      await opened(ws);
      const got = once(ws, "message");
      peer.send("x".repeat(1000));
      const [data] = await got;
      const result = {
        extensions: [ws.extensions, peer.extensions],
        length: (data as Buffer).length,
      };
      ws.terminate();
      return result;
    }),

  "addEventListener, on* attributes and their event objects": (api) =>
    withServer(api, {}, async (wss, url) => {
      const events: string[] = [];
      const accepted = nextConnection(wss, []);
      const ws = new api.WebSocket(url);
      const listener = (event: WsModule.MessageEvent): void => {
        events.push(`listener ${event.type} ${show(event.data)} target=${event.target === ws}`);
      };
      ws.addEventListener("message", listener);
      ws.addEventListener("message", listener);
      ws.addEventListener("open", (event) => events.push(`open ${event.type}`), { once: true });
      ws.onmessage = (event) => events.push(`onmessage ${show(event.data)}`);
      ws.onclose = (event) =>
        events.push(`onclose ${event.code} ${event.reason} ${event.wasClean}`);
      const { ws: peer } = await accepted;
      await opened(ws);
      const first = once(ws, "message");
      peer.send("text");
      await first;
      ws.removeEventListener("message", listener);
      const second = once(ws, "message");
      peer.send(Buffer.from([1]));
      await second;
      events.push(`onmessage is a function: ${typeof ws.onmessage}`);
      const closed = once(ws, "close");
      peer.close(1000, "bye");
      await closed;
      return { events };
    }),

  "createWebSocketStream: a duplex of messages": (api) =>
    withServer(api, {}, async (wss, url) => {
      const accepted = nextConnection(wss, []);
      const ws = new api.WebSocket(url);
      const duplex = api.createWebSocketStream(ws, { encoding: "utf8" });
      const { ws: peer } = await accepted;
      const received = once(peer, "message");
      duplex.write("from the stream");
      const [data, isBinary] = await received;
      const chunks: string[] = [];
      duplex.on("data", (chunk: string) => chunks.push(chunk));
      const ended = once(duplex, "end");
      peer.send("to the stream");
      peer.close(1000);
      await ended;
      return { server: show(data, isBinary as boolean), chunks };
    }),

  "pause() holds messages until resume()": (api) =>
    withServer(api, {}, async (wss, url) => {
      const client: string[] = [];
      const accepted = nextConnection(wss, []);
      const ws = new api.WebSocket(url);
      const { ws: peer } = await accepted;
      await opened(ws);
      ws.on("message", (data) => client.push(`message ${show(data)}`));
      ws.pause();
      client.push(`isPaused ${ws.isPaused}`);
      const sent = new Promise<void>((resolve) => {
        peer.send("a");
        peer.send("b", () => resolve());
      });
      await sent;
      // Time for the bytes to cross loopback; nothing may be delivered.
      await new Promise((resolve) => setTimeout(resolve, 50));
      client.push(`while paused: ${client.length - 1} messages`);
      const both = new Promise<void>((resolve) => {
        ws.on("message", () => {
          if (client.filter((line) => line.startsWith("message")).length === 2) resolve();
        });
      });
      ws.resume();
      await both;
      client.push(`isPaused ${ws.isPaused}`);
      ws.terminate();
      return { client };
    }),

  "readyState constants on the class and on instances": async (api) => {
    const ws = Object.create(api.WebSocket.prototype) as Ws;
    return {
      statics: [
        api.WebSocket.CONNECTING,
        api.WebSocket.OPEN,
        api.WebSocket.CLOSING,
        api.WebSocket.CLOSED,
      ],
      instance: [ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED],
    };
  },
};

/** Adds a client-side note; kept apart so a scenario reads top to bottom. */
function client(ws: Ws, log: string[]): void {
  log.push(`readyState ${ws.readyState}`);
}
