"""Client-side validation and password masking (no database)."""

from __future__ import annotations

import datetime

import pytest

import pgqrs
from pgqrs import _secrets, _validation


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://u:pw@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgresql://u:p@w@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=pw&sslmode=off", "postgresql://u@h/db?password=***&sslmode=off"),
        ("host=h password=pw user=u", "host=h password=*** user=u"),
        ("host=h password='p w' user=u", "host=h password=*** user=u"),
        ("postgresql://h/db", "postgresql://h/db"),
    ],
)
def test_mask_dsn(dsn: str, masked: str) -> None:
    assert _secrets.mask_dsn(dsn) == masked


def test_mask_removes_every_form_of_the_password() -> None:
    dsn = "postgresql://u:p%40ss@h/db"
    text = "failed for postgresql://u:p%40ss@h/db, password p@ss, encoded p%40ss"
    assert "p@ss" not in _secrets.mask(text, dsn)
    assert "p%40ss" not in _secrets.mask(text, dsn)


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5.0), (0.25, 0.25), (datetime.timedelta(minutes=2), 120.0), (0, 0.0)]
)
def test_durations_accept_numbers_and_timedeltas(value: object, expected: float) -> None:
    assert _validation.seconds(value, "delay") == expected


@pytest.mark.parametrize(
    "value", [-1, float("inf"), float("nan"), "3", None, True, datetime.timedelta(seconds=-1)]
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(pgqrs.ValidationError, match="delay"):
        _validation.seconds(value, "delay")


@pytest.mark.parametrize("name", ["jobs", "emails_v2", "a.b-c:d", "0day", "_x", "q" * 63])
def test_good_queue_names(name: str) -> None:
    assert _validation.queue_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "a b",
        "q;DROP",
        "q'",
        'q"',
        "q--x",
        "é",
        "\uff4a\uff4f\uff42\uff53",
        "q" * 64,
        "-x",
        None,
        5,
        "a\x00b",
        "q\n",
    ],
)
def test_hostile_queue_names(name: object) -> None:
    with pytest.raises(pgqrs.ValidationError):
        _validation.queue_name(name)


@pytest.mark.parametrize("name", ["a b", 'x"y', "x;y", "1abc", "pg_temp", "é", "s" * 64, ""])
def test_hostile_schema_names(name: str) -> None:
    with pytest.raises(pgqrs.ValidationError):
        _validation.schema_name(name)


def test_nested_payload_too_deep_is_a_validation_error() -> None:
    deep: object = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(pgqrs.ValidationError):
        _validation.encode_payload(deep, 10**9)


def test_single_value_is_not_a_batch() -> None:
    with pytest.raises(pgqrs.ValidationError):
        _validation.encode_payloads({"a": 1}, 100)
