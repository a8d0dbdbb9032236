"""autobahn-python (asyncio flavour) as an echo server peer.

Same command line, events and paths as websockets_server.py.
"""

import asyncio
import sys

import autobahn
from autobahn.asyncio.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from autobahn.websocket.types import ConnectionDeny

from rpc import emit, until_stdin_closes

FRAGMENTS = ["frag", "mented ", "message \N{JIGSAW PUZZLE PIECE}"]


class EchoServer(WebSocketServerProtocol):
    def onConnect(self, request):
        query = "&".join(f"{k}={v[0]}" for k, v in request.params.items())
        self.full_path = request.path + (f"?{query}" if query else "")
        self.route = request.path
        self.params = request.params
        if request.path == "/reject":
            raise ConnectionDeny(403, "forbidden")
        return "chat.v1" if "chat.v1" in request.protocols else None

    def onOpen(self):
        extensions = ", ".join(e.EXTENSION_NAME for e in self.websocket_extensions_in_use) or None
        emit({
            "event": "open",
            "path": self.full_path,
            "subprotocol": self.websocket_protocol_in_use,
            "extensions": extensions,
        })
        if self.route == "/close":
            self.sendClose(int(self.params["code"][0]), self.params.get("reason", [""])[0])
        elif self.route == "/fragments":
            self.beginMessage(isBinary=False)
            for part in FRAGMENTS:
                self.sendMessageFrame(part.encode("utf-8"))
            self.endMessage()
        elif self.route == "/ping":
            self.sendPing(b"server-ping")

    def onPong(self, payload):
        if payload == b"server-ping":
            self.sendMessage(b"pong:server-ping", isBinary=False)

    def onMessage(self, payload, isBinary):
        self.sendMessage(payload, isBinary)

    def onClose(self, wasClean, code, reason):
        path = getattr(self, "full_path", None)
        if path is not None and path != "/reject":
            emit({"event": "closed", "path": path, "code": self.remoteCloseCode, "reason": self.remoteCloseReason})


def accept_offer(offers):
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


async def main():
    compression = sys.argv[sys.argv.index("--compression") + 1] == "on"
    factory = WebSocketServerFactory("ws://127.0.0.1")
    factory.protocol = EchoServer
    if compression:
        factory.setProtocolOptions(perMessageCompressionAccept=accept_offer)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    emit({"event": "listening", "port": port, "name": "autobahn-python", "version": autobahn.__version__})
    await until_stdin_closes()
    server.close()


asyncio.run(main())
