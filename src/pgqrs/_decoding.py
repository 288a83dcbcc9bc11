"""Decoding of json/jsonb columns: orjson where it gives exactly what the standard library would.

Payload decoding is per message on every dequeue, and orjson does it about 7 times faster than
`json.loads`. orjson turns integers beyond 64 bits into floats and refuses numbers beyond a
double's range, both of which jsonb stores; such documents (any run of 19 or more digits, which
may also sit inside a string: the slow path is still correct there) go to `json.loads`, so a
payload always decodes to the same value whichever path it takes.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

import psycopg
from psycopg import adapt
from psycopg.types import json as psycopg_json

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    orjson = None  # type: ignore[assignment]

_LONG_NUMBER = re.compile(rb"\d{19}")


def loads(data: str | bytes) -> Any:
    """Decode a JSON document as `json.loads` would, faster when orjson can do it exactly."""
    if isinstance(data, str):
        data = data.encode()
    if orjson is not None and _LONG_NUMBER.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # e.g. lone surrogates, or 1e400: json.loads has its own answer for those
    return json.loads(data)


# Numbers jsonb gives back differently from how Python wrote them: exponents (1e+16 comes back
# as 10000000000000000, an int) and negative zero (comes back as 0.0). Python writes exponents as
# e+NN / e-NN; a pattern that starts with a literal is searched ~10 times faster than one that
# starts with a class (a batch of 100 payloads: ~10 us instead of ~100 us).
_EXPONENT = re.compile(rb"e[-+][0-9]")
# A run of 19 digits, found as a run of zeros once every digit is a zero (~8 times faster than
# searching \d{19}).
_ZEROED = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def _jsonb_number(text: str) -> int | float:
    """Return a JSON number as it decodes after a trip through jsonb (numeric, no exponent)."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if decimals - int(exponent or 0) <= 0:
        return int(decimal.Decimal(text))  # jsonb prints it without a decimal point
    return float(text) + 0.0  # + 0.0 turns -0.0 into 0.0, as numeric does


def stored(texts: list[str]) -> list[Any]:
    """Return the JSON documents pgqrs encoded (`_validation.encode_payload`) as a dequeue would
    decode them once stored in jsonb; one decoder call for them all."""
    data = ("[" + ",".join(texts) + "]").encode()
    if _EXPONENT.search(data) is not None or b"-0.0" in data:
        return json.loads(data, parse_float=_jsonb_number)  # type: ignore[no-any-return]
    if orjson is not None and data.translate(_ZEROED).find(_LONG_RUN) < 0:
        return orjson.loads(data)  # type: ignore[no-any-return]
    return json.loads(data)  # type: ignore[no-any-return]


def _adapters() -> adapt.AdaptersMap:
    adapters = adapt.AdaptersMap(psycopg.adapters)
    psycopg_json.set_json_loads(loads, adapters)
    return adapters


# Passed to every pgqrs connection as its adapters context (nothing global is changed).
ADAPTERS = _adapters()
