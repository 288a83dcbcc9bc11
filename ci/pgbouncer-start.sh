#!/usr/bin/env bash
# Start PgBouncer (transaction mode) on 127.0.0.1:6432 in front of the local
# PostgreSQL on 5432. Idempotent: does nothing if a working PgBouncer is up.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
RUN=/tmp/pgqrs-pgbouncer            # must match the paths inside pgbouncer.ini
URL="postgresql://postgres@127.0.0.1:6432/postgres"
ADMIN="postgresql://postgres@127.0.0.1:6432/pgbouncer"
# Without this psql hangs forever if some non-Postgres thing holds port 6432.
export PGCONNECT_TIMEOUT=2

ready() { psql "$URL" -Atqc 'select 1' >/dev/null 2>&1; }
dump_log() { cat "$RUN/pgbouncer.log" >&2 2>/dev/null || true; }

# Already running? Accept it only if it is PgBouncer (admin console answers)
# and it routes to the server.
if ready && psql "$ADMIN" -Atqc 'SHOW VERSION' >/dev/null 2>&1; then
    echo "pgbouncer already running on 6432"; exit 0
fi
# Port taken by something else (or a PgBouncer that cannot reach 5432):
# starting another one would only listen on the unix socket, so fail now.
if (exec 3<>/dev/tcp/127.0.0.1/6432) 2>/dev/null; then
    echo "port 6432 is in use, but 'select 1' through it fails" >&2
    dump_log; exit 1
fi

if ! command -v pgbouncer >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq pgbouncer >/dev/null
    # On hosts with a service manager the package starts its own instance
    # with /etc/pgbouncer/pgbouncer.ini on port 6432; get it out of the way.
    $SUDO service pgbouncer stop >/dev/null 2>&1 || true
fi

# Copy config into the runtime dir: fixed absolute paths wherever the repo
# is cloned, and readable by the postgres user even if the checkout is not.
mkdir -p "$RUN"
cp "$HERE/pgbouncer.ini" "$HERE/userlist.txt" "$RUN/"
: > "$RUN/pgbouncer.log"

# PgBouncer refuses to run as root, so drop to the postgres user.
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$RUN"
    su postgres -s /bin/sh -c "pgbouncer -d '$RUN/pgbouncer.ini'"
else
    pgbouncer -d "$RUN/pgbouncer.ini"
fi

# Wait (at most ~15 s) until queries get through to the server.
deadline=$((SECONDS + 15))
while [ "$SECONDS" -lt "$deadline" ]; do
    if ready; then echo "pgbouncer ready on 127.0.0.1:6432"; exit 0; fi
    sleep 0.5
done
echo "pgbouncer did not become ready within 15 s; log follows:" >&2
dump_log
"$HERE/pgbouncer-stop.sh" >&2 || true   # don't leave a half-working daemon
exit 1
