"""Hooks: OpenTelemetry spans linked through the message, and the runtime's Prometheus metrics."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import pgqrs
from pgqrs import instrumentation, metrics, tracing

Raw = psycopg.Connection[tuple[object, ...]]
QUICK = pgqrs.RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0, jitter=0.0)


@pytest.fixture
def only_these_hooks() -> Iterator[list[instrumentation.Instrumentation]]:
    """Run the test with the hooks it registers only; put the process's hooks back after."""
    before = instrumentation.hooks()
    for hook in before:
        instrumentation.unregister(hook)
    added: list[instrumentation.Instrumentation] = []
    yield added
    for hook in added:
        instrumentation.unregister(hook)
    for hook in before:
        instrumentation.register(hook)


@pytest.fixture
def provider(only_these_hooks: list[instrumentation.Instrumentation]) -> Iterator[Any]:
    """Return a tracer provider whose spans stay in memory, with pgqrs's hooks on it."""
    traced = TracerProvider()
    exporter = InMemorySpanExporter()
    traced.add_span_processor(SimpleSpanProcessor(exporter))
    only_these_hooks.append(instrumentation.register(tracing.OpenTelemetryHooks(traced)))
    traced.exporter = exporter  # type: ignore[attr-defined]
    yield traced
    traced.shutdown()


async def run_until_empty(config: pgqrs.Config, app: pgqrs.App) -> None:
    await app.run(config.replace(poll_interval=0.05), until_empty=True)


async def test_spans_of_an_enqueue_and_its_handler_run_are_linked(
    provider: Any, admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, schema: str
) -> None:
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    await producer.enqueue({"n": 1})
    await producer.batch_enqueue([{"n": 2}, {"n": 3, "fail": True}])
    exporter = provider.exporter
    publish = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.PRODUCER]
    assert [span.name for span in publish] == ["jobs publish", "jobs publish"]
    assert [span.attributes["messaging.batch.message_count"] for span in publish] == [1, 2]
    stored = raw.execute(f'SELECT trace_context FROM "{schema}".pgqrs_messages ORDER BY id').fetchall()
    expected = [
        f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-{span.context.trace_flags:02x}"
        for span in publish
    ]
    assert [row[0] for row in stored] == [expected[0], expected[1], expected[1]]

    inner = provider.get_tracer("test")
    app = pgqrs.App()

    @app.handler("jobs", retry=pgqrs.RetryPolicy(max_attempts=1))
    async def handle(message: pgqrs.QueueMessage) -> None:
        with inner.start_as_current_span("inside"):
            if message.payload.get("fail"):
                raise ValueError("no thanks")

    await run_until_empty(admin.config, app)
    spans = exporter.get_finished_spans()
    process = {
        span.attributes["messaging.message.id"]: span for span in spans if span.kind == SpanKind.CONSUMER
    }
    assert len(process) == 3 and all(span.name == "jobs process" for span in process.values())
    for span in process.values():
        [link] = span.links
        assert link.context.span_id in {published.context.span_id for published in publish}
    by_payload = {int(key): span for key, span in process.items()}
    failed = by_payload[max(by_payload)]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["pgqrs.outcome"] == "dead_letter"
    assert [event.name for event in failed.events] == ["exception"]
    assert by_payload[min(by_payload)].attributes["pgqrs.outcome"] == "archive"
    insides = [span for span in spans if span.name == "inside"]
    assert {span.parent.span_id for span in insides} == {span.context.span_id for span in process.values()}


async def test_nothing_is_stored_without_a_recording_tracer(
    only_these_hooks: list[instrumentation.Instrumentation],
    admin: pgqrs.PgqrsAdmin,
    queue: pgqrs.QueueInfo,
    raw: Raw,
    schema: str,
) -> None:
    # The API's own provider (no SDK set up globally) records nothing.
    only_these_hooks.append(instrumentation.register(tracing.OpenTelemetryHooks()))
    assert not instrumentation.wants_trace_context()
    await pgqrs.Producer(admin.pool, queue, admin.config).enqueue({"n": 1})
    stored = raw.execute(f'SELECT trace_context FROM "{schema}".pgqrs_messages').fetchall()
    assert stored == [(None,)]


async def test_runtime_metrics_count_each_outcome(
    only_these_hooks: list[instrumentation.Instrumentation], admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo
) -> None:
    counted = metrics.RuntimeMetrics()
    only_these_hooks.append(instrumentation.register(counted))
    await pgqrs.Producer(admin.pool, queue, admin.config).batch_enqueue(
        [{"n": 1}, {"n": 2}, {"flaky": True}, {"broken": True}]
    )
    app = pgqrs.App()

    @app.handler("jobs", retry=QUICK)
    async def handle(message: pgqrs.QueueMessage) -> None:
        if message.payload.get("broken") or (message.payload.get("flaky") and message.read_ct == 1):
            raise ValueError("not now")

    await run_until_empty(admin.config, app)

    def value(name: str) -> float | None:
        return counted.registry.get_sample_value(name, {"queue": "jobs"})

    assert value("pgqrs_worker_messages_processed_total") == 3  # 1, 2 and the flaky one's retry
    assert value("pgqrs_worker_messages_failed_total") == 3  # flaky once, broken twice
    assert value("pgqrs_worker_messages_retried_total") == 2
    assert value("pgqrs_worker_messages_dead_lettered_total") == 1
    assert value("pgqrs_worker_handler_duration_seconds_count") == 6
    assert value("pgqrs_worker_messages_in_flight") == 0


async def test_metrics_are_served_over_http(only_these_hooks: list[instrumentation.Instrumentation]) -> None:
    served = metrics.serve(0)
    try:
        served.metrics.processed.labels("jobs").inc()
        with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        assert 'pgqrs_worker_messages_processed_total{queue="jobs"} 1.0' in text
        assert served.metrics in instrumentation.hooks()
    finally:
        served.close()
    assert served.metrics not in instrumentation.hooks()
