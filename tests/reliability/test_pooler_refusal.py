"""Scenario 22 - PgBouncer cannot reach the server (a failover, a restart): its refusal is not a doubt.

A private PgBouncer (transaction mode) in front of the test server is repointed (SIGHUP) at a
port where nothing listens, as when the primary died: PgBouncer drops its server connections and
cannot make new ones. A call waits for a server connection, then gets PgBouncer's
"query_wait_timeout" (2 s here; "server login has been failing" when the server answers but
refuses the login) and its connection is closed. The
statement never left PgBouncer, so the call did not happen: pgqrs raises a `DatabaseError` with
`connection_lost` (retry on another connection), not `OutcomeUnknown`, and nothing is written.
Found by deploy/topology's failover, where ~860 calls made during the outage were reported as
`OutcomeUnknown`. Skipped where no pgbouncer binary is installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    """PgBouncer refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Bouncer:
    """A private PgBouncer in transaction mode in front of one server port."""

    def __init__(self, binary: str, server_port: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="pgqrs-refusal-"))
        self.port = _free_port()
        self.binary = binary
        self.configure(server_port)

    def configure(self, server_port: int) -> None:
        (self.directory / "userlist.txt").write_text('"postgres" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"[databases]\n* = host=127.0.0.1 port={server_port}\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\nauth_type = trust\n"
            f"auth_file = {self.directory}/userlist.txt\npool_mode = transaction\nserver_login_retry = 1\n"
            "query_wait_timeout = 2\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.directory}/pgbouncer.log\npidfile = {self.directory}/pgbouncer.pid\n"
        )
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            for file in self.directory.iterdir():
                shutil.chown(file, "postgres")

    def start(self) -> None:
        subprocess.run(
            _as_server_user([self.binary, "-d", str(self.directory / "pgbouncer.ini")]), check=True
        )

    def signal(self, name: str) -> None:
        pid = (self.directory / "pgbouncer.pid").read_text().strip()
        subprocess.run(_as_server_user(["kill", f"-{name}", pid]), check=False)


@pytest.fixture
def bouncer(dsn: str) -> Iterator[Bouncer]:
    """Return a running private PgBouncer in front of the test server."""
    binary = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if binary is None:
        pytest.skip("needs pgbouncer (apt-get install pgbouncer)")
    running = Bouncer(binary, harness.host_and_port(harness.derive_direct_dsn(dsn))[1])
    running.start()
    try:
        yield running
    finally:
        running.signal("TERM")
        time.sleep(0.5)
        shutil.rmtree(running.directory, ignore_errors=True)


def test_a_call_pgbouncer_cannot_send_to_any_server_did_not_happen(
    admin: pgqrs.PgqrsAdmin,
    bouncer: Bouncer,
    dsn: str,
    schema: str,
    figures: dict[str, object],
) -> None:
    queue = admin.create_queue("refused")
    through_bouncer = psycopg.conninfo.make_conninfo(
        harness.derive_direct_dsn(dsn), host="127.0.0.1", hostaddr="127.0.0.1", port=str(bouncer.port)
    )
    config = admin.config.replace(dsn=through_bouncer, pooler="transaction", connection_timeout_seconds=5)
    with pgqrs.PgqrsAdmin.connect(config) as pooled:
        producer = pgqrs.Producer(pooled.pool, queue, config)
        producer.enqueue({"n": 0})
        bouncer.configure(_free_port())  # nothing listens there: the server is gone
        bouncer.signal("HUP")
        time.sleep(0.5)  # the reload is asynchronous
        with pytest.raises(pgqrs.DatabaseError) as raised:
            producer.enqueue({"n": 1})
    figures.update(error=type(raised.value).__name__, message=str(raised.value)[:120])
    assert not isinstance(raised.value, pgqrs.OutcomeUnknown), raised.value
    assert raised.value.connection_lost
    assert "did not happen" in str(raised.value)
    assert harness.count_messages(harness.derive_direct_dsn(dsn), schema, queue.id) == 1
