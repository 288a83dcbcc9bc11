"""The few primitives that differ between the async source and its generated sync twin."""

from __future__ import annotations

import asyncio

Lock = asyncio.Lock


async def sleep(seconds: float) -> None:
    """Wait without blocking other tasks."""
    await asyncio.sleep(seconds)
