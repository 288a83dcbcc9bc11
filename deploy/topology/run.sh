#!/usr/bin/env bash
# A pgqrs fleet on a real topology, on one machine, as root (make topology; --short in CI):
#   - four network namespaces (two with --short) joined by veth pairs to a bridge, 10.231.0.0/24,
#     the bridge at 10.231.0.1 in the root namespace: nothing leaves the machine;
#   - PostgreSQL 15 clusters of our own (primary, then a streaming replica), on our own ports;
#   - PgBouncer in transaction mode in the root namespace, in front of the primary;
#   - `pgqrs worker run` processes inside the namespaces, through PgBouncer, with listen_dsn
#     straight to the server for the wake-ups.
# Then the fleet measurement (fleet.py) and the failovers (failover.py). Everything it creates
# (namespaces, links, clusters, PgBouncer, workers) is removed on exit, Ctrl-C or SIGTERM.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SHORT=0 FLEET=1
for argument in "$@"; do
    case "$argument" in
        --short) SHORT=1 ;;
        --no-fleet) FLEET=0 ;;   # the failovers only
        *) echo "usage: run.sh [--short] [--no-fleet]" >&2; exit 2 ;;
    esac
done
[[ "$(id -u)" -eq 0 ]] || { echo "run.sh needs root (network namespaces)" >&2; exit 1; }

export PGBIN=/usr/lib/postgresql/15/bin
export TOPOLOGY_NET=10.231.0
export TOPOLOGY_HOST="$TOPOLOGY_NET.1"
export TOPOLOGY_PRIMARY_PORT="${TOPOLOGY_PRIMARY_PORT:-57432}"
export TOPOLOGY_REPLICA_PORT="${TOPOLOGY_REPLICA_PORT:-57433}"
export TOPOLOGY_BOUNCER_PORT="${TOPOLOGY_BOUNCER_PORT:-57632}"
export TOPOLOGY_WORK
TOPOLOGY_WORK="$(mktemp -d /tmp/pgqrs-topology.XXXXXX)"
chmod 755 "$TOPOLOGY_WORK"
export TOPOLOGY_NAMESPACES
if [[ $SHORT -eq 1 ]]; then NAMESPACE_COUNT=2; else NAMESPACE_COUNT=4; fi
TOPOLOGY_NAMESPACES="$(seq -s ' ' -f 'pgqrs-ns%g' 1 "$NAMESPACE_COUNT")"
BRIDGE=pgqrs-br0
PYTHON="$REPO/.venv/bin/python"
step() { printf '\n--- topology: %s (%s)\n' "$*" "$(date +%T)"; }

