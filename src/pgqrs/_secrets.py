"""Keep passwords out of every message, log line and repr.

libpq and psycopg quote connection strings in some errors (a malformed URI is echoed whole), so
every text that may carry a DSN goes through `mask` before a user can see it.
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"

_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """Return the DSN with its password replaced by ``***``."""
    masked = _KEYWORD_PASSWORD.sub(lambda match: match.group(1) + MASK, dsn)
    scheme, separator, rest = masked.partition("://")
    if not separator:
        return masked
    # The last '@' ends the user info: a password holding a raw '@' is still hidden whole.
    authority_end = _authority_end(rest)
    at = rest.rfind("@", 0, authority_end)
    if at < 0:
        return masked
    user, colon, _password = rest[:at].partition(":")
    if not colon:
        return masked
    return f"{scheme}://{user}:{MASK}{rest[at:]}"


def _authority_end(rest: str) -> int:
    """Return where the URI authority ends (before the path or query), last '@' considered."""
    at = rest.rfind("@")
    search_from = at + 1 if at >= 0 else 0
    ends = [index for index in (rest.find(char, search_from) for char in "/?#") if index >= 0]
    return min(ends) if ends else len(rest)


def secrets_of(dsn: str) -> list[str]:
    """Return the password strings a DSN carries, raw and percent-decoded."""
    found: list[str] = []
    for match in _KEYWORD_PASSWORD.finditer(dsn):
        found.append(match.group(2).strip("'"))
    _scheme, separator, rest = dsn.partition("://")
    if separator:
        at = rest.rfind("@", 0, _authority_end(rest))
        if at >= 0 and ":" in rest[:at]:
            found.append(rest[:at].partition(":")[2])
    decoded = [urllib.parse.unquote(secret) for secret in found]
    return sorted({secret for secret in found + decoded if secret}, key=len, reverse=True)


def mask(text: str, dsn: str | None = None, extra: list[str] | None = None) -> str:
    """Return `text` with any password of `dsn` (and any ``password=`` pair) masked."""
    secrets = (secrets_of(dsn) if dsn else []) + list(extra or [])
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    if dsn:
        text = text.replace(dsn, mask_dsn(dsn))
    return _KEYWORD_PASSWORD.sub(lambda match: match.group(1) + MASK, text)
