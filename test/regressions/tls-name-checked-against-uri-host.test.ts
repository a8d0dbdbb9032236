// Security review, item 1: over `sock` or `path`, connect() gave tls.connect
// no `host`, and no `servername` for an IP address, so Node checked the
// certificate against the socket's host or "localhost": a certificate for
// localhost and 127.0.0.1 was accepted for wss://192.0.2.1/. The server
// always listens on 127.0.0.1 or a Unix socket; the URI host is only the
// name to check (192.0.2.1 is a documentation address, RFC 5737, never
// connected to).
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, type Server, type ServerConnection, serve } from "../../src/index.ts";
import * as localhost from "../helpers/localhost-tls.ts";
import * as named from "../helpers/named-tls.ts";
import { tcpConnect } from "../helpers/net.ts";
import { checkLeaksAfterAll } from "../helpers/no-leaks.ts";

checkLeaksAfterAll();

const echo = async (ws: ServerConnection): Promise<void> => {
  for await (const message of ws) await ws.send(message);
};

function portOf(server: Server): number {
  return (server.address as { port: number }).port;
}

function rejectsCertificate(promise: Promise<unknown>): Promise<void> {
  return assert.rejects(promise, { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
}

for (const [certName, tls, valid, invalid] of [
  ["localhost", localhost, ["127.0.0.1", "[::1]", "localhost"], ["192.0.2.1", "ws.example.test"]],
  ["ws.example.test", named, ["ws.example.test"], ["192.0.2.1", "127.0.0.1", "localhost"]],
] as const) {
  describe(`a certificate for ${certName}`, () => {
    let tcp: Server;
    let unix: Server;
    const path = join(tmpdir(), `websockets-ts-${randomUUID()}.sock`);
    before(async () => {
      const options = { tls: { key: tls.key, cert: tls.cert }, logger: false as const };
      tcp = await serve(echo, { ...options, host: "127.0.0.1", port: 0 });
      unix = await serve(echo, { ...options, path });
    });
    after(async () => {
      await tcp.close();
      await unix.close();
    });

    for (const host of invalid) {
      it(`is refused for wss://${host}/ over a Unix socket`, async () => {
        await rejectsCertificate(
          connect(`wss://${host}/`, { path, tls: { ca: tls.cert }, logger: false }),
        );
      });

      it(`is refused for wss://${host}/ over a socket to 127.0.0.1`, async () => {
        const sock = await tcpConnect(portOf(tcp));
        try {
          await rejectsCertificate(
            connect(`wss://${host}/`, { sock, tls: { ca: tls.cert }, logger: false }),
          );
        } finally {
          sock.destroy();
        }
      });
    }

    for (const host of valid) {
      it(`is accepted for wss://${host}/ over a Unix socket and over a socket`, async () => {
        const overPath = await connect(`wss://${host}/`, {
          path,
          tls: { ca: tls.cert },
          logger: false,
        });
        await overPath.send("hi");
        assert.equal(await overPath.recv(), "hi");
        await overPath.close();
        const sock = await tcpConnect(portOf(tcp));
        const overSock = await connect(`wss://${host}/`, {
          sock,
          tls: { ca: tls.cert },
          logger: false,
        });
        await overSock.close();
      });
    }
  });
}

it("checks against tls.servername when it is given, as the name the caller vouches for", async () => {
  const server = await serve(echo, {
    tls: { key: named.key, cert: named.cert },
    host: "127.0.0.1",
    port: 0,
    logger: false,
  });
  try {
    const ws = await connect(`wss://127.0.0.1:${portOf(server)}/`, {
      tls: { ca: named.cert, servername: named.name },
      logger: false,
    });
    await ws.close();
  } finally {
    await server.close();
  }
});
