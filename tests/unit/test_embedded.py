"""The ``embedded`` DSN: parsing, and a real pgserver-backed server shared by processes and kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgqrs import _embedded
from pgqrs._embedded import EmbeddedServerError, data_dir_for, is_embedded_dsn, resolve_dsn

# Runs SQL given as arguments against `resolve_dsn(argv[1])` in a process of its own, printing the
# first column of the last statement's first row.
_CLIENT = """
import sys
import psycopg
from pgqrs._embedded import resolve_dsn

with psycopg.connect(resolve_dsn(sys.argv[1]), autocommit=True) as conn:
    for sql in sys.argv[2:]:
        cursor = conn.execute(sql)
    print(cursor.fetchone()[0] if cursor.description else "")
"""

_NOTES = "select string_agg(note, ',' order by id) from notes"


def _env() -> dict[str, str]:
    # The child imports this checkout's pgqrs even where pytest, not the environment, set the path.
    source = str(Path(_embedded.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}


def _python(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _client(dsn: str, *sql: str) -> str:
    process = _python("-c", _CLIENT, dsn, *sql)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.strip()


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if pid > 0 else None  # negative while initdb's bootstrap backend holds the directory


def _alive(pid: int) -> bool:
    psutil = pytest.importorskip("psutil")
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _stop(pgdata: Path) -> None:
    """Stop the server on `pgdata` through pgserver's own last-handle cleanup."""
    pgserver = pytest.importorskip("pgserver")
    pid = _postmaster_pid(pgdata)
    if pid is None or not _alive(pid):
        return
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    # This process may hold the handle resolve_dsn opened, which is set to leave the server up.
    server.cleanup_mode = "stop"
    server.cleanup()
    if _alive(pid):  # a killed client's pid left in pgserver's handle list keeps cleanup() from it
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), f"postgres {pid} on {pgdata} still runs"


@pytest.fixture
def pgdata() -> Iterator[Path]:
    pytest.importorskip("pgserver")
    # Not under tmp_path: as root the server runs as pgserver's own user, and every pytest session
    # that starts meanwhile makes /tmp/pytest-of-root private again, locking that user out.
    base = Path(tempfile.mkdtemp(prefix="pgqrs-embedded-test-"))
    path = base / "nested" / "pgdata"  # parents missing: resolve_dsn makes them
    try:
        yield path
    finally:
        try:
            _stop(path)
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("embedded", True),
        ("embedded:/var/lib/pgqrs", True),
        ("embedded:relative/dir", True),
        ("embedded:", True),  # embedded, but data_dir_for rejects the empty path
        ("", False),
        ("Embedded", False),
        ("embedded2", False),
        (" embedded", False),
        ("embeddedx:/tmp", False),
        ("host=embedded dbname=x", False),
        ("postgresql://embedded/db", False),
    ],
)
def test_is_embedded_dsn(dsn: str, expected: bool) -> None:
    assert is_embedded_dsn(dsn) is expected


def test_data_dir_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_dir_for("embedded") == _embedded.DEFAULT_DATA_DIR.resolve()
    assert data_dir_for(f"embedded:{tmp_path}/a/../b") == tmp_path.resolve() / "b"
    monkeypatch.chdir(tmp_path)
    assert data_dir_for("embedded:rel") == tmp_path.resolve() / "rel"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir_for("embedded:~/x") == tmp_path.resolve() / "x"
    with pytest.raises(EmbeddedServerError, match="needs a path"):
        data_dir_for("embedded:")
    with pytest.raises(ValueError, match="not an embedded DSN"):
        data_dir_for("postgresql://localhost/db")


@pytest.mark.parametrize("xdg", ["/srv/data", ""])
def test_default_data_dir_follows_xdg_data_home(xdg: str) -> None:
    code = "from pgqrs._embedded import DEFAULT_DATA_DIR; print(DEFAULT_DATA_DIR)"
    process = subprocess.run(
        [sys.executable, "-c", code],
        env={**_env(), "XDG_DATA_HOME": xdg},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    if xdg:
        expected = Path(xdg) / "pgqrs" / "embedded"
    elif os.geteuid() == 0:  # never under /root: pgserver would open root's home to its user
        expected = Path("/var/lib/pgqrs/embedded")
    else:
        expected = Path.home() / ".local" / "share" / "pgqrs" / "embedded"
    assert process.stdout.strip() == str(expected)


def test_missing_pgserver_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)  # makes `import pgserver` fail
    with pytest.raises(EmbeddedServerError) as info:
        resolve_dsn(f"embedded:{tmp_path}/no-pgserver")
    assert (
        str(info.value) == "the embedded server needs the `embedded` extra: pip install 'pgqrs-py[embedded]'"
    )


@pytest.mark.parametrize("name", ["with space", "amp&date", "semi;colon", "quote'd", "dollar$x"])
def test_unsafe_path_is_refused_before_anything_runs(tmp_path: Path, name: str) -> None:
    with pytest.raises(EmbeddedServerError, match="cannot use"):
        resolve_dsn(f"embedded:{tmp_path}/{name}")
    assert not (tmp_path / name).exists()


def test_a_directory_with_other_files_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("pgserver")
    (tmp_path / "notes.txt").write_text("mine")
    owner = tmp_path.stat().st_uid
    with pytest.raises(EmbeddedServerError, match=r"nor a PostgreSQL data directory \(it holds notes.txt\)"):
        resolve_dsn(f"embedded:{tmp_path}")
    assert tmp_path.stat().st_uid == owner  # not handed to pgserver's user


