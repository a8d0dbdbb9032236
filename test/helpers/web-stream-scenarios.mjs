// WebSocketStream scenarios shared by the Node tests and a Chromium page
// (test-peers): each returns a log of what the promises and streams did, to
// compare implementations line by line. Plain JavaScript for the browser.

/** Longest a scenario may take. */
const TIMEOUT_MS = 15_000;

function describeError(error) {
  if (error && typeof error === "object" && "name" in error) {
    const code = "closeCode" in error ? ` closeCode=${error.closeCode}` : "";
    return `${error.name}${code}`;
  }
  return String(error);
}

function describeChunk(value) {
  if (typeof value === "string") return `text ${JSON.stringify(value)}`;
  if (value instanceof ArrayBuffer)
    return `arraybuffer [${Array.from(new Uint8Array(value)).join(",")}]`;
  return `other ${Object.prototype.toString.call(value)}`;
}

function settle(promise) {
  return promise.then(
    (value) => `resolves ${JSON.stringify(value)}`,
    (error) => `rejects ${describeError(error)}`,
  );
}

async function read(reader) {
  return reader.read().then(
    ({ done, value }) => (done ? "read done" : `read ${describeChunk(value)}`),
    (error) => `read rejects ${describeError(error)}`,
  );
}

function openedInfo(info) {
  return `opened protocol=${JSON.stringify(info.protocol)} readable=${info.readable instanceof ReadableStream} writable=${info.writable instanceof WritableStream}`;
}

