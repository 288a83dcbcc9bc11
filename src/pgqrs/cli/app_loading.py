"""Find the app `pgqrs worker run MODULE:ATTR` runs: import MODULE, take its ATTR.

As ``python -m`` does, the current directory is importable, so ``pgqrs worker run
myproject.tasks:app`` works from the project's root. Every way this can fail is a usage error
(exit code 2) reported in one line, before anything connects to the database.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import TypeAlias

import pgqrs
from pgqrs import sync
from pgqrs.cli import failures

logger = logging.getLogger("pgqrs.cli")
AnyApp: TypeAlias = "pgqrs.App | sync.App"


def load(target: str) -> AnyApp:
    """Return the `pgqrs.App` or `pgqrs.sync.App` that `target` ("MODULE:ATTR") names.

    Raises:
        UsageFailure: Not MODULE:ATTR, the module cannot be imported, it has no such
            attribute, or the attribute is not an app.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise failures.UsageFailure(f"expected MODULE:ATTR (e.g. myproject.tasks:app), got {target!r}")
    module = _import(module_name)
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise failures.UsageFailure(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, (pgqrs.App, sync.App)):
        raise failures.UsageFailure(
            f"{target} is not a pgqrs.App or pgqrs.sync.App (it is of type {type(value).__name__!r})"
        )
    return value


def _import(module_name: str) -> object:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and f"{module_name}.".startswith(f"{error.name}."):
            raise failures.UsageFailure(
                f"cannot import {module_name!r}: no module named {error.name!r} (run from the directory "
                "that holds it, or add that directory to PYTHONPATH)"
            ) from None
        raise _import_failed(module_name, error) from None
    except Exception as error:
        raise _import_failed(module_name, error) from None


def _import_failed(module_name: str, error: Exception) -> failures.UsageFailure:
    # The module's own bug: its traceback is what the user needs, at --log-level debug.
    logger.debug("importing %s failed", module_name, exc_info=error)
    summary = f"{type(error).__name__}: {error}".rstrip(": ")
    return failures.UsageFailure(
        f"importing {module_name!r} failed: {summary} (--log-level debug shows the traceback)"
    )


def queues_to_work(app: AnyApp, target: str, queues: list[str] | None) -> list[str]:
    """Return the queues to work: `queues` (default: every handler's), in the app's order.

    Raises:
        UsageFailure: The app has no handlers, or no handler for one of `queues`.
    """
    handled = list(app.handlers)
    if not handled:
        raise failures.UsageFailure(f"{target} has no handlers: register one with @app.handler(queue)")
    unknown = [queue for queue in queues or [] if queue not in handled]
    if unknown:
        raise failures.UsageFailure(
            f"{target} has no handler for queue(s) {', '.join(unknown)} (it handles {', '.join(handled)})"
        )
    return [queue for queue in handled if not queues or queue in queues]
