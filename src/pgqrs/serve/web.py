"""What every page shares: the templates, the data source, the guard, and error pages.

A failure becomes a designed page (or a fragment, or a JSON object under /api), never a
traceback: the database unreachable (503), pgqrs not installed (503), a queue or message not
found (404), a privilege the login lacks (403), a bad parameter (400). Every text shown from an
error is masked (the DSN's password, the serve token).
"""

from __future__ import annotations

import logging
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from pgqrs import errors
from pgqrs.serve import auth, formatting, settings, source

logger = logging.getLogger("pgqrs.serve")

NOTICES = {
    "unlocked": "Actions unlocked for this browser.",
    "locked": "Actions locked.",
    "requeued": "{n} dead letter(s) put back on the queue.",
    "deleted": "Message {n} deleted.",
    "purged": "{n} message(s) purged.",
}


class Refused(Exception):
    """A request that may not do what it asks (HTTP 403, with the reason)."""


class Unauthorized(Refused):
    """No token, or the wrong one (HTTP 401)."""


class Web:
    """The pieces a request handler needs."""

    def __init__(self, data: source.Source, guard: auth.Guard, options: settings.ServeSettings) -> None:
        self.data = data
        self.guard = guard
        self.settings = options
        loader = jinja2.PackageLoader("pgqrs.serve", "templates")
        self.templates = jinja2.Environment(loader=loader, autoescape=True, enable_async=False)
        self.templates.filters.update(formatting.FILTERS)

    def page(self, request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
        """Render a template with the shared context; keep the visitor's CSRF cookie."""
        notice = NOTICES.get(request.query_params.get("notice", ""), "")
        shared = {
            "request": request,
            "schema": self.data.schema,
            "settings": self.settings,
            "actions_allowed": self.settings.allow_actions,
            "unlocked": self.guard.unlocked(request),
            "csrf_field": auth.CSRF_FIELD,
            "csrf": self.guard.csrf_token(request),
            "notice": notice.format(n=_digits(request.query_params.get("n", ""))),
        }
        body = self.templates.get_template(template).render({**shared, **context})
        response = HTMLResponse(body, status_code=code)
        self.guard.keep_visitor(request, response)
        return response

    def failure(self, request: Request, error: Exception) -> Response:
        """Return the page, fragment or JSON answer for a failed request."""
        status, title = describe(error)
        text = error.message if isinstance(error, errors.PgqrsError) else str(error)
        message = self.data.masked(text)
        if status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, message)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": title, "detail": message}, status_code=status)
        fragment = request.url.path.startswith("/fragments/")
        template = "_error.html" if fragment else "error.html"
        return self.page(request, template, status, title=title, detail=message, status=status)


def describe(error: Exception) -> tuple[int, str]:
    """Return the HTTP status and a short title for `error`."""
    if isinstance(error, Unauthorized):
        return 401, "Unauthorized"
    if isinstance(error, Refused):
        return 403, "Refused"
    if isinstance(error, (source.NotInstalled, errors.SchemaError)):
        return 503, "pgqrs is not installed"
    if isinstance(error, errors.NotFoundError):
        return 404, "Not found"
    if isinstance(error, errors.PermissionDenied):
        return 403, "Permission denied"
    if isinstance(error, errors.DatabaseError):
        return 503, "The database does not answer"
    if isinstance(error, (errors.ValidationError, ValueError)):
        return 400, "Bad request"
    if isinstance(error, errors.PgqrsError):
        return 500, "The operation failed"
    return 500, "Unexpected error"


def _digits(text: str) -> str:
    return text if text.isdigit() else ""