CHILD=""
# A step runs in the background and is waited for: a trapped signal interrupts `wait` at once
# (not after the step ends), and the cleanup stops the step first.
run_step() { "$@" & CHILD=$!; wait "$CHILD"; }

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    step "cleaning up"
    if [[ -n "$CHILD" ]]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
    # Workers and producers first (their process groups, started by the drivers), then servers.
    for pidfile in "$TOPOLOGY_WORK"/pids/*; do
        [[ -f "$pidfile" ]] && kill -KILL -- "-$(cat "$pidfile")" 2>/dev/null || true
    done
    if [[ -s "$TOPOLOGY_WORK/bouncer/pgbouncer.pid" ]]; then
        kill -TERM "$(cat "$TOPOLOGY_WORK/bouncer/pgbouncer.pid")" 2>/dev/null || true
    fi
    for cluster in "$TOPOLOGY_WORK"/clusters/*; do
        if [[ -f "$cluster/postmaster.pid" ]]; then
            runuser -u postgres -- "$PGBIN/pg_ctl" -D "$cluster" -m immediate stop >/dev/null 2>&1 || true
        fi
    done
    for namespace in $TOPOLOGY_NAMESPACES; do
        ip netns delete "$namespace" 2>/dev/null || true
    done
    ip link delete "$BRIDGE" 2>/dev/null || true
    if [[ -n "${TOPOLOGY_KEEP:-}" ]]; then echo "kept $TOPOLOGY_WORK"; else rm -rf "$TOPOLOGY_WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "packages"
missing=()
command -v pgbouncer >/dev/null || missing+=(pgbouncer)
command -v ip >/dev/null || missing+=(iproute2)
if [[ ${#missing[@]} -gt 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
    service pgbouncer stop >/dev/null 2>&1 || true   # the package's own instance, if it started one
fi
[[ -x "$PYTHON" ]] || { python3 -m venv "$REPO/.venv" && "$REPO/.venv/bin/pip" install -q -e "$REPO[cli]"; }
if [[ $SHORT -eq 0 ]] && ! "$PYTHON" -c 'import matplotlib' 2>/dev/null; then
    "$REPO/.venv/bin/pip" install -q matplotlib   # the plot only; not a pgqrs dependency
fi
for port in "$TOPOLOGY_PRIMARY_PORT" "$TOPOLOGY_REPLICA_PORT" "$TOPOLOGY_BOUNCER_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is taken: set TOPOLOGY_*_PORT" >&2; exit 1
    fi
done

step "network: bridge $BRIDGE at $TOPOLOGY_HOST, namespaces $TOPOLOGY_NAMESPACES"
# What a run killed with SIGKILL (no trap) left behind: ours by name.
for namespace in $TOPOLOGY_NAMESPACES; do ip netns delete "$namespace" 2>/dev/null || true; done
ip link delete "$BRIDGE" 2>/dev/null || true
ip link add "$BRIDGE" type bridge
ip addr add "$TOPOLOGY_HOST/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
index=10
for namespace in $TOPOLOGY_NAMESPACES; do
    index=$((index + 1))
    ip netns add "$namespace"
    ip link add "pgqrs-v$index" type veth peer name eth0 netns "$namespace"
    ip link set "pgqrs-v$index" master "$BRIDGE" up
    ip -n "$namespace" addr add "$TOPOLOGY_NET.$index/24" dev eth0
    ip -n "$namespace" link set eth0 up
    ip -n "$namespace" link set lo up
done

mkdir -p "$TOPOLOGY_WORK/pids" "$TOPOLOGY_WORK/logs"
chown postgres: "$TOPOLOGY_WORK"
if [[ $SHORT -eq 1 ]]; then
    [[ $FLEET -eq 0 ]] || run_step "$PYTHON" "$HERE/fleet.py" --short
    run_step "$PYTHON" "$HERE/failover.py" --short --mode sync
else
    [[ $FLEET -eq 0 ]] || run_step "$PYTHON" "$HERE/fleet.py"
    run_step "$PYTHON" "$HERE/failover.py" --mode sync
    run_step "$PYTHON" "$HERE/failover.py" --mode async
    run_step "$PYTHON" "$HERE/failover.py" --mode sync --route multihost   # no PgBouncer, no repoint
    # The figures docs/scaling.md shows: kept in the repository with their plot.
    if [[ $FLEET -eq 0 && -f "$HERE/results-full.jsonl" ]]; then
        # The failovers again: keep the fleet's figures, replace the failovers'.
        grep '"kind": "fleet"' "$HERE/results-full.jsonl" > "$TOPOLOGY_WORK/kept.jsonl" || true
        cat "$TOPOLOGY_WORK/kept.jsonl" "$TOPOLOGY_WORK/results.jsonl" > "$HERE/results-full.jsonl"
    else
        cp "$TOPOLOGY_WORK/results.jsonl" "$HERE/results-full.jsonl"
    fi
    [[ $FLEET -eq 0 ]] || "$PYTHON" "$HERE/plot.py" "$HERE/results-full.jsonl" "$REPO/docs/images/scaling.png"
fi
"$PYTHON" "$HERE/report.py" "$TOPOLOGY_WORK/results.jsonl"
