"""Concurrent installs asking for the partitioned archive: it is converted once, and works."""

from __future__ import annotations

import threading

from pgqrs import sync


def test_concurrent_installs_partition_the_archive_once(config: sync.Config) -> None:
    daily = config.replace(archive_partitioning="daily")
    failures: list[BaseException] = []

    def install() -> None:
        try:
            with sync.PgqrsAdmin.connect(daily) as admin:
                admin.install()
        except BaseException as error:  # reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=install) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with sync.PgqrsAdmin.connect(daily) as admin:
        assert admin.retention.partitioned()
        admin.verify()
