"""/metrics (Prometheus exposition format, through prometheus-client) and /healthz.

Each scrape asks the database afresh (two statements, the capped counts of sql/inspect.sql):
per queue pending, in flight, delayed, dead letters, archived and the oldest pending message's
wait; workers per queue and state. When the database does not answer, the scrape still
succeeds with ``pgqrs_database_up 0`` and no queue series, which is what alerting wants.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pgqrs import errors, inspection
from pgqrs.serve import web

logger = logging.getLogger("pgqrs.serve")

# (metric suffix, QueueSnapshot attribute, help)
QUEUE_GAUGES = (
    ("pending", "pending", "Messages visible and waiting for a worker (up to the count cap + 1)."),
    ("in_flight", "in_flight", "Messages leased by a worker, lease not expired (up to the cap + 1)."),
    ("delayed", "delayed", "Messages not visible yet and held by nobody (up to the cap + 1)."),
    ("dead_letters", "dead_letters", "Dead letters in the archive (exact)."),
    ("archived", "archived", "Records in the archive, dead letters included (exact)."),
)


class _Scrape(Collector):
    """One scrape's answers, as metric families."""

    def __init__(
        self,
        queues: list[inspection.QueueSnapshot],
        workers: list[tuple[str, str, int]],
        up: bool,
        cap: int,
    ) -> None:
        self.queues = queues
        self.workers = workers
        self.up = up
        self.cap = cap

    def collect(self) -> Iterator[Metric]:
        up_help = "1 when the database answered this scrape."
        yield GaugeMetricFamily("pgqrs_database_up", up_help, int(self.up))
        yield GaugeMetricFamily(
            "pgqrs_count_cap", "Message counts stop at this value + 1 (bounded work per scrape).", self.cap
        )
        if not self.up:
            return
        for suffix, attribute, text in QUEUE_GAUGES:
            family = GaugeMetricFamily(f"pgqrs_queue_{suffix}", text, labels=["queue"])
            for queue in self.queues:
                family.add_metric([queue.queue_name], getattr(queue, attribute))
            yield family
        oldest = GaugeMetricFamily(
            "pgqrs_queue_oldest_pending_age_seconds",
            "How long the longest-waiting pending message has been visible (0: none pending).",
            labels=["queue"],
        )
        for queue in self.queues:
            oldest.add_metric([queue.queue_name], queue.oldest_pending_seconds or 0.0)
        yield oldest
        workers = GaugeMetricFamily(
            "pgqrs_workers",
            "Registered workers by state: running, stale, stopped.",
            labels=["queue", "state"],
        )
        for queue_name, state, count in self.workers:
            workers.add_metric([queue_name, state], count)
        yield workers


async def metrics(request: Request) -> Response:
    app: web.Web = request.app.state.web
    data = app.data
    queues: list[inspection.QueueSnapshot] = []
    workers: list[tuple[str, str, int]] = []
    try:
        inspector = await data.inspector()
        queues = await data.call(inspector.queues, None, app.settings.count_cap)
        workers = await data.call(inspector.worker_counts, app.settings.stale_after)
        up = True
    except errors.PgqrsError as error:
        logger.warning("/metrics: %s", data.masked(error.message))
        up = False
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(queues, workers, up, app.settings.count_cap))
    # The format the scraper asks for (Accept), else the 0.0.4 text format every Prometheus reads.
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), headers={"Content-Type": content_type})


async def healthz(request: Request) -> Response:
    app: web.Web = request.app.state.web
    try:
        inspector = await app.data.inspector()
        now = await app.data.call(inspector.clock)
    except errors.PgqrsError as error:
        detail = app.data.masked(error.message)
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    return JSONResponse({"status": "ok", "database_time": now.isoformat()})


def routes() -> list[Route]:
    """Return /metrics and /healthz."""
    return [Route("/metrics", metrics), Route("/healthz", healthz)]
