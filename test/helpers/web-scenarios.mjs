// WHATWG WebSocket scenarios shared by the Node tests (our WebSocket,
// undici's, Node's global) and a Chromium page (test-peers): each runs one
// socket against the servers of web-servers.ts and returns its event log,
// so that the logs of different implementations can be compared line by
// line. Plain JavaScript: the browser loads this file as it is.

/** Longest a scenario may take before it's reported as stuck. */
export const SCENARIO_TIMEOUT_MS = 15_000;

const MIB = 1024 * 1024;

function describeData(data) {
  if (typeof data === "string") return `text ${JSON.stringify(data)}`;
  if (data instanceof ArrayBuffer)
    return `arraybuffer [${Array.from(new Uint8Array(data)).join(",")}]`;
  if (typeof Blob === "function" && data instanceof Blob) return `blob ${data.size}`;
  return `other ${Object.prototype.toString.call(data)}`;
}

function errorName(error) {
  return error && typeof error === "object" && "name" in error ? error.name : String(error);
}

/**
 * Runs `setup(ws, log, done)` on a socket of `WebSocketImpl` to `url`, and
 * resolves with the log once the close event fired (plus one task, so that
 * late events show) or after SCENARIO_TIMEOUT_MS.
 */
function record(WebSocketImpl, url, protocols, binaryType, setup) {
  return new Promise((resolve) => {
    const log = [];
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      setTimeout(() => resolve(log), 50);
    };
    const timer = setTimeout(() => {
      log.push("timeout");
      finish();
    }, SCENARIO_TIMEOUT_MS);
    let ws;
    try {
      ws = protocols === undefined ? new WebSocketImpl(url) : new WebSocketImpl(url, protocols);
    } catch (error) {
      log.push(`constructor throws ${errorName(error)}`);
      finish();
      return;
    }
    if (binaryType !== undefined) ws.binaryType = binaryType;
    ws.addEventListener("open", () => {
      log.push(`open readyState=${ws.readyState} protocol=${JSON.stringify(ws.protocol)}`);
    });
    ws.addEventListener("message", (event) => {
      log.push(`message ${describeData(event.data)}`);
    });
    ws.addEventListener("error", (event) => {
      log.push(
        `error ${event.constructor === Event ? "Event" : "subclass"} readyState=${ws.readyState}`,
      );
    });
    ws.addEventListener("close", (event) => {
      log.push(
        `close code=${event.code} reason=${JSON.stringify(event.reason)} wasClean=${event.wasClean} readyState=${ws.readyState}`,
      );
      finish();
    });
    setup(ws, log);
  });
}

/** Waits until `predicate()` holds, checking each 10 ms, at most `ms`. */
function until(predicate, ms) {
  return new Promise((resolve) => {
    const start = Date.now();
    const check = () => {
      if (predicate() || Date.now() - start > ms) resolve(predicate());
      else setTimeout(check, 10);
    };
    check();
  });
}

/**
 * The scenarios: `server` names which server (see web-servers.ts) and
 * path; `binaryTypes` lists the binaryTypes it runs with.
 */
