"""The ``embedded`` DSN: a real PostgreSQL server that pgqrs starts by itself.

``embedded`` or ``embedded:PATH`` in place of a connection string lets someone try pgqrs, run the
examples or write tests with no PostgreSQL to install, configure or point at. The first use starts
a private server on a data directory (the default one, or PATH) and every later use, in this
process or any other, joins it. The server is left running when the process exits, so the data
persists and the next process starts at once. It listens only on a unix socket, never on TCP.

`server_status` and `stop_server` read and signal the server of a data directory as `pg_ctl status`
and `pg_ctl stop` do, through its postmaster.pid, whatever started it.

The server comes from the optional ``pgserver`` package (PostgreSQL 16 binaries on PyPI). Only
`_start_pgserver` and `_ensure_system_user` know about it: the rest of this module would serve
another provider unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple


def _default_data_dir() -> Path:
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]) / "pgqrs" / "embedded"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # As root, pgserver runs PostgreSQL as its own user and opens every parent directory of
        # the data directory to it: under /root that would expose root's home to all users.
        return Path("/var/lib/pgqrs/embedded")
    return Path.home() / ".local" / "share" / "pgqrs" / "embedded"


DEFAULT_DATA_DIR = _default_data_dir()
# The cluster belongs to pgqrs alone, so a database of its own would isolate nothing, and creating
# one would need a connection and a race between processes that start together: use `postgres`.
DATABASE = "postgres"
MISSING_EXTRA = "the embedded server needs the `embedded` extra: pip install 'pgqrs-py[embedded]'"

_PREFIX = "embedded:"
# As root, pgserver runs PostgreSQL as this system user, made with `useradd` on first use.
_SYSTEM_USER = "pgserver"
# Where useradd lives: root's usual PATH has them, a minimal one (`env -i PATH=/usr/bin:/bin`,
# cron, some containers) does not, and pgserver looks for useradd on PATH alone.
_ADMIN_COMMAND_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# pgserver passes the socket directory (the data directory) to pg_ctl unquoted and pg_ctl runs
# it through /bin/sh: a space stops the start, and `&` runs the rest of the path as a command.
_SAFE_PUNCTUATION = frozenset("/._-+,:=@%#~")


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL server could not be started."""


class ServerStatus(NamedTuple):
    """What runs on an embedded server's data directory (pid None: no server runs there)."""

    data_dir: Path
    pid: int | None = None
    port: int | None = None
    socket_dir: str | None = None


class _Endpoint(NamedTuple):
    host: str  # a unix socket directory, or a host name where the provider only offers TCP
    port: int
    user: str


# A process starts each server once; the lock also keeps two threads from starting it together
# (pgserver's own lock is a file lock, which does not exclude threads of one process).
_lock = threading.Lock()
_dsns: dict[Path, str] = {}


def is_embedded_dsn(dsn: str) -> bool:
    """Return whether `dsn` asks for the embedded server (``embedded`` or ``embedded:PATH``)."""
    return dsn == "embedded" or dsn.startswith(_PREFIX)


def data_dir_for(dsn: str) -> Path:
    """Return the absolute data directory an embedded DSN names.

    Raises:
        ValueError: `dsn` is not an embedded DSN.
        EmbeddedServerError: ``embedded:`` with no path.
    """
    if not is_embedded_dsn(dsn):
        raise ValueError(f"not an embedded DSN: {dsn!r}")
    path = dsn[len(_PREFIX) :] if dsn != "embedded" else str(DEFAULT_DATA_DIR)
    if not path:
        raise EmbeddedServerError("'embedded:' needs a path; use 'embedded' for the default data directory")
    # Resolved so that one directory reached by two spellings is one cache entry and one server.
    return Path(path).expanduser().resolve()


def resolve_dsn(dsn: str) -> str:
    """Start the embedded server for `dsn` unless it runs, and return a libpq connection string.

    Raises:
        EmbeddedServerError: pgserver is not installed, or the server could not be started.
    """
    data_dir = data_dir_for(dsn)
    with _lock:
        conninfo = _dsns.get(data_dir)
        if conninfo is None:
            conninfo = _dsns[data_dir] = _conninfo(_start_pgserver(data_dir), DATABASE)
        return conninfo


def server_status(data_dir: Path) -> ServerStatus:
    """Return whether a PostgreSQL server runs on `data_dir`, with its pid, port and socket directory.

    Raises:
        EmbeddedServerError: The data directory cannot be read (another user's, for instance).
    """
    if os.name != "posix":
        raise EmbeddedServerError("the embedded server's status and stop need a POSIX system")
    pid_file = data_dir / "postmaster.pid"
    try:
        # Lines: pid, data directory, start time, port, socket directory, listen address, ...
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return ServerStatus(data_dir)
    except OSError as exc:
        raise EmbeddedServerError(f"cannot read {pid_file}: {exc.strerror or exc}") from exc
    pid = _number(lines, 0)
    # No pid or one <= 0 (initdb's bootstrap backend), or a dead one (a server that crashed).
    if pid is None or pid <= 0 or not _alive(pid):
        return ServerStatus(data_dir)
    socket_dir = lines[4].strip() if len(lines) > 4 else ""
    return ServerStatus(data_dir, pid, _number(lines, 3), socket_dir or None)


def _number(lines: list[str], index: int) -> int | None:
    try:
        return int(lines[index])
    except (IndexError, ValueError):
        return None


