/**
 * One server, several endpoints: `route()` picks the handler by path,
 * before the upgrade, and gives it the path's parameters, typed.
 *
 *   npx tsx examples/router.ts
 *   npx websockets-ts ws://127.0.0.1:8770/echo
 *   npx websockets-ts ws://127.0.0.1:8770/count/3
 *   npx websockets-ts --header "Authorization: Basic $(printf alice:s3cret | base64)" ws://127.0.0.1:8770/admin/
 *
 * Other paths get 404; `/admin` (no slash) is redirected to `/admin/`
 * (`connect(url, { followRedirects: true })` follows).
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { basicAuth, route, serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8770);

const server = await serve(
  route({
    "/echo": async (ws) => {
      for await (const message of ws) await ws.send(message);
    },
    // `n` is a number: the `int` converter matched and converted it.
    "/count/:n(int)": async (ws, { n }) => {
      for (let i = 1; i <= Math.min(n, 100); i++) await ws.send(String(i));
    },
    "/admin/": {
      handler: async (ws) => {
        await ws.send(`Hello, ${ws.username}! ${ws.server.connections.size} connection(s) open.`);
      },
      // Only this route asks for credentials.
      processRequest: basicAuth({ credentials: ["alice", "s3cret"] }),
    },
  }),
  { host, port },
);

// Handlers first: a signal arriving before them would kill the process outright.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.close());
}

console.log(`router listening on ws://${host}:${server.port}`);

await server.serveForever();
