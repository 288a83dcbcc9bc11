"""Scenario 11 - bad input: hostile payloads, batches and names are refused before any SQL runs.

Payloads PostgreSQL's jsonb refuses or Python cannot encode (NUL, lone surrogates, NaN and
Infinity, over-size, too deep, non-JSON types) raise a typed `ValidationError` and write nothing;
a batch with one bad item writes nothing. Hostile schema and queue names (quotes, semicolons,
comments, over 63 bytes, Unicode look-alikes) are refused too. "Before any SQL runs" is measured,
not assumed: the admin talks to the server through a TCP proxy that counts the bytes it forwards.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgqrs import sync as pgqrs
from tests import support
from tests.reliability import harness, proxy

MAX_PAYLOAD = 4096
SCALE = harness.current_scale()
SETTINGS = settings(
    max_examples=SCALE.hypothesis_examples,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Valid JSON values (floats finite, strings without NUL or surrogates).
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)


class _NotJson:
    pass


POISONS: dict[str, Callable[[], Any]] = {
    "nul in a value": lambda: "a\x00b",
    "nul in a key": lambda: {"a\x00": 1},
    "lone surrogate in a value": lambda: "a\ud800b",
    "lone surrogate in a key": lambda: {"\udfff": 1},
    "nan": lambda: math.nan,
    "infinity": lambda: math.inf,
    "minus infinity": lambda: -math.inf,
    "over max_payload_bytes": lambda: "x" * (MAX_PAYLOAD + 1),
    "multibyte over max_payload_bytes": lambda: "é" * (MAX_PAYLOAD // 2 + 1),
    "too deep": lambda: _nest(100_000),
    "bytes": lambda: b"raw",
    "set": lambda: {1, 2},
    "object": _NotJson,
    "datetime": lambda: datetime.datetime(2024, 1, 1),
    "decimal": lambda: decimal.Decimal("1.5"),
    "complex": lambda: complex(1, 2),
    "tuple key": lambda: {(1, 2): "x"},
}


def _nest(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def bad_payloads(draw: st.DrawFn) -> Any:
    """Return a JSON value with one poison somewhere inside it."""
    value = POISONS[draw(st.sampled_from(sorted(POISONS)))]()
    for _ in range(draw(st.integers(0, 3))):
        sibling = draw(json_values)
        if draw(st.booleans()):
            value = [sibling, value] if draw(st.booleans()) else [value, sibling]
        else:
            value = {"sibling": sibling, draw(_text.filter(lambda key: key != "sibling")): value}
    return value


@pytest.fixture
def watched(admin: pgqrs.PgqrsAdmin, link: proxy.TcpProxy) -> Iterator[pgqrs.PgqrsAdmin]:
    """Return an admin whose traffic goes through the byte-counting proxy."""
    config = link.config_for(admin.config, max_payload_bytes=MAX_PAYLOAD)
    with pgqrs.PgqrsAdmin.connect(config) as through_proxy:
        yield through_proxy


def _refused_without_sql(link: proxy.TcpProxy, call: Callable[[], Any], error: type[Exception]) -> str:
    """Assert `call` raises `error` and sends not one byte to the server; return the message."""
    before = link.bytes_to_server
    with pytest.raises(error) as raised:
        call()
    assert link.bytes_to_server == before, "SQL was sent before the input was refused"
    return str(raised.value)


def test_hypothesis_bad_payloads_are_refused_and_nothing_written(
    watched: pgqrs.PgqrsAdmin, link: proxy.TcpProxy, figures: dict[str, Any]
) -> None:
    queue = watched.create_queue("bad")
    producer = pgqrs.Producer(watched.pool, queue, watched.config)
    tried = {"single": 0, "batch": 0}

    @SETTINGS
    @given(payload=bad_payloads())
    def single(payload: Any) -> None:
        _refused_without_sql(link, lambda: producer.enqueue(payload), pgqrs.ValidationError)
        _refused_without_sql(link, lambda: producer.enqueue_delayed(payload, 5), pgqrs.ValidationError)
        tried["single"] += 1

    @SETTINGS
    @given(good=st.lists(json_values, max_size=8), bad=bad_payloads(), position=st.integers(0, 8))
    def batch(good: list[Any], bad: Any, position: int) -> None:
        items = [*good[:position], bad, *good[position:]]
        message = _refused_without_sql(link, lambda: producer.batch_enqueue(items), pgqrs.ValidationError)
        assert f"item {min(position, len(good))}" in message
        tried["batch"] += 1

    single()
    batch()
    assert watched.messages.count_by_fk(queue.id) == 0
    figures.update(
        bad_payloads_tried=tried["single"] * 2,
        bad_batches_tried=tried["batch"],
        poison_kinds=len(POISONS),
        written=0,
        bytes_sent_for_refused_input=0,
    )


def test_hypothesis_valid_payloads_round_trip(watched: pgqrs.PgqrsAdmin) -> None:
    queue = watched.create_queue("good")
    producer = pgqrs.Producer(watched.pool, queue, watched.config)
    # jsonb stores numbers as numeric: 1e300 comes back as an int of 301 digits, so compare
    # floats in a range where float -> decimal text -> float is exact.
    small_floats = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False)
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | small_floats | _text,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
        max_leaves=12,
    )

    @SETTINGS
    @given(payload=values)
    def round_trip(payload: Any) -> None:
        sent = producer.enqueue(payload)
        assert watched.messages.get(sent.id).payload == payload

    round_trip()


def test_payload_over_the_default_limit(admin: pgqrs.PgqrsAdmin) -> None:
    queue = admin.create_queue("huge")
    producer = pgqrs.Producer(admin.pool, queue, admin.config)
    with pytest.raises(pgqrs.ValidationError, match="max_payload_bytes"):
        producer.enqueue({"blob": "x" * (admin.config.max_payload_bytes + 1)})
    assert admin.messages.count_by_fk(queue.id) == 0


HOSTILE_NAMES: list[Any] = [
    "jobs'; DROP TABLE pgqrs_messages; --",
    "Robert'); DROP TABLE students;--",
    'a"b',
    "a;b",
    "a--b",
    "a/*b*/",
    "jobs -- comment",
    "-leading",
    "jobs ",
    " jobs",
    "jobs\n",
    "jobs\x00",
    "j\tobs",
    "jobs\\",
    "%(payload)s",
    "{schema}",
    "",
    "x" * 64,
    "é" * 32,  # 64 bytes
    "j\u043ebs",  # Cyrillic o
    "\uff4a\uff4f\uff42\uff53",  # fullwidth
    "jobs\u200b",  # zero-width space
    "jobs\u202e",  # right-to-left override
    "pg_catalog",
    12345,
    None,
    b"jobs",
]


def _queue_calls(admin: pgqrs.PgqrsAdmin, name: Any) -> dict[str, Callable[[], Any]]:
    calls = {
        "create_queue": lambda: admin.create_queue(name),
        "get_queue": lambda: admin.get_queue(name),
        "delete_queue": lambda: admin.delete_queue(name),
        "purge_queue": lambda: admin.purge_queue(name),
        "purge_archive": lambda: admin.purge_archive(name),
        "queue_metrics": lambda: admin.queue_metrics(name),
        "list_workers": lambda: admin.list_workers(name),
        "producer": lambda: admin.producer(name),
        "consumer": lambda: admin.consumer(name),
    }
    if name is None:
        del calls["list_workers"]  # list_workers(None) lists every queue's workers, by design
    return calls


def _pgqrs_relations(dsn: str) -> list[tuple[str, str]]:
    with support.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname LIKE 'pgqrs%%' ORDER BY 1, 2"
        ).fetchall()
    return [(str(schema), str(name)) for schema, name in rows]


def _relations_outside_isolated_schemas(dsn: str) -> list[tuple[str, str]]:
    """pgqrs's relations except those of the tests' isolated schemas, made and dropped meanwhile.

    A hostile name is never such a schema's name.
    """
    isolated = re.compile(r"pgqrs_(test|bench)_[0-9a-f]+")
    return [row for row in _pgqrs_relations(dsn) if not isolated.fullmatch(row[0])]


def test_hostile_queue_names_are_refused_before_any_sql(
    watched: pgqrs.PgqrsAdmin, link: proxy.TcpProxy, dsn: str, schema: str, figures: dict[str, Any]
) -> None:
    watched.create_queue("jobs")
    mine = [row for row in _pgqrs_relations(dsn) if row[0] == schema]
    refused = 0
    for name in HOSTILE_NAMES:
        if name == "pg_catalog":
            continue  # a fine queue name; only a bad schema name
        for call_name, call in _queue_calls(watched, name).items():
            message = _refused_without_sql(link, call, pgqrs.ValidationError)
            assert "invalid queue name" in message or "longer than 63 bytes" in message, (call_name, message)
            refused += 1
    assert [queue.queue_name for queue in watched.list_queues()] == ["jobs"]
    assert [row for row in _pgqrs_relations(dsn) if row[0] == schema] == mine
    figures.update(hostile_queue_names=len(HOSTILE_NAMES) - 1, refused_calls=refused, bytes_sent=0)


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda name: repr(name)[:24])
def test_hostile_schema_names_are_refused(
    dsn: str, admin: pgqrs.PgqrsAdmin, link: proxy.TcpProxy, name: Any
) -> None:
    before = _relations_outside_isolated_schemas(dsn)
    with pytest.raises(pgqrs.ConfigError, match="schema"):
        pgqrs.Config.from_dsn_with_schema(dsn, name)
    with pytest.raises(pgqrs.ConfigError, match="schema"):
        pgqrs.Config(dsn=dsn, schema=name)
    with pytest.raises(pgqrs.ConfigError, match="schema"):
        admin.config.replace(schema=name)
    _refused_without_sql(link, lambda: pgqrs.tables.PgqrsQueues(admin.pool, name), pgqrs.ValidationError)
    _refused_without_sql(link, lambda: pgqrs.tables.PgqrsMessages(admin.pool, name), pgqrs.ValidationError)
    assert _relations_outside_isolated_schemas(dsn) == before


@pytest.mark.parametrize(
    "role",
    ["consumer", "producer"],
)
def test_hostile_schema_in_a_queue_info_is_refused_before_any_sql(
    watched: pgqrs.PgqrsAdmin, link: proxy.TcpProxy, role: str
) -> None:
    """A QueueInfo is public and can be built by hand: its schema must be checked too."""
    forged = pgqrs.QueueInfo(1, "jobs", datetime.datetime.now(datetime.timezone.utc), 'x"; DROP TABLE y; --')

    def use() -> None:
        if role == "producer":
            pgqrs.Producer(watched.pool, forged, watched.config).enqueue({"a": 1})
        else:
            pgqrs.Consumer(watched.pool, forged, watched.config).dequeue()

    _refused_without_sql(link, use, pgqrs.ValidationError)


@SETTINGS
@given(
    name=st.text(max_size=70)
    | st.from_regex(r"[A-Za-z0-9_]{1,40}([.:-][A-Za-z0-9_]{1,30}){0,2}", fullmatch=True)
    | st.text(st.sampled_from("ab_-.:;'\" /*\x00\u043e\u200b"), min_size=1, max_size=10)
)
def test_hypothesis_any_accepted_queue_name_round_trips(name: str, admin: pgqrs.PgqrsAdmin) -> None:
    try:
        created = admin.create_queue(name)
    except pgqrs.ValidationError:
        return
    except pgqrs.QueueAlreadyExists:
        created = admin.get_queue(name)
    assert created.queue_name == name and admin.get_queue(name).id == created.id
    assert len(name.encode()) <= 63 and name.isascii() and name.strip() == name
