"""Scenario 6 - cut and stalled network: a TCP proxy between client and server drops or freezes.

A call on a cut or frozen link fails with a typed `DatabaseError` within
connection_timeout_seconds (plus scheduling slack) instead of hanging, and work resumes when
the link heals. A frozen link is the hard case: the client's kernel sees nothing wrong, so only
a client-side deadline notices.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pgqrs import sync as pgqrs
from tests.reliability import harness, proxy

TIMEOUT = 3.0  # connection_timeout_seconds for the clients behind the proxy
SLACK = 3.0  # scheduling slack on a shared 2-core machine; a hang is unbounded
DEDUP_WINDOW = datetime.timedelta(hours=1)  # longer than any run: no retry outlives it


@pytest.fixture
def proxied(admin: pgqrs.PgqrsAdmin, link: proxy.TcpProxy) -> Iterator[pgqrs.PgqrsAdmin]:
    """Return an admin whose every connection goes through the proxy."""
    config = link.config_for(admin.config, connection_timeout_seconds=TIMEOUT, max_connections=2)
    with pgqrs.PgqrsAdmin.connect(config) as through_proxy:
        yield through_proxy


def _calls(proxied: pgqrs.PgqrsAdmin) -> dict[str, Callable[[], Any]]:
    queue = proxied.get_queue("net")
    producer = pgqrs.Producer(proxied.pool, queue, proxied.config)
    consumer = pgqrs.Consumer(proxied.pool, queue, proxied.config)
    producer.batch_enqueue([{"key": f"m{index}"} for index in range(5)])
    held = consumer.dequeue(lock_time=60)
    assert held is not None
    return {
        "enqueue": lambda: producer.enqueue({"key": "new"}),
        "dequeue": lambda: consumer.dequeue_batch(2, lock_time=1),
        "archive": lambda: consumer.archive(held.id),
        "metrics": lambda: proxied.queue_metrics("net"),
    }


def _recover(call: Callable[[], Any], timeout: float) -> float:
    """Retry `call` until it succeeds; return how long that took."""
    started = time.monotonic()
    while True:
        try:
            call()
        except pgqrs.DatabaseError:
            if time.monotonic() - started > timeout:
                raise
            time.sleep(0.1)
        else:
            return time.monotonic() - started


@pytest.mark.parametrize("call", ["enqueue", "dequeue", "archive", "metrics"])
@pytest.mark.parametrize("fault", ["cut", "freeze"])
def test_call_on_a_broken_link_fails_in_time_and_recovers(
    admin: pgqrs.PgqrsAdmin,
    proxied: pgqrs.PgqrsAdmin,
    link: proxy.TcpProxy,
    fault: str,
    call: str,
    figures: dict[str, Any],
) -> None:
    admin.create_queue("net")
    operation = _calls(proxied)[call]
    getattr(link, fault)()
    running = harness.CallInThread(operation)
    with pytest.raises(pgqrs.DatabaseError) as raised:
        running.result(TIMEOUT * 4 + 30)
    failed_after = running.elapsed
    assert failed_after is not None and failed_after <= TIMEOUT + SLACK, f"took {failed_after:.1f}s"

    link.heal()
    recovery = _recover(operation if call != "archive" else _calls_metrics(proxied), 30)
    figures.update(
        call=call,
        faults=f"{fault} the link during the call",
        connection_timeout_seconds=TIMEOUT,
        failed_after_seconds=round(failed_after, 2),
        error=f"{type(raised.value).__name__}(connection_lost={raised.value.connection_lost})",
        recovered_after_heal_seconds=round(recovery, 2),
    )


def _calls_metrics(proxied: pgqrs.PgqrsAdmin) -> Callable[[], Any]:
    return lambda: proxied.queue_metrics("net")


@pytest.mark.parametrize("keys", [False, True], ids=["no-keys", "dedup-keys"])
def test_work_through_flapping_link(
    keys: bool,
    admin: pgqrs.PgqrsAdmin,
    workers: harness.Workers,
    link: proxy.TcpProxy,
    dsn: str,
    schema: str,
    scale: harness.Scale,
    figures: dict[str, Any],
) -> None:
    """Producer and consumers work through the proxy while it is frozen and cut in turns.

    With keys the queue has a dedup window longer than the run: a retry whose batch was written,
    delivered and acknowledged before it ran still writes nothing."""
    queue = admin.create_queue("net", dedup_window=DEDUP_WINDOW if keys else 0)
    through = {
        "dsn": link.dsn_for(dsn),
        "config": {
            "connection_timeout_seconds": TIMEOUT,
            "max_read_count": 0,
            "pooler": proxy.pooler_of(admin.config),
        },
        "report_slower_than": TIMEOUT + SLACK,
    }
    for index in range(3):
        workers.start(
            "consume",
            f"consumer-{index}",
            queue="net",
            batch_size=[1, 5, 10][index],
            lock_time=5,
            ack=["archive", "delete", "mixed"][index],
            seed=index,
            **through,
        )
    workers.start(
        "produce",
        "producer",
        queue="net",
        count=scale.proxy_messages,
        dedup=keys,
        max_batch=5,
        pause_seconds=0.02,
        **through,
    )
    workers.wait_ready()

    faults: list[str] = []
    recoveries: list[float] = []
    while workers.processes["producer"].poll() is None and len(faults) < 12:
        time.sleep(1.0)
        fault = "freeze" if len(faults) % 2 == 0 else "cut"
        getattr(link, fault)()
        faults.append(fault)
        time.sleep(TIMEOUT + 1.0 if fault == "freeze" else 1.0)
        before = _acknowledged(workers)
        link.heal()
        healed = time.monotonic()
        harness.wait_until(
            lambda before=before: _resumed(workers, schema, queue.id, before),
            30,
            "work to resume after heal",
            0.1,
        )
        recoveries.append(time.monotonic() - healed)
    elapsed = harness.drain(workers, schema, queue.id, ["producer"], timeout=300)
    verdict = harness.verdict_of(workers, schema, queue.id)
    slow = [note for note in workers.checker().notes if "slow_call" in note]
    # Each real message beyond the keys sent is a copy an ambiguous enqueue's retry wrote.
    duplicates = verdict.enqueued - scale.proxy_messages
    # Messages an ambiguous batch had written and a consumer acknowledged before its retry.
    answered = sum(note.get("answered_by_window", 0) for note in workers.checker().notes)
    figures.update(
        messages=verdict.enqueued,
        dedup_keys=keys,
        dedup_window_seconds=queue.dedup_window.total_seconds(),
        duplicates=duplicates,
        retried_after_acknowledgement=answered,
        faults=f"{faults.count('freeze')} freezes of {TIMEOUT + 1:g}s, {faults.count('cut')} cuts",
        calls_over_deadline=len(slow),
        recovery_seconds_max=round(max(recoveries, default=0), 2),
        seconds_to_drain_after_faults=round(elapsed, 1),
        **verdict.figures(),
    )
    assert faults, "the producer finished before any fault: raise proxy_messages"
    assert not slow, f"calls took longer than the deadline: {slow[:5]}"
    assert verdict.ok, str(verdict)
    assert verdict.acknowledged == verdict.enqueued


def _acknowledged(workers: harness.Workers) -> int:
    """Return how many acknowledgements the workers have seen succeed so far."""
    return sum(1 for acks in workers.checker().acks.values() for ack in acks if ack["ok"])


def _resumed(workers: harness.Workers, schema: str, queue_id: int, before: int) -> bool:
    """Return True once a new acknowledgement succeeded (or nothing is left to acknowledge)."""
    if _acknowledged(workers) > before:
        return True
    finished = workers.processes["producer"].poll() is not None
    return finished and harness.count_messages(workers.dsn, schema, queue_id) == 0
