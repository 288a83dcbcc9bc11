"""Inspector: the read-only views a dashboard or a monitoring system needs, each of bounded cost.

Every call is one statement of sql/inspect.sql (a page with payloads: two), none of which
writes, so an Inspector works with the `observer` role of `pgqrs roles` (which may not read
payloads: `payloads_visible` says whether this login can).
"""

from __future__ import annotations

import datetime
from typing import Any

from psycopg_pool import AsyncConnectionPool

from pgqrs import _validation, inspection
from pgqrs._async import _database

State = inspection.MessageState


class Inspector:
    """Read-only snapshots of a pgqrs schema: queues, throughput, messages, archive, workers.

    Args:
        pool: The connection pool (``admin.pool``).
        schema: The schema holding the pgqrs tables.
        timeout: connection_timeout_seconds for its calls (the pool's own when None).
    """

    def __init__(self, pool: AsyncConnectionPool, schema: str, timeout: float | None = None) -> None:
        self.pool = pool
        self.schema = _validation.schema_name(schema)
        self._database = _database.Database(pool, self.schema, timeout)

    async def clock(self) -> datetime.datetime:
        """Return the database's now() (also the cheapest proof that it answers)."""
        value: datetime.datetime = await self._database.scalar("inspect_clock")
        return value

    async def payloads_visible(self) -> bool:
        """Return whether this login may read payloads (the observer role may not)."""
        return bool(await self._database.scalar("inspect_payload_access", {"schema": self.schema}))

    async def queues(
        self, queue_name: str | None = None, cap: int = inspection.COUNT_CAP
    ) -> list[inspection.QueueSnapshot]:
        """Return a snapshot of every queue by name (or of the one named; [] if it does not exist)."""
        params = {"queue_name": queue_name, "cap": _validation.positive_int(cap, "cap")}
        rows = await self._database.fetch("inspect_queues", params)
        return [inspection.QueueSnapshot(*[*row, cap]) for row in rows]

    async def throughput(self, minutes: int = 60) -> dict[int, list[inspection.MinuteCount]]:
        """Return archive records per minute over the last `minutes` (the current one included),
        by queue id; minutes without records are left out."""
        now = await self.clock()
        since = now.replace(second=0, microsecond=0) - datetime.timedelta(minutes=minutes - 1)
        counts: dict[int, list[inspection.MinuteCount]] = {}
        rows = await self._database.fetch("inspect_throughput", {"since": since})
        for queue_id, minute, archived, dead in rows:
            counts.setdefault(queue_id, []).append(inspection.MinuteCount(minute, archived, dead))
        return counts

    async def messages(
        self,
        queue_id: int,
        state: inspection.MessageState = State.all,
        after: str | None = None,
        limit: int = 50,
        payloads: bool = False,
    ) -> list[inspection.MessageRow]:
        """Return a page of a queue's messages in visibility order, after paging key `after`.

        Args:
            state: Which messages: all, pending (visible), in_flight (leased), delayed.
            after: `inspection.message_key` of the previous page's last row; None: the first page.
            payloads: Add payload previews (a second statement; needs the right to read them).

        Raises:
            ValueError: `after` is not a paging key.
        """
        after_vt, after_id = inspection.parse_message_key(after)
        params = {"queue_id": queue_id, "after_vt": after_vt, "after_id": after_id, "limit": limit}
        rows = await self._database.fetch(f"inspect_messages_{State(state).value}", params)
        previews = await self._payloads("inspect_message_payloads", [row[0] for row in rows], payloads)
        return [inspection.MessageRow(*[*row, previews.get(row[0])]) for row in rows]

    async def archive(
        self,
        queue_id: int,
        before_id: int | None = None,
        limit: int = 50,
        dead_letters_only: bool = False,
        payloads: bool = False,
    ) -> list[inspection.ArchiveRow]:
        """Return a page of a queue's archive records (or dead letters), newest first, with ids
        below `before_id` (None: the newest)."""
        before = inspection.LAST_ARCHIVE_ID if before_id is None else before_id
        name = "inspect_dead_letters" if dead_letters_only else "inspect_archive"
        rows = await self._database.fetch(name, {"queue_id": queue_id, "before_id": before, "limit": limit})
        previews = await self._payloads("inspect_archive_payloads", [row[0] for row in rows], payloads)
        return [inspection.ArchiveRow(*[*row, previews.get(row[0])]) for row in rows]

    async def workers(self, limit: int = 200) -> list[inspection.WorkerRow]:
        """Return the registered workers, running ones first, most recent heartbeat first."""
        rows = await self._database.fetch("inspect_workers", {"limit": limit})
        return [inspection.WorkerRow(*row) for row in rows]

    async def worker_counts(
        self, stale_after: float = inspection.STALE_AFTER_SECONDS
    ) -> list[tuple[str, str, int]]:
        """Return (queue name, state, workers) for each queue and state (running, stale, stopped)."""
        rows = await self._database.fetch("inspect_worker_counts", {"stale_after": float(stale_after)})
        return [(str(queue), str(state), int(count)) for queue, state, count in rows]

    async def _payloads(self, name: str, ids: list[int], wanted: bool) -> dict[int, Any]:
        if not wanted or not ids:
            return {}
        params = {"ids": ids, "chars": inspection.PAYLOAD_PREVIEW_CHARS}
        return dict(await self._database.fetch(name, params))
