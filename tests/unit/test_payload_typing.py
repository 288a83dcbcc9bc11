"""`QueueMessage` is generic in its payload: what mypy --strict users see (runs mypy, a few seconds)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api

SNIPPET = '''
import dataclasses
from typing import Any

import pgqrs
from pgqrs import _payload_types


@dataclasses.dataclass
class EmailJob:
    to: str


def handle(message: pgqrs.QueueMessage[EmailJob]) -> str:
    return message.payload.to


def untyped(message: pgqrs.QueueMessage) -> Any:  # a bare QueueMessage is QueueMessage[Any]
    return message.payload["anything"]


def typed(message: pgqrs.QueueMessage) -> pgqrs.QueueMessage[EmailJob]:
    typed = message.with_payload(_payload_types.decode(message.payload, EmailJob))
    reveal_type(typed.payload)
    return typed


def wrong(message: pgqrs.QueueMessage[EmailJob]) -> int:
    return message.payload.to
'''


def test_mypy_strict_sees_the_payload_type(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(textwrap.dedent(SNIPPET))
    arguments = ["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(source)]
    stdout, _stderr, _status = api.run(arguments)
    lines = [line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith(str(source))]
    assert lines == [
        'note: Revealed type is "user_code.EmailJob"',
        'error: Incompatible return value type (got "str", expected "int")  [return-value]',
    ], stdout
