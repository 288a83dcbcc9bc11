"""The HTML pages: overview, a queue (messages, archive, dead letters), workers.

Each page has a fragment (under /fragments/) holding its numbers, which the page's script
fetches again every refresh interval; lists of messages page by key and stay put until asked.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pgqrs import inspection
from pgqrs.serve import charts, web

TABS = ("messages", "archive", "dead-letters")
STATES = [state.value for state in inspection.MessageState]


def _web(request: Request) -> web.Web:
    found: web.Web = request.app.state.web
    return found


async def overview(request: Request) -> Response:
    return _web(request).page(request, "overview.html", **await _overview_context(request))


async def overview_fragment(request: Request) -> Response:
    return _web(request).page(request, "_overview.html", **await _overview_context(request))


async def _overview_context(request: Request) -> dict[str, Any]:
    found = await _web(request).data.overview()
    every = charts.merged(found.throughput)
    return {
        "overview": found,
        "chart": charts.bars(every, found.now, label="all queues"),
        "hour_total": charts.total(every),
        "sparklines": {
            queue.id: charts.bars(found.throughput.get(queue.id, []), found.now, 120, 28, queue.queue_name)
            for queue in found.queues
        },
        "hour_totals": {queue_id: charts.total(counts) for queue_id, counts in found.throughput.items()},
    }


async def queue_page(request: Request) -> Response:
    context = await _queue_context(request)
    context.update(await _listing(request, context["queue"]))
    return _web(request).page(request, "queue.html", **context)


async def queue_fragment(request: Request) -> Response:
    return _web(request).page(request, "_queue_summary.html", **await _queue_context(request))


async def _queue_context(request: Request) -> dict[str, Any]:
    data = _web(request).data
    queue = await data.queue(request.path_params["name"])
    throughput = (await data.overview()).throughput.get(queue.id, [])
    return {
        "queue": queue,
        "chart": charts.bars(throughput, queue.now, label=queue.queue_name),
        "hour_total": charts.total(throughput),
    }


async def _listing(request: Request, queue: inspection.QueueSnapshot) -> dict[str, Any]:
    """Return the tab's page of rows and the link parameters of the next page."""
    data = _web(request).data
    params = request.query_params
    tab = params.get("tab", "messages")
    if tab not in TABS:
        raise ValueError(f"no tab {tab!r}: one of {', '.join(TABS)}")
    size = _web(request).settings.page_size
    payloads = await data.payloads_visible()
    inspector = await data.inspector()
    context: dict[str, Any] = {"tab": tab, "payloads": payloads, "state": params.get("state", "all")}
    if tab == "messages":
        state = inspection.MessageState(context["state"])
        rows: list[Any] = await data.call(
            inspector.messages, queue.id, state, params.get("after"), size, payloads
        )
        next_page = {"after": inspection.message_key(rows[-1])} if len(rows) == size else None
    else:
        before = _archive_id(params.get("before"))
        dead_only = tab == "dead-letters"
        rows = await data.call(inspector.archive, queue.id, before, size, dead_only, payloads)
        next_page = {"before": str(rows[-1].id)} if len(rows) == size else None
    first_page = not (params.get("after") or params.get("before"))
    context.update(rows=rows, next_page=next_page, first_page=first_page)
    return context


def _archive_id(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"before: not an archive id: {text!r}")
    return int(text)


async def workers(request: Request) -> Response:
    return _web(request).page(request, "workers.html", **await _workers_context(request))


async def workers_fragment(request: Request) -> Response:
    return _web(request).page(request, "_workers.html", **await _workers_context(request))


async def _workers_context(request: Request) -> dict[str, Any]:
    data = _web(request).data
    inspector = await data.inspector()
    return {"workers": await data.call(inspector.workers), "stale_after": data.settings.stale_after}


def routes() -> list[Route]:
    """Return the page routes."""
    return [
        Route("/", overview),
        Route("/fragments/overview", overview_fragment),
        Route("/queues/{name}", queue_page),
        Route("/fragments/queues/{name}", queue_fragment),
        Route("/workers", workers),
        Route("/fragments/workers", workers_fragment),
    ]
