"""A TCP server speaking just enough of the PostgreSQL protocol to ask for a password and refuse it.

The test server trusts every connection, so it never rejects a password: this one does, the way
PostgreSQL does (FATAL 28P01 "password authentication failed"), so that the CLI's handling of a
wrong password is tested against the real libpq code path.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_CLEARTEXT_PASSWORD = 3


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def _error(message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", "28P01"), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


def _converse(connection: socket.socket) -> None:
    while True:  # answer "no" to SSL and GSSAPI encryption, until the startup message
        length, code = struct.unpack("!ii", _receive(connection, 8))
        _receive(connection, length - 8)
        if code not in (_SSL_REQUEST, _GSS_REQUEST):
            break
        connection.sendall(b"N")
    connection.sendall(b"R" + struct.pack("!ii", 8, _CLEARTEXT_PASSWORD))
    _kind, length = struct.unpack("!ci", _receive(connection, 5))
    _receive(connection, length - 4)  # the password: read, and never kept
    connection.sendall(_error('password authentication failed for user "postgres"'))


def _serve(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            connection, _address = listener.accept()
        except TimeoutError:
            continue
        connection.settimeout(10)
        with connection, contextlib.suppress(OSError, ConnectionError, struct.error):
            _converse(connection)


@contextlib.contextmanager
def password_refusing_server() -> Iterator[int]:
    """Serve on 127.0.0.1 while the block runs; yield the port."""
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=_serve, args=(listener, stop), daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            stop.set()
            thread.join(timeout=5)
