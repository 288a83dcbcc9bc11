"""Periodic jobs: a report every 2 seconds, enqueued once per tick however many workers run.

    pgqrs worker run examples.periodic_app:app   # from the repository's root: until Ctrl-C
    python examples/periodic_app.py              # handle three ticks, then stop

Both take the configuration from PGQRS_DSN (and PGQRS_SCHEMA) or ./pgqrs.yaml. The schedule is
stored in the database when the app runs; `pgqrs schedule list` shows it, `pgqrs schedule
remove "report every 2s"` removes it. See docs/schedules.md.
"""

from __future__ import annotations

import asyncio
import logging

import pgqrs

app = pgqrs.App()
handled: list[str] = []


# Six fields: the seconds come first. Five fields ("*/5 * * * *") tick by the minute.
@app.periodic("*/2 * * * * *", payload={"report": "load"}, name="report every 2s")
@app.handler("reports")
async def build_report(message: pgqrs.QueueMessage) -> None:
    """Build the report of one tick (the tick it is for comes with the message)."""
    scheduled = pgqrs.schedules.tick_of(message)
    assert scheduled is not None
    name, tick = scheduled
    print(f"{message.payload['report']} report for {tick:%H:%M:%S} UTC ({name})")
    handled.append(name)
    if len(handled) == 3 and __name__ == "__main__":
        app.stop()


async def main() -> None:
    await app.run(pgqrs.Config.load())
    await remove_schedule()


async def remove_schedule() -> None:
    """Remove the example's schedule, so that no later runtime on the schema keeps enqueueing it."""
    async with await pgqrs.PgqrsAdmin.connect(pgqrs.Config.load()) as admin:
        await admin.remove_schedule("report every 2s")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
