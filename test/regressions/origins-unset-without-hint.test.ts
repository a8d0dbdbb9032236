// Security review, item 9: any Origin is accepted by default (like Python
// websockets and ws; kept), but nothing told a server that relies on
// cookies or basic auth that any web page can then open connections as its
// visitors (cross-site WebSocket hijacking). Now it logs a WARN hint, once
// per server, at the first browser request carrying credentials.
import { strict as assert } from "node:assert";
import { it } from "node:test";
import { connect, serve } from "../../src/index.ts";
import { logMessages } from "../../src/logging.ts";
import { createCaptureLogger } from "../helpers/capture-logger.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

async function hints(
  origins: readonly string[] | null | undefined,
  requests: Record<string, string>[],
): Promise<number> {
  const log = createCaptureLogger("warn");
  const server = await serve(async (ws) => ws.close(), {
    host: "127.0.0.1",
    port: 0,
    logger: log.logger,
    ...(origins === undefined ? {} : { origins }),
  });
  try {
    const { port } = server.address as { port: number };
    for (const headers of requests) {
      const ws = await connect(`ws://127.0.0.1:${port}/`, {
        logger: false,
        origin: headers.Origin ?? null,
        additionalHeaders: Object.fromEntries(
          Object.entries(headers).filter(([name]) => name !== "Origin"),
        ),
      });
      await ws.closed;
    }
  } finally {
    await server.close();
  }
  return log.records.filter((r) => r.level === "warn" && r.msg === logMessages.originsUnset).length;
}

const page = "https://app.example";

it("hints once when browsers send cookies and origins isn't set", async () => {
  const cookie = { Origin: page, Cookie: "session=1" };
  assert.equal(await hints(undefined, [cookie, cookie, cookie]), 1);
});

it("hints when browsers send cached basic credentials", async () => {
  const basic = { Origin: page, Authorization: `Basic ${btoa("alice:pw")}` };
  assert.equal(await hints(undefined, [basic]), 1);
});

it("doesn't hint for non-browser clients, requests without credentials, or a server that chose", async () => {
  assert.equal(await hints(undefined, [{ Cookie: "session=1" }, { Origin: page }]), 0);
  assert.equal(await hints(null, [{ Origin: page, Cookie: "session=1" }]), 0);
  assert.equal(await hints([page], [{ Origin: page, Cookie: "session=1" }]), 0);
});
