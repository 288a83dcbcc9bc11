"""The topology's servers: PostgreSQL clusters of our own (primary, replica) and PgBouncer.

run.sh builds the network and exports where everything goes (TOPOLOGY_* variables); these
helpers make, start, kill, promote and repoint the servers inside its work directory, as the
postgres user. Never the machine's own server: own data directories, own ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import psycopg.sql

WORK = Path(os.environ.get("TOPOLOGY_WORK", "/tmp/pgqrs-topology"))
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
NET = os.environ.get("TOPOLOGY_NET", "10.231.0")
HOST = os.environ.get("TOPOLOGY_HOST", f"{NET}.1")
PRIMARY_PORT = int(os.environ.get("TOPOLOGY_PRIMARY_PORT", "57432"))
REPLICA_PORT = int(os.environ.get("TOPOLOGY_REPLICA_PORT", "57433"))
BOUNCER_PORT = int(os.environ.get("TOPOLOGY_BOUNCER_PORT", "57632"))
NAMESPACES = os.environ.get("TOPOLOGY_NAMESPACES", "pgqrs-ns1 pgqrs-ns2").split()
CLUSTERS = WORK / "clusters"
SCHEMA = "topology"
BOUNCER = WORK / "bouncer"

# The pooler's DSN: what producers and workers are given. The server's own: for listening,
# and for the drivers' bookkeeping (pg_stat_statements, the checker's reads).
BOUNCER_DSN = f"postgresql://postgres@{HOST}:{BOUNCER_PORT}/postgres"
# Both servers, the writable one wins: listening follows a promotion without a restart.
MULTI_HOST_DSN = (
    f"postgresql://postgres@{HOST}:{PRIMARY_PORT},{HOST}:{REPLICA_PORT}/postgres"
    "?target_session_attrs=read-write&connect_timeout=2"
)


def direct_dsn(port: int) -> str:
    """Return the DSN of the cluster on `port`, straight to the server."""
    return f"postgresql://postgres@{HOST}:{port}/postgres"


def as_postgres(*command: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a command as the postgres user (PostgreSQL and PgBouncer refuse root)."""
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, command)], check=check, capture_output=True
    )


