"""Where the dashboard's data comes from: one admin and Inspector, connected on first need.

The server starts whether or not the database answers; each request connects if no pool is
open yet, so a database that comes back is picked up by the next refresh. Overviews are shared
by every viewer for a second, and throughput for ten (settings: the current minute's bar grows;
older ones do not change), so many open tabs cost the database what one does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pgqrs import _secrets, errors, inspection
from pgqrs import config as config_module
from pgqrs._async import admin as admin_module
from pgqrs._async import inspector as inspector_module
from pgqrs.serve import settings as settings_module

T = TypeVar("T")
THROUGHPUT_MINUTES = 60
# SQLSTATEs meaning the pgqrs tables (or their schema) are not there: not installed.
_NOT_INSTALLED = ("42P01", "3F000")


class NotInstalled(errors.PgqrsError):
    """pgqrs is not installed in this schema: run `pgqrs install`."""


@dataclasses.dataclass(frozen=True)
class Overview:
    """Every queue, their throughput, and the database's clock."""

    queues: list[inspection.QueueSnapshot]
    throughput: dict[int, list[inspection.MinuteCount]]
    now: datetime.datetime
    workers: dict[str, int]  # by state: running, stale, stopped

    def total(self, field: str) -> str:
        """Return one count summed over every queue, as shown: "N+" when a queue's count
        stopped at its cap (N then counts that queue as its cap)."""
        counts = [(getattr(queue, field), queue.cap) for queue in self.queues]
        total = sum(min(count, cap) for count, cap in counts)
        capped = any(count > cap for count, cap in counts)
        return f"{total:,}+" if capped else f"{total:,}"


class _Cached(Generic[T]):
    """A value fetched at most once per `seconds`, however many requests want it at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._value: T | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def get(self, fetch: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            if self._value is None or time.monotonic() - self._fetched > self.seconds:
                self._value = await fetch()
                self._fetched = time.monotonic()
            return self._value

    def clear(self) -> None:
        self._value = None


class Source:
    """The dashboard's data, through the async API."""

    def __init__(self, config: config_module.Config, settings: settings_module.ServeSettings) -> None:
        wait = min(config.connection_timeout_seconds, settings_module.DATABASE_WAIT_SECONDS)
        self.config = config.replace(
            connection_timeout_seconds=wait,
            max_connections=min(config.max_connections, settings_module.POOL_SIZE),
        )
        self.settings = settings
        self._admin: admin_module.PgqrsAdmin | None = None
        self._inspector: inspector_module.Inspector | None = None
        self._payloads: bool | None = None
        self._connecting = asyncio.Lock()
        self._overview: _Cached[list[inspection.QueueSnapshot]] = _Cached(settings.overview_cache_seconds)
        self._workers: _Cached[list[tuple[str, str, int]]] = _Cached(settings.overview_cache_seconds)
        self._throughput: _Cached[dict[int, list[inspection.MinuteCount]]] = _Cached(
            settings.throughput_cache_seconds
        )

    @property
    def schema(self) -> str:
        """Return the schema shown."""
        return self.config.schema

    async def admin(self) -> admin_module.PgqrsAdmin:
        """Return the connected admin, connecting first if needed.

        Raises:
            DatabaseError: The database cannot be reached (the message is masked).
        """
        async with self._connecting:
            if self._admin is None:
                self._admin = await admin_module.PgqrsAdmin.connect(self.config)
                self._inspector = inspector_module.Inspector(
                    self._admin.pool, self.schema, self.config.connection_timeout_seconds
                )
            return self._admin

    async def inspector(self) -> inspector_module.Inspector:
        """Return the Inspector on the admin's pool (connecting first if needed)."""
        await self.admin()
        assert self._inspector is not None
        return self._inspector

    async def call(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a call, turning "no such table" into `NotInstalled`."""
        try:
            return await function(*args)
        except errors.DatabaseError as error:
            if error.sqlstate in _NOT_INSTALLED:
                raise NotInstalled(
                    f"pgqrs is not installed in schema {self.schema!r}: run pgqrs install"
                ) from None
            raise

    async def overview(self) -> Overview:
        """Return every queue's snapshot and throughput (shared between viewers briefly)."""
        inspector = await self.inspector()
        queues = await self._overview.get(lambda: self.call(inspector.queues, None, self.settings.count_cap))
        throughput = await self._throughput.get(lambda: self.call(inspector.throughput, THROUGHPUT_MINUTES))
        stale_after = self.settings.stale_after
        workers = await self._workers.get(lambda: self.call(inspector.worker_counts, stale_after))
        states: dict[str, int] = {"running": 0, "stale": 0, "stopped": 0}
        for _queue, state, count in workers:
            states[state] = states.get(state, 0) + count
        now = queues[0].now if queues else await self.call(inspector.clock)
        return Overview(queues, throughput, now, states)

    async def queue(self, name: str) -> inspection.QueueSnapshot:
        """Return one queue's snapshot (fresh).

        Raises:
            QueueNotFound: No such queue.
        """
        inspector = await self.inspector()
        found = await self.call(inspector.queues, name, self.settings.count_cap)
        if not found:
            raise errors.QueueNotFound(name)
        return found[0]

    async def payloads_visible(self) -> bool:
        """Return whether this login may read payloads (asked once)."""
        if self._payloads is None:
            inspector = await self.inspector()
            self._payloads = await self.call(inspector.payloads_visible)
        return self._payloads

    def changed(self) -> None:
        """Forget the shared overview: an action just changed the queues."""
        self._overview.clear()
        self._workers.clear()

    def masked(self, text: str) -> str:
        """Return `text` with the DSN's password and the serve token masked."""
        extra = [self.settings.token] if self.settings.token else []
        return _secrets.mask(text, self.config.dsn, extra)

    async def close(self) -> None:
        """Close the pool, if one was opened."""
        if self._admin is not None:
            await self._admin.close()
            self._admin = None
