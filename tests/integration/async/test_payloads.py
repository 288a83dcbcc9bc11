"""Typed payloads in, the stored JSON out: an enqueue returns what a dequeue of it returns."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import msgspec
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgqrs
from pgqrs import _payload_types


@dataclasses.dataclass
class Address:
    city: str


@dataclasses.dataclass
class Signup:
    email: str
    address: Address
    tags: list[str]
    score: float = 0.0


class Invoice(pydantic.BaseModel):
    number: int
    due: datetime.date


class Reminder(msgspec.Struct):
    text: str
    at: datetime.datetime


async def test_typed_payloads_are_stored_as_json(
    producer: pgqrs.Producer, consumer: pgqrs.Consumer, admin: pgqrs.PgqrsAdmin
) -> None:
    at = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    sent = await producer.batch_enqueue(
        [Signup("a@example.com", Address("Oslo"), ["new"]), Invoice(number=7, due=at.date())]
    )
    sent.append(await producer.enqueue(Reminder("call", at)))
    payloads = [message.payload for message in sent]
    assert payloads == [
        {"email": "a@example.com", "address": {"city": "Oslo"}, "tags": ["new"], "score": 0.0},
        {"number": 7, "due": "2030-01-02"},
        {"text": "call", "at": "2030-01-02T03:04:05Z"},
    ]
    assert [message.payload for message in await consumer.dequeue_batch(10)] == payloads
    assert _payload_types.decode(payloads[0], Signup) == Signup("a@example.com", Address("Oslo"), ["new"])
    assert _payload_types.decode(payloads[1], Invoice) == Invoice(number=7, due=at.date())
    assert _payload_types.decode(payloads[2], Reminder) == Reminder("call", at)


async def test_what_enqueue_returns_is_what_is_stored(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin
) -> None:
    odd = {1: "int key", "t": (1, 2), "big": 1e16, "huge": 1.5e300, "small": 1e-7, "zero": -0.0}
    message = await producer.enqueue(odd)
    stored = await admin.messages.get(message.id)
    assert message == stored
    assert message.payload == {"1": "int key", "t": [1, 2], "big": 10**16, "huge": 15 * 10**299,
                               "small": 1e-7, "zero": 0.0}  # fmt: skip
    assert _typed(message.payload) == _typed(stored.payload)
    [batch] = await producer.batch_enqueue([odd])
    assert _typed(batch.payload) == _typed(stored.payload)


def _typed(value: Any) -> Any:
    """Return `value` with the type of every number and container spelled out (1 != 1.0)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, repr(value))


TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))  # what jsonb takes
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON)
async def test_any_json_round_trips_exactly(
    producer: pgqrs.Producer, admin: pgqrs.PgqrsAdmin, payload: Any
) -> None:
    message = await producer.enqueue(payload)
    assert _typed(message.payload) == _typed((await admin.messages.get(message.id)).payload)


def test_a_payload_that_does_not_validate_names_the_type_and_the_problem() -> None:
    with pytest.raises(pgqrs.errors.PayloadTypeError, match=r"Signup: \$\.address\.city: expected str"):
        _payload_types.decode({"email": "e", "address": {"city": 5}, "tags": []}, Signup)
    with pytest.raises(pgqrs.errors.PayloadTypeError, match="field 'tags' is missing"):
        _payload_types.decode({"email": "e", "address": {"city": "c"}}, Signup)
    invalid = pgqrs.errors.PayloadTypeError
    with pytest.raises(invalid, match=r"Invoice: \$\.number: Input should be a valid integer"):
        _payload_types.decode({"number": "seven", "due": "2030-01-01"}, Invoice)
    with pytest.raises(invalid, match=r"Reminder: Expected `str`, got `int` - at `\$\.text`"):
        _payload_types.decode({"text": 1, "at": "2030-01-01T00:00:00Z"}, Reminder)
    with pytest.raises(pgqrs.ValidationError, match="payload_type must be"):
        _payload_types.decode({}, dict)
