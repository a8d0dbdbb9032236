"""Python websockets (the legacy asyncio API of 10.x) as an echo server peer.

Usage: websockets_server.py --compression on|off. Prints {"event": "listening",
"port"} then one "open" and one "closed" event per connection; stops when
stdin closes. Paths: /echo, /reject (403), /close?code=&reason= (server
closes), /fragments (sends a fragmented message first), /ping (pings first,
then says "pong:<payload>").
"""

import asyncio
import http
import sys
import urllib.parse

import websockets

from rpc import emit, until_stdin_closes

FRAGMENTS = ["frag", "mented ", "message \N{JIGSAW PUZZLE PIECE}"]


async def process_request(path, headers):
    if urllib.parse.urlsplit(path).path == "/reject":
        return http.HTTPStatus.FORBIDDEN, [], b"forbidden\n"
    return None


async def handler(ws):
    url = urllib.parse.urlsplit(ws.path)
    query = urllib.parse.parse_qs(url.query)
    emit({
        "event": "open",
        "path": ws.path,
        "subprotocol": ws.subprotocol,
        "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
    })
    try:
        if url.path == "/close":
            await ws.close(int(query["code"][0]), query.get("reason", [""])[0])
        else:
            if url.path == "/fragments":
                await ws.send(FRAGMENTS)
            elif url.path == "/ping":
                waiter = await ws.ping(b"server-ping")
                await waiter
                await ws.send("pong:server-ping")
            async for message in ws:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    finally:
        await ws.wait_closed()
        emit({"event": "closed", "path": ws.path, "code": ws.close_code, "reason": ws.close_reason})


async def main():
    compression = sys.argv[sys.argv.index("--compression") + 1] == "on"
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=["chat.v1"],
        compression="deflate" if compression else None,
        process_request=process_request,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit({"event": "listening", "port": port, "name": "Python websockets", "version": websockets.__version__})
        await until_stdin_closes()


asyncio.run(main())
