"""Timing: targets run one after another (A B A B) or slice by slice in alternation.

Slice interleaving (the default) alternates short slices (about 50 ms) of every target's
workload, so a noisy neighbour slows all targets alike and the ratio stays meaningful on a shared
machine. Each target still works on its own schema, fresh queue and its own connection.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import psycopg

from pgqrs.bench.targets import Target

_ATTEMPTS = 3
ResultT = TypeVar("ResultT")


def progress(text: str) -> None:
    """Report progress on stderr."""
    print(text, file=sys.stderr, flush=True)


def rotated(items: Sequence[Target], turn: int) -> list[Target]:
    """Return `items` starting at position `turn` (so no target always goes first)."""
    if not items:
        return []
    start = turn % len(items)
    return [*items[start:], *items[:start]]


def together(
    targets: Sequence[Target], workload: str, count: int, limit: int | None = None
) -> dict[str, float]:
    """Prepare every target, then alternate their slices until all are done; return seconds per target."""
    for target in targets:
        target.prepare(workload, count)
    generators = {target.name: target.steps(workload, limit) for target in targets}
    elapsed = dict.fromkeys(generators, 0.0)
    active = list(targets)
    turn = 0
    while active:
        for target in rotated(active, turn):
            start = time.perf_counter()
            finished = next(generators[target.name], StopIteration) is StopIteration
            elapsed[target.name] += time.perf_counter() - start
            if finished:
                active.remove(target)
        turn += 1
    for target in targets:
        target.verify(workload, count, limit)
    return elapsed


def repetition(
    targets: Sequence[Target],
    workload: str,
    count: int,
    turn: int,
    mode: str,
    processes: int,
    limit: int | None,
) -> dict[str, float]:
    """Time one repetition of `workload` on every target; return seconds per target."""
    order = rotated(targets, turn)
    if workload == "W5":
        return {target.name: target.run_parallel(count, processes) for target in order}
    if mode == "step":
        return together(order, workload, count, limit)
    seconds: dict[str, float] = {}
    for target in order:
        seconds.update(together([target], workload, count, limit))
    return seconds


def _lost(error: Exception) -> bool:
    return isinstance(error, psycopg.OperationalError) or bool(getattr(error, "connection_lost", False))


def resilient(targets: Sequence[Target], action: Callable[[], ResultT]) -> ResultT:
    """Run `action`; when the server restarts under it (a shared server), wait and run it again."""
    for attempt in range(_ATTEMPTS):
        try:
            return action()
        except Exception as error:  # a variant's errors are its own classes: judge by the attribute
            if attempt == _ATTEMPTS - 1 or not _lost(error):
                raise
            progress(f"  connection lost ({str(error).splitlines()[0]}); repeating the run")
            for target in targets:
                target.environment.reconnect()
                target.recover()
    raise AssertionError("unreachable")
