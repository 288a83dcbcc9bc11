"""Wake-ups: LISTEN for the enqueues' notifications and wake the worker of their queue.

One connection of its own (not from the pool: a pooled connection would carry the LISTEN to
other users). If it cannot be opened or dies, workers still look at their queues every
`poll_interval`; the listener reconnects with back-off and, once listening again, wakes every
worker (notifications sent meanwhile were lost). Behind a transaction pooler, which accepts a
LISTEN but never delivers, it is not started unless `listen_dsn` names a direct connection.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from psycopg import AsyncConnection, sql

from pgqrs import _connect, _dsn, _notify, _secrets
from pgqrs import config as config_module
from pgqrs._async import _compat, worker

logger = logging.getLogger("pgqrs.worker")
_RECEIVE_SECONDS = 0.1  # how often the receiving loop checks whether to stop
_FIRST_PAUSE = 0.1  # seconds before reconnecting after a failure; doubled while it goes on
_LONGEST_PAUSE = 30.0


def listen_dsn(config: config_module.Config) -> str | None:
    """Return the DSN to LISTEN on, or None when wake-ups cannot be delivered (poll only)."""
    if config.listen_dsn:
        return config.listen_dsn
    return None if config.behind_transaction_pooler else config.dsn


class Listener:
    """Receives wake-ups for the workers of one schema until `stop`."""

    def __init__(
        self, config: config_module.Config, dsn: str, workers: Mapping[int, worker.QueueWorker]
    ) -> None:
        self.config = config
        self.dsn = dsn
        self.workers = workers
        self.listening = False
        self._listened = False  # whether the current connection got as far as listening
        self._stopped = _compat.Event()

    def stop(self) -> None:
        """Stop listening (within a tenth of a second)."""
        self._stopped.set()

    async def run(self) -> None:
        """Listen, reconnecting with back-off, until stopped."""
        pause = _FIRST_PAUSE
        while not self._stopped.is_set():
            self._listened = False
            try:
                await self._listen()
                pause = _FIRST_PAUSE
            except Exception as error:  # any failure of the connection: poll, reconnect later
                if self._listened:
                    # It was listening: a new failure, so the back-off starts again (it grows
                    # only while reconnecting keeps failing).
                    pause = _FIRST_PAUSE
                if pause == _FIRST_PAUSE:
                    logger.warning(
                        "listening for wake-ups failed (%s); polling every %gs and reconnecting",
                        _secrets.mask(str(error).strip(), self.dsn),
                        self.config.poll_interval,
                    )
                self.listening = False
                await _compat.wait_event(self._stopped, pause)
                pause = min(_LONGEST_PAUSE, pause * 2)

    async def _listen(self) -> None:
        kwargs = _connect.connection_kwargs(self.config)
        kwargs.pop("prepare_threshold", None)
        connection = await AsyncConnection.connect(_dsn.resolve(self.dsn), **kwargs)
        try:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(_notify.CHANNEL)))
            self.listening = self._listened = True
            for queue_worker in self.workers.values():
                queue_worker.wake()  # catch up with what arrived while not listening
            while not self._stopped.is_set():
                async for notification in connection.notifies(timeout=_RECEIVE_SECONDS):
                    self._deliver(notification.payload)
        finally:
            self.listening = False
            await connection.close()

    def _deliver(self, payload: str) -> None:
        target = _notify.parse_wake(payload)
        if target is None or target[0] != self.config.schema:
            return
        queue_worker = self.workers.get(target[1])
        if queue_worker is not None:
            queue_worker.wake(notified=True)
