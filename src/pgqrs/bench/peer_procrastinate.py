"""The procrastinate side of the peer comparison: run in its own virtual environment (peer_protocol).

procrastinate installs its schema in a database of its own, which the harness creates and drops.
A job is a task call: the payload is the task's keyword arguments. W1 is `defer_async`, W2
`batch_defer_async` of 100. procrastinate fetches one job per query (no batch fetch): W4 is what
its worker does per job, `fetch_job` then `finish_job(..., delete_job=True)`; W3, W3a and W5 (a
batch of 100 per call) are not among its workloads. W8 is its worker (`run_worker_async`, not
waiting: it stops once the queue is empty) at the same concurrency, deleting finished jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib import metadata
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.jobs import Status

if TYPE_CHECKING:
    from pgqrs.bench import peer_protocol as protocol
else:  # run as a script beside it, in the peer's environment
    import peer_protocol as protocol

QUEUE = "bench"


class Peer:
    def __init__(self, dsn: str) -> None:
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
        self.items: list[dict[str, Any]] = []
        self.handled: list[int] = []
        self.sleep = 0.0

        @self.app.task(name="bench", queue=QUEUE, pass_context=True)  # type: ignore[untyped-decorator]
        async def bench(context: Any, **payload: Any) -> None:
            self.handled.append(int(context.job.id))
            if self.sleep:
                await asyncio.sleep(self.sleep)

        self.task = bench
        self.opened = False

    async def open(self) -> None:
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()
        self.opened = True

    async def execute(self, statement: str) -> None:
        await self.app.connector.execute_query_async(statement)

    async def count(self) -> int:
        row = await self.app.connector.execute_query_one_async("SELECT count(*) AS n FROM procrastinate_jobs")
        return int(row["n"])

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.opened:
            await self.open()
        if request["command"] == "prepare":
            return await self.prepare(request["workload"], request["count"])
        if request["command"] == "runtime":
            return await self.runtime(request["concurrency"], request["sleep"])
        return await self.run(request["workload"])

    async def prepare(self, workload: str, count: int) -> dict[str, Any]:
        await self.execute("TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_workers CASCADE")
        self.items = protocol.payloads(count)
        if workload not in ("W1", "W2"):
            for chunk in protocol.chunks(self.items, protocol.FILL_CHUNK):  # through the library, untimed
                await self.task.batch_defer_async(*chunk)
            await self.execute("ANALYZE procrastinate_jobs")
        return {"ok": True}

    async def run(self, workload: str) -> dict[str, Any]:
        seen: list[int] = []
        start = time.perf_counter()
        if workload == "W1":
            for item in self.items:
                await self.task.defer_async(**item)
        elif workload == "W2":
            for chunk in protocol.chunks(self.items, protocol.BATCH):
                await self.task.batch_defer_async(*chunk)
        elif workload == "W4":
            seen = await self.fetch_each()
        else:
            raise ValueError(f"procrastinate has no {workload}")
        return protocol.outcome(time.perf_counter() - start, seen, await self.count())

    async def fetch_each(self) -> list[int]:
        """W4: what the worker does per job, without running the task: fetch, then finish."""
        manager = self.app.job_manager
        worker_id = await manager.register_worker()
        seen: list[int] = []
        while (job := await manager.fetch_job([QUEUE], worker_id)) is not None:
            seen.append(int(job.id))
            await manager.finish_job(job, Status.SUCCEEDED, delete_job=True)
        await manager.unregister_worker(worker_id)
        return seen

    async def runtime(self, concurrency: int, sleep: float) -> dict[str, Any]:
        """W8: the worker drains the prepared jobs and stops (wait=False)."""
        self.handled, self.sleep = [], sleep
        start = time.perf_counter()
        await self.app.run_worker_async(
            queues=[QUEUE],
            concurrency=concurrency,
            wait=False,
            delete_jobs="successful",
            fetch_job_polling_interval=0.05,
            install_signal_handlers=False,
        )
        seconds = time.perf_counter() - start
        return protocol.outcome(seconds, self.handled, await self.count())

    async def close(self) -> None:
        if self.opened:
            await self.app.close_async()


if __name__ == "__main__":
    import sys

    # The App lives in this script on purpose (no task is imported by path): keep that warning quiet.
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    peer = Peer(sys.argv[1])
    protocol.serve(metadata.version("procrastinate"), peer.handle, peer.close)
