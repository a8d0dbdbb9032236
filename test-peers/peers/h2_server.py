"""A WebSocket echo server over HTTP/2 (RFC 8441) written with python3-h2.

Listens on 127.0.0.1 (any free port) with TLS and ALPN h2, advertises
SETTINGS_ENABLE_CONNECT_PROTOCOL in its first SETTINGS, accepts extended
CONNECTs with :protocol websocket with 200, echoes text and binary
frames, answers a close frame and ends the stream (END_STREAM, the FIN of
HTTP/2). Many WebSockets may share one connection.

Prints "listening PORT" first, then one JSON object per line for each
connection and each stream (with its request headers). Exits when its
standard input closes.

Usage: h2_server.py CERTFILE KEYFILE
"""

import json
import socket
import ssl
import struct
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.settings

lock = threading.Lock()


def log(record):
    with lock:
        print(json.dumps(record), flush=True)


def server_frame(opcode, payload):
    """An unmasked server frame (RFC 6455 §5.2)."""
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, length])
    elif length < 65536:
        head = bytes([0x80 | opcode, 126]) + struct.pack("!H", length)
    else:
        head = bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)
    return head + payload


def parse(buffer):
    """Complete masked client frames in buffer: ([(fin, opcode, payload)], rest)."""
    frames = []
    while len(buffer) >= 2:
        fin, opcode = buffer[0] & 0x80, buffer[0] & 0x0F
        masked, length = buffer[1] & 0x80, buffer[1] & 0x7F
        offset = 2
        if length == 126:
            if len(buffer) < 4:
                break
            length = struct.unpack("!H", buffer[2:4])[0]
            offset = 4
        elif length == 127:
            if len(buffer) < 10:
                break
            length = struct.unpack("!Q", buffer[2:10])[0]
            offset = 10
        if not masked:
            raise ValueError("client frame without mask")
        if len(buffer) < offset + 4 + length:
            break
        mask = buffer[offset : offset + 4]
        data = buffer[offset + 4 : offset + 4 + length]
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        frames.append((fin, opcode, payload))
        buffer = buffer[offset + 4 + length :]
    return frames, buffer


class Outbox:
    """Data waiting for HTTP/2 flow control (RFC 9113 §5.2): the peer's
    windows and frame size limit what may go now."""

    def __init__(self, conn):
        self.conn = conn
        self.pending = {}  # stream id -> [bytearray, end_stream]

    def send(self, stream_id, data, end_stream=False):
        entry = self.pending.setdefault(stream_id, [bytearray(), False])
        entry[0] += data
        entry[1] = entry[1] or end_stream
        self.flush()

    def flush(self):
        for stream_id, entry in list(self.pending.items()):
            data = entry[0]
            while data:
                room = min(
                    self.conn.local_flow_control_window(stream_id),
                    self.conn.max_outbound_frame_size,
                )
                if room <= 0:
                    break
                chunk = bytes(data[:room])
                del data[:room]
                self.conn.send_data(stream_id, chunk, end_stream=entry[1] and not data)
            if not data:
                del self.pending[stream_id]


def serve_connection(sock):
    log({"event": "connection", "alpn": sock.selected_alpn_protocol()})
    config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config)
    # RFC 8441 §3: the setting goes in the first SETTINGS frame.
    conn.local_settings = h2.settings.Settings(
        client=False,
        initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1},
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    outbox = Outbox(conn)
    buffers = {}
    try:
        while True:
            data = sock.recv(65535)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = dict(event.headers)
                    log({"event": "stream", "headers": headers})
                    if headers.get(":method") == "CONNECT" and headers.get(":protocol") == "websocket":
                        conn.send_headers(event.stream_id, [(":status", "200")])
                        buffers[event.stream_id] = b""
                    else:
                        conn.send_headers(event.stream_id, [(":status", "501")], end_stream=True)
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    frames, buffers[event.stream_id] = parse(buffers[event.stream_id] + event.data)
                    for fin, opcode, payload in frames:
                        if opcode == 0x8:
                            outbox.send(event.stream_id, server_frame(0x8, payload[:2]), end_stream=True)
                        elif opcode in (0x0, 0x1, 0x2):
                            first = bytes([(0x80 if fin else 0) | opcode])
                            outbox.send(event.stream_id, first + server_frame(opcode, payload)[1:])
                        elif opcode == 0x9:
                            outbox.send(event.stream_id, server_frame(0xA, payload))
                elif isinstance(event, h2.events.WindowUpdated):
                    outbox.flush()
                elif isinstance(event, h2.events.StreamReset):
                    outbox.pending.pop(event.stream_id, None)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    log({"event": "goaway", "error_code": int(event.error_code)})
            sock.sendall(conn.data_to_send())
    except (OSError, ValueError) as error:
        log({"event": "error", "error": str(error)})
    finally:
        log({"event": "closed"})
        sock.close()


def main():
    certfile, keyfile = sys.argv[1], sys.argv[2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["h2"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    print("listening %d" % listener.getsockname()[1], flush=True)

    def accept():
        while True:
            raw, _ = listener.accept()
            try:
                sock = context.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            threading.Thread(target=serve_connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
