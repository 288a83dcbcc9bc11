"""The JSON API under /api/: the pages' data, and the actions (Bearer token, POST only).

Reads need nothing; actions need --allow-actions and ``Authorization: Bearer <token>``.
Datetimes are ISO 8601 strings; errors are ``{"error": ..., "detail": ...}`` with the status
code of the page (400, 401, 403, 404, 503). docs/operations.md lists every endpoint.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pgqrs import errors, inspection
from pgqrs.serve import operations, web

MAX_LIMIT = 500


def _web(request: Request) -> web.Web:
    found: web.Web = request.app.state.web
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def answer(document: Any, status: int = 200) -> JSONResponse:
    """Return `document` as JSON (dataclasses as objects, datetimes as ISO 8601)."""
    return JSONResponse(_plain(document), status_code=status)


def _snapshot(queue: inspection.QueueSnapshot, throughput: list[inspection.MinuteCount]) -> dict[str, Any]:
    document: dict[str, Any] = _plain(queue)
    document["oldest_pending_seconds"] = queue.oldest_pending_seconds
    for name in ("pending", "in_flight", "delayed"):
        document[f"{name}_over_cap"] = queue.over_cap(getattr(queue, name))
    document["archived_last_hour"] = sum(count.archived for count in throughput)
    return document


async def queues(request: Request) -> Response:
    found = await _web(request).data.overview()
    listed = [_snapshot(queue, found.throughput.get(queue.id, [])) for queue in found.queues]
    return answer({"now": found.now, "queues": listed})


async def queue(request: Request) -> Response:
    data = _web(request).data
    snapshot = await data.queue(request.path_params["name"])
    throughput = (await data.overview()).throughput.get(snapshot.id, [])
    return answer({**_snapshot(snapshot, throughput), "throughput": throughput})


async def throughput(request: Request) -> Response:
    found = await _web(request).data.overview()
    names = {queue.id: queue.queue_name for queue in found.queues}
    per_queue = {
        names[queue_id]: counts for queue_id, counts in found.throughput.items() if queue_id in names
    }
    return answer({"now": found.now, "minutes": 60, "queues": per_queue})


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "50")
    if not text.isdigit() or not 0 < int(text) <= MAX_LIMIT:
        raise errors.ValidationError(f"limit: a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return int(text)


async def messages(request: Request) -> Response:
    data = _web(request).data
    snapshot = await data.queue(request.path_params["name"])
    state = inspection.MessageState(request.query_params.get("state", "all"))
    limit = _limit(request)
    inspector = await data.inspector()
    payloads = await data.payloads_visible()
    after = request.query_params.get("after")
    rows = await data.call(inspector.messages, snapshot.id, state, after, limit, payloads)
    next_key = inspection.message_key(rows[-1]) if len(rows) == limit else None
    return answer({"messages": rows, "next": next_key, "payloads_visible": payloads})


async def _archive(request: Request, dead_letters_only: bool) -> Response:
    data = _web(request).data
    snapshot = await data.queue(request.path_params["name"])
    before_text = request.query_params.get("before", "")
    if before_text and not before_text.isdigit():
        raise errors.ValidationError(f"before: not an archive id: {before_text!r}")
    limit = _limit(request)
    inspector = await data.inspector()
    payloads = await data.payloads_visible()
    before = int(before_text) if before_text else None
    rows = await data.call(inspector.archive, snapshot.id, before, limit, dead_letters_only, payloads)
    next_id = rows[-1].id if len(rows) == limit else None
    return answer({"records": rows, "next": next_id, "payloads_visible": payloads})


async def archive(request: Request) -> Response:
    return await _archive(request, dead_letters_only=False)


async def dead_letters(request: Request) -> Response:
    return await _archive(request, dead_letters_only=True)


async def workers(request: Request) -> Response:
    data = _web(request).data
    inspector = await data.inspector()
    rows = await data.call(inspector.workers)
    stale_after = data.settings.stale_after
    listed = [
        {**_plain(row), "state": row.state(stale_after), "heartbeat_age_seconds": row.heartbeat_age_seconds}
        for row in rows
    ]
    return answer({"workers": listed, "stale_after_seconds": stale_after})


async def _authorized_body(request: Request) -> dict[str, Any]:
    app = _web(request)
    if not app.settings.allow_actions:
        raise web.Refused("actions are off: start pgqrs serve with --allow-actions (and PGQRS_SERVE_TOKEN)")
    if not app.guard.bearer_matches(request):
        raise web.Unauthorized("send the token: Authorization: Bearer <PGQRS_SERVE_TOKEN>")
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise errors.ValidationError("the body must be a JSON object")
    return body


async def requeue(request: Request) -> Response:
    body = await _authorized_body(request)
    ids = body.get("ids")
    if (ids is None) == (body.get("all") is not True) or not isinstance(ids, (list, type(None))):
        raise errors.ValidationError('give "ids": [archive ids] or "all": true (one of them)')
    chosen = None if ids is None else [operations.parse_id(value) for value in ids]
    moved = await operations.requeue(_web(request).data, request.path_params["name"], chosen)
    pairs = [{"id": record, "message_id": message} for record, message in moved.items()]
    return answer({"requeued": len(moved), "messages": pairs})


async def delete_message(request: Request) -> Response:
    await _authorized_body(request)
    message_id = operations.parse_id(request.path_params["id"])
    await operations.delete_message(_web(request).data, request.path_params["name"], message_id)
    return answer({"deleted": message_id})


async def purge(request: Request) -> Response:
    body = await _authorized_body(request)
    purged = await operations.purge(_web(request).data, request.path_params["name"], body.get("confirm"))
    return answer({"purged": purged})


def routes() -> list[Route]:
    """Return the JSON API's routes."""
    return [
        Route("/api/queues", queues),
        Route("/api/queues/{name}", queue),
        Route("/api/queues/{name}/messages", messages),
        Route("/api/queues/{name}/archive", archive),
        Route("/api/queues/{name}/dead-letters", dead_letters),
        Route("/api/workers", workers),
        Route("/api/throughput", throughput),
        Route("/api/queues/{name}/dead-letters/requeue", requeue, methods=["POST"]),
        Route("/api/queues/{name}/messages/{id}/delete", delete_message, methods=["POST"]),
        Route("/api/queues/{name}/purge", purge, methods=["POST"]),
    ]
