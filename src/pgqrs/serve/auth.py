"""Who may act: the token unlocks actions, a session remembers it, and forms carry a CSRF token.

Pages: POST /unlock with the token (compared in constant time) opens a session, a random id
in an HttpOnly, SameSite=Strict cookie, kept in this process only (a restart locks again).
Every form carries a CSRF token, an HMAC of a per-visitor cookie under a key that exists only
in this process; a POST whose form token does not match its cookie, or whose Origin is another
site, is refused before anything runs. The JSON API takes ``Authorization: Bearer <token>``
instead (a browser cannot send that header across sites unasked, so it needs no CSRF token).
The token is never written to a page, an answer, a cookie or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "pgqrs_session"
VISITOR_COOKIE = "pgqrs_visitor"
CSRF_FIELD = "csrf"
_MAX_SESSIONS = 1_000


class Guard:
    """Checks tokens, sessions and CSRF tokens for one server process."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None
        self._key = secrets.token_bytes(32)
        self._sessions: set[str] = set()

    def token_matches(self, offered: str | None) -> bool:
        """Return whether `offered` is the token (constant time; False when none is set)."""
        if self._token is None or not offered:
            return False
        return hmac.compare_digest(offered.encode(), self._token)

    def bearer_matches(self, request: Request) -> bool:
        """Return whether the request's ``Authorization: Bearer`` header holds the token."""
        scheme, _, offered = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(offered.strip())

    def open_session(self, response: Response) -> None:
        """Start a session and set its cookie on `response`."""
        if len(self._sessions) >= _MAX_SESSIONS:
            self._sessions.clear()  # bounded memory: everyone unlocks again
        session = secrets.token_urlsafe(32)
        self._sessions.add(session)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")

    def close_session(self, request: Request, response: Response) -> None:
        """End the request's session and clear its cookie."""
        self._sessions.discard(request.cookies.get(SESSION_COOKIE, ""))
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")

    def unlocked(self, request: Request) -> bool:
        """Return whether the request belongs to an open session."""
        return request.cookies.get(SESSION_COOKIE, "") in self._sessions

    def visitor(self, request: Request) -> str:
        """Return the request's visitor id (a new one when it has none; see `keep_visitor`)."""
        known = request.cookies.get(VISITOR_COOKIE)
        if known:
            return known
        new: str | None = getattr(request.state, "new_visitor", None)
        if new is None:
            new = request.state.new_visitor = secrets.token_urlsafe(24)
        return new

    def keep_visitor(self, request: Request, response: Response) -> None:
        """Set the visitor cookie on `response` if the request had none."""
        new = getattr(request.state, "new_visitor", None)
        if new:
            response.set_cookie(VISITOR_COOKIE, new, httponly=True, samesite="strict")

    def csrf_token(self, request: Request) -> str:
        """Return the CSRF token the request's forms must carry."""
        visitor = self.visitor(request).encode()
        return hmac.new(self._key, b"csrf " + visitor, hashlib.sha256).hexdigest()

    def form_is_genuine(self, request: Request, form: dict[str, str]) -> bool:
        """Return whether a POSTed form came from one of our pages (CSRF token and Origin)."""
        if not same_origin(request):
            return False
        visitor = request.cookies.get(VISITOR_COOKIE)
        if not visitor:
            return False
        expected = hmac.new(self._key, b"csrf " + visitor.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(form.get(CSRF_FIELD, ""), expected)


def same_origin(request: Request) -> bool:
    """Return False when the request names an Origin (or Referer) on another host."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")
