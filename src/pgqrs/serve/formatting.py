"""Numbers, ages and times as the pages show them (Jinja filters; pure functions)."""

from __future__ import annotations

import datetime

from markupsafe import Markup, escape


def count(value: int, cap: int | None = None, short: bool = False) -> str:
    """Return 1,234; a count over `cap` as "more than 100,000" (`short`: "100,000+")."""
    if cap is not None and value > cap:
        return f"{cap:,}+" if short else f"more than {cap:,}"
    return f"{value:,}"


def age(seconds: float | None) -> str:
    """Return a duration the way a person reads it: 4 s, 3 min 20 s, 2 h 5 min, 3 d 4 h."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, seconds_left = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {seconds_left} s" if seconds_left and minutes < 10 else f"{minutes} min"
    hours, minutes_left = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes_left} min" if minutes_left else f"{hours} h"
    days, hours_left = divmod(hours, 24)
    return f"{days} d {hours_left} h" if hours_left else f"{days} d"


def since(moment: datetime.datetime | None, now: datetime.datetime) -> str:
    """Return the age of `moment` at the database's `now`."""
    if moment is None:
        return "—"
    return age(max(0.0, (now - moment).total_seconds()))


def timestamp(moment: datetime.datetime | None) -> Markup:
    """Return a <time> element: UTC in the page, the viewer's own zone once the script runs."""
    if moment is None:
        return Markup("—")
    utc = moment.astimezone(datetime.timezone.utc)
    shown = utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}">{}</time>').format(utc.isoformat(), shown)


def first_line(text: str | None) -> str:
    """Return the first line of a (traceback) text."""
    return "" if not text else text.strip().split("\n", 1)[0]


def milliseconds(value: int | None) -> str:
    """Return a processing duration in milliseconds as text."""
    return "—" if value is None else f"{value:,} ms"


FILTERS = {
    "count": count,
    "age": age,
    "since": since,
    "timestamp": timestamp,
    "first_line": first_line,
    "milliseconds": milliseconds,
    "escape": escape,
}