def _configure(data: Path, port: int, settings: dict[str, str]) -> None:
    lines = [f"{name} = {value}" for name, value in {"port": str(port), **settings}.items()]
    with (data / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n".join(lines) + "\n")


def init_primary() -> Path:
    """Make and start a fresh primary on PRIMARY_PORT (asynchronous until `make_synchronous`)."""
    for old in ("primary", "replica"):
        stop(CLUSTERS / old)
        shutil.rmtree(CLUSTERS / old, ignore_errors=True)
    CLUSTERS.mkdir(parents=True, exist_ok=True)
    shutil.chown(CLUSTERS, "postgres", "postgres")
    data = CLUSTERS / "primary"
    as_postgres(PGBIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {NET}.0/24 trust\nhost replication all {NET}.0/24 trust\n")
    _configure(
        data,
        PRIMARY_PORT,
        {
            "listen_addresses": f"'127.0.0.1,{HOST}'",
            "unix_socket_directories": f"'{CLUSTERS}'",
            "max_connections": "200",
            "shared_buffers": "'256MB'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "wal_level": "replica",
            "max_wal_senders": "4",
            "cluster_name": "'primary'",
        },
    )
    start(data)
    with psycopg.connect(direct_dsn(PRIMARY_PORT), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        connection.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(SCHEMA)))
    return data


def init_replica() -> Path:
    """Make a streaming replica of the primary with pg_basebackup, start it, wait until it streams."""
    data = CLUSTERS / "replica"
    as_postgres(
        PGBIN / "pg_basebackup", "-h", HOST, "-p", str(PRIMARY_PORT), "-U", "postgres",
        "-D", data, "-R", "-X", "stream", "-c", "fast",
    )  # fmt: skip
    # cluster_name is the application_name the primary's synchronous_standby_names waits for.
    # Once promoted it has no standby of its own: it must not wait for one.
    _configure(data, REPLICA_PORT, {"cluster_name": "'replica'", "synchronous_standby_names": "''"})
    start(data)
    deadline = time.monotonic() + 30
    with psycopg.connect(direct_dsn(PRIMARY_PORT), autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'replica'"
            ).fetchone()
            if row and row[0] in ("sync", "async"):
                return data
            time.sleep(0.2)
    raise RuntimeError("the replica did not start streaming within 30 s")


def make_synchronous() -> None:
    """Make every commit on the primary wait until the replica has it (on our own cluster)."""
    with psycopg.connect(direct_dsn(PRIMARY_PORT), autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET synchronous_standby_names = 'replica'")
        connection.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'replica'"
            ).fetchone()
            if row and row[0] == "sync":
                return
            time.sleep(0.1)
    raise RuntimeError("the replica did not become synchronous within 10 s")


def start(data: Path) -> None:
    """Start a cluster and wait until it accepts connections."""
    as_postgres(PGBIN / "pg_ctl", "-D", data, "-l", data / "server.log", "-w", "start")


def stop(data: Path) -> None:
    """Stop a cluster at once if it runs."""
    if (data / "postmaster.pid").exists():
        as_postgres(PGBIN / "pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)


def postmaster_pid(data: Path) -> int:
    """Return the pid of a running cluster's postmaster."""
    return int((data / "postmaster.pid").read_text().split("\n", 1)[0])


def children(pid: int) -> list[int]:
    """Return the pids of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def crash(data: Path) -> None:
    """kill -9 the postmaster and every backend of a cluster at once, as a machine that dies."""
    postmaster = postmaster_pid(data)
    for pid in [postmaster, *children(postmaster)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def promote(data: Path) -> None:
    """Promote a replica and wait until it accepts writes."""
    as_postgres(PGBIN / "pg_ctl", "-D", data, "-w", "promote")


def _write_bouncer_config(port: int) -> None:
    BOUNCER.mkdir(exist_ok=True)
    (BOUNCER / "userlist.txt").write_text('"postgres" ""\n')
    (BOUNCER / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={HOST} port={port}

[pgbouncer]
listen_addr = 127.0.0.1,{HOST}
listen_port = {BOUNCER_PORT}
unix_socket_dir = {BOUNCER}
auth_type = trust
auth_file = {BOUNCER}/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 2000
; after a failed server login, try again within a second (default 15 s): the failover's
; first enqueue waits for this
server_login_retry = 1
ignore_startup_parameters = extra_float_digits,options
logfile = {BOUNCER}/pgbouncer.log
pidfile = {BOUNCER}/pgbouncer.pid
"""
    )
    shutil.chown(BOUNCER, "postgres", "postgres")
    for name in ("userlist.txt", "pgbouncer.ini"):
        shutil.chown(BOUNCER / name, "postgres", "postgres")


def start_bouncer(port: int) -> None:
    """Start PgBouncer (transaction mode) in front of the server on `port`."""
    stop_bouncer()
    _write_bouncer_config(port)
    as_postgres("pgbouncer", "-d", BOUNCER / "pgbouncer.ini")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(BOUNCER_DSN, autocommit=True, connect_timeout=2) as connection:
                connection.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise RuntimeError("PgBouncer did not answer within 15 s")


def repoint_bouncer(port: int) -> None:
    """Send PgBouncer's clients to the server on `port`: new config, then RELOAD (clients stay)."""
    _write_bouncer_config(port)
    # The admin console speaks only the simple query protocol: psql, not psycopg.
    subprocess.run(
        [PGBIN / "psql", "-h", "127.0.0.1", "-p", str(BOUNCER_PORT), "-U", "postgres", "-d", "pgbouncer",
         "-Atqc", "RELOAD"],
        check=True, capture_output=True,
    )  # fmt: skip


def stop_bouncer() -> None:
    """Stop PgBouncer if it runs."""
    pidfile = BOUNCER / "pgbouncer.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().strip())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(40):
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass
        pidfile.unlink(missing_ok=True)
