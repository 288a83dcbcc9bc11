"""Delivery checker: who got which message, when, and did the queue keep its promise.

Jepsen's total-queue check, for pgqrs. Each process records its events with a `Recorder` (JSON
lines in a file of its own, flushed per event so a `kill -9` loses at most a torn last line);
the test merges the files into a `Checker`, adds the final database state, and asks for a
`Verdict`:

- every enqueued id acknowledged exactly once (none lost, no double acknowledgement);
- no unexpected id (one nobody enqueued);
- no two leases on one message overlap;
- every acknowledgement that returned True came from the lease holder;
- no two invocations of a handler on one message ran at the same time (worker-runtime scenarios).

Lease times are database times (``dequeued_at`` and ``vt`` as dequeue returns them), so client
clocks (skewed on purpose in one scenario) never enter the judgement. An acknowledgement whose
call failed (result unknown: it may have committed before the connection died) is settled by the
final state: an archived or vanished message was acknowledged.

Worker-runtime scenarios (`pgqrs.App`) record handler invocations instead of acknowledgements:
the runtime acknowledges on its own, so `Checker.add_runtime_acks` reads them back from the
archive, where each row names the worker that archived it and the delivery (read_ct) it
archived. Invocation times are client wall-clock times of processes on one machine; an
invocation that never finished ends when its process died (`Recorder.exited`).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import itertools
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)
ACK_KINDS = ("delete", "archive")
EXAMPLES_KEPT = 10


def micros(moment: datetime.datetime) -> int:
    """Return a database timestamp as exact integer microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def payload_key(payload: Any) -> str | None:
    """Return the ``key`` a test payload carries (how ambiguous enqueues are matched)."""
    return payload.get("key") if isinstance(payload, dict) else None


