/**
 * Token authentication: the client passes a token in the query string
 * (browsers can't set headers on a WebSocket request); `processRequest`
 * answers 401 without a valid one, else stores the user in the typed
 * `connection.data` the handler reads.
 *
 *   ws://127.0.0.1:8765/?token=s3cret-token
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { serve } from "../src/index.ts";

interface Session {
  user: string;
}

// In a real app: your session store, or verify a signed token (JWT...).
const users = new Map([["s3cret-token", "alice"]]);

const server = await serve<Session>(
  async (ws) => {
    await ws.send(`hello ${ws.data.user}`);
    for await (const message of ws.messages({ decode: true })) {
      await ws.send(`${ws.data.user}: ${message}`);
    }
  },
  {
    host: process.env.HOST ?? "127.0.0.1",
    port: Number(process.env.PORT ?? 8765),
    processRequest: (connection, request) => {
      const token = new URL(request.path, "ws://localhost").searchParams.get("token");
      const user = token === null ? undefined : users.get(token);
      if (user === undefined) return connection.respond(401, "Unauthorized\n");
      connection.data = { user };
    },
  },
);
const { port } = server;
console.log(`listening on ws://127.0.0.1:${port}`);
process.once("SIGTERM", () => void server.close());
await server.closed;