function withTimeout(promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(["timeout"]), TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

const SCENARIOS = {
  async "echo, then close({ closeCode: 4000, reason })"({ WebSocketStream: WSS }, urls) {
    const log = [];
    const wss = new WSS(`${urls.ws}/echo`, { protocols: ["chat"] });
    log.push(`url ${wss.url.replace(/:\d+/, ":PORT")}`);
    const info = await wss.opened;
    log.push(openedInfo(info));
    const writer = info.writable.getWriter();
    const reader = info.readable.getReader();
    await writer.write("héllo");
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write(new Uint16Array([0x0201]).buffer);
    log.push(await read(reader));
    log.push(await read(reader));
    log.push(await read(reader));
    wss.close({ closeCode: 4000, reason: "bye" });
    log.push(`closed ${await settle(wss.closed)}`);
    log.push(await read(reader));
    log.push(`write after close ${await settle(writer.write("late"))}`);
    return log;
  },
  async "server closes with 4001"({ WebSocketStream: WSS }, urls) {
    const log = [];
    const wss = new WSS(`${urls.ws}/server-close`);
    const info = await wss.opened;
    const reader = info.readable.getReader();
    log.push(await read(reader));
    log.push(await read(reader));
    log.push(`closed ${await settle(wss.closed)}`);
    return log;
  },
  async "close() without arguments"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.ws}/echo`);
    await wss.opened;
    wss.close();
    return [`closed ${await settle(wss.closed)}`];
  },
  async "close() with a reason only"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.ws}/echo`);
    await wss.opened;
    wss.close({ reason: "only" });
    return [`closed ${await settle(wss.closed)}`];
  },
  async "close() argument checks"({ WebSocketStream: WSS }, urls) {
    const log = [];
    const wss = new WSS(`${urls.ws}/echo`);
    await wss.opened;
    for (const info of [
      { closeCode: 1001 },
      { closeCode: 2999 },
      { closeCode: 5000 },
      { closeCode: 1000, reason: "x".repeat(124) },
    ]) {
      try {
        wss.close(info);
        log.push(`close(${JSON.stringify(info).slice(0, 40)}) accepted`);
      } catch (error) {
        log.push(`close(${JSON.stringify(info).slice(0, 40)}) throws ${describeError(error)}`);
      }
    }
    wss.close({ closeCode: 1000 });
    log.push(`closed ${await settle(wss.closed)}`);
    return log;
  },
  async "writer.close() closes the connection"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.ws}/echo`);
    const { writable } = await wss.opened;
    await writable.getWriter().close();
    return [`closed ${await settle(wss.closed)}`];
  },
  async "writable.abort(WebSocketError) closes with its code"(
    { WebSocketStream: WSS, WebSocketError },
    urls,
  ) {
    const wss = new WSS(`${urls.ws}/echo`);
    const { writable } = await wss.opened;
    await writable.abort(new WebSocketError("stop", { closeCode: 4002, reason: "aborted" }));
    return [`closed ${await settle(wss.closed)}`];
  },
  async "readable.cancel(WebSocketError) closes with its code"(
    { WebSocketStream: WSS, WebSocketError },
    urls,
  ) {
    const wss = new WSS(`${urls.ws}/echo`);
    const { readable } = await wss.opened;
    await readable.cancel(new WebSocketError("stop", { closeCode: 4003, reason: "cancelled" }));
    return [`closed ${await settle(wss.closed)}`];
  },
  async "close() while connecting"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.raw}/slow`);
    wss.close();
    return [`opened ${await settle(wss.opened)}`, `closed ${await settle(wss.closed)}`];
  },
  async "signal aborted while connecting"({ WebSocketStream: WSS }, urls) {
    const controller = new AbortController();
    const wss = new WSS(`${urls.raw}/slow`, { signal: controller.signal });
    controller.abort();
    return [`opened ${await settle(wss.opened)}`, `closed ${await settle(wss.closed)}`];
  },
  async "subprotocols requested, none selected"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.ws}/echo`, { protocols: ["superchat"] });
    return [`opened ${await settle(wss.opened)}`, `closed ${await settle(wss.closed)}`];
  },
  async "handshake answered with 403"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.raw}/status-403`);
    return [`opened ${await settle(wss.opened)}`, `closed ${await settle(wss.closed)}`];
  },
  async "abrupt TCP close"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.raw}/abrupt`);
    const info = await wss.opened;
    const reader = info.readable.getReader();
    const log = [await read(reader), await read(reader)];
    log.push(`closed ${await settle(wss.closed)}`);
    return log;
  },
  async "invalid UTF-8 fails the connection"({ WebSocketStream: WSS }, urls) {
    const wss = new WSS(`${urls.raw}/invalid-utf8`);
    const info = await wss.opened;
    const reader = info.readable.getReader();
    const log = [await read(reader)];
    log.push(`closed ${await settle(wss.closed)}`);
    return log;
  },
  async "constructor checks"({ WebSocketStream: WSS }, urls) {
    const log = [];
    for (const [url, options] of [
      ["ws://[::1/", undefined],
      ["ftp://127.0.0.1/", undefined],
      [`${urls.ws}/#frag`, undefined],
      [`${urls.ws}/`, { protocols: ["a", "a"] }],
      [`${urls.ws}/`, { protocols: ["a b"] }],
      [`${urls.ws}/`, { protocols: "chat" }],
    ]) {
      try {
        const wss = new WSS(url, options);
        log.push("accepted");
        wss.close();
      } catch (error) {
        log.push(`throws ${describeError(error)}`);
      }
    }
    return log;
  },
  async WebSocketError({ WebSocketError }) {
    const log = [];
    const error = new WebSocketError("message", { closeCode: 4001, reason: "r" });
    log.push(
      `${error.name} ${error.message} ${error.closeCode} ${error.reason} ${error instanceof DOMException} ${error.code}`,
    );
    const empty = new WebSocketError();
    log.push(`${empty.closeCode} ${JSON.stringify(empty.reason)} ${JSON.stringify(empty.message)}`);
    log.push(`reason only ${new WebSocketError("", { reason: "x" }).closeCode}`);
    for (const init of [{ closeCode: 1001 }, { closeCode: 999 }, { reason: "é".repeat(62) }]) {
      try {
        new WebSocketError("", init);
        log.push("accepted");
      } catch (e) {
        log.push(`throws ${describeError(e)}`);
      }
    }
    return log;
  },
};

/** Runs every scenario with `api` ({ WebSocketStream, WebSocketError }); resolves to { name: log }. */
export async function streamScenarios(api, urls) {
  const logs = {};
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    logs[name] = await withTimeout(
      scenario(api, urls).catch((error) => [`scenario throws ${describeError(error)}`]),
    );
  }
  return logs;
}
