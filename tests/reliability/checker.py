"""Delivery checker: who got which message, when, and did the queue keep its promise.

Jepsen's total-queue check, for pgqrs. Each process records its events with a `Recorder` (JSON
lines in a file of its own, flushed per event so a `kill -9` loses at most a torn last line);
the test merges the files into a `Checker`, adds the final database state, and asks for a
`Verdict`:

- every enqueued id acknowledged exactly once (none lost, no double acknowledgement);
- no unexpected id (one nobody enqueued);
- no two leases on one message overlap;
- every acknowledgement that returned True came from the lease holder.

Lease times are database times (``dequeued_at`` and ``vt`` as dequeue returns them), so client
clocks (skewed on purpose in one scenario) never enter the judgement. An acknowledgement whose
call failed (result unknown: it may have committed before the connection died) is settled by the
final state: an archived or vanished message was acknowledged.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import itertools
import json
import os
import threading
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

    def note(self, **fields: Any) -> None:
        """Record anything else (errors, timings) for the test to read back."""
        self._write({"e": "note", "p": self.process, **fields})

    def close(self) -> None:
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


@dataclasses.dataclass
class FinalState:
    """What the database holds for the queue after the run."""

    remaining: dict[int, str | None]  # id -> key, still in pgqrs_messages
    archived: dict[int, list[str | None]]  # original id -> dead_letter_reason per archive row
    archived_keys: dict[int, str | None]


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
                "SELECT original_msg_id, dead_letter_reason, payload->>'key' FROM {}.pgqrs_archive "
                "WHERE queue_id = %s"
            ).format(psycopg.sql.Identifier(schema)),
            (queue_id,),
        ).fetchall()
    archived: dict[int, list[str | None]] = collections.defaultdict(list)
    keys: dict[int, str | None] = {}
    for original_id, reason, key in archive:
        archived[original_id].append(reason)
        keys[original_id] = key
    return FinalState(dict(remaining), dict(archived), keys)


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
    examples: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.unexpected
            or self.double_acks
            or self.overlapping_leases
            or self.acks_from_non_holders
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
        elif kind == "ack":
            self.acks[event["id"]].append(event)
        elif kind == "ext":
            if event["ok"]:
                self.extensions[(event["id"], event["c"], event["rc"])] += event["s"]
        elif kind == "note":
            self.notes.append(event)

    def verdict(self, final: FinalState | None = None) -> Verdict:
        """Judge the run; with `final`, settle unknown acknowledgements and audit the tables."""
        verdict = Verdict()
        expected = self._expected(final, verdict)
        verdict.enqueued = len(expected)
        self._judge_leases(verdict)
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
                end = previous.end + int(
                    self.extensions.get((message_id, previous.consumer, previous.read_ct), 0) * 1_000_000
                )
                if current.start < end or current.read_ct <= previous.read_ct:
                    verdict.overlapping_leases += 1
                    verdict.problem(
                        f"message {message_id}: lease {current} starts before {previous} ends ({end})"
                    )

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
        holder = max(leases, key=lambda lease: lease.read_ct, default=None)
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
