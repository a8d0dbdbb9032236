// Security review, item 4 (httpoxy, CVE-2016-5385): with `proxy` taken from
// the environment, upper-case HTTP_PROXY was honoured inside a CGI process,
// where a client's `Proxy:` request header becomes HTTP_PROXY. It must be
// ignored there (REQUEST_METHOD set), as curl, Go and Python do.
import { strict as assert } from "node:assert";
import { it } from "node:test";
import { getProxy } from "../../src/index.ts";

const target = { secure: false, host: "example.com", port: 80 };
const attacker = "http://127.0.0.1:9";

it("ignores HTTP_PROXY in a CGI process", () => {
  assert.equal(getProxy(target, { REQUEST_METHOD: "GET", HTTP_PROXY: attacker }), null);
  // The next variable in order still applies.
  assert.equal(
    getProxy(target, {
      REQUEST_METHOD: "POST",
      HTTP_PROXY: attacker,
      ALL_PROXY: "socks5://127.0.0.1:1080",
    }),
    "socks5://127.0.0.1:1080",
  );
});

it("still honours lower-case http_proxy and variables no request header can set", () => {
  const proxy = "http://127.0.0.1:3128";
  assert.equal(getProxy(target, { REQUEST_METHOD: "GET", http_proxy: proxy }), proxy);
  assert.equal(getProxy(target, { REQUEST_METHOD: "GET", WS_PROXY: proxy }), proxy);
  assert.equal(
    getProxy({ ...target, secure: true }, { REQUEST_METHOD: "GET", HTTPS_PROXY: proxy }),
    proxy,
  );
});

it("honours HTTP_PROXY outside CGI", () => {
  assert.equal(getProxy(target, { HTTP_PROXY: attacker }), attacker);
});
