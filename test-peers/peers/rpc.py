"""JSON-lines RPC between the Node test (parent) and a Python peer (child).

Requests arrive on stdin as {"id", "op", "args"}; answers go to stdout as
{"id", "ok", "result"} or {"id", "ok": false, "error"}. Servers also write
events ({"event": ...}) to stdout. Message data travels as {"text": str} or
{"b64": str}.
"""

import asyncio
import base64
import json
import sys


def encode(data):
    if isinstance(data, str):
        return {"text": data}
    return {"b64": base64.b64encode(bytes(data)).decode("ascii")}


def decode(obj):
    if "text" in obj:
        return obj["text"]
    return base64.b64decode(obj["b64"])


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def stdin_lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        yield line


async def serve_rpc(handlers):
    """Answers requests one at a time until stdin closes."""
    async for line in stdin_lines():
        request = json.loads(line)
        try:
            handler = handlers[request["op"]]
            result = await handler(request.get("args") or {})
            emit({"id": request["id"], "ok": True, "result": result})
        except Exception as exc:  # reported to the parent, which judges
            emit({"id": request["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"})


async def until_stdin_closes():
    async for _ in stdin_lines():
        pass
