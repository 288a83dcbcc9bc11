"""Print the figures of a topology run and fail (exit 1) if one that must be 0 is not.

python report.py results.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Must be 0 in every fleet run (checked by message id).
FLEET_ZERO = ("lost", "twice_in_lease", "overlapping_runs", "archived_twice", "unexpected")
# Must be 0 in a failover (checked by dedup key). A key archived twice is not a fault: an enqueue
# that raised OutcomeUnknown had committed, its message was handled before the retry came, and
# the retry wrote it again (a key dedups live messages only): it counts as delivered again.
# Acknowledged enqueues lost must be 0 only with the synchronous replica: the asynchronous case
# is there to show what it loses.
FAILOVER_ZERO = ("lost", "twice_in_lease", "overlapping_runs")


def faults(result: dict[str, object]) -> list[str]:
    verdict = result["verdict"]
    assert isinstance(verdict, dict)
    if result["kind"] == "fleet":
        names = list(FLEET_ZERO)
    elif result.get("mode") == "sync":
        names = [*FAILOVER_ZERO, "acknowledged_lost"]
    else:  # asynchronous: whatever it loses (acknowledged enqueues, leases) is the figure
        names = []
    return [f"{name}={verdict[name]}" for name in names if verdict.get(name)]


def main(path: str) -> int:
    results = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    failed = False
    print("\n=== topology figures")
    for result in results:
        if result["kind"] == "fleet":
            print(
                f"fleet    {result['handler']:>8} x{result['workers']:<2} {result['throughput']:8.1f} msg/s"
                f"  server CPU {result['server_share']:.0%}  {result['verdict']}"
            )
        else:
            route = result.get("route", "bouncer")
            print(
                f"failover {result['mode']:>5} {route}: {json.dumps(result['figures'])}  {result['verdict']}"
            )
        bad = faults(result)
        if bad:
            failed = True
            print(f"  FAULT: {', '.join(bad)} (must be 0)")
    print(
        "=== " + ("FAILED: a figure that must be 0 is not" if failed else "every figure that must be 0 is 0")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
