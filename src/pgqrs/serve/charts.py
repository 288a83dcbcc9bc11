"""Throughput over the last hour as an SVG bar chart, drawn on the server (no chart script).

One bar per minute, oldest on the left, the current minute on the right: processed records
below, the dead letters among them stacked on top in the warning colour. Each bar names its
minute as "N min ago", which needs no time zone.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from markupsafe import Markup

from pgqrs import inspection

MINUTES = 60


def buckets(
    counts: Iterable[inspection.MinuteCount], now: datetime.datetime, minutes: int = MINUTES
) -> list[tuple[int, int]]:
    """Return (processed, dead letters) per minute, oldest first, the current minute last."""
    current = now.replace(second=0, microsecond=0)
    totals = [(0, 0)] * minutes
    for count in counts:
        ago = int((current - count.minute).total_seconds() // 60)
        if 0 <= ago < minutes:
            index = minutes - 1 - ago
            archived, dead = totals[index]
            totals[index] = (archived + count.archived - count.dead_letters, dead + count.dead_letters)
    return totals


def merged(throughput: dict[int, list[inspection.MinuteCount]]) -> list[inspection.MinuteCount]:
    """Return every queue's minutes as one list (the same minute may appear more than once)."""
    return [count for counts in throughput.values() for count in counts]


def bars(
    counts: Iterable[inspection.MinuteCount],
    now: datetime.datetime,
    width: int = 600,
    height: int = 120,
    label: str = "throughput",
) -> Markup:
    """Return an inline SVG bar chart of the last hour's archive records per minute."""
    per_minute = buckets(counts, now)
    peak = max((processed + dead for processed, dead in per_minute), default=0) or 1
    slot = width / len(per_minute)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" preserveAspectRatio="none" role="img" '
        f'aria-label="{Markup.escape(label)}: records per minute over the last hour">',
        f'<line class="axis" x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>',
    ]
    for index, (processed, dead) in enumerate(per_minute):
        ago = len(per_minute) - 1 - index
        when = "this minute" if ago == 0 else f"{ago} min ago"
        x = index * slot + slot * 0.15
        bar_width = slot * 0.7
        processed_height = height * processed / peak
        dead_height = height * dead / peak
        parts.append(f"<g><title>{when}: {processed:,} processed, {dead:,} dead-lettered</title>")
        parts.append(
            f'<rect class="bar ok" x="{x:.1f}" y="{height - processed_height:.1f}" '
            f'width="{bar_width:.1f}" height="{processed_height:.1f}"/>'
        )
        if dead:
            parts.append(
                f'<rect class="bar dead" x="{x:.1f}" y="{height - processed_height - dead_height:.1f}" '
                f'width="{bar_width:.1f}" height="{dead_height:.1f}"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def total(counts: Iterable[inspection.MinuteCount]) -> int:
    """Return the records of the hour."""
    return sum(count.archived for count in counts)
