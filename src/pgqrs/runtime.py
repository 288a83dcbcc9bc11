"""The worker runtime's shared pieces: outcomes a handler can ask for, retry policy, statistics.

Pure code, used by the async runtime (`pgqrs.App`) and its generated blocking twin
(`pgqrs.sync.App`). What a handler's outcome does:

| handler | effect |
| --- | --- |
| returns | acknowledged: archived (default) or deleted, per ``on_success`` |
| raises `Retry(delay)` | visible again after `delay`; counts as an attempt (the last: dead letter) |
| raises `Discard(reason)` | dead-lettered now, with `reason` |
| raises anything else | retried after the policy's backoff; after `max_attempts`: dead letter |
"""

from __future__ import annotations

import dataclasses
import datetime
import random
import traceback
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pgqrs import _validation, errors

OnSuccess = Literal["archive", "delete"]
# How the runtime settles one message.
Settlement = Literal["archive", "delete", "retry", "dead_letter", "release"]


class Retry(Exception):
    """Raised by a handler: try this message again after `delay` (seconds or timedelta)."""

    def __init__(self, delay: float | datetime.timedelta = 0) -> None:
        self.delay = _validation.seconds(delay, "delay")
        super().__init__(f"retry requested in {self.delay:g}s")


class Discard(Exception):
    """Raised by a handler: give this message up now; it goes to the archive as a dead letter."""

    def __init__(self, reason: str) -> None:
        self.reason = str(reason)
        super().__init__(self.reason)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a failing handler is retried: exponential backoff with jitter, then a dead letter.

    Attempt n (1 for the first delivery) that raises waits
    ``min(max_delay, base_delay * 2 ** (n - 1))``, give or take ``jitter`` (a fraction of it),
    before the next; attempt `max_attempts` that raises is dead-lettered. None for
    `max_attempts` means the config's ``max_read_count``.
    """

    max_attempts: int | None = None
    base_delay: float = 1.0
    max_delay: float = 300.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts is not None:
            _validation.positive_int(self.max_attempts, "max_attempts")
        for name in ("base_delay", "max_delay"):
            _validation.seconds(getattr(self, name), name)
        if not 0 <= self.jitter <= 1:
            raise errors.ValidationError(f"jitter: must be between 0 and 1, got {self.jitter!r}")

    def attempts(self, max_read_count: int) -> int:
        """Return the attempts allowed (the config's max_read_count when not set; 0 means no limit)."""
        return self.max_attempts if self.max_attempts is not None else max_read_count

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Return the seconds to wait after failed attempt number `attempt` (1 for the first)."""
        exponent = min(max(attempt - 1, 0), 60)  # 2**60 seconds is past any max_delay
        base = min(self.max_delay, self.base_delay * 2.0**exponent)
        return max(0.0, base * (1 + self.jitter * (2 * rng() - 1)))


@dataclasses.dataclass(frozen=True)
class Handler:
    """A registered handler: the function and how its queue is worked."""

    queue: str
    function: Callable[..., Any]
    concurrency: int = 1
    lock_time: float | None = None
    retry: RetryPolicy = RetryPolicy()
    on_success: OnSuccess = "archive"
    payload_type: type[Any] | None = None

    def __post_init__(self) -> None:
        _validation.queue_name(self.queue)
        _validation.positive_int(self.concurrency, "concurrency")
        if self.lock_time is not None:
            _validation.seconds(self.lock_time, "lock_time")
        if self.on_success not in ("archive", "delete"):
            raise errors.ValidationError(
                f"on_success: must be 'archive' or 'delete', got {self.on_success!r}"
            )


def queue_of(handlers: Iterable[Handler], function: Callable[..., Any]) -> str:
    """Return the queue `function` is the handler of (for @app.periodic placed above it).

    Raises:
        ValidationError: It is none of these handlers' function.
    """
    for handler in handlers:
        if handler.function is function:
            return handler.queue
    raise errors.ValidationError(
        f"{getattr(function, '__qualname__', function)!r} is not a handler of this app: "
        "put @app.periodic(...) above @app.handler(queue), or pass queue="
    )


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What to do with one message after its handler ran (or could not run)."""

    settlement: Settlement
    delay: float = 0.0
    reason: str | None = None
    error: str | None = None


def describe(error: BaseException) -> tuple[str, str]:
    """Return ("Type: message", the same line followed by the traceback) for a handler's error."""
    summary = f"{type(error).__name__}: {error}".rstrip(": ")
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return summary, f"{summary}\n\n{trace}"


def outcome_of(
    error: BaseException | None, attempt: int, allowed: int, policy: RetryPolicy, on_success: OnSuccess
) -> Outcome:
    """Return the outcome of a handler that returned (`error` None) or raised `error`.

    `attempt` is the delivery number (read_ct); `allowed` the attempts allowed (0: no limit).
    """
    if error is None:
        return Outcome(on_success)
    if isinstance(error, Discard):
        return Outcome("dead_letter", reason=error.reason or "discarded", error=describe(error)[1])
    summary, text = describe(error)
    last = bool(allowed) and attempt >= allowed
    if last:
        return Outcome("dead_letter", reason=f"{summary} (attempt {attempt} of {allowed})", error=text)
    if isinstance(error, Retry):  # asked for, not a failure: no error to show
        return Outcome("retry", delay=error.delay)
    return Outcome("retry", delay=policy.delay(attempt), error=text)


@dataclasses.dataclass
class RunStats:
    """What a run did: handler invocations and how their messages were settled.

    `handled` counts handler invocations; `succeeded`, `retried` and `dead_lettered` the
    settlements the database confirmed; `released` the messages given back untried at shutdown.
    `by_queue` holds the same counts per queue name.
    """

    handled: int = 0
    succeeded: int = 0
    retried: int = 0
    dead_lettered: int = 0
    released: int = 0
    by_queue: dict[str, RunStats] = dataclasses.field(default_factory=dict)

    def count(self, queue: str, field: str, amount: int = 1) -> None:
        """Add `amount` to `field`, overall and for `queue`."""
        setattr(self, field, getattr(self, field) + amount)
        per_queue = self.by_queue.setdefault(queue, RunStats())
        setattr(per_queue, field, getattr(per_queue, field) + amount)

    def as_dict(self) -> dict[str, Any]:
        """Return the counts as plain data (for JSON)."""
        totals: dict[str, Any] = self._counts()
        totals["by_queue"] = {queue: stats._counts() for queue, stats in sorted(self.by_queue.items())}
        return totals

    def _counts(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SETTLEMENT_FIELDS}


SETTLEMENT_FIELDS = ("handled", "succeeded", "retried", "dead_lettered", "released")
# The RunStats field each confirmed settlement counts in.
COUNTED_AS: dict[Settlement, str] = {
    "archive": "succeeded",
    "delete": "succeeded",
    "retry": "retried",
    "dead_letter": "dead_lettered",
    "release": "released",
}