def test_server_is_shared_between_processes_and_persists(pgdata: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    dsn = f"embedded:{pgdata}"

    # A first process starts the server, writes, and exits: the server must outlive it.
    _client(
        dsn, "create table notes (id serial primary key, note text)", "insert into notes (note) values ('a')"
    )
    pid = _postmaster_pid(pgdata)
    assert pid is not None and _alive(pid)

    conninfo = resolve_dsn(dsn)
    assert resolve_dsn(dsn) is conninfo  # cached for the process
    fields = psycopg.conninfo.conninfo_to_dict(conninfo)
    assert fields["host"] == str(pgdata.resolve()) and "password" not in fields
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Unix socket only: no TCP address on either end, none listened on.
        assert conn.execute("select inet_server_addr(), current_setting('listen_addresses')").fetchone() == (
            None,
            "",
        )
        conn.execute("insert into notes (note) values ('b')")
        # Another process reads and writes while this connection stays open.
        assert _client(dsn, "insert into notes (note) values ('c')", _NOTES) == "a,b,c"
        # ... and its exit leaves the server up for this one.
        assert conn.execute(_NOTES).fetchone() == ("a,b,c",)
        assert _postmaster_pid(pgdata) == pid

    # With the server stopped, a fresh process starts it again on the same data.
    _stop(pgdata)
    assert _client(dsn, _NOTES) == "a,b,c"
    assert _postmaster_pid(pgdata) not in (None, pid)


def test_a_failed_start_can_be_retried_in_the_same_process(
    pgdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pgserver = pytest.importorskip("pgserver")
    psycopg = pytest.importorskip("psycopg")
    start = pgserver.PostgresServer.ensure_postgres_running

    def fail_once(server: object) -> None:
        monkeypatch.setattr(pgserver.PostgresServer, "ensure_postgres_running", start)
        raise subprocess.TimeoutExpired("pg_ctl", 10)

    monkeypatch.setattr(pgserver.PostgresServer, "ensure_postgres_running", fail_once)
    with pytest.raises(EmbeddedServerError, match=r"did not start \(TimeoutExpired"):
        resolve_dsn(f"embedded:{pgdata}")
    with psycopg.connect(resolve_dsn(f"embedded:{pgdata}")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_processes_starting_at_once_share_one_server(pgdata: Path) -> None:
    dsn = f"embedded:{pgdata}"
    clients = [_python("-c", _CLIENT, dsn, "select 1") for _ in range(4)]
    # Every client is waited for before any assertion, so none is still starting at teardown.
    results = [(client.communicate(timeout=120), client.returncode) for client in clients]
    for (out, err), returncode in results:
        assert (returncode, out.strip()) == (0, "1"), err
    pid = _postmaster_pid(pgdata)
    assert pid is not None and _alive(pid)


def test_status_without_a_running_server(tmp_path: Path) -> None:
    assert _embedded.server_status(tmp_path / "missing") == _embedded.ServerStatus(tmp_path / "missing")
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    # A server that crashed leaves its postmaster.pid behind, naming a process that is gone.
    (tmp_path / "postmaster.pid").write_text(
        f"{exited.stdout.strip()}\n{tmp_path}\n1700000000\n5432\n{tmp_path}\n"
    )
    assert _embedded.server_status(tmp_path) == _embedded.ServerStatus(tmp_path)
    assert _embedded.stop_server(tmp_path) == _embedded.ServerStatus(tmp_path)
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n1700000000\n5432\n{tmp_path}\n")
    assert _embedded.server_status(tmp_path) == _embedded.ServerStatus(
        tmp_path, os.getpid(), 5432, str(tmp_path)
    )


# As root, with the minimal PATH that `env -i`, cron or a bare container gives (no /usr/sbin), in a
# mount namespace whose /etc is a copy without pgserver's system user: the first start must create
# the user, in that copy only.
_AS_A_NEW_ROOT = (
    'mount --bind "$1" /etc && exec env -i PATH=/usr/bin:/bin HOME="$2" "$3" --dsn "embedded:$4" install'
)


def test_root_with_a_minimal_path_creates_the_system_user(pgdata: Path) -> None:
    pgqrs = Path(sys.executable).with_name("pgqrs")
    if os.geteuid() != 0 or shutil.which("unshare") is None or not pgqrs.exists():
        pytest.skip("needs root, unshare (util-linux) and the installed pgqrs script")
    base = pgdata.parents[1]
    etc, home = base / "etc", base / "home"
    etc.mkdir()
    home.mkdir()
    subprocess.run(["cp", "-a", "/etc/.", str(etc)], check=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        if (etc / name).exists():
            lines = (etc / name).read_text().splitlines(keepends=True)
            (etc / name).write_text("".join(line for line in lines if not line.startswith("pgserver:")))
    namespace = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _AS_A_NEW_ROOT, "sh"]
    try:
        completed = subprocess.run(
            [*namespace, str(etc), str(home), str(pgqrs), str(pgdata)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        # By signal, as root: the server's user exists in the namespace's /etc alone.
        _embedded.stop_server(pgdata)
    if completed.returncode != 0 and "pgqrs" not in completed.stderr:
        pytest.skip(f"no mount namespace here: {completed.stderr.strip()}")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "pgqrs is installed in schema 'public'\n"
    assert any(line.startswith("pgserver:") for line in (etc / "passwd").read_text().splitlines())
