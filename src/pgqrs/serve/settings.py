"""How `pgqrs serve` runs: actions and their token, counting cap, refresh interval."""

from __future__ import annotations

import dataclasses

from pgqrs import errors, inspection

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321
TOKEN_VARIABLE = "PGQRS_SERVE_TOKEN"
# The dashboard answers a person: a database that does not answer within this is shown as an
# error rather than waited for (connection_timeout_seconds when it is shorter).
DATABASE_WAIT_SECONDS = 5.0
# Connections the server keeps: a few pages and scrapes at once.
POOL_SIZE = 4


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """The server's own settings (the database's come from the pgqrs Config).

    Args:
        allow_actions: Accept requeue, delete and purge (each needs `token`); off: read only.
        token: The secret that unlocks actions (PGQRS_SERVE_TOKEN); required with allow_actions.
        count_cap: Message counts above this show as "more than" (bounded work at any backlog).
        refresh_seconds: How often pages refresh their numbers.
        stale_after: A running worker silent longer than this many seconds shows as stale.
        page_size: Messages or archive records per page.
        overview_cache_seconds: Viewers share one overview (and /api/queues) this long.
        throughput_cache_seconds: ... and one throughput reading this long (past minutes do not
            change; the current minute's bar grows).
    """

    allow_actions: bool = False
    token: str | None = dataclasses.field(default=None, repr=False)
    count_cap: int = inspection.COUNT_CAP
    refresh_seconds: float = 2.0
    stale_after: float = inspection.STALE_AFTER_SECONDS
    page_size: int = 25
    overview_cache_seconds: float = 1.0
    throughput_cache_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.allow_actions and not self.token:
            raise errors.ConfigError(f"--allow-actions needs a token: set {TOKEN_VARIABLE}")
        if self.count_cap < 1 or self.page_size < 1 or self.refresh_seconds <= 0:
            raise errors.ConfigError("count cap, page size and refresh interval must be positive")