export const SCENARIOS = [
  {
    name: "echo of text, bytes, ArrayBuffer and Blob, then close(1000)",
    server: "ws",
    path: "/echo",
    binaryTypes: ["arraybuffer", "blob"],
    setup(ws, log) {
      let received = 0;
      ws.addEventListener("open", () => {
        ws.send("héllo");
        ws.send(new Uint8Array([1, 2, 3]));
        ws.send(new Uint16Array([0x0201]).buffer);
        ws.send(new Blob([new Uint8Array([9, 8])]));
        ws.send(new DataView(new Uint8Array([7, 6, 5]).buffer, 1, 2));
        log.push(`bufferedAmount after sends=${ws.bufferedAmount}`);
      });
      ws.addEventListener("message", () => {
        received += 1;
        if (received === 5) ws.close(1000, "done");
      });
    },
  },
  {
    name: "client close with a code and a reason",
    server: "ws",
    path: "/echo",
    setup(ws, log) {
      ws.onopen = () => {
        ws.close(4000, "bye ✓");
        log.push(`after close readyState=${ws.readyState}`);
      };
    },
  },
  {
    name: "client close without a code",
    server: "ws",
    path: "/echo",
    setup(ws) {
      ws.onopen = () => ws.close();
    },
  },
  {
    name: "server closes with 4001 and a reason after a message",
    server: "ws",
    path: "/server-close",
    binaryTypes: ["arraybuffer", "blob"],
    setup() {},
  },
  {
    name: "messages received after close() are dropped",
    server: "ws",
    path: "/echo",
    setup(ws) {
      ws.onopen = () => {
        ws.send("one");
        ws.send("two");
        ws.close();
      };
    },
  },
  {
    name: "send while CLOSING grows bufferedAmount and sends nothing",
    server: "ws",
    path: "/echo",
    setup(ws, log) {
      ws.onopen = () => {
        ws.close();
        ws.send("abc");
        ws.send(new Uint8Array(5));
        log.push(`bufferedAmount=${ws.bufferedAmount}`);
      };
      ws.addEventListener("close", () => {
        ws.send("x");
        log.push(`after close bufferedAmount=${ws.bufferedAmount}`);
      });
    },
  },
  {
    name: "send while CONNECTING throws InvalidStateError",
    server: "ws",
    path: "/echo",
    setup(ws, log) {
      try {
        ws.send("too early");
        log.push("send did not throw");
      } catch (error) {
        log.push(`send throws ${errorName(error)}`);
      }
      ws.onopen = () => ws.close();
    },
  },
  {
    name: "close() while CONNECTING fails the connection",
    server: "ws",
    path: "/echo",
    setup(ws, log) {
      ws.close();
      log.push(`after close readyState=${ws.readyState}`);
    },
  },
  {
    name: "close() argument checks",
    server: "ws",
    path: "/echo",
    setup(ws, log) {
      ws.onopen = () => {
        for (const args of [
          [999],
          [1001],
          [2999],
          [5000],
          [0],
          ["reason only"],
          [1000, "x".repeat(124)],
          [3000, "é".repeat(62)],
        ]) {
          try {
            ws.close(...args);
            log.push(
              `close(${args.map((a) => (String(a).length > 20 ? `${String(a).length} chars` : a)).join(", ")}) accepted`,
            );
          } catch (error) {
            log.push(
              `close(${args.map((a) => (String(a).length > 20 ? `${String(a).length} chars` : a)).join(", ")}) throws ${errorName(error)}`,
            );
          }
        }
        ws.close(3000, "é".repeat(61));
      };
    },
  },
  {
    name: "16 sends of 1 MiB: bufferedAmount grows at once and drains to 0",
    server: "ws",
    path: "/sink",
    setup(ws, log) {
      ws.onopen = async () => {
        const chunk = new Uint8Array(MIB);
        for (let i = 0; i < 16; i++) ws.send(chunk);
        log.push(`bufferedAmount=${ws.bufferedAmount}`);
        const drained = await until(() => ws.bufferedAmount === 0, 10_000);
        log.push(`drained=${drained}`);
      };
      ws.onmessage = (event) => {
        if (String(event.data).startsWith("received 16")) ws.close(1000);
      };
    },
  },
  {
    name: "subprotocol negotiated",
    server: "ws",
    path: "/echo",
    protocols: ["superchat", "chat"],
    setup(ws) {
      ws.onopen = () => ws.close();
    },
  },
  {
    name: "constructor: unparsable URL",
    url: () => "ws://[::1/",
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "constructor: ftp scheme",
    url: () => "ftp://127.0.0.1/",
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "constructor: fragment",
    url: (urls) => `${urls.ws}/echo#frag`,
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "constructor: empty fragment",
    url: (urls) => `${urls.ws}/echo#`,
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "constructor: http URL becomes ws",
    url: (urls) => `${urls.ws.replace("ws:", "http:")}/echo`,
    setup(ws, log) {
      log.push(`url scheme ${ws.url.slice(0, ws.url.indexOf(":"))}`);
      ws.onopen = () => ws.close();
    },
  },
  {
    name: "constructor: repeated protocol",
    server: "ws",
    path: "/echo",
    protocols: ["chat", "chat"],
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "constructor: protocol with a space",
    server: "ws",
    path: "/echo",
    protocols: "a b",
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "constructor: empty protocol",
    server: "ws",
    path: "/echo",
    protocols: [""],
    // Only runs where the constructor wrongly accepts: end at once.
    setup(ws) {
      ws.close();
    },
  },
  {
    name: "subprotocols requested, none selected",
    server: "ws",
    path: "/echo",
    protocols: ["superchat"],
    setup(ws) {
      ws.onopen = () => ws.close();
    },
  },
  {
    name: "abrupt TCP close after a message",
    server: "raw",
    path: "/abrupt",
    setup() {},
  },
  {
    name: "handshake with a wrong accept key",
    server: "raw",
    path: "/wrong-accept",
    setup() {},
  },
  {
    name: "handshake selecting an unrequested subprotocol",
    server: "raw",
    path: "/unrequested-protocol",
    setup() {},
  },
  {
    name: "handshake selecting an unrequested extension",
    server: "raw",
    path: "/unrequested-extension",
    setup() {},
  },
  {
    name: "handshake answered with 403",
    server: "raw",
    path: "/status-403",
    setup() {},
  },
  {
    name: "handshake taking 2 s",
    server: "raw",
    path: "/slow",
    setup() {},
  },
  {
    name: "invalid UTF-8 in a text message fails the connection",
    server: "raw",
    path: "/invalid-utf8",
    setup() {},
  },
];

/** The log of `scenario` run with `WebSocketImpl`; `urls` maps server names to base URLs. */
export function runScenario(WebSocketImpl, urls, scenario, binaryType) {
  return record(
    WebSocketImpl,
    scenario.url ? scenario.url(urls) : urls[scenario.server] + scenario.path,
    scenario.protocols,
    binaryType,
    scenario.setup,
  );
}

/** Every (scenario, binaryType) pair, with a stable label. */
export function scenarioRuns() {
  const runs = [];
  for (const scenario of SCENARIOS) {
    for (const binaryType of scenario.binaryTypes ?? [undefined]) {
      runs.push({
        label: binaryType ? `${scenario.name} [${binaryType}]` : scenario.name,
        scenario,
        binaryType,
      });
    }
  }
  return runs;
}

/** Runs every scenario in turn; resolves to { label: log }. */
export async function runAll(WebSocketImpl, urls) {
  const logs = {};
  for (const run of scenarioRuns()) {
    logs[run.label] = await runScenario(WebSocketImpl, urls, run.scenario, run.binaryType);
  }
  return logs;
}
