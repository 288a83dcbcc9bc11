"""A small TCP proxy between client and server that can cut or freeze every connection.

Toxiproxy and `tc netem` are not available here; this asyncio proxy runs in a thread of the test
process. `cut()` resets every connection and refuses new ones (a dead link); `freeze()` stops
forwarding bytes while keeping connections open (a stalled link: the client's kernel sees
nothing wrong, so only a client-side deadline notices); `heal()` restores forwarding.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from pgqrs.config import Config

CHUNK = 65536


def pooler_of(config: Config) -> str:
    """Return the `pooler` setting that keeps `config`'s pooler behaviour behind a proxy."""
    return "transaction" if config.behind_transaction_pooler else "none"


class TcpProxy:
    """Forward 127.0.0.1:<port> to (host, port) (host may be a Unix-socket directory), with faults."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = "open"
        self.bytes_to_server = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flowing: asyncio.Event | None = None

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def dsn_for(self, conninfo_dsn: str) -> str:
        """Return `conninfo_dsn` pointed at this proxy."""
        from psycopg import conninfo

        return conninfo.make_conninfo(
            conninfo_dsn, host="127.0.0.1", hostaddr="127.0.0.1", port=str(self.port)
        )

    def config_for(self, config: Config, **changes: Any) -> Config:
        """Return `config` pointed at this proxy, with `changes` applied.

        The proxy's port hides a transaction pooler behind it (pgqrs recognises one by port
        6432), so the pooler setting is made explicit.
        """
        return config.replace(dsn=self.dsn_for(config.dsn), pooler=pooler_of(config), **changes)

    # Faults ------------------------------------------------------------------------------

    def cut(self) -> None:
        """Reset every open connection and refuse new ones until `heal()`."""
        self._call(self._set_mode("cut"))

    def freeze(self) -> None:
        """Stop forwarding in both directions (connections stay open) until `heal()`."""
        self._call(self._set_mode("frozen"))

    def heal(self) -> None:
        self._call(self._set_mode("open"))

    async def _set_mode(self, mode: str) -> None:
        assert self._flowing is not None
        self.mode = mode
        if mode == "open":
            self._flowing.set()
            return
        self._flowing.clear()
        if mode == "cut":
            for writer in list(self._writers):
                writer.transport.abort()  # RST: the peer sees the connection die at once

    # Forwarding --------------------------------------------------------------------------

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self._flowing is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            if self.mode == "cut":
                client_writer.transport.abort()
                return
            await self._flowing.wait()  # a frozen link: the connection attempt hangs
            if self.mode == "cut":
                client_writer.transport.abort()
                return
            server_reader, server_writer = await self._open_upstream()
            self._writers.update((client_writer, server_writer))
            try:
                await asyncio.gather(
                    self._pump(client_reader, server_writer, upstream=True),
                    self._pump(server_reader, client_writer, upstream=False),
                )
            finally:
                for writer in (client_writer, server_writer):
                    self._writers.discard(writer)
                    writer.transport.abort()
        except (OSError, asyncio.IncompleteReadError):
            client_writer.transport.abort()
        except asyncio.CancelledError:
            client_writer.transport.abort()  # the proxy is closing; end quietly
        finally:
            self._tasks.discard(task)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.target
        if host.startswith("/"):  # a Unix-socket directory, as libpq names it
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: bool) -> None:
        assert self._flowing is not None
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                await self._flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self._flowing.wait()  # frozen mid-flight: hold the bytes
                if self.mode == "cut":
                    break
                if upstream:
                    self.bytes_to_server += len(data)
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    # Shutdown ----------------------------------------------------------------------------

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
