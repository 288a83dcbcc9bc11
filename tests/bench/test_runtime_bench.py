"""The runtime workloads of the harness (`--runtime`): W8 on every target and W6 in every mode,
with delivery checked, at tiny sizes."""

from __future__ import annotations

import dataclasses

from pgqrs.bench import options, runtime_bench


def test_w8_and_w6_run_on_every_target_with_delivery_checked(dsn: str) -> None:
    chosen = dataclasses.replace(
        options.parse(["--smoke", "--dsn", dsn]), runtime_messages=300, latency_messages=3
    )
    throughput = runtime_bench.measure_throughput(dsn, chosen, [])
    labels = {label for label, _ in throughput}
    assert labels == {"W8 c=1", "W8 c=16", "W8 c=64", "W8s c=64"}
    assert {target for _, target in throughput} == {"raw", "sync", "async"}
    assert all(series.seconds and series.median > 0 for series in throughput.values())
    latency = runtime_bench.measure_latency(dsn, chosen)
    assert set(latency) == {"raw LISTEN", "sync notify", "sync poll", "async notify", "async poll"}
    assert all(figures["samples"] == 3 and figures["p50_ms"] > 0 for figures in latency.values())
