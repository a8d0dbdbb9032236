/**
 * Following redirects on purpose. A client doesn't follow them by default
 * (browsers never do); this one follows redirects within the origin it was
 * given and refuses any other, with `checkRedirect`.
 *
 *   npx tsx examples/redirects.ts
 *
 * It starts a server on 127.0.0.1 that answers `/old` with a 301 to `/new`
 * and `/away` with a 302 to another port, then connects to both.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { connect, type RedirectHop, SecurityError, serve } from "../src/index.ts";

const server = await serve(
  async (ws) => {
    await ws.send(`you reached ${ws.request.path}`);
  },
  {
    host: "127.0.0.1",
    port: 0,
    processRequest: (connection, request) => {
      const moves: Record<string, [number, string]> = {
        "/old": [301, "/new"],
        "/away": [302, "ws://127.0.0.1:9/elsewhere"],
      };
      const move = moves[request.path];
      if (move === undefined) return undefined;
      const response = connection.respond(move[0], "Moved\n");
      response.headers.append("Location", move[1]);
      return response;
    },
  },
);
const { port } = server;

const options = {
  followRedirects: true,
  maxRedirects: 3,
  // Same origin only: another host (or port) is refused before connecting.
  checkRedirect: (hop: RedirectHop) => {
    console.log(`redirect ${hop.response.status} to ${hop.to}`);
    return !hop.crossOrigin;
  },
};

const ws = await connect(`ws://127.0.0.1:${port}/old`, options);
console.log(`< ${await ws.recv()}`);
await ws.close();

try {
  await connect(`ws://127.0.0.1:${port}/away`, options);
} catch (error) {
  if (!(error instanceof SecurityError)) throw error;
  console.log(`refused: ${error.message}`);
}
await server.close();
