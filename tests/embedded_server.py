"""A throwaway embedded PostgreSQL server for test sessions run without PGQRS_TEST_DSN.

Started once per session in a temporary directory and stopped (and deleted) at exit, so a
machine with Python and no PostgreSQL runs the whole suite against a real server.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import tempfile
from pathlib import Path

from pgqrs import _embedded


def start() -> str | None:
    """Start a server in a new temporary directory and return its DSN; None without pgserver."""
    if importlib.util.find_spec("pgserver") is None:
        return None
    # Directly under /tmp, not pytest's tmp_path: as root the server runs as pgserver's own user,
    # and pytest keeps /tmp/pytest-of-root private.
    base = Path(tempfile.mkdtemp(prefix="pgqrs-test-server-"))
    data = base / "data"
    dsn = _embedded.resolve_dsn(f"embedded:{data}")
    atexit.register(stop, base, data)
    return dsn


def stop(base: Path, data: Path) -> None:
    """Stop the server on `data` and delete `base`."""
    import pgserver

    try:
        server = pgserver.get_server(data, cleanup_mode="stop")
        server.cleanup_mode = "stop"
        server.cleanup()
        if (data / "postmaster.pid").exists():
            pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=server.system_user)
    finally:
        shutil.rmtree(base, ignore_errors=True)
