"""What the Inspector answers: read-only snapshots of queues, messages, the archive and workers.

Pure records (no I/O), shared by the async Inspector and its generated blocking twin, and by
`pgqrs.serve`. Counts of messages stop at a cap (`QueueSnapshot.capped`): counting a backlog
of millions exactly costs a scan of it, which a dashboard refreshing every second must not do.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

# Counts above this show as "more than COUNT_CAP" (each count reads at most COUNT_CAP + 1 rows).
COUNT_CAP = 100_000
# Characters of a payload's JSON text shown in a list.
PAYLOAD_PREVIEW_CHARS = 400
# A running worker silent for longer than this many seconds is shown as stale.
STALE_AFTER_SECONDS = 90.0


class MessageState(str, enum.Enum):
    """Which of a queue's messages a page lists."""

    all = "all"
    pending = "pending"
    in_flight = "in_flight"
    delayed = "delayed"


@dataclasses.dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """One queue at one instant of the database clock (`now`).

    `pending`, `in_flight` and `delayed` are exact up to `cap`; a count equal to `cap + 1` means
    "more than cap" (see `over_cap`). `oldest_pending_since` is when the pending message that
    has waited longest became visible (None: nothing pending); `archived` and `dead_letters`
    are exact.
    """

    id: int
    queue_name: str
    pending: int
    in_flight: int
    delayed: int
    oldest_pending_since: datetime.datetime | None
    archived: int
    dead_letters: int
    now: datetime.datetime
    cap: int = COUNT_CAP

    def over_cap(self, count: int) -> bool:
        """Return whether `count` (one of this snapshot's) stands for "more than cap"."""
        return count > self.cap

    @property
    def oldest_pending_seconds(self) -> float | None:
        """Return how long the longest-waiting pending message has been visible, in seconds."""
        if self.oldest_pending_since is None:
            return None
        return max(0.0, (self.now - self.oldest_pending_since).total_seconds())


@dataclasses.dataclass(frozen=True, slots=True)
class MinuteCount:
    """Archive records of a queue in one minute: all of them, and the dead letters among them."""

    minute: datetime.datetime
    archived: int
    dead_letters: int


@dataclasses.dataclass(frozen=True, slots=True)
class MessageRow:
    """A message as a list shows it; `payload` is a preview (None when not readable or asked)."""

    id: int
    enqueued_at: datetime.datetime
    vt: datetime.datetime
    read_ct: int
    dequeued_at: datetime.datetime | None
    worker_id: int | None
    last_error: str | None
    payload: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiveRow:
    """An archive record as a list shows it; `payload` as in MessageRow."""

    id: int
    original_msg_id: int
    enqueued_at: datetime.datetime
    dequeued_at: datetime.datetime | None
    read_ct: int
    archived_at: datetime.datetime
    processing_duration: int | None
    worker_id: int | None
    dead_letter_reason: str | None
    last_error: str | None
    payload: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerRow:
    """A registered worker, with the leases it holds and the database's `now`."""

    id: int
    queue_id: int
    queue_name: str
    hostname: str
    pid: int
    started_at: datetime.datetime
    heartbeat_at: datetime.datetime
    status: str
    leases: int
    now: datetime.datetime

    @property
    def heartbeat_age_seconds(self) -> float:
        """Return the seconds since its last heartbeat (database clock)."""
        return max(0.0, (self.now - self.heartbeat_at).total_seconds())

    def state(self, stale_after: float = STALE_AFTER_SECONDS) -> str:
        """Return "running", "stale" (running but silent longer than `stale_after`) or "stopped"."""
        if self.status != "running":
            return self.status
        return "stale" if self.heartbeat_age_seconds > stale_after else "running"


# Where a first page starts: before every key.
FIRST_MESSAGE_KEY = (datetime.datetime.min.replace(tzinfo=datetime.timezone.utc), 0)
LAST_ARCHIVE_ID = 2**63 - 1


def message_key(row: MessageRow) -> str:
    """Return the paging key after `row` ("<vt ISO 8601>~<id>"): a message list is in (vt, id) order."""
    return f"{row.vt.isoformat()}~{row.id}"


def parse_message_key(key: str | None) -> tuple[datetime.datetime, int]:
    """Return (vt, id) from a paging key; the first page's when None.

    Raises:
        ValueError: Not a key message_key made.
    """
    if not key:
        return FIRST_MESSAGE_KEY
    vt, separator, id = key.rpartition("~")
    moment = datetime.datetime.fromisoformat(vt)
    if not separator or moment.tzinfo is None:
        raise ValueError(f"not a paging key: {key!r}")
    return moment, int(id)
