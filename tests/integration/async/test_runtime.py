"""The worker runtime: every handler outcome, leases kept, graceful stop, until_empty.

Handlers here sleep with asyncio.sleep (time.sleep in the generated sync twin) and stop the app
themselves where a test needs a stop during work, so one test body serves both runtimes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import inspect
import logging
from time import monotonic
from typing import Any

import psycopg
import pytest

import pgqrs

Raw = psycopg.Connection[tuple[object, ...]]
QUICK = pgqrs.RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.05, jitter=0.0)


@pytest.fixture
def fast(config: pgqrs.Config) -> pgqrs.Config:
    """Return a config whose idle workers look at their queues often (quick tests)."""
    return config.replace(poll_interval=0.05, default_lock_time_seconds=5)


async def fill(config: pgqrs.Config, queue: str, payloads: list[Any]) -> pgqrs.QueueInfo:
    async with await pgqrs.PgqrsAdmin.connect(config) as admin:
        await admin.install()
        info = await admin.create_queue(queue, exist_ok=True)
        await pgqrs.Producer(admin.pool, info, config).batch_enqueue(payloads)
    return info


async def test_returned_messages_are_archived_or_deleted(fast: pgqrs.Config, raw: Raw) -> None:
    await fill(fast, "kept", [{"n": n} for n in range(5)])
    await fill(fast, "dropped", [{"n": n} for n in range(3)])
    seen: list[int] = []
    app = pgqrs.App()

    @app.handler("kept", concurrency=2)
    async def keep(message: pgqrs.QueueMessage) -> None:
        seen.append(message.payload["n"])

    @app.handler("dropped", on_success="delete")
    async def drop(message: pgqrs.QueueMessage) -> None:
        seen.append(100 + message.payload["n"])

    stats = await app.run(fast, until_empty=True)
    assert sorted(seen) == [0, 1, 2, 3, 4, 100, 101, 102]
    assert (stats.handled, stats.succeeded, stats.retried, stats.dead_lettered) == (8, 8, 0, 0)
    assert stats.by_queue["kept"].succeeded == 5 and stats.by_queue["dropped"].succeeded == 3
    counts = raw.execute(
        f'SELECT (SELECT count(*) FROM "{fast.schema}".pgqrs_messages), '
        f'(SELECT count(*) FROM "{fast.schema}".pgqrs_archive)'
    ).fetchone()
    assert counts == (0, 5)


async def test_a_failing_handler_is_retried_then_dead_lettered(fast: pgqrs.Config) -> None:
    queue = await fill(fast, "flaky", [{"n": 1}])
    attempts: list[tuple[int, str | None]] = []
    app = pgqrs.App()

    @app.handler("flaky", retry=QUICK)
    async def fail(message: pgqrs.QueueMessage) -> None:
        attempts.append((message.attempt, message.last_error))
        raise ValueError(f"boom {message.attempt}")

    stats = await app.run(fast, until_empty=True)
    assert [attempt for attempt, _ in attempts] == [1, 2, 3]
    # While it waited, the message showed the error of its last attempt.
    assert attempts[0][1] is None
    assert attempts[1][1] is not None and attempts[1][1].startswith("ValueError: boom 1")
    assert "Traceback" in attempts[2][1]
    assert (stats.handled, stats.retried, stats.dead_lettered, stats.succeeded) == (3, 2, 1, 0)
    async with await pgqrs.PgqrsAdmin.connect(fast) as admin:
        dead = (await admin.archive.filter_by_fk(queue.id))[0]
        assert dead.dead_letter_reason == "ValueError: boom 3 (attempt 3 of 3)"
        assert dead.last_error is not None and "Traceback" in dead.last_error
        assert (await admin.queue_metrics("flaky")).dead_letter_count == 1


async def test_retry_and_discard_do_what_the_handler_asks(fast: pgqrs.Config, raw: Raw) -> None:
    await fill(fast, "asks", [{"do": "retry"}, {"do": "discard"}])
    calls: list[tuple[str, int, str | None]] = []
    app = pgqrs.App()

    @app.handler("asks", retry=pgqrs.RetryPolicy(max_attempts=5, base_delay=60))
    async def ask(message: pgqrs.QueueMessage) -> None:
        calls.append((message.payload["do"], message.attempt, message.last_error))
        if message.payload["do"] == "discard":
            raise pgqrs.Discard("not for us")
        if message.attempt == 1:
            raise pgqrs.Retry(datetime.timedelta(seconds=0.2))  # not the policy's 60 s

    stats = await app.run(fast, until_empty=True)
    assert sorted(calls) == [("discard", 1, None), ("retry", 1, None), ("retry", 2, None)]
    assert (stats.handled, stats.retried, stats.succeeded, stats.dead_lettered) == (3, 1, 1, 1)
    reason = raw.execute(
        f'SELECT dead_letter_reason FROM "{fast.schema}".pgqrs_archive WHERE read_ct = 1 '
        "AND dead_letter_reason IS NOT NULL"
    ).fetchone()
    assert reason == ("not for us",)


async def test_a_retry_the_handler_asks_for_is_logged_as_such_not_as_a_failure(
    fast: pgqrs.Config, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(fast, "asked", [{"n": 1}])
    app = pgqrs.App()

    @app.handler("asked")
    async def work(message: pgqrs.QueueMessage) -> None:
        if message.attempt == 1:
            raise pgqrs.Retry(0.1)

    with caplog.at_level(logging.INFO, logger="pgqrs.worker"):
        stats = await app.run(fast, until_empty=True)
    assert (stats.retried, stats.succeeded) == (1, 1)
    logged = [(record.levelname, record.getMessage()) for record in caplog.records]
    about_it = [(level, text) for level, text in logged if "message 1" in text]
    assert about_it == [("INFO", "queue asked: message 1 will be tried again in 0.1s, as its handler asked")]


async def test_until_empty_waits_for_retries_not_for_delayed_messages(fast: pgqrs.Config, raw: Raw) -> None:
    async with await pgqrs.PgqrsAdmin.connect(fast) as admin:
        await admin.install()
        queue = await admin.create_queue("later")
        producer = pgqrs.Producer(admin.pool, queue, fast)
        await producer.enqueue({"n": "now"})
        await producer.enqueue_delayed({"n": "in an hour"}, 3600)
    handled: list[str] = []
    app = pgqrs.App()

    @app.handler("later", retry=pgqrs.RetryPolicy(max_attempts=2, base_delay=0.3, jitter=0))
    async def work(message: pgqrs.QueueMessage) -> None:
        handled.append(message.payload["n"])
        if message.attempt == 1:
            raise RuntimeError("first try fails")

    stats = await app.run(fast, until_empty=True)
    assert handled == ["now", "now"] and stats.succeeded == 1
    left = raw.execute(f'SELECT payload ->> %s FROM "{fast.schema}".pgqrs_messages', ("n",)).fetchall()
    assert left == [("in an hour",)]


async def test_until_empty_ends_when_the_last_result_is_written_not_a_poll_later(
    config: pgqrs.Config,
) -> None:
    slow_polls = config.replace(poll_interval=60)
    await fill(slow_polls, "last", [{"seconds": 0}, {"seconds": 1}])
    app = pgqrs.App()

    # The worker looks at the queue again as the quick one ends, finds nothing while the slow
    # one still runs, and idles for a poll interval: the run must not wait for that.
    @app.handler("last", concurrency=2)
    async def work(message: pgqrs.QueueMessage) -> None:
        await asyncio.sleep(message.payload["seconds"])

    started = monotonic()
    stats = await app.run(slow_polls, until_empty=True)
    assert stats.succeeded == 2
    assert monotonic() - started < 30  # a minute without the fix, about a second with it


async def test_leases_are_kept_while_a_handler_runs_three_lock_times(fast: pgqrs.Config, raw: Raw) -> None:
    queue = await fill(fast, "slow", [{"n": 1}])
    app = pgqrs.App()
    during: list[int] = []

    @app.handler("slow", lock_time=0.4)
    async def slow(message: pgqrs.QueueMessage) -> None:
        for _ in range(6):  # 1.2 s: three lock times
            await asyncio.sleep(0.2)
            row = raw.execute(
                f'SELECT vt > now(), read_ct FROM "{fast.schema}".pgqrs_messages WHERE id = %s', (message.id,)
            ).fetchone()
            assert row is not None and row[0], "the lease ran out while the handler ran"
            during.append(int(str(row[1])))

    stats = await app.run(fast, until_empty=True)
    assert stats.handled == 1 and stats.succeeded == 1
    assert during == [1] * 6  # never delivered a second time
    archived = raw.execute(
        f'SELECT read_ct FROM "{fast.schema}".pgqrs_archive WHERE queue_id = %s', (queue.id,)
    )
    assert archived.fetchall() == [(1,)]


async def test_leases_renewed_while_their_results_are_written_are_not_reported_lost(
    fast: pgqrs.Config, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(fast, "busy", [{"n": n} for n in range(300)])
    app = pgqrs.App()

    # Renewals every 0.05 s: many meet messages whose results are being written at that moment.
    @app.handler("busy", concurrency=2, lock_time=0.15)
    async def work(message: pgqrs.QueueMessage) -> None: ...

    with caplog.at_level(logging.WARNING, logger="pgqrs.worker"):
        stats = await app.run(fast, until_empty=True)
    assert stats.succeeded == 300
    assert [record.getMessage() for record in caplog.records if "lost" in record.getMessage()] == []


async def test_a_lease_taken_away_while_the_handler_runs_is_reported_lost(
    fast: pgqrs.Config, raw: Raw, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(fast, "taken", [{"n": 1}])
    app = pgqrs.App()

    def reported() -> list[str]:
        return [record.getMessage() for record in caplog.records if "lease lost" in record.getMessage()]

    @app.handler("taken", lock_time=0.3)
    async def work(message: pgqrs.QueueMessage) -> None:
        steal = f'UPDATE "{fast.schema}".pgqrs_messages SET worker_id = NULL WHERE id = %s'
        raw.execute(steal, (message.id,))
        app.stop()
        for _ in range(400):  # up to 20 s for a renewal round to find out
            if reported():
                return
            await asyncio.sleep(0.05)

    with caplog.at_level(logging.WARNING, logger="pgqrs.worker"):
        await app.run(fast)
    assert reported()[0].startswith("queue taken: lease lost on message(s) 1 while working on them")


async def test_concurrency_is_the_number_of_handlers_at_once(fast: pgqrs.Config) -> None:
    await fill(fast, "wide", [{"n": n} for n in range(24)])
    app = pgqrs.App()
    now_running: list[int] = []
    most = 0

    @app.handler("wide", concurrency=6)
    async def work(message: pgqrs.QueueMessage) -> None:
        nonlocal most
        now_running.append(message.id)
        most = max(most, len(now_running))
        await asyncio.sleep(0.1)
        now_running.remove(message.id)

    stats = await app.run(fast, until_empty=True)
    assert stats.succeeded == 24
    assert most == 6


async def test_a_graceful_stop_lets_running_handlers_finish(fast: pgqrs.Config, raw: Raw) -> None:
    await fill(fast, "stopping", [{"n": n} for n in range(20)])
    app = pgqrs.App()
    finished: list[int] = []

    @app.handler("stopping", concurrency=4)
    async def work(message: pgqrs.QueueMessage) -> None:
        if message.payload["n"] == 0:
            app.stop()
        await asyncio.sleep(0.3)
        finished.append(message.payload["n"])

    stats = await app.run(fast, shutdown_timeout=10)
    # What was running when stop came finished and was archived; nothing else was touched.
    assert stats.succeeded == stats.handled == len(finished) and 1 <= len(finished) <= 4
    rows = raw.execute(f'SELECT read_ct, worker_id FROM "{fast.schema}".pgqrs_messages').fetchall()
    assert len(rows) == 20 - len(finished) and set(rows) == {(0, None)}
    statuses = raw.execute(f'SELECT status FROM "{fast.schema}".pgqrs_workers').fetchall()
    assert statuses == [("stopped",)]


async def test_a_stop_before_the_run_starts_ends_that_run_at_once(fast: pgqrs.Config) -> None:
    await fill(fast, "early", [{"n": 1}])
    app = pgqrs.App()
    handled: list[int] = []

    @app.handler("early")
    async def work(message: pgqrs.QueueMessage) -> None:
        handled.append(message.payload["n"])
        app.stop()  # were the early stop lost, the run would end only here

    app.stop()  # as a SIGTERM arriving while the process starts up
    stats = await app.run(fast)
    assert (handled, stats.handled) == ([], 0)
    # The next run starts afresh.
    stats = await app.run(fast, until_empty=True)
    assert (handled, stats.succeeded) == ([1], 1)


async def test_handlers_past_the_shutdown_timeout_give_their_message_back(
    fast: pgqrs.Config, raw: Raw
) -> None:
    await fill(fast, "stuck", [{"n": 1}])
    app = pgqrs.App()

    @app.handler("stuck", retry=QUICK)
    async def hang(message: pgqrs.QueueMessage) -> None:
        app.stop()
        await asyncio.sleep(4)  # well past the timeout and the second the runtime then waits

    stats = await app.run(fast, shutdown_timeout=0.2)
    row = raw.execute(
        f'SELECT read_ct, worker_id IS NULL, vt <= now() FROM "{fast.schema}".pgqrs_messages'
    ).fetchone()
    if inspect.iscoroutinefunction(hang):
        # Cancelled, then given back untried: visible, held by nobody, the delivery not counted.
        assert (stats.handled, stats.released, stats.succeeded) == (1, 1, 0)
        assert row == (0, True, True)
    else:
        # A thread cannot be stopped: its message is not given back while the handler still runs
        # (another worker would run it at the same time); it comes back when its lease ends.
        assert (stats.handled, stats.released, stats.succeeded) == (1, 0, 0)
        assert row == (1, False, False)


async def test_the_worker_heartbeats_while_a_handler_runs(fast: pgqrs.Config, raw: Raw) -> None:
    await fill(fast, "beating", [{"n": 1}])
    app = pgqrs.App()
    beats: list[Any] = []

    @app.handler("beating")
    async def work(message: pgqrs.QueueMessage) -> None:
        for _ in range(4):
            await asyncio.sleep(0.25)
            row = raw.execute(f'SELECT heartbeat_at FROM "{fast.schema}".pgqrs_workers').fetchone()
            assert row is not None
            beats.append(row[0])

    await app.run(fast.replace(heartbeat_interval=0.2), until_empty=True)
    assert len(set(beats)) >= 3, beats


async def test_handlers_the_runtime_cannot_call_are_refused() -> None:
    app = pgqrs.App()
    with pytest.raises(pgqrs.ValidationError, match="concurrency"):
        app.handler("q", concurrency=0)
    with pytest.raises(pgqrs.ValidationError, match="on_success"):
        app.handler("q", on_success="keep")  # type: ignore[arg-type]

    @app.handler("q")
    async def first(message: pgqrs.QueueMessage) -> None: ...

    with pytest.raises(pgqrs.ValidationError, match="already has a handler"):

        @app.handler("q")
        async def second(message: pgqrs.QueueMessage) -> None: ...


async def test_run_without_handlers_or_with_unknown_queues_is_refused(fast: pgqrs.Config) -> None:
    app = pgqrs.App()
    with pytest.raises(pgqrs.ValidationError, match="no handlers"):
        await app.run(fast)

    @app.handler("known")
    async def work(message: pgqrs.QueueMessage) -> None: ...

    with pytest.raises(pgqrs.ValidationError, match="unknown"):
        await app.run(fast, queues=["unknown"])


async def test_a_retry_is_picked_up_when_due_not_at_the_next_poll(fast: pgqrs.Config) -> None:
    await fill(fast, "soon", [{"n": 1}])
    app = pgqrs.App()
    attempts: list[int] = []

    @app.handler("soon")
    async def work(message: pgqrs.QueueMessage) -> None:
        attempts.append(message.attempt)
        if message.attempt == 1:
            raise pgqrs.Retry(0.3)

    started = monotonic()
    stats = await app.run(fast.replace(poll_interval=60), until_empty=True)
    # The worker that wrote the retry looks again when it is due, not a poll interval later.
    assert attempts == [1, 2] and stats.succeeded == 1
    assert monotonic() - started < 20


@dataclasses.dataclass
class EmailJob:
    to: str
    retries: int = 0


async def test_a_typed_handler_gets_its_type_and_bad_payloads_are_dead_lettered(
    fast: pgqrs.Config, raw: Raw
) -> None:
    await fill(fast, "typed", [{"to": "a@example.com"}, {"to": 42}, {"to": "b@example.com", "retries": 2}])
    received: list[EmailJob] = []
    app = pgqrs.App()

    @app.handler("typed", payload_type=EmailJob)
    async def send(message: pgqrs.QueueMessage[EmailJob]) -> None:
        received.append(message.payload)

    stats = await app.run(fast, until_empty=True)
    assert sorted(received, key=lambda job: job.to) == [
        EmailJob("a@example.com"),
        EmailJob("b@example.com", 2),
    ]
    # The payload that does not validate never reaches the handler: dead-lettered at once, with why.
    assert (stats.handled, stats.succeeded, stats.dead_lettered) == (2, 2, 1)
    row = raw.execute(
        f'SELECT read_ct, dead_letter_reason FROM "{fast.schema}".pgqrs_archive '
        "WHERE dead_letter_reason IS NOT NULL"
    ).fetchone()
    assert row is not None and row[0] == 1 and "EmailJob" in str(row[1]) and "to" in str(row[1])


async def test_a_payload_type_that_cannot_be_decoded_is_refused_at_registration() -> None:
    app = pgqrs.App()
    with pytest.raises(pgqrs.ValidationError, match="payload_type"):
        app.handler("q", payload_type=42)  # type: ignore[arg-type]
