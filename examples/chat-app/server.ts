/**
 * The chat `npm start` serves: a web page and its WebSocket on one port.
 * Open http://127.0.0.1:8765/ in two browser tabs.
 *
 *   npm start                          # http://127.0.0.1:8765/
 *   PORT=9000 HOST=::1 npm start       # elsewhere
 *
 * - `route()` sends `/rooms/<room>?name=<name>` to the room's handler, with
 *   the room name typed and decoded; other paths get 404 before any upgrade.
 * - Each room keeps its last 50 messages, sent to whoever joins; joins and
 *   leaves are announced to the room.
 * - The page (app.js) reconnects with exponential backoff when the
 *   connection drops, e.g. while this server restarts.
 * - Logs at INFO: the server's start and stop, and each connection opened
 *   and closed (with its close codes and duration, and its path).
 *
 * Each room is a topic (`ws.subscribe()`, `server.publish()`): to spread
 * rooms over several processes or machines, give `serve()` a backplane
 * (see docs/topics.md and examples/chat-redis.ts); the history here stays
 * per process.
 *
 * In your project, import from "websockets-ts" instead of "../../src/index.ts".
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createLogger,
  type Request,
  route,
  type ServerConnection,
  serve,
} from "../../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8765);

/** Messages kept per room, sent to each newcomer. */
const HISTORY = 50;
/** Rooms kept in memory; the oldest empty room is forgotten beyond this. */
const MAX_ROOMS = 1000;
const MAX_TEXT = 2000;
const MAX_NAME = 32;
const MAX_ROOM = 64;

/** What the server sends to the page, as JSON. */
type Event =
  | { type: "welcome"; room: string; name: string; members: number; history: ChatMessage[] }
  | { type: "message"; name: string; text: string; at: number }
  | { type: "join" | "leave"; name: string; members: number; at: number };
type ChatMessage = Extract<Event, { type: "message" }>;

/** The topic of a room. */
const topicOf = (room: string) => `room:${room}`;

class Room {
  readonly topic: string;
  readonly history: ChatMessage[] = [];

  constructor(name: string) {
    this.topic = topicOf(name);
  }

  get members(): number {
    return wsServer.subscribers(this.topic);
  }

  publish(event: Event, except?: ServerConnection): void {
    wsServer.publish(this.topic, JSON.stringify(event), { except });
  }

  remember(message: ChatMessage): void {
    this.history.push(message);
    if (this.history.length > HISTORY) this.history.shift();
  }
}

const rooms = new Map<string, Room>();

function roomNamed(name: string): Room {
  let room = rooms.get(name);
  if (room === undefined) {
    room = new Room(name);
    rooms.set(name, room);
    if (rooms.size > MAX_ROOMS) {
      // Maps iterate in insertion order: the first empty room is the oldest.
      for (const [key, candidate] of rooms) {
        if (candidate.members === 0 && candidate !== room) {
          rooms.delete(key);
          break;
        }
      }
    }
  }
  return room;
}

/** Text a person typed, without control characters, trimmed; "" when nothing is left. */
function clean(text: string, limit: number): string {
  return text
    .replace(/\p{Cc}/gu, " ")
    .trim()
    .slice(0, limit);
}

function nameOf(request: Request, ws: ServerConnection): string {
  const query = new URL(request.path, "http://chat").searchParams;
  return clean(query.get("name") ?? "", MAX_NAME) || `guest-${ws.id.slice(0, 4)}`;
}

/** The host of an origin, or null for `null` and other opaque origins. */
function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

async function chat(ws: ServerConnection, roomName: string): Promise<void> {
  const name = nameOf(ws.request, ws);
  const room = roomNamed(roomName);
  await ws.send(
    JSON.stringify({
      type: "welcome",
      room: roomName,
      name,
      members: room.members + 1,
      history: room.history,
    } satisfies Event),
  );
  await ws.subscribe(room.topic);
  // Announced to the others: the newcomer's welcome said it all.
  room.publish({ type: "join", name, members: room.members, at: Date.now() }, ws);
  try {
    for await (const data of ws) {
      if (typeof data !== "string") continue;
      let text: string;
      try {
        const parsed = JSON.parse(data) as { type?: unknown; text?: unknown };
        if (parsed.type !== "say" || typeof parsed.text !== "string") continue;
        text = clean(parsed.text, MAX_TEXT);
      } catch {
        continue; // Not JSON: not from our page.
      }
      if (text === "") continue;
      const message: ChatMessage = { type: "message", name, text, at: Date.now() };
      room.remember(message);
      room.publish(message);
    }
  } finally {
    ws.unsubscribe(room.topic);
    room.publish({ type: "leave", name, members: room.members, at: Date.now() });
  }
}

// The page: three files, read once.
const here = dirname(fileURLToPath(import.meta.url));
const files = new Map<string, { body: Buffer; type: string }>(
  (
    [
      ["/", "index.html", "text/html; charset=utf-8"],
      ["/app.js", "app.js", "text/javascript; charset=utf-8"],
      ["/style.css", "style.css", "text/css; charset=utf-8"],
    ] as const
  ).map(([path, file, type]) => [path, { body: readFileSync(join(here, file)), type }]),
);

const http = createServer((req, res) => {
  const file = files.get(req.url ?? "");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" }).end();
  } else if (file === undefined) {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  } else {
    res.writeHead(200, {
      "Content-Type": file.type,
      "Content-Length": file.body.length,
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
      // The page talks only to its own origin (ws: and wss: included).
      "Content-Security-Policy": "default-src 'self'; connect-src 'self'",
    });
    res.end(req.method === "HEAD" ? undefined : file.body);
  }
});

const wsServer = await serve(
  route({
    "/rooms/:room": {
      handler: (ws, { room }) => chat(ws, room),
      processRequest: (connection, _request, { room }) => {
        if (room.length > MAX_ROOM || clean(room, MAX_ROOM) !== room) {
          return connection.respond(400, `invalid room name: ${JSON.stringify(room)}\n`);
        }
      },
      maxSize: 16 * 1024,
    },
  }),
  {
    server: http,
    logger: createLogger({ name: "websockets.server", level: "info" }),
    // Cross-Site WebSocket Hijacking: a page of another site may not join
    // (browsers always send Origin; other clients needn't).
    processRequest: (connection, request) => {
      const origin = request.headers.get("Origin");
      if (origin !== undefined && hostOf(origin) !== request.headers.get("Host")) {
        return connection.respond(403, "cross-origin request refused\n");
      }
    },
    logContext: (ws) => ({ path: ws.request.path }),
  },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    // WebSocket connections first (close 1001: pages reconnect), then HTTP.
    await wsServer.close();
    http.closeAllConnections();
    http.close();
  });
}

await new Promise<void>((resolve) => http.listen(port, host, resolve));
const address = http.address() as { address: string; port: number };
const shown = address.address.includes(":") ? `[${address.address}]` : address.address;
console.log(`chat listening on http://${shown}:${address.port}/`);