def stop_server(data_dir: Path, timeout_seconds: float = 60.0) -> ServerStatus:
    """Stop the server on `data_dir` as `pg_ctl stop` does, and return what ran there.

    SIGINT asks PostgreSQL for a fast shutdown: sessions end, open transactions roll back and a
    checkpoint is written before the server process exits, which is what is waited for.

    Raises:
        EmbeddedServerError: The server is another user's, or did not stop in time.
    """
    status = server_status(data_dir)
    if status.pid is None:
        return status
    try:
        os.kill(status.pid, signal.SIGINT)
    except ProcessLookupError:
        return status  # it stopped meanwhile
    except PermissionError as exc:
        raise EmbeddedServerError(
            f"cannot stop the server on {data_dir} (pid {status.pid}): it runs as another user"
        ) from exc
    deadline = time.monotonic() + timeout_seconds
    while _alive(status.pid):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"the server on {data_dir} (pid {status.pid}) did not stop within {timeout_seconds:.0f} s;"
                f" its log is {data_dir / 'log'}"
            )
        time.sleep(0.1)
    return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """Return True for a process that exited and was not reaped (a zombie), where /proc shows it."""
    # pg_ctl leaves the server to init, and a container's first process may never reap it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == "Z"


def _conninfo(endpoint: _Endpoint, dbname: str) -> str:
    # The port is spelled out although the socket name carries it, so that PGPORT in a client's
    # environment cannot send it to another socket. No password: the server trusts local users.
    fields = {"host": endpoint.host, "port": str(endpoint.port), "user": endpoint.user, "dbname": dbname}
    return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


def _quote(value: str) -> str:
    if value and not any(char in value for char in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _foreign_files(data_dir: Path) -> list[str]:
    # Names that initdb, PostgreSQL and pgserver write: another process's start in progress leaves
    # some before PG_VERSION, and must not read as someone else's files.
    if (data_dir / "PG_VERSION").exists():
        return []
    own = ("pg_", "postgresql.", "postmaster.", ".s.PGSQL.", "base", "global", "log", ".handle_pids.json")
    return sorted(entry.name for entry in data_dir.iterdir() if not entry.name.startswith(own))


def _start_pgserver(data_dir: Path) -> _Endpoint:
    """Start or join the pgserver-managed server on `data_dir`; the one place that knows pgserver."""
    unsafe = sorted({char for char in str(data_dir) if not (char.isalnum() or char in _SAFE_PUNCTUATION)})
    if unsafe:
        raise EmbeddedServerError(
            f"the embedded server cannot use {str(data_dir)!r}: its path holds {''.join(unsafe)!r};"
            " choose a directory whose path has only letters, digits and /._-+,:=@%#~"
        )
    try:
        with warnings.catch_warnings():
            # platformdirs warns on pgserver's import where XDG_RUNTIME_DIR is unset (containers,
            # CI, sudo) and falls back to /tmp, which serves pgserver's lock file just as well.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            pgserver: Any = importlib.import_module("pgserver")
    except ImportError as exc:
        if exc.name == "pgserver":
            raise EmbeddedServerError(MISSING_EXTRA) from exc
        raise EmbeddedServerError(f"the pgserver package is installed but does not import: {exc}") from exc
    try:
        # pgserver wants the parent to exist. As root it runs PostgreSQL as a `pgserver` system
        # user (made on first use), gives it the data directory and opens the path's parents to it.
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        foreign = _foreign_files(data_dir)
    except OSError as exc:
        raise EmbeddedServerError(f"cannot make the embedded server's data directory: {exc}") from exc
    if foreign:
        # Refused here because pgserver would first give the directory to its user (as root),
        # then fail in initdb with a reason that only reaches its logger.
        raise EmbeddedServerError(
            f"{data_dir} is neither empty nor a PostgreSQL data directory (it holds"
            f" {', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}): the embedded server"
            " needs a directory of its own"
        )
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        _ensure_system_user(_SYSTEM_USER)
    try:
        # cleanup_mode=None: the server outlives this process, so data and a warm server carry over
        # to the next run. ("stop" would stop it when the last pgserver process leaves, unless a
        # killed one had left its pid in pgserver's list: then never.)
        server = pgserver.get_server(data_dir, cleanup_mode=None)
        info = server.get_postmaster_info()
    except Exception as exc:
        # pgserver keeps the failed handle and would return it to every later call in this process.
        with contextlib.suppress(AttributeError):
            pgserver.PostgresServer._instances.pop(data_dir, None)
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server on {data_dir} did not start ({type(exc).__name__}: {exc});"
            f" its log, if it got that far, is {data_dir / 'log'}"
        ) from exc
    # pgserver's get_uri() leaves the socket path unescaped and the port out, hence our own string.
    host = str(info.socket_dir) if info.socket_dir is not None else str(info.hostname)
    return _Endpoint(host=host, port=int(info.port or 5432), user=str(server.postgres_user))


def _ensure_system_user(name: str) -> None:
    """Create the user pgserver runs PostgreSQL as (as root), as pgserver would, on any PATH.

    pgserver runs a bare `useradd`, which a minimal PATH does not find: the same command is run
    here, found on PATH and in the sbin directories, so pgserver finds the user already made.
    """
    import pwd  # POSIX only, and only root gets here

    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        return
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_ADMIN_COMMAND_DIRS])
    useradd = shutil.which("useradd", path=search)
    if useradd is None:
        raise EmbeddedServerError(
            f"as root the embedded server runs PostgreSQL as the system user {name!r}, and useradd,"
            " which creates it, was not found: create the user, or run pgqrs as another user"
        )
    made = subprocess.run([useradd, "-s", "/bin/bash", name], capture_output=True, text=True, check=False)
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)  # made now, or by another process starting the server at the same time
        return
    raise EmbeddedServerError(f"cannot create the system user {name!r}: {made.stderr.strip()}")
