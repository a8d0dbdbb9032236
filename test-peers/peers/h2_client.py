"""A WebSocket client over HTTP/2 (RFC 8441) written with python3-h2.

Connects to https://localhost:PORT with ALPN h2, checks that the server's
SETTINGS enable extended CONNECT, opens a WebSocket on a stream, sends a
text message, reads the echo, completes the closing handshake, and prints
what it saw as one JSON object.

Usage: h2_client.py PORT CAFILE
"""

import json
import os
import socket
import ssl
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

ENABLE_CONNECT_PROTOCOL = 0x8


def frame(opcode, payload):
    """A masked client frame (RFC 6455 §5.2), short payloads only."""
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def parse(data):
    """Unmasked server frames, short payloads only: [(opcode, payload)]."""
    frames = []
    while len(data) >= 2:
        length = data[1] & 0x7F
        assert length < 126 and not data[1] & 0x80
        frames.append((data[0] & 0x0F, data[2 : 2 + length]))
        data = data[2 + length :]
    return frames


def main():
    port, cafile = int(sys.argv[1]), sys.argv[2]
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["h2"])
    sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10),
        server_hostname="localhost",
    )
    seen = {"alpn": sock.selected_alpn_protocol()}
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())

    stream_id = None
    received = b""
    ended = False
    while not ended:
        data = sock.recv(65535)
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged) and stream_id is None:
                setting = event.changed_settings.get(ENABLE_CONNECT_PROTOCOL)
                seen["enableConnectProtocol"] = setting.new_value if setting else None
                stream_id = conn.get_next_available_stream_id()
                conn.send_headers(
                    stream_id,
                    [
                        (":method", "CONNECT"),
                        (":protocol", "websocket"),
                        (":scheme", "https"),
                        (":path", "/python-h2"),
                        (":authority", "localhost:%d" % port),
                        ("sec-websocket-version", "13"),
                    ],
                )
            elif isinstance(event, h2.events.ResponseReceived):
                headers = {k.decode(): v.decode() for k, v in event.headers}
                seen["status"] = headers.get(":status")
                seen["accept"] = headers.get("sec-websocket-accept")
                conn.send_data(stream_id, frame(0x1, b"hello from python-h2"))
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                received += event.data
                frames = parse(received)
                if frames and "echo" not in seen:
                    seen["echo"] = frames[0][1].decode()
                    conn.send_data(stream_id, frame(0x8, struct.pack("!H", 1000)))
                closes = [payload for opcode, payload in frames if opcode == 0x8]
                if closes and "closeCode" not in seen:
                    seen["closeCode"] = struct.unpack("!H", closes[0][:2])[0]
            elif isinstance(event, h2.events.StreamEnded):
                # The server ended its side after the closing handshake: end ours.
                seen["serverEnded"] = True
                conn.end_stream(stream_id)
                ended = True
            elif isinstance(event, h2.events.StreamReset):
                seen["reset"] = event.error_code
                ended = True
        sock.sendall(conn.data_to_send())
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
