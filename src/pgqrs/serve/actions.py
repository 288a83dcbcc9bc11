"""The actions, from the pages: requeue dead letters, delete a message, purge a queue.

Off unless the server was started with --allow-actions; then each needs an unlocked session
(the token, see auth) and a genuine form (CSRF token, same origin). POST only; each answers
with a redirect to the page it came from and a notice (post/redirect/get).
"""

from __future__ import annotations

import urllib.parse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pgqrs import errors
from pgqrs.serve import operations, web


def _web(request: Request) -> web.Web:
    found: web.Web = request.app.state.web
    return found


async def form_of(request: Request) -> dict[str, list[str]]:
    """Return a URL-encoded form body (the only kind the pages send) as lists of values."""
    body = (await request.body()).decode("utf-8", "replace")
    return urllib.parse.parse_qs(body, keep_blank_values=True)


def _single(form: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in form.items()}


async def _checked(request: Request, needs_session: bool = True) -> dict[str, list[str]]:
    """Return the form of an allowed, genuine, unlocked request; raise `Refused` otherwise."""
    app = _web(request)
    if not app.settings.allow_actions:
        raise web.Refused("actions are off: start pgqrs serve with --allow-actions (and PGQRS_SERVE_TOKEN)")
    form = await form_of(request)
    if not app.guard.form_is_genuine(request, _single(form)):
        raise web.Refused("this form did not come from this dashboard (CSRF check failed): reload the page")
    if needs_session and not app.guard.unlocked(request):
        raise web.Refused("actions need the token: unlock them first (the lock at the top of the page)")
    return form


def _back(request: Request, fallback: str, notice: str, count: int | str) -> RedirectResponse:
    """Redirect to the page the form was on (same origin only), with a notice."""
    referer = urllib.parse.urlsplit(request.headers.get("referer", ""))
    target = referer.path if referer.path.startswith("/") and not referer.path.startswith("//") else fallback
    query = [(k, v) for k, v in urllib.parse.parse_qsl(referer.query) if k not in ("notice", "n")]
    query += [("notice", notice), ("n", str(count))]
    return RedirectResponse(f"{target}?{urllib.parse.urlencode(query)}", status_code=303)


async def unlock(request: Request) -> Response:
    app = _web(request)
    form = _single(await _checked(request, needs_session=False))
    if not app.guard.token_matches(form.get("token")):
        raise web.Refused("wrong token")
    response = _back(request, "/", "unlocked", "")
    app.guard.open_session(response)
    return response


async def lock(request: Request) -> Response:
    app = _web(request)
    await _checked(request, needs_session=False)
    response = _back(request, "/", "locked", "")
    app.guard.close_session(request, response)
    return response


async def requeue(request: Request) -> Response:
    form = await _checked(request)
    name = request.path_params["name"]
    ids = None if form.get("all") else [operations.parse_id(value) for value in form.get("ids", [])]
    if ids == []:
        raise errors.ValidationError("choose dead letters to requeue (or requeue all)")
    moved = await operations.requeue(_web(request).data, name, ids)
    return _back(request, f"/queues/{urllib.parse.quote(name)}", "requeued", len(moved))


async def delete_message(request: Request) -> Response:
    await _checked(request)
    name = request.path_params["name"]
    message_id = operations.parse_id(request.path_params["id"])
    await operations.delete_message(_web(request).data, name, message_id)
    return _back(request, f"/queues/{urllib.parse.quote(name)}", "deleted", message_id)


async def purge(request: Request) -> Response:
    form = _single(await _checked(request))
    name = request.path_params["name"]
    purged = await operations.purge(_web(request).data, name, form.get("confirm"))
    return _back(request, f"/queues/{urllib.parse.quote(name)}", "purged", purged)


def routes() -> list[Route]:
    """Return the action routes (POST only)."""
    return [
        Route("/unlock", unlock, methods=["POST"]),
        Route("/lock", lock, methods=["POST"]),
        Route("/queues/{name}/requeue", requeue, methods=["POST"]),
        Route("/queues/{name}/messages/{id}/delete", delete_message, methods=["POST"]),
        Route("/queues/{name}/purge", purge, methods=["POST"]),
    ]
