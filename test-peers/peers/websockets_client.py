"""Python websockets (the legacy asyncio API of 10.x) as a client peer, driven over RPC."""

import asyncio

import websockets
from websockets.exceptions import InvalidStatusCode

from rpc import decode, encode, serve_rpc


class Peer:
    def __init__(self):
        self.ws = None

    async def version(self, args):
        return {"name": "Python websockets", "version": websockets.__version__}

    async def open(self, args):
        self.ws = await websockets.connect(
            args["url"],
            subprotocols=args.get("subprotocols") or None,
            compression="deflate" if args.get("compression") else None,
        )
        return {
            "subprotocol": self.ws.subprotocol,
            "extensions": self.ws.response_headers.get("Sec-WebSocket-Extensions"),
        }

    async def send(self, args):
        await self.ws.send(decode(args["data"]))
        return {}

    async def send_fragments(self, args):
        await self.ws.send([decode(part) for part in args["parts"]])
        return {}

    async def recv(self, args):
        return {"data": encode(await self.ws.recv())}

    async def ping(self, args):
        waiter = await self.ws.ping(args["data"])
        await waiter
        return {}

    async def close(self, args):
        await self.ws.close(args["code"], args["reason"])
        return {"code": self.ws.close_code, "reason": self.ws.close_reason}

    async def wait_closed(self, args):
        await self.ws.wait_closed()
        return {"code": self.ws.close_code, "reason": self.ws.close_reason}

    async def open_expect_reject(self, args):
        try:
            ws = await websockets.connect(args["url"])
        except InvalidStatusCode as exc:
            return {"status": exc.status_code, "detail": str(exc)}
        await ws.close()
        raise RuntimeError("the handshake succeeded")


async def main():
    peer = Peer()
    ops = ["version", "open", "send", "send_fragments", "recv", "ping", "close", "wait_closed", "open_expect_reject"]
    await serve_rpc({op: getattr(peer, op) for op in ops})


asyncio.run(main())
