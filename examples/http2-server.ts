/**
 * One port, one TLS connection: a page and its WebSocket over HTTP/2
 * (RFC 8441). Browsers that loaded the page over h2 open `wss://` to the
 * same origin as a stream of that connection; other clients use an
 * HTTP/1.1 upgrade on the same port.
 *
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
 *     -days 30 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
 *     -keyout key.pem -out cert.pem
 *   TLS_KEY=key.pem TLS_CERT=cert.pem npx tsx examples/http2-server.ts
 *   # then open https://localhost:8443/ (accept the self-signed certificate)
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { readFileSync } from "node:fs";
import { serve } from "../src/index.ts";

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8443);
const tls = {
  key: readFileSync(process.env.TLS_KEY ?? "key.pem"),
  cert: readFileSync(process.env.TLS_CERT ?? "cert.pem"),
};

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>WebSocket over HTTP/2</title>
<pre id="log"></pre>
<script>
  const log = (line) => (document.getElementById("log").textContent += line + "\\n");
  const ws = new WebSocket(\`wss://\${location.host}/echo\`);
  ws.onopen = () => ws.send("hello");
  ws.onmessage = (event) => log(\`< \${event.data}\`);
  ws.onclose = (event) => log(\`closed (\${event.code})\`);
</script>
`;

const server = await serve(
  async (ws) => {
    // "HTTP/2" for a browser that loaded the page over h2, else "HTTP/1.1".
    await ws.send(`you are on ${ws.request.version}`);
    for await (const message of ws) await ws.send(message);
  },
  {
    host,
    port,
    tls,
    http2: true,
    // Runs for every request on the port: on HTTP/2, a GET for the page as
    // well as each WebSocket's CONNECT. A response is sent as is.
    processRequest: (connection, request) => {
      if (request.method === "GET" && request.path === "/") {
        const page = connection.respond(200, PAGE);
        page.headers.set("Content-Type", "text/html; charset=utf-8");
        return page;
      }
    },
  },
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.log(`${signal} received, closing`);
    void server.close();
  });
}

console.log(`http2 server listening on https://localhost:${server.port}`);
await server.serveForever();
console.log("http2 server closed");
