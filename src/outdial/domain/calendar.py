"""When may a call start? Campaign period, daily windows, repeat days and blackouts.

All inputs are values; nothing here reads a clock. Local wall times are turned into instants
with zoneinfo: a wall time that does not exist (spring forward) maps forward past the gap, an
ambiguous one (fall back) to its first occurrence, so a window never yields an instant whose
local reading lies outside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from outdial.domain.schedule import RepeatBy, parse_clock

Interval = tuple[datetime, datetime]
ALL_DAY: tuple[tuple[time, time | None], ...] = ((time(0), None),)
HORIZON_DAYS = 400
CHUNK_DAYS = 7


class Closed(StrEnum):
    """Why the schedule does not allow a call at an instant."""

    BEFORE_PERIOD = "before_period"
    AFTER_PERIOD = "after_period"
    NOT_A_CALLING_DAY = "not_a_calling_day"
    OUTSIDE_WINDOW = "outside_window"
    BLACKOUT = "blackout"


@dataclass(frozen=True)
class WeeklyBlock:
    days: frozenset[int]  # ISO weekdays of the block's start
    start: time
    end: time | None  # None: midnight at the end of the day


@dataclass(frozen=True)
class Blackout:
    zone: ZoneInfo | None = None  # None: the schedule's zone
    weekly: tuple[WeeklyBlock, ...] = ()
    dated: tuple[tuple[datetime, datetime], ...] = ()  # naive local date-times


@dataclass(frozen=True)
class Schedule:
    zone: ZoneInfo
    period_start: datetime | None = None
    period_end: datetime | None = None
    windows: tuple[tuple[time, time | None], ...] = ALL_DAY
    repeat_by: RepeatBy = RepeatBy.DAY
    repeat_days: frozenset[int] = frozenset()
    blackout: Blackout = field(default_factory=Blackout)

    def in_zone(self, zone: ZoneInfo) -> Schedule:
        """The same schedule read in another zone (a contact's own)."""
        return Schedule(
            zone,
            self.period_start,
            self.period_end,
            self.windows,
            self.repeat_by,
            self.repeat_days,
            self.blackout,
        )


def local_day_start(at: datetime, zone: ZoneInfo) -> datetime:
    """Local midnight starting the day of ``at`` in ``zone`` (adding a day keeps wall time)."""
    return at.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def parse_windows(windows: Iterable[dict[str, str]]) -> tuple[tuple[time, time | None], ...]:
    """Stored ``[{start, end}]`` → (start, end); ``24:00`` or ``00:00`` end means midnight."""
    out = [(_wall(w["start"]) or time(0), _wall(w["end"])) for w in windows]
    return tuple(out) or ALL_DAY


def _wall(text: str) -> time | None:
    value = parse_clock(text)
    return None if value == time.max else value


def parse_blackout(
    zone: str | None, weekly: Sequence[dict[str, object]], dated: Sequence[dict[str, str]]
) -> Blackout:
    blocks = tuple(
        WeeklyBlock(
            frozenset(int(d) for d in b["days"]),  # type: ignore[attr-defined]
            _wall(str(b["start"])) or time(0),
            _wall(str(b["end"])),
        )
        for b in weekly
    )
    ranges = tuple(
        (datetime.fromisoformat(d["start"]), datetime.fromisoformat(d["end"])) for d in dated
    )
    return Blackout(ZoneInfo(zone) if zone else None, blocks, ranges)


# --- instants from wall times ---------------------------------------------------------------


def instant(day: date, wall: time | None, zone: ZoneInfo) -> datetime:
    """The instant of local ``wall`` on ``day`` (None = the midnight ending ``day``)."""
    if wall is None:
        day, wall = day + timedelta(days=1), time(0)
    local = datetime.combine(day, wall, tzinfo=zone)
    after = local.astimezone(UTC)
    if after.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return after
    # ``wall`` falls in a spring-forward gap: the first instant after the gap stands for it.
    before = local.replace(fold=1).astimezone(UTC)
    offset = after.astimezone(zone).utcoffset()
    while after - before > timedelta(microseconds=1):
        mid = before + (after - before) / 2
        if mid.astimezone(zone).utcoffset() == offset:
            after = mid
        else:
            before = mid
    return after


def _span(day: date, start: time, end: time | None, zone: ZoneInfo) -> Interval:
    crosses = end is not None and end <= start
    end_day = day + timedelta(days=1) if crosses else day
    return instant(day, start, zone), instant(end_day, end, zone)


# --- the open intervals ---------------------------------------------------------------------


def _calling_day(schedule: Schedule, day: date) -> bool:
    if schedule.repeat_by is RepeatBy.WEEK:
        return day.isoweekday() in schedule.repeat_days
    if schedule.repeat_by is RepeatBy.MONTH:
        return day.day in schedule.repeat_days
    return True


def window_spans(schedule: Schedule, first: date, last: date) -> Iterator[Interval]:
    """Window occurrences starting on calling days from ``first`` to ``last``, in order."""
    day = first
    spans: list[Interval] = []
    while day <= last:
        if _calling_day(schedule, day):
            spans.extend(_span(day, s, e, schedule.zone) for s, e in schedule.windows)
        day += timedelta(days=1)
    yield from _merge(sorted(spans))


def blackout_spans(schedule: Schedule, first: date, last: date) -> list[Interval]:
    zone = schedule.blackout.zone or schedule.zone
    spans = []
    day = first - timedelta(days=1)
    while day <= last:
        for block in schedule.blackout.weekly:
            if day.isoweekday() in block.days:
                spans.append(_span(day, block.start, block.end, zone))
        day += timedelta(days=1)
    for start, end in schedule.blackout.dated:
        spans.append(
            (instant(start.date(), start.time(), zone), instant(end.date(), end.time(), zone))
        )
    return _merge(sorted(spans))


def _merge(spans: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(span: Interval, holes: list[Interval]) -> Iterator[Interval]:
    start, end = span
    for h_start, h_end in holes:
        if h_end <= start or h_start >= end:
            continue
        if h_start > start:
            yield start, h_start
        start = max(start, h_end)
        if start >= end:
            return
    if start < end:
        yield start, end


def open_spans(schedule: Schedule, since: datetime, days: int = HORIZON_DAYS) -> Iterator[Interval]:
    """Intervals in which calls may start, from ``since`` on, in order; computed a week at a
    time, so asking for the next opening costs little."""
    local_day = since.astimezone(schedule.zone).date()
    lower = max(since, schedule.period_start) if schedule.period_start else since
    carried: Interval | None = None  # a span may run on into the next chunk
    first = local_day - timedelta(days=1)
    while first <= local_day + timedelta(days=days):
        last = first + timedelta(days=CHUNK_DAYS - 1)
        windows, holes = _chunk(schedule, first)
        for span in windows:
            if schedule.period_end and span[0] >= schedule.period_end:
                if carried:
                    yield carried
                return
            start = max(span[0], lower)
            end = min(span[1], schedule.period_end) if schedule.period_end else span[1]
            for piece in _subtract((start, end), holes) if start < end else ():
                if carried and piece[0] <= carried[1]:
                    carried = (carried[0], max(carried[1], piece[1]))
                    continue
                if carried:
                    yield carried
                carried = piece
        first = last + timedelta(days=1)
    if carried:
        yield carried


# --- questions ------------------------------------------------------------------------------


def next_open(schedule: Schedule, at: datetime) -> datetime | None:
    """The earliest instant at or after ``at`` when a call may start; None if never again."""
    for start, _end in open_spans(schedule, at):
        return start
    return None


def open_until(schedule: Schedule, at: datetime) -> datetime | None:
    """If a call may start at ``at``, the end of that open span; else None."""
    for start, end in open_spans(schedule, at, days=2):
        return end if start <= at else None
    return None


def closed_reason(schedule: Schedule, at: datetime) -> Closed | None:
    """Why no call may start at ``at``, or None when one may."""
    if schedule.period_start and at < schedule.period_start:
        return Closed.BEFORE_PERIOD
    if schedule.period_end and at >= schedule.period_end:
        return Closed.AFTER_PERIOD
    local_day = at.astimezone(schedule.zone).date()
    windows, holes = spans_around(schedule, local_day)
    if not any(s <= at < e for s, e in windows):
        return (
            Closed.OUTSIDE_WINDOW if _calling_day(schedule, local_day) else Closed.NOT_A_CALLING_DAY
        )
    if any(s <= at < e for s, e in holes):
        return Closed.BLACKOUT
    return None


@lru_cache(maxsize=8192)
def _chunk(schedule: Schedule, first: date) -> tuple[tuple[Interval, ...], list[Interval]]:
    """Window spans starting in the week from ``first`` and the blackouts that may cut them."""
    last = first + timedelta(days=CHUNK_DAYS - 1)
    windows = tuple(window_spans(schedule, first, last))
    return windows, blackout_spans(schedule, first, last + timedelta(days=1))


@lru_cache(maxsize=8192)
def spans_around(
    schedule: Schedule, day: date
) -> tuple[tuple[Interval, ...], tuple[Interval, ...]]:
    """Window and blackout spans of the days around ``day`` (pure, so cached)."""
    first, last = day - timedelta(days=1), day + timedelta(days=1)
    return tuple(window_spans(schedule, first, last)), tuple(blackout_spans(schedule, first, last))


OFFSET_SPAN_DAYS_MAX = 800  # past this, no promise of one offset is looked for


def fixed_offset(zone: ZoneInfo, first: datetime, last: datetime) -> int | None:
    """The zone's UTC offset in seconds if it is the same all through [first, last], else
    None. Looked at once a day and at both ends: offsets change at most a few times a year
    and never twice in a day."""
    if (last - first).days > OFFSET_SPAN_DAYS_MAX:
        return None
    offset = zone.utcoffset(first)
    at = first
    while at < last:
        at = min(last, at + timedelta(days=1))
        if zone.utcoffset(at) != offset:
            return None
    return None if offset is None else int(offset.total_seconds())
