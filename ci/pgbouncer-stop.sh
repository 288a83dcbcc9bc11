#!/usr/bin/env bash
# Stop the PgBouncer started by pgbouncer-start.sh. Never fails if it is not running.
set -euo pipefail

PIDFILE=/tmp/pgqrs-pgbouncer/pgbouncer.pid

[ -s "$PIDFILE" ] || { echo "pgbouncer not running"; exit 0; }
PID="$(cat "$PIDFILE")"
# In 1.18 SIGINT = safe shutdown (waits for clients), SIGTERM = immediate.
# Immediate is what CI wants: leftover test clients must not block the stop.
kill -TERM "$PID" 2>/dev/null || { rm -f "$PIDFILE"; echo "pgbouncer not running"; exit 0; }
# Wait (bounded) so a following start does not hit "address already in use".
for _ in $(seq 1 20); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.25
done
kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null || true  # still alive after 5 s
rm -f "$PIDFILE"
echo "pgbouncer stopped"
