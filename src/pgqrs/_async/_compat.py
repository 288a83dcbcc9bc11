"""The few primitives that differ between the async source and its generated sync twin."""

from __future__ import annotations

import asyncio
import threading
import time

Lock = asyncio.Lock

# How often a task looks at a thread's event: waits for one are rare and short (a cancel).
_EVENT_POLL_SECONDS = 0.005


async def sleep(seconds: float) -> None:
    """Wait without blocking other tasks."""
    await asyncio.sleep(seconds)


async def wait_event(event: threading.Event, seconds: float) -> bool:
    """Wait up to `seconds` for a thread to set `event`, without blocking other tasks."""
    deadline = time.monotonic() + seconds
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(_EVENT_POLL_SECONDS)
    return event.is_set()
