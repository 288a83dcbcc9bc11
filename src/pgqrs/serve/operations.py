"""The three actions, shared by the pages' forms and the JSON API (which check who asks)."""

from __future__ import annotations

from pgqrs import errors
from pgqrs.serve import source


async def requeue(data: source.Source, queue: str, ids: list[int] | None) -> dict[int, int]:
    """Requeue a queue's dead letters (these archive ids, or all); return {archive id: message id}."""
    admin = await data.admin()
    moved = await data.call(admin.requeue_dead_letters, queue, ids)
    data.changed()
    return moved


async def delete_message(data: source.Source, queue: str, message_id: int) -> None:
    """Delete one message of a queue, whoever holds it.

    Raises:
        MessageNotFound: It is not (or no longer) in this queue.
    """
    admin = await data.admin()
    queue_info = await data.call(admin.get_queue, queue)
    message = await data.call(admin.messages.get, message_id)
    if message.queue_id != queue_info.id or not await data.call(admin.messages.delete, message_id):
        raise errors.MessageNotFound(message_id, f"message {message_id} is not in queue {queue}")
    data.changed()


async def purge(data: source.Source, queue: str, confirmation: object) -> int:
    """Delete every message of a queue once `confirmation` repeats its name; return how many."""
    if confirmation != queue:
        raise errors.ValidationError(f"to purge, confirm with the queue's name ({queue})")
    admin = await data.admin()
    purged = await data.call(admin.purge_queue, queue)
    data.changed()
    return purged


def parse_id(text: object) -> int:
    """Return an id given as text or number.

    Raises:
        ValidationError: Not a positive 64-bit integer.
    """
    value = int(text) if isinstance(text, str) and text.isdigit() else text
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise errors.ValidationError(f"not an id: {text!r}")
    return value