class Recorder:
    """Append one process's events to a JSON-lines file; thread-safe, flushed per event."""

    def __init__(self, path: str | os.PathLike[str], process: str) -> None:
        self.path = Path(path)
        self.process = process
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")

    def _write(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def enqueued(self, messages: Iterable[Any]) -> None:
        """Record messages a producer got back from enqueue (their ids are certain)."""
        for message in messages:
            self._write({"e": "enq", "id": message.id, "key": payload_key(message.payload)})

    def enqueue_failed(self, keys: Iterable[str]) -> None:
        """Record keys whose enqueue call failed: they may or may not have been written."""
        for key in keys:
            self._write({"e": "enq?", "key": key})

    def leased(self, consumer: str, messages: Iterable[Any]) -> None:
        """Record leases a dequeue returned (database times)."""
        for message in messages:
            self._write(
                {
                    "e": "lease",
                    "id": message.id,
                    "c": consumer,
                    "start": micros(message.dequeued_at),
                    "end": micros(message.vt),
                    "rc": message.read_ct,
                    "key": payload_key(message.payload),
                }
            )

    def acked(self, consumer: str, kind: str, message_id: int, read_ct: int, result: bool | None) -> None:
        """Record a delete/archive call: True, False, or None when the call raised."""
        assert kind in ACK_KINDS
        self._write({"e": "ack", "id": message_id, "c": consumer, "kind": kind, "rc": read_ct, "ok": result})

    def extended(
        self, consumer: str, message_id: int, read_ct: int, seconds: float, result: bool | None
    ) -> None:
        """Record an extend_visibility call by a consumer."""
        self._write({"e": "ext", "id": message_id, "c": consumer, "rc": read_ct, "s": seconds, "ok": result})

    def handler_started(self, process: str, message: Any) -> None:
        """Record a worker-runtime handler invocation starting (and the lease it runs under)."""
        self._write(
            {
                "e": "lease",
                "id": message.id,
                "c": process,
                "w": message.worker_id,
                "start": micros(message.dequeued_at),
                "end": micros(message.vt),
                "rc": message.read_ct,
                "key": payload_key(message.payload),
            }
        )
        self._write({"e": "run", "id": message.id, "p": process, "rc": message.read_ct, "t": time.time()})

    def handler_finished(self, process: str, message: Any, how: str) -> None:
        """Record a handler invocation ending: "returned", "raised" or "cancelled"."""
        self._write(
            {"e": "done", "id": message.id, "p": process, "rc": message.read_ct, "how": how, "t": time.time()}
        )

    def given_back(self, process: str, message: Any) -> None:
        """Record that the runtime gives a message back untried (read_ct restored)."""
        self._write({"e": "back", "id": message.id, "c": process, "rc": message.read_ct})

    def exited(self, process: str, at: float | None = None) -> None:
        """Record that `process` ended (or was killed) at `at`: its unfinished invocations end then."""
        self._write({"e": "exit", "p": process, "t": time.time() if at is None else at})

    def note(self, **fields: Any) -> None:
        """Record anything else (errors, timings) for the test to read back."""
        self._write({"e": "note", "p": self.process, **fields})

    def close(self) -> None:
        """Close the file (again: a no-op)."""
        with self._lock:
            self._file.close()


def read_events(paths: Iterable[str | os.PathLike[str]]) -> Iterator[dict[str, Any]]:
    """Yield the events of every file; a torn last line (a killed writer) is skipped."""
    for path in paths:
        with open(path, encoding="utf-8") as file:
            for line in file:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


@dataclasses.dataclass(frozen=True)
class Lease:
    message_id: int
    consumer: str
    start: int
    end: int
    read_ct: int


@dataclasses.dataclass(frozen=True)
class Invocation:
    """One handler invocation on one message (worker-runtime scenarios); `end` None: never ended."""

    message_id: int
    process: str
    read_ct: int
    start: float
    end: float | None
    how: str | None


@dataclasses.dataclass
class FinalState:
    """What the database holds for the queue after the run."""

    remaining: dict[int, str | None]  # id -> key, still in pgqrs_messages
    archived: dict[int, list[str | None]]  # original id -> dead_letter_reason per archive row
    archived_keys: dict[int, str | None]
    # original id -> (worker_id, read_ct) per archive row: who archived which delivery
    archived_by: dict[int, list[tuple[int | None, int]]] = dataclasses.field(default_factory=dict)


def final_state(dsn: str, schema: str, queue_id: int) -> FinalState:
    """Read the queue's remaining messages and archive rows straight from the tables."""
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as connection:
        remaining = connection.execute(
            psycopg.sql.SQL("SELECT id, payload->>'key' FROM {}.pgqrs_messages WHERE queue_id = %s").format(
                psycopg.sql.Identifier(schema)
            ),
            (queue_id,),
        ).fetchall()
        archive = connection.execute(
            psycopg.sql.SQL(
                "SELECT original_msg_id, dead_letter_reason, payload->>'key', worker_id, read_ct "
                "FROM {}.pgqrs_archive WHERE queue_id = %s"
            ).format(psycopg.sql.Identifier(schema)),
            (queue_id,),
        ).fetchall()
    archived: dict[int, list[str | None]] = collections.defaultdict(list)
    archived_by: dict[int, list[tuple[int | None, int]]] = collections.defaultdict(list)
    keys: dict[int, str | None] = {}
    for original_id, reason, key, worker_id, read_ct in archive:
        archived[original_id].append(reason)
        archived_by[original_id].append((worker_id, read_ct))
        keys[original_id] = key
    return FinalState(dict(remaining), dict(archived), keys, dict(archived_by))


@dataclasses.dataclass
class Verdict:
    """The checker's counts; `ok` when nothing was lost, duplicated, unexpected or overlapping."""

    enqueued: int = 0
    acknowledged: int = 0
    lost: int = 0
    unexpected: int = 0
    double_acks: int = 0
    overlapping_leases: int = 0
    acks_from_non_holders: int = 0
    dead_lettered: int = 0
    leases: int = 0
    redeliveries: int = 0
    false_acks: int = 0
    failed_calls: int = 0
    settled_by_final_state: int = 0
    ambiguous_enqueues_written: int = 0
    handler_runs: int = 0
    overlapping_runs: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.unexpected
            or self.double_acks
            or self.overlapping_leases
            or self.acks_from_non_holders
            or self.overlapping_runs
        )

    def figures(self) -> dict[str, int]:
        """Return the counts (no examples) for reports."""
        return {key: value for key, value in dataclasses.asdict(self).items() if key != "examples"}

    def problem(self, text: str) -> None:
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(text)

    def __str__(self) -> str:
        counts = ", ".join(f"{key}={value}" for key, value in self.figures().items())
        shown = "".join(f"\n  - {example}" for example in self.examples)
        return f"{'PASS' if self.ok else 'FAIL'}: {counts}{shown}"


