"""autobahn-python (asyncio flavour) as a client peer, driven over RPC."""

import asyncio
import re
import urllib.parse

import autobahn
from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateResponse,
    PerMessageDeflateResponseAccept,
)

from rpc import decode, encode, serve_rpc


class Client(WebSocketClientProtocol):
    def __init__(self):
        super().__init__()
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()
        self.ended = loop.create_future()
        self.messages = asyncio.Queue()
        self.pongs = asyncio.Queue()
        self.subprotocol = None
        self.extensions = None

    def onConnect(self, response):
        self.subprotocol = response.protocol
        self.extensions = response.headers.get("sec-websocket-extensions")

    def onOpen(self):
        self.opened.set_result(True)

    def onMessage(self, payload, isBinary):
        self.messages.put_nowait(payload if isBinary else payload.decode("utf-8"))

    def onPong(self, payload):
        self.pongs.put_nowait(payload)

    def onClose(self, wasClean, code, reason):
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before opening: {code} {reason}"))
        if not self.ended.done():
            self.ended.set_result((self.remoteCloseCode, self.remoteCloseReason, code, reason))


def accept_response(response):
    if isinstance(response, PerMessageDeflateResponse):
        return PerMessageDeflateResponseAccept(response)
    return None


async def connect(url, subprotocols=None, compression=False):
    parts = urllib.parse.urlsplit(url)
    factory = WebSocketClientFactory(url, protocols=subprotocols or [])
    factory.protocol = Client
    if compression:
        factory.setProtocolOptions(
            perMessageCompressionOffers=[PerMessageDeflateOffer()],
            perMessageCompressionAccept=accept_response,
        )
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(factory, parts.hostname, parts.port)
    return protocol


class Peer:
    def __init__(self):
        self.ws = None

    async def version(self, args):
        return {"name": "autobahn-python", "version": autobahn.__version__}

    async def open(self, args):
        self.ws = await connect(args["url"], args.get("subprotocols"), args.get("compression"))
        await self.ws.opened
        return {"subprotocol": self.ws.subprotocol, "extensions": self.ws.extensions}

    async def send(self, args):
        data = decode(args["data"])
        if isinstance(data, str):
            self.ws.sendMessage(data.encode("utf-8"), isBinary=False)
        else:
            self.ws.sendMessage(data, isBinary=True)
        return {}

    async def send_fragments(self, args):
        parts = [decode(part) for part in args["parts"]]
        binary = not isinstance(parts[0], str)
        self.ws.beginMessage(isBinary=binary)
        for part in parts:
            self.ws.sendMessageFrame(part if binary else part.encode("utf-8"))
        self.ws.endMessage()
        return {}

    async def recv(self, args):
        getter = asyncio.ensure_future(self.ws.messages.get())
        done, _ = await asyncio.wait([getter, self.ws.ended], return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return {"data": encode(getter.result())}
        getter.cancel()
        raise ConnectionError(f"connection closed: {self.ws.ended.result()}")

    async def ping(self, args):
        payload = args["data"].encode("utf-8")
        self.ws.sendPing(payload)
        while True:
            if await self.ws.pongs.get() == payload:
                return {}

    async def close(self, args):
        self.ws.sendClose(args["code"], args["reason"])
        code, reason, _, _ = await self.ws.ended
        return {"code": code, "reason": reason}

    async def wait_closed(self, args):
        code, reason, _, _ = await self.ws.ended
        return {"code": code, "reason": reason}

    async def open_expect_reject(self, args):
        ws = await connect(args["url"])
        try:
            await ws.opened
        except ConnectionError as exc:
            match = re.search(r"\[(\d{3})\]", str(exc))
            return {"status": int(match.group(1)) if match else None, "detail": str(exc)}
        ws.sendClose(1000)
        raise RuntimeError("the handshake succeeded")


async def main():
    peer = Peer()
    ops = ["version", "open", "send", "send_fragments", "recv", "ping", "close", "wait_closed", "open_expect_reject"]
    await serve_rpc({op: getattr(peer, op) for op in ops})


asyncio.run(main())
