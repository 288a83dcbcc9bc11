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
