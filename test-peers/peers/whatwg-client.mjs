// A client peer on the WHATWG WebSocket API, shared by the browser page
// (peer.html) and the Node child (whatwg-node.mjs, for undici's and Node's
// built-in WebSocket). `createPeer(WebSocket)` returns `handle(op, args)`
// with the same operations as the Python peers; message data travels as
// { text } or { b64 }. What the API cannot do (ping, fragments, choosing
// permessage-deflate, reading the status of a refused handshake) throws an
// Error whose message starts with "n/a:".

const CHUNK = 0x8000;

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

function fromBase64(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function encode(data) {
  return typeof data === "string" ? { text: data } : { b64: toBase64(new Uint8Array(data)) };
}

function decode(obj) {
  return "text" in obj ? obj.text : fromBase64(obj.b64);
}

export function createPeer(WebSocketImpl, name, version) {
  let ws = null;
  let queue = [];
  let waiting = [];
  let ended = null;
  let endedWaiters = [];

  function attach(socket) {
    ws = socket;
    queue = [];
    waiting = [];
    ended = null;
    endedWaiters = [];
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data);
      const waiter = waiting.shift();
      if (waiter) waiter.resolve(data);
      else queue.push(data);
    });
    socket.addEventListener("close", (event) => {
      ended = { code: event.code, reason: event.reason, wasClean: event.wasClean };
      for (const waiter of waiting.splice(0))
        waiter.reject(new Error(`closed: ${event.code} ${event.reason}`));
      for (const resolve of endedWaiters.splice(0)) resolve(ended);
    });
  }

  function whenEnded() {
    return ended ? Promise.resolve(ended) : new Promise((resolve) => endedWaiters.push(resolve));
  }

  const ops = {
    async version() {
      return { name, version };
    },
    async open({ url, subprotocols }) {
      const socket = new WebSocketImpl(url, subprotocols ?? []);
      attach(socket);
      await new Promise((resolve, reject) => {
        socket.addEventListener("open", resolve, { once: true });
        socket.addEventListener(
          "close",
          (e) => reject(new Error(`closed before opening: ${e.code}`)),
          {
            once: true,
          },
        );
      });
      return { subprotocol: socket.protocol || null, extensions: socket.extensions || null };
    },
    async send({ data }) {
      ws.send(decode(data));
      return {};
    },
    async send_fragments() {
      throw new Error("n/a: the WebSocket API sends each message whole");
    },
    async recv() {
      if (queue.length > 0) return { data: encode(queue.shift()) };
      if (ended) throw new Error(`closed: ${ended.code} ${ended.reason}`);
      const data = await new Promise((resolve, reject) => waiting.push({ resolve, reject }));
      return { data: encode(data) };
    },
    async ping() {
      throw new Error("n/a: the WebSocket API has no ping()");
    },
    async close({ code, reason }) {
      ws.close(code, reason);
      const { code: c, reason: r } = await whenEnded();
      return { code: c, reason: r };
    },
    async wait_closed() {
      const { code, reason } = await whenEnded();
      return { code, reason };
    },
    async open_expect_reject({ url }) {
      const socket = new WebSocketImpl(url);
      attach(socket);
      const outcome = await new Promise((resolve) => {
        socket.addEventListener("open", () => resolve("open"), { once: true });
        // Some implementations (Node 20's built-in WebSocket) fire error but never close here.
        socket.addEventListener("error", () => resolve("error event"), { once: true });
        socket.addEventListener("close", (e) => resolve(`close ${e.code} without error event`), {
          once: true,
        });
      });
      if (outcome === "open") {
        socket.close();
        throw new Error("the handshake succeeded");
      }
      // The API reports a failed handshake without its status (WHATWG WebSockets §4, "fail the WebSocket connection").
      return { status: null, detail: outcome };
    },
  };

  return async function handle(op, args) {
    const fn = ops[op];
    if (!fn) throw new Error(`unknown op ${op}`);
    return fn(args ?? {});
  };
}
