/**
 * A client connecting through a proxy: HTTP(S) CONNECT, SOCKS5/5h or
 * SOCKS4/4a, given as the second argument or taken from the environment.
 *
 *   npx tsx examples/proxy.ts wss://echo.example/ http://user:pass@proxy.example:3128
 *   npx tsx examples/proxy.ts wss://echo.example/ socks5h://127.0.0.1:1080
 *   https_proxy=http://proxy.example:3128 npx tsx examples/proxy.ts wss://echo.example/
 *
 * Without a proxy URL, `wss://` uses `wss_proxy`, `https_proxy` then
 * `all_proxy`; `ws://` uses `ws_proxy`, `http_proxy` then `all_proxy`; hosts
 * listed in `no_proxy` are reached directly. See docs/proxies.md.
 *
 * In your project, import from "websockets-ts" instead of "../src/index.ts".
 */
import { connect, getProxy } from "../src/index.ts";

const [url = "ws://127.0.0.1:8765", proxy] = process.argv.slice(2);

if (proxy === undefined) {
  const { protocol, hostname, port } = new URL(url);
  const secure = protocol === "wss:";
  const target = { secure, host: hostname, port: Number(port) || (secure ? 443 : 80) };
  const chosen = getProxy(target);
  // Don't print credentials.
  console.log(`proxy from the environment: ${chosen?.replace(/\/\/[^@/]*@/, "//***@") ?? "none"}`);
}

// `proxy: true` (the default) reads the environment; a URL forces a proxy.
await using ws = await connect(url, { proxy: proxy ?? true });
console.log(`connected to ${url}`);
await ws.send("hello through the proxy");
console.log(`< ${await ws.recv()}`);
