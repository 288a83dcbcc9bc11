"""Client-side checks that run before any SQL: names, durations, payloads.

PostgreSQL rejects some JSON that Python happily produces (NaN, NUL characters, lone surrogates)
and silently truncates identifiers over 63 bytes; catching these here gives a typed error that
names the problem, and guarantees a bad batch writes nothing.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from pgqrs import _payload_types, errors

# Schema names are composed into SQL (as quoted identifiers); the allow-list keeps them plain.
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Queue names are values, never SQL, but they show up in logs, shells and URLs: keep them tame.
# Words joined by single '.', ':' or '-' (so no "--" comment markers, no trailing dash).
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_]+(?:[.:-][A-Za-z0-9_]+)*\Z")
_MAX_NAME_BYTES = 63
# An escaped NUL (\u0000) preceded by an even number of backslashes is a real NUL character.
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# Priorities the dequeue walks one by one when nothing is visible at the higher ones: bounded,
# so that walk is bounded too (see migration 0006).
MIN_PRIORITY = 0
MAX_PRIORITY = 100
# A dedup key sits in a btree index entry (at most ~2.7 kB): keep it an identifier.
_MAX_KEY_BYTES = 512
MAX_SECONDS = 100 * 365.25 * 86400


def _not_serializable(value: object) -> Any:
    # Typed payloads (dataclasses, pydantic, msgspec) become JSON values here; others raise.
    return _payload_types.builtins_of(value)


# The stdlib's C encoder, built once with the settings of `_encoder` (JSONEncoder.encode builds
# one per call). Circular structures end in RecursionError instead of ValueError: both are caught.
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
# Arguments: markers, default, encoder, indent, key and item separators, sort_keys, skipkeys, allow_nan.
_encode_chunks = (
    None
    if _c_encoder is None
    else _c_encoder(
        None, _not_serializable, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
)


def _dumps(payload: Any) -> str:
    if _encode_chunks is None:
        return _encoder.encode(payload)
    return "".join(_encode_chunks(payload, 0))


def schema_name(value: object, source: str = "schema") -> str:
    """Return `value` if it is a safe schema name, else raise `ValidationError`."""
    if not isinstance(value, str) or not _SCHEMA_NAME.match(value):
        raise errors.ValidationError(
            f"{source}: invalid schema name {value!r}: use letters, digits and '_' "
            "(not starting with a digit)"
        )
    if len(value.encode()) > _MAX_NAME_BYTES:
        raise errors.ValidationError(f"{source}: schema name {value!r} is longer than 63 bytes")
    if value.lower().startswith("pg_"):
        raise errors.ValidationError(f"{source}: schema names starting with 'pg_' are reserved")
    return value


def queue_name(value: object) -> str:
    """Return `value` if it is a valid queue name, else raise `ValidationError`."""
    if not isinstance(value, str) or not _QUEUE_NAME.match(value):
        raise errors.ValidationError(
            f"invalid queue name {value!r}: use 1-63 letters, digits, '_', '-', '.' or ':' "
            "(not starting with a punctuation mark)"
        )
    if len(value.encode()) > _MAX_NAME_BYTES:
        raise errors.ValidationError(f"queue name {value!r} is longer than 63 bytes")
    return value


def seconds(value: object, name: str) -> float:
    """Return a duration (`timedelta` or number of seconds) as non-negative float seconds."""
    if isinstance(value, datetime.timedelta):
        result = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise errors.ValidationError(
            f"{name} must be a timedelta or a number of seconds, not {type(value).__name__}"
        )
    if not math.isfinite(result) or result < 0:
        raise errors.ValidationError(f"{name} must be a finite, non-negative duration, got {value!r}")
    if result > MAX_SECONDS:
        # Past PostgreSQL's timestamps the statement itself would fail, and with it every enqueue
        # grouped with this one (the Producer's group commit).
        raise errors.ValidationError(f"{name} must be at most 100 years, got {value!r}")
    return result


_DURATION = re.compile(r"^\s*(?P<amount>\d+(\.\d+)?)\s*(?P<unit>[smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(value: object, name: str) -> float:
    """Return a duration (`timedelta`, seconds, or text such as ``7d``, ``12h``, ``30m``, ``45s``,
    ``2w``) as non-negative float seconds."""
    if isinstance(value, str):
        match = _DURATION.match(value.lower())
        if match is None:
            raise errors.ValidationError(
                f"{name} must be a duration such as 7d, 12h, 30m or 45s (or seconds), got {value!r}"
            )
        return float(match["amount"]) * _UNIT_SECONDS[match["unit"]]
    return seconds(value, name)


def priority(value: object) -> int:
    """Return `value` if it is a priority (an int from MIN_PRIORITY to MAX_PRIORITY)."""
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise errors.ValidationError(
            f"priority must be an integer from {MIN_PRIORITY} to {MAX_PRIORITY}, got {value!r}"
        )
    return value


def scheduled_time(value: object) -> datetime.datetime:
    """Return `value` if it is a time zone aware datetime (an instant), else raise."""
    if not isinstance(value, datetime.datetime):
        raise errors.ValidationError(f"when must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise errors.ValidationError(
            f"when must be time zone aware (e.g. datetime.now(timezone.utc)), got the naive {value!r}"
        )
    return value


def visibility(delay: object, at: object) -> tuple[float, datetime.datetime | None]:
    """Return (delay seconds, scheduled time or None): a delay or a time, not both."""
    seconds_delay = seconds(delay, "delay")
    if at is None:
        return seconds_delay, None
    if seconds_delay:
        raise errors.ValidationError("give a delay or a scheduled time (at), not both")
    return 0.0, scheduled_time(at)


def dedup_key(value: object, position: int | None = None) -> str | None:
    """Return `value` if it is None or a usable dedup key (a non-empty string without NUL)."""
    if value is None:
        return None
    where = "" if position is None else f" (item {position})"
    if not isinstance(value, str) or not value:
        raise errors.ValidationError(f"dedup key{where} must be a non-empty string, got {value!r}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise errors.ValidationError(f"dedup key{where} contains a lone surrogate character") from None
    if "\x00" in value:
        raise errors.ValidationError(f"dedup key{where} contains a NUL character")
    if size > _MAX_KEY_BYTES:
        raise errors.ValidationError(f"dedup key{where} is {size} bytes, over {_MAX_KEY_BYTES}")
    return value


def dedup_keys(values: Iterable[object] | None, count: int) -> list[str | None] | None:
    """Return one key (or None) per payload of a batch, or None when no keys were given."""
    if values is None:
        return None
    if isinstance(values, (str, bytes)):
        raise errors.ValidationError("dedup_keys must be a sequence of keys, not a single string")
    keys = [dedup_key(value, position) for position, value in enumerate(values)]
    if len(keys) != count:
        raise errors.ValidationError(f"dedup_keys has {len(keys)} keys for {count} payloads")
    return keys


def positive_int(value: object, name: str) -> int:
    """Return `value` if it is an int >= 1, else raise `ValidationError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise errors.ValidationError(f"{name} must be a positive integer, got {value!r}")
    return value


def message_id(value: object) -> int:
    """Return `value` if it is a plausible message id (a bigint), else raise `ValidationError`."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise errors.ValidationError(f"message id must be a positive integer, got {value!r}")
    return value


def message_ids(values: Iterable[object]) -> list[int]:
    """Return a list of valid message ids."""
    if isinstance(values, (str, bytes)):
        raise errors.ValidationError("message ids must be a sequence of integers, not a string")
    return [message_id(value) for value in values]


def encode_payload(payload: Any, max_bytes: int, position: int | None = None) -> str:
    """Return the payload as JSON text that PostgreSQL's jsonb accepts, or raise `ValidationError`."""
    where = "" if position is None else f" (item {position})"
    try:
        text = _dumps(payload)
    except (TypeError, ValueError, RecursionError) as exc:
        raise errors.ValidationError(f"payload{where} is not valid JSON: {exc}") from None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise errors.ValidationError(
            f"payload{where} contains a lone surrogate character, which JSON in PostgreSQL refuses"
        ) from None
    if "\\u0000" in text and _ESCAPED_NUL.search(text):
        raise errors.ValidationError(f"payload{where} contains a NUL character (\\u0000)")
    if size > max_bytes:
        raise errors.ValidationError(f"payload{where} is {size} bytes, over max_payload_bytes={max_bytes}")
    return text


def payload_list(payloads: Iterable[Any]) -> list[Any]:
    """Return the payloads of a batch as a list (read once), refusing a single value."""
    if isinstance(payloads, (str, bytes, dict)):
        raise errors.ValidationError("payloads must be a sequence of JSON values, not a single value")
    return list(payloads)


def encode_payloads(payloads: Iterable[Any], max_bytes: int) -> list[str]:
    """Encode every payload, failing on the first bad one so a bad batch writes nothing."""
    if isinstance(payloads, (str, bytes, dict)):
        raise errors.ValidationError("payloads must be a sequence of JSON values, not a single value")
    return [encode_payload(payload, max_bytes, position) for position, payload in enumerate(payloads)]


def error_text(text: str | None, limit: int) -> str | None:
    """Return `text` as PostgreSQL text holds it: no NUL, no lone surrogate, at most `limit`
    characters (the end kept: a traceback's last lines name the error)."""
    if text is None:
        return None
    cleaned = str(text).replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    if len(cleaned) <= limit:
        return cleaned
    return "[...]\n" + cleaned[-(limit - 6) :]
