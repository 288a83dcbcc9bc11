"""Worker processes for the fault suite: ``python -m tests.reliability.worker '<json spec>'``.

Each role is a real process so it can be killed (-9), frozen (SIGSTOP), run under faketime or
restarted. Everything a worker sees is written to its own events file (see `checker.Recorder`).
Workers keep going through database errors (that is what they are tested for): a failed call is
recorded and retried after a short pause, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from pgqrs import sync as pgqrs
from tests.reliability import checker

ERROR_PAUSE_SECONDS = 0.2


def _config(spec: dict[str, Any]) -> pgqrs.Config:
    overrides = {"max_connections": 2, **spec.get("config", {})}
    return pgqrs.Config.from_dsn_with_schema(spec["dsn"], spec["schema"]).replace(**overrides)


def _connect(spec: dict[str, Any], recorder: checker.Recorder) -> pgqrs.PgqrsAdmin:
    """Return an admin, retrying while the server is unreachable (it may be restarting)."""
    deadline = time.monotonic() + spec.get("connect_within", 60)
    while True:
        try:
            return pgqrs.PgqrsAdmin.connect(_config(spec))
        except pgqrs.DatabaseError as error:
            recorder.note(error="connect", text=str(error)[:200])
            if time.monotonic() > deadline:
                raise
            time.sleep(ERROR_PAUSE_SECONDS)


def _stop_requested(spec: dict[str, Any]) -> bool:
    stop_file = spec.get("stop_file")
    return bool(stop_file) and Path(stop_file).exists()


class ConsumerLoop:
    """Dequeue, 'work', maybe extend, acknowledge; until told to stop and the queue looks empty."""

    def __init__(self, spec: dict[str, Any], recorder: checker.Recorder, consumer: pgqrs.Consumer) -> None:
        self.spec = spec
        self.recorder = recorder
        self.consumer = consumer
        self.name = spec["name"]
        self.random = random.Random(spec.get("seed", 0))

    def _timed(self, call: str, function: Any, *args: Any) -> Any:
        """Run one client call; note it when it took longer than spec['report_slower_than']."""
        started = time.monotonic()
        try:
            return function(*args)
        finally:
            _report_slow(self.spec, self.recorder, call, time.monotonic() - started)

    def run(self) -> None:
        deadline = time.monotonic() + self.spec.get("max_seconds", 600)
        size = self.spec.get("batch_size", 10)
        while time.monotonic() < deadline:
            try:
                messages = self._timed("dequeue", self.consumer.dequeue_batch, size, self.spec["lock_time"])
            except pgqrs.DatabaseError as error:
                self._failed("dequeue", error)
                continue
            self.recorder.leased(self.name, messages)
            if not messages:
                if _stop_requested(self.spec):
                    return
                time.sleep(self.spec.get("poll_seconds", 0.02))
                continue
            self._handle(messages)

    def _failed(self, call: str, error: pgqrs.DatabaseError) -> None:
        self.recorder.note(error=call, lost=error.connection_lost, text=str(error)[:200])
        time.sleep(ERROR_PAUSE_SECONDS)

    def _handle(self, messages: list[pgqrs.QueueMessage]) -> None:
        crash_key = self.spec.get("crash_on_key")
        if crash_key and any(checker.payload_key(message.payload) == crash_key for message in messages):
            os._exit(3)  # a poison message: die without acknowledging anything
        self._work(messages)
        kind = self.spec.get("ack", "delete")
        if kind == "mixed":
            kind = self.random.choice(checker.ACK_KINDS)
        if self.spec.get("batch_ack") and len(messages) > 1:
            self._ack_batch(kind, messages)
        else:
            for message in messages:
                self._ack_one(kind, message)

    def _work(self, messages: list[pgqrs.QueueMessage]) -> None:
        work = self.spec.get("work_seconds", 0.0)
        if self.random.random() < self.spec.get("slow_fraction", 0.0):
            work = self.spec["slow_seconds"]  # outlive the lease: someone else may take over
        if self.random.random() < self.spec.get("extend_fraction", 0.0):
            seconds = self.spec.get("extend_seconds", 5)
            for message in messages:
                self._extend(message, seconds)
        if work:
            time.sleep(work)

    def _extend(self, message: pgqrs.QueueMessage, seconds: float) -> None:
        try:
            result: bool | None = self._timed("extend", self.consumer.extend_visibility, message.id, seconds)
        except pgqrs.DatabaseError as error:
            result = None
            self._failed("extend", error)
        self.recorder.extended(self.name, message.id, message.read_ct, seconds, result)

    def _ack_one(self, kind: str, message: pgqrs.QueueMessage) -> None:
        call = self.consumer.delete if kind == "delete" else self.consumer.archive
        try:
            result: bool | None = self._timed(kind, call, message.id)
        except pgqrs.DatabaseError as error:
            result = None
            self._failed(kind, error)
        self.recorder.acked(self.name, kind, message.id, message.read_ct, result)

    def _ack_batch(self, kind: str, messages: list[pgqrs.QueueMessage]) -> None:
        call = self.consumer.delete_batch if kind == "delete" else self.consumer.archive_batch
        ids = [message.id for message in messages]
        try:
            results: list[bool | None] = list(self._timed(kind, call, ids))
        except pgqrs.DatabaseError as error:
            results = [None] * len(ids)
            self._failed(kind, error)
        for message, result in zip(messages, results, strict=False):
            self.recorder.acked(self.name, kind, message.id, message.read_ct, result)


def consume(spec: dict[str, Any], recorder: checker.Recorder) -> None:
    admin = _connect(spec, recorder)
    try:
        queue = admin.get_queue(spec["queue"])
        consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
        recorder.note(clock=time.time())  # this process's idea of the time (faketime shows here)
        _signal_ready(spec)
        ConsumerLoop(spec, recorder, consumer).run()
        with contextlib.suppress(pgqrs.DatabaseError):
            consumer.close()
    finally:
        admin.close()


def produce(spec: dict[str, Any], recorder: checker.Recorder) -> None:
    """Enqueue spec['count'] keyed messages in batches of random size, retrying failed batches."""
    admin = _connect(spec, recorder)
    rng = random.Random(spec.get("seed", 0))
    try:
        producer = pgqrs.Producer(admin.pool, admin.get_queue(spec["queue"]), admin.config)
        _signal_ready(spec)
        sent = 0
        while sent < spec["count"]:
            size = min(rng.randint(1, spec.get("max_batch", 50)), spec["count"] - sent)
            keys = [f"{spec['name']}-{sent + index}" for index in range(size)]
            _enqueue_with_retry(spec, producer, keys, recorder)
            sent += size
            if spec.get("pause_seconds"):
                time.sleep(spec["pause_seconds"])
    finally:
        admin.close()


def _report_slow(spec: dict[str, Any], recorder: checker.Recorder, call: str, took: float) -> None:
    limit = spec.get("report_slower_than")
    if limit is not None and took > limit:
        recorder.note(slow_call=call, took=took)


def _enqueue_with_retry(
    spec: dict[str, Any], producer: pgqrs.Producer, keys: list[str], recorder: checker.Recorder
) -> None:
    payloads = [{"key": key} for key in keys]
    # With spec["dedup"], the payload's key is also the message's dedup key: a retry of a batch
    # that was written after all returns its live messages instead of writing them again.
    dedup_keys = keys if spec.get("dedup") else None
    while True:
        started = time.monotonic()
        try:
            sent = producer.batch_enqueue(payloads, dedup_keys=dedup_keys)
        except pgqrs.DatabaseError as error:
            _report_slow(spec, recorder, "enqueue", time.monotonic() - started)
            # Unknown outcome: the batch may have committed before the error. Retrying without
            # dedup keys may write it twice; the checker counts such copies as real (ambiguous)
            # messages.
            recorder.enqueue_failed(keys)
            recorder.note(error="enqueue", lost=error.connection_lost, text=str(error)[:200])
            time.sleep(ERROR_PAUSE_SECONDS)
            continue
        _report_slow(spec, recorder, "enqueue", time.monotonic() - started)
        recorder.enqueued(sent)
        # A retry whose first attempt was written and already acknowledged: the queue's dedup
        # window answered it with the original message (nothing written again).
        answered = sum(1 for message in sent if message.acknowledged_at is not None)
        recorder.note(ok="enqueue", at=time.time(), answered_by_window=answered)
        return


def hold(spec: dict[str, Any], recorder: checker.Recorder) -> None:
    """Lease messages, say so, then wait for spec['go_file'] and try every acknowledgement.

    Used for the crash (killed while waiting) and zombie (frozen while waiting) scenarios.
    """
    admin = _connect(spec, recorder)
    try:
        queue = admin.get_queue(spec["queue"])
        consumer = pgqrs.Consumer(admin.pool, queue, admin.config)
        messages = consumer.dequeue_batch(spec.get("batch_size", 1), spec["lock_time"])
        recorder.leased(spec["name"], messages)
        _signal_ready(spec)
        go_file = Path(spec["go_file"])
        while not go_file.exists():
            time.sleep(0.02)
        for message in messages:
            extended = consumer.extend_visibility(message.id, 60)
            recorder.extended(spec["name"], message.id, message.read_ct, 60, extended)
            deleted = consumer.delete(message.id)
            recorder.acked(spec["name"], "delete", message.id, message.read_ct, deleted)
            archived = consumer.archive(message.id)
            recorder.acked(spec["name"], "archive", message.id, message.read_ct, archived)
    finally:
        admin.close()


def install(spec: dict[str, Any], recorder: checker.Recorder) -> None:
    """Wait for the start file, then install pgqrs (all installers start together)."""
    admin = pgqrs.PgqrsAdmin.connect(_config(spec))
    try:
        _signal_ready(spec)
        start_file = Path(spec["go_file"])
        while not start_file.exists():
            time.sleep(0.001)
        started = time.monotonic()
        try:
            admin.install()
        except pgqrs.PgqrsError as error:
            recorder.note(install="error", kind=type(error).__name__, text=str(error)[:300])
            return
        recorder.note(install="ok", took=time.monotonic() - started)
    finally:
        admin.close()


def _signal_ready(spec: dict[str, Any]) -> None:
    ready_file = spec.get("ready_file")
    if ready_file:
        Path(ready_file).touch()


ROLES = {"consume": consume, "produce": produce, "hold": hold, "install": install}


def main() -> None:
    spec = json.loads(sys.argv[1])
    recorder = checker.Recorder(spec["events"], spec["name"])
    try:
        ROLES[spec["role"]](spec, recorder)
    finally:
        recorder.close()


if __name__ == "__main__":
    main()
