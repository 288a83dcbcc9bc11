"""pgqrs._decoding.loads: the fast path must give exactly what json.loads gives, or not be taken."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgqrs import _decoding

DOCUMENTS = [
    b'{"id": 1, "kind": "bench", "body": "xxxx", "attempt": 0}',
    b"123456789012345678901234567890",  # beyond 64 bits: orjson alone would give a float
    b"-9223372036854775809",  # one below int64
    b'{"a": 18446744073709551616}',  # one above uint64
    b"[0.1, 2.5e-8, 1e308]",
    b'"caf\\u00e9 \\ud83d\\ude00"',
    b'"\\ud800"',  # a lone surrogate: orjson refuses it, json.loads accepts it
    b'{"nested": {"list": [true, false, null]}}',
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_loads_equals_the_standard_library(document: bytes) -> None:
    assert _decoding.loads(document) == json.loads(document)
    assert type(_decoding.loads(document)) is type(json.loads(document))


def test_numbers_beyond_a_double_decode_as_the_standard_library_does() -> None:
    assert _decoding.loads(b"1e400") == math.inf


def test_text_input_is_accepted() -> None:
    assert _decoding.loads('{"a": [1, 2]}') == {"a": [1, 2]}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_any_document_decodes_to_the_same_value(value: object) -> None:
    document = json.dumps(value).encode()
    assert _decoding.loads(document) == json.loads(document)