class Checker:
    """Merge events from every process and judge them (see the module docstring)."""

    def __init__(self, events: Iterable[dict[str, Any]] = ()) -> None:
        self.enqueued: dict[int, str | None] = {}
        self.failed_keys: set[str] = set()
        self.leases: dict[int, list[Lease]] = collections.defaultdict(list)
        self.acks: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
        self.extensions: dict[tuple[int, str, int], float] = collections.defaultdict(float)
        self.keys_seen: dict[int, str | None] = {}
        self.notes: list[dict[str, Any]] = []
        self.consumer_of_worker: dict[int, str] = {}
        self.given_back: set[tuple[int, str, int]] = set()
        self._runs: dict[tuple[int, str, int], list[float]] = collections.defaultdict(list)
        self._done: dict[tuple[int, str, int], list[tuple[float, str]]] = collections.defaultdict(list)
        self.exits: dict[str, float] = {}
        self.add(events)

    @classmethod
    def from_files(cls, paths: Iterable[str | os.PathLike[str]]) -> Checker:
        return cls(read_events(paths))

    def add(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            self._add(event)

    def _add(self, event: dict[str, Any]) -> None:
        kind = event["e"]
        if kind == "enq":
            self.enqueued[event["id"]] = event.get("key")
        elif kind == "enq?":
            self.failed_keys.add(event["key"])
        elif kind == "lease":
            self.leases[event["id"]].append(
                Lease(event["id"], event["c"], event["start"], event["end"], event["rc"])
            )
            self.keys_seen[event["id"]] = event.get("key")
            if event.get("w") is not None:
                self.consumer_of_worker[event["w"]] = event["c"]
        elif kind == "run":
            self._runs[(event["id"], event["p"], event["rc"])].append(event["t"])
        elif kind == "done":
            self._done[(event["id"], event["p"], event["rc"])].append((event["t"], event["how"]))
        elif kind == "back":
            self.given_back.add((event["id"], event["c"], event["rc"]))
        elif kind == "exit":
            self.exits[event["p"]] = min(event["t"], self.exits.get(event["p"], float("inf")))
        elif kind == "ack":
            self.acks[event["id"]].append(event)
        elif kind == "ext":
            if event["ok"]:
                self.extensions[(event["id"], event["c"], event["rc"])] += event["s"]
        elif kind == "note":
            self.notes.append(event)

    def invocations(self) -> dict[int, list[Invocation]]:
        """Return every handler invocation by message id, in start order.

        An invocation's end is its "done" event, else the end of its process (killed, or exited
        with the handler still running), else None: it was still running when the run ended.
        """
        result: dict[int, list[Invocation]] = collections.defaultdict(list)
        for (message_id, process, read_ct), starts in self._runs.items():
            ends = sorted(self._done.get((message_id, process, read_ct), []))
            for index, start in enumerate(sorted(starts)):
                if index < len(ends):
                    end, how = ends[index]
                    result[message_id].append(Invocation(message_id, process, read_ct, start, end, how))
                else:
                    died = self.exits.get(process)
                    how = None if died is None else "died"
                    result[message_id].append(Invocation(message_id, process, read_ct, start, died, how))
        for runs in result.values():
            runs.sort(key=lambda run: run.start)
        return dict(result)

    def add_runtime_acks(self, final: FinalState) -> int:
        """Add the acknowledgements the worker runtime made, read back from the archive.

        Each archive row that is not a dead letter becomes a successful archive by the process
        whose worker archived it, for the delivery (read_ct) it archived; the verdict then checks
        it was the holder of the latest lease. Returns how many were added.
        """
        added = 0
        for message_id, rows in final.archived_by.items():
            reasons = final.archived.get(message_id, [])
            for (worker_id, read_ct), reason in zip(rows, reasons, strict=True):
                if reason is not None:
                    continue
                consumer = self.consumer_of_worker.get(worker_id, f"worker {worker_id}") if worker_id else "?"
                self._add(
                    {
                        "e": "ack",
                        "id": message_id,
                        "c": consumer,
                        "kind": "archive",
                        "rc": read_ct,
                        "ok": True,
                    }
                )
                added += 1
        return added

    def verdict(self, final: FinalState | None = None) -> Verdict:
        """Judge the run; with `final`, settle unknown acknowledgements and audit the tables."""
        verdict = Verdict()
        expected = self._expected(final, verdict)
        verdict.enqueued = len(expected)
        self._judge_leases(verdict)
        self._judge_runs(verdict)
        self._judge_acks(expected, final, verdict)
        for message_id in sorted(set(self.leases) | set(self.acks) | self._final_ids(final)):
            if message_id not in expected:
                verdict.unexpected += 1
                verdict.problem(f"message {message_id} was never enqueued")
        return verdict

    @staticmethod
    def _final_ids(final: FinalState | None) -> set[int]:
        return set() if final is None else set(final.remaining) | set(final.archived)

    def _expected(self, final: FinalState | None, verdict: Verdict) -> set[int]:
        expected = set(self.enqueued)
        keys = dict(self.keys_seen)
        if final is not None:
            keys.update(final.remaining)
            keys.update(final.archived_keys)
        for message_id, key in keys.items():
            if message_id not in expected and key is not None and key in self.failed_keys:
                # An enqueue whose call failed was written after all: it is a real message.
                expected.add(message_id)
                verdict.ambiguous_enqueues_written += 1
        return expected

    def _judge_leases(self, verdict: Verdict) -> None:
        for message_id, leases in self.leases.items():
            verdict.leases += len(leases)
            verdict.redeliveries += len(leases) - 1
            ordered = sorted(leases, key=lambda lease: (lease.start, lease.read_ct))
            for previous, current in itertools.pairwise(ordered):
                if (message_id, previous.consumer, previous.read_ct) in self.given_back:
                    # Given back untried: the lease ended then (a time nobody recorded) and
                    # read_ct went back down; the invocations show whether two runs overlapped.
                    continue
                end = previous.end + int(
                    self.extensions.get((message_id, previous.consumer, previous.read_ct), 0) * 1_000_000
                )
                if current.start < end or current.read_ct <= previous.read_ct:
                    verdict.overlapping_leases += 1
                    verdict.problem(
                        f"message {message_id}: lease {current} starts before {previous} ends ({end})"
                    )

    def _judge_runs(self, verdict: Verdict) -> None:
        for message_id, runs in self.invocations().items():
            verdict.handler_runs += len(runs)
            for index, later in enumerate(runs):
                for earlier in runs[:index]:
                    if earlier.end is None or later.start < earlier.end:
                        verdict.overlapping_runs += 1
                        verdict.problem(f"message {message_id}: handler run {later} overlaps {earlier}")
                        break

    def _judge_acks(self, expected: set[int], final: FinalState | None, verdict: Verdict) -> None:
        for message_id in sorted(expected):
            acks = self.acks.get(message_id, [])
            done = [ack for ack in acks if ack["ok"]]
            verdict.false_acks += sum(1 for ack in acks if ack["ok"] is False)
            verdict.failed_calls += sum(1 for ack in acks if ack["ok"] is None)
            for ack in done:
                self._judge_holder(message_id, ack, verdict)
            count = len(done)
            if final is not None:
                count = self._settle(message_id, done, acks, final, verdict)
            if count == 1:
                verdict.acknowledged += 1
            elif count > 1:
                verdict.double_acks += 1
                verdict.problem(f"message {message_id} acknowledged {count} times: {done}")
            elif final is None or message_id not in final.archived:
                verdict.lost += 1
                verdict.problem(f"message {message_id} lost (acks: {acks})")

    def _judge_holder(self, message_id: int, ack: dict[str, Any], verdict: Verdict) -> None:
        leases = self.leases.get(message_id, [])
        # The latest lease: a message given back untried is leased again with the same read_ct.
        holder = max(leases, key=lambda lease: (lease.read_ct, lease.start), default=None)
        if holder is None or (holder.consumer, holder.read_ct) != (ack["c"], ack["rc"]):
            verdict.acks_from_non_holders += 1
            verdict.problem(f"message {message_id}: {ack} returned True but the holder was {holder}")

    def _settle(
        self,
        message_id: int,
        done: list[dict[str, Any]],
        acks: list[dict[str, Any]],
        final: FinalState,
        verdict: Verdict,
    ) -> int:
        """Return how many times the database says the message was acknowledged."""
        reasons = final.archived.get(message_id, [])
        dead = [reason for reason in reasons if reason is not None]
        if dead:
            verdict.dead_lettered += 1
            if done or len(reasons) > 1:
                verdict.double_acks += 1
                verdict.problem(f"message {message_id} dead-lettered and acknowledged: {done} {reasons}")
            return 0
        archived = len(reasons)
        archive_acks = sum(1 for ack in done if ack["kind"] == "archive")
        delete_acks = len(done) - archive_acks
        if message_id in final.remaining:
            if done:
                verdict.problem(f"message {message_id} acknowledged {done} but still in the queue")
            return 0
        if archive_acks > archived:
            verdict.problem(f"message {message_id} archived {done} but {archived} archive row(s)")
            return 0
        count = archived + delete_acks
        if count == 0 and any(ack["ok"] is None for ack in acks):
            # The call failed after committing: the message is gone, so it was acknowledged.
            verdict.settled_by_final_state += 1
            return 1
        if archived > archive_acks:
            verdict.settled_by_final_state += 1
        return count
