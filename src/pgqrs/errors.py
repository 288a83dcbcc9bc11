"""The pgqrs error hierarchy.

Every error pgqrs raises is a `PgqrsError`. A class's docstring is its default message, so
`raise QueueNotFound()` still says something useful; leaf classes carry the data callers need
(the queue name, the message id) as attributes.
"""

from __future__ import annotations


class PgqrsError(Exception):
    """A pgqrs operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        """Return the human-readable message."""
        return str(self.args[0]) if self.args else ""


class ConfigError(PgqrsError):
    """The configuration is invalid."""


class MissingDsn(ConfigError):
    """No DSN is configured: pass one, set PGQRS_DSN, or write dsn: in pgqrs.yaml."""


class SchemaError(PgqrsError):
    """The pgqrs schema is missing, incomplete or different from what this version expects."""

    def __init__(self, message: str | None = None, problems: list[str] | None = None) -> None:
        self.problems: list[str] = list(problems or [])
        if message is None and self.problems:
            message = "pgqrs schema check failed:\n- " + "\n- ".join(self.problems)
        super().__init__(message)


class ValidationError(PgqrsError):
    """An argument is invalid."""


class PayloadTypeError(ValidationError):
    """A payload does not match the type it was declared to have.

    `payload_type` is that type and `problem` what the validation found (a field and a reason).
    """

    def __init__(self, payload_type: type, problem: str) -> None:
        self.payload_type = payload_type
        self.problem = problem
        super().__init__(f"payload is not a valid {payload_type.__qualname__}: {problem}")


class NotFoundError(PgqrsError):
    """The requested record does not exist."""


class QueueNotFound(NotFoundError):
    """The queue does not exist.

    `queue` is its name and `queue_id` its id, each None when the caller named it the other way.
    """

    def __init__(
        self, queue: str | None = None, message: str | None = None, *, queue_id: int | None = None
    ) -> None:
        self.queue = queue
        self.queue_id = queue_id
        if message is None and queue is not None:
            message = f"queue {queue!r} does not exist"
        elif message is None and queue_id is not None:
            message = f"queue with id {queue_id} does not exist"
        super().__init__(message)


class MessageNotFound(NotFoundError):
    """The message does not exist."""

    def __init__(self, message_id: int, message: str | None = None) -> None:
        self.message_id = message_id
        super().__init__(message or f"message {message_id} does not exist")


class WorkerNotFound(NotFoundError):
    """The worker does not exist."""

    def __init__(self, worker_id: int, message: str | None = None) -> None:
        self.worker_id = worker_id
        super().__init__(message or f"worker {worker_id} does not exist")


class ScheduleNotFound(NotFoundError):
    """The schedule does not exist."""

    def __init__(self, name: str, message: str | None = None) -> None:
        self.name = name
        super().__init__(message or f"schedule {name!r} does not exist")


class ScheduleAlreadyExists(PgqrsError):
    """A schedule with this name already exists."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"schedule {name!r} already exists; remove it first, or replace it")


class QueueAlreadyExists(PgqrsError):
    """A queue with this name already exists."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        super().__init__(f"queue {queue!r} already exists")


class QueueNotEmpty(PgqrsError):
    """The queue still holds messages."""

    def __init__(self, queue: str, count: int) -> None:
        self.queue = queue
        self.count = count
        super().__init__(
            f"queue {queue!r} still holds {count} message(s); purge it first (purge_queue / "
            f"`pgqrs queue purge {queue}`)"
        )


class DatabaseError(PgqrsError):
    """The database could not be reached or refused the operation."""

    def __init__(self, message: str | None = None, sqlstate: str | None = None) -> None:
        self.sqlstate = sqlstate
        # True when the connection used is gone (server restart, network cut, backend terminated)
        # or cannot be used any more (it reached a read-only server): retrying on a new
        # connection may succeed. Errors the server answers with (a deadlock, a cancel) say False.
        self.connection_lost = False
        super().__init__(message)


class PermissionDenied(DatabaseError):
    """The database role lacks a privilege this operation needs."""


class CallTimedOut(DatabaseError):
    """No answer in time: the statement was cancelled on the server and did not happen."""

    # Safe to retry: the server confirmed the statement was cancelled (SQLSTATE 57014) after
    # connection_timeout_seconds, so nothing of it was committed.


class OutcomeUnknown(DatabaseError):
    """The connection was lost during the call: it may or may not have happened."""

    # The server crashed, the backend was terminated, the network failed, or the server did not
    # answer, nor take the cancel, within connection_timeout_seconds and a short grace. The
    # statement may have committed before the loss: acknowledgements are safe to retry (a second
    # one returns False); an enqueue retried may be written twice.

    def __init__(self, message: str | None = None, sqlstate: str | None = None) -> None:
        super().__init__(message, sqlstate)
        self.connection_lost = True


__all__ = [
    "CallTimedOut",
    "ConfigError",
    "DatabaseError",
    "MessageNotFound",
    "MissingDsn",
    "NotFoundError",
    "OutcomeUnknown",
    "PayloadTypeError",
    "PermissionDenied",
    "PgqrsError",
    "QueueAlreadyExists",
    "QueueNotEmpty",
    "QueueNotFound",
    "SchemaError",
    "ValidationError",
    "WorkerNotFound",
]
