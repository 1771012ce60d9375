"""Wait until a Kafka broker answers a Metadata request listing at least one live broker.

Standard library only, so any Python 3 can run it (deploy/local/kafka.sh calls it).

    python3 kafka_probe.py HOST PORT [--pid PID] [--timeout SECONDS]

Exit codes: 0 ready (prints the cluster id), 1 deadline passed, 2 the process PID exited.
A bare TCP connect is not enough: the broker binds its port long before it is unfenced and
serves requests, so this sends a real Metadata (v4, plain encoding) request and reads the
broker list from the answer. With ``KAFKA_PROBE_SASL_PLAIN=NAME:PASSWORD`` in the environment
it first logs in with SASL PLAIN (a SASL_PLAINTEXT listener answers nothing before).
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import time

METADATA_API_KEY = 3
# Kafka 4.x dropped Metadata v0-v3 (KIP-896); v4 is the oldest left and the newest
# version without the "flexible" (tagged-field) encoding, so it is the simplest to speak.
METADATA_VERSION = 4
CLIENT_ID = b"herald-probe"
SASL_HANDSHAKE_API_KEY = 17
SASL_HANDSHAKE_VERSION = 1  # v0 (the unframed exchange) is gone from Kafka 4.x
SASL_AUTHENTICATE_API_KEY = 36
SASL_AUTHENTICATE_VERSION = 0


def _frame(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID))
    payload = header + CLIENT_ID + body
    return struct.pack(">i", len(payload)) + payload


def _request(correlation_id: int) -> bytes:
    # topics: empty array (no topic metadata wanted); allow_auto_topic_creation: false.
    return _frame(METADATA_API_KEY, METADATA_VERSION, correlation_id, struct.pack(">ib", 0, 0))


def _response(sock: socket.socket, correlation_id: int) -> _Reader:
    (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
    reader = _Reader(_recv_exactly(sock, size))
    if reader.int32() != correlation_id:
        raise ConnectionError("unexpected correlation id")
    return reader


def _sasl_plain_login(sock: socket.socket, credentials: str) -> None:
    """SaslHandshake (PLAIN), then SaslAuthenticate with ``\\0name\\0password``."""
    name, _, password = credentials.partition(":")
    mechanism = b"PLAIN"
    body = struct.pack(">h", len(mechanism)) + mechanism
    sock.sendall(_frame(SASL_HANDSHAKE_API_KEY, SASL_HANDSHAKE_VERSION, 101, body))
    if (error := _response(sock, 101).int16()) != 0:
        raise ConnectionError(f"SASL handshake refused (error {error})")
    token = b"\0" + name.encode() + b"\0" + password.encode()
    body = struct.pack(">i", len(token)) + token
    sock.sendall(_frame(SASL_AUTHENTICATE_API_KEY, SASL_AUTHENTICATE_VERSION, 102, body))
    reader = _response(sock, 102)
    if (error := reader.int16()) != 0:
        raise ConnectionError(f"SASL login refused (error {error}): {reader.string()}")


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        value = self.data[self.pos : self.pos + length].decode()
        self.pos += length
        return value


def metadata(host: str, port: int, timeout: float) -> tuple[int, str | None]:
    """Return (number of live brokers, cluster id) from one Metadata round trip."""
    correlation_id = 1
    credentials = os.environ.get("KAFKA_PROBE_SASL_PLAIN", "")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        if credentials:
            _sasl_plain_login(sock, credentials)
        sock.sendall(_request(correlation_id))
        reader = _response(sock, correlation_id)
    reader.int32()  # throttle_time_ms
    brokers = reader.int32()
    for _ in range(max(brokers, 0)):
        reader.int32()  # node_id
        reader.string()  # host
        reader.int32()  # port
        reader.string()  # rack
    return brokers, reader.string()


def _alive(pid: int) -> bool:
    """True while PID runs; an exited but not yet reaped (zombie) process counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--pid", type=int, help="give up as soon as this process has exited")
    parser.add_argument("--timeout", type=float, default=60.0, help="deadline in seconds")
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    last_error = "no answer yet"
    while True:
        if args.pid is not None and not _alive(args.pid):
            print(f"process {args.pid} exited", file=sys.stderr)
            return 2
        try:
            brokers, cluster_id = metadata(args.host, args.port, timeout=2.0)
            if brokers > 0:
                print(cluster_id or "")
                return 0
            last_error = "the broker answers but lists no live broker yet"
        except (OSError, struct.error, UnicodeDecodeError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            print(f"no ready broker on {args.host}:{args.port}: {last_error}", file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
