"""The benchmark payload: a ~100-byte JSON object, built the same way client- and server-side."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

BATCH_SIZE = 100
_BODY = "x" * 60

# The same object built by the server when tables are filled before a consume workload.
SERVER_PAYLOAD = "jsonb_build_object('id', i, 'kind', 'bench', 'body', repeat('x', 60), 'attempt', 0)"

ItemT = TypeVar("ItemT")


def payload(index: int) -> dict[str, Any]:
    """Return payload number `index` (about 100 bytes once encoded)."""
    return {"id": index, "kind": "bench", "body": _BODY, "attempt": 0}


def payloads(count: int) -> list[dict[str, Any]]:
    """Return `count` payloads, numbered from 1."""
    return [payload(index) for index in range(1, count + 1)]


def chunks(items: Sequence[ItemT], size: int = BATCH_SIZE) -> list[Sequence[ItemT]]:
    """Split `items` into consecutive slices of at most `size`."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def json_lines(count: int) -> Iterator[bytes]:
    """Yield `count` payloads as JSON lines (the input of a streaming producer)."""
    for index in range(1, count + 1):
        yield b'{"id":%d,"kind":"bench","body":"%s","attempt":0}\n' % (index, _BODY.encode())
