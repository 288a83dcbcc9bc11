"""The consumer of one command (`message read`, `message dequeue`), which cleans up after itself.

A command is a consumer for a moment: it registers a worker on its first dequeue, and the
worker's record would outlive it, one row per run even on an empty queue (a shell loop polling
once a second adds 86,400 a day). When the command ends, however it ends:

- the messages it leased and did not hand to the user (printed) are released, visible at once
  with their read_ct restored: an interrupted or failed command keeps nothing invisible;
- its worker is marked stopped, and its record removed unless it holds leases the user got.
  Those leases (`message read`) run their course; the record stays, stopped, so that the messages
  still name their holder, until `worker remove-stale` removes it (their `vt` is kept either way).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pgqrs import errors, models, sync

logger = logging.getLogger("pgqrs.cli")


class OneShotConsumer:
    """A consumer that knows which of its leases the user has (see `one_shot`)."""

    def __init__(self, admin: sync.PgqrsAdmin, queue_info: models.QueueInfo) -> None:
        self._admin = admin
        self.consumer = sync.Consumer(admin.pool, queue_info, admin.config)
        self._held: list[int] = []  # leased, neither acknowledged nor handed over
        self._handed_over = False

    def lease(
        self, count: int, lock_time: float | None, message_type: str | None
    ) -> list[models.QueueMessage]:
        """Lease up to `count` visible messages of `message_type` (any type when None)."""
        messages = self.consumer.dequeue_batch(count, lock_time, message_type)
        self._held = [message.id for message in messages]
        return messages

    def take(self) -> models.QueueMessage | None:
        """Lease the next visible message and delete it; None when there is none.

        Raises:
            MessageNotFound: Another consumer took it over before it was deleted.
        """
        message = self.consumer.dequeue()
        if message is None:
            return None
        self._held = [message.id]
        deleted = self.consumer.delete(message.id)
        self._held = []  # deleted, or no longer this consumer's
        if not deleted:
            raise errors.MessageNotFound(message.id, f"message {message.id} was taken by another consumer")
        return message

    def hand_over(self) -> None:
        """Record that the user has the leased messages (printed): they stay leased."""
        self._handed_over = bool(self._held)
        self._held = []

    def finish(self) -> None:
        """Release what the user did not get, mark the worker stopped, remove it if it holds nothing."""
        if self._held:
            self.consumer.release_batch(self._held)
            self._held = []
        self.consumer.close()
        worker_id = self.consumer.worker_id
        if worker_id is not None and not self._handed_over:
            self._admin.workers.delete(worker_id)


@contextlib.contextmanager
def one_shot(admin: sync.PgqrsAdmin, queue_info: models.QueueInfo) -> Iterator[OneShotConsumer]:
    """Yield a consumer for one command; when the command ends, `finish` it."""
    consumer = OneShotConsumer(admin, queue_info)
    try:
        yield consumer
    except BaseException:
        # The first failure (or the interruption) is the one to report; a clean-up that fails
        # too (the database is gone) leaves the leases to expire and the record to remove-stale.
        try:
            consumer.finish()
        except errors.PgqrsError as error:
            logger.debug("clean-up after the failure failed too: %s", error)
        raise
    consumer.finish()
