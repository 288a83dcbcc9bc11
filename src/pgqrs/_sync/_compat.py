"""The few primitives that differ between the async source and its generated sync twin.

Hand-written (not generated): the blocking counterparts of pgqrs._async._compat.
"""

from __future__ import annotations

import threading
import time

Lock = threading.Lock


def sleep(seconds: float) -> None:
    """Block the calling thread."""
    time.sleep(seconds)


def wait_event(event: threading.Event, seconds: float) -> bool:
    """Block up to `seconds` for another thread to set `event`."""
    return event.wait(max(0.0, seconds))
