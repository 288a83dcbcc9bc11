"""The worker runtime's own Prometheus metrics (for ``pgqrs worker run --metrics-port N``).

A hook (`pgqrs.instrumentation`) counting what the handlers of this process do, by queue:

| metric | type | meaning |
| --- | --- | --- |
| ``pgqrs_worker_messages_processed_total`` | counter | handler returned |
| ``pgqrs_worker_messages_failed_total`` | counter | handler raised (retried or dead-lettered next) |
| ``pgqrs_worker_messages_retried_total`` | counter | to be tried again after a delay |
| ``pgqrs_worker_messages_dead_lettered_total`` | counter | given up: to the archive as a dead letter |
| ``pgqrs_worker_handler_duration_seconds`` | histogram | how long handlers ran |
| ``pgqrs_worker_messages_in_flight`` | gauge | handlers running now |

Needs prometheus-client (the ``metrics`` extra, part of ``serve``). The queues' own depth and
dead letters are `pgqrs serve`'s /metrics (one scrape for every process).
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from pgqrs import instrumentation, models, runtime

# Handler durations from a millisecond to several minutes.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class RuntimeMetrics(instrumentation.Instrumentation):
    """Prometheus counters of handler runs, in a registry of their own (`registry`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        labels = ["queue"]
        self.processed = Counter(
            "pgqrs_worker_messages_processed", "Handler runs that returned.", labels, registry=self.registry
        )
        self.failed = Counter(
            "pgqrs_worker_messages_failed", "Handler runs that raised.", labels, registry=self.registry
        )
        self.retried = Counter(
            "pgqrs_worker_messages_retried", "Messages to be tried again.", labels, registry=self.registry
        )
        self.dead_lettered = Counter(
            "pgqrs_worker_messages_dead_lettered",
            "Messages given up (dead letters).",
            labels,
            registry=self.registry,
        )
        self.duration = Histogram(
            "pgqrs_worker_handler_duration_seconds",
            "How long handler runs took.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "pgqrs_worker_messages_in_flight", "Handler runs in progress.", labels, registry=self.registry
        )

    def handler_started(self, queue: str, message: models.QueueMessage, trace_context: str | None) -> Any:
        self.in_flight.labels(queue).inc()
        return None

    def handler_finished(
        self, token: Any, queue: str, outcome: runtime.Outcome, error: BaseException | None, seconds: float
    ) -> None:
        self.in_flight.labels(queue).dec()
        self.duration.labels(queue).observe(seconds)
        if outcome.settlement == "release":  # stopped at shutdown: not a result
            return
        (self.failed if error is not None else self.processed).labels(queue).inc()
        if outcome.settlement == "retry":
            self.retried.labels(queue).inc()
        elif outcome.settlement == "dead_letter":
            self.dead_lettered.labels(queue).inc()


class MetricsServer:
    """A running /metrics endpoint and the hook feeding it (`close` stops both)."""

    def __init__(self, metrics: RuntimeMetrics, server: Any, thread: threading.Thread) -> None:
        self.metrics = metrics
        self.port = int(server.server_port)
        self._server = server
        self._thread = thread

    def close(self) -> None:
        """Stop serving and stop counting."""
        instrumentation.unregister(self.metrics)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Count this process's handler runs and serve them at http://host:port/metrics (a thread).

    Port 0 picks a free port (`MetricsServer.port` says which).
    """
    metrics = RuntimeMetrics()
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    instrumentation.register(metrics)
    return MetricsServer(metrics, server, thread)
