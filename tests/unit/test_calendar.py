"""Schedule rules: windows (also across midnight), repeat days, blackouts, periods, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from outdial.domain.calendar import (
    Blackout,
    Closed,
    Schedule,
    WeeklyBlock,
    closed_reason,
    next_open,
    open_until,
    parse_blackout,
    parse_windows,
)
from outdial.domain.schedule import RepeatBy

ZONES = [
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
]
FIXED = {"UTC", "Asia/Shanghai"}
SHANGHAI = ZoneInfo("Asia/Shanghai")

walls = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
instants = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    windows = []
    for _ in range(draw(st.integers(1, 3))):
        start, end = draw(walls), draw(st.one_of(st.none(), walls))
        assume(end != start)
        windows.append((start, end))
    repeat = draw(st.sampled_from(list(RepeatBy)))
    days: frozenset[int] = frozenset()
    if repeat is RepeatBy.WEEK:
        days = frozenset(draw(st.sets(st.integers(1, 7), min_size=1)))
    if repeat is RepeatBy.MONTH:
        days = frozenset(draw(st.sets(st.integers(1, 31), min_size=1)))
    blocks = tuple(
        WeeklyBlock(
            frozenset(draw(st.sets(st.integers(1, 7), min_size=1))),
            draw(walls),
            draw(st.one_of(st.none(), walls)),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    start = draw(st.one_of(st.none(), instants))
    end = None
    if draw(st.booleans()):
        end = (start or datetime(2025, 1, 1, tzinfo=UTC)) + timedelta(
            hours=draw(st.integers(1, 2000))
        )
    return Schedule(zone, start, end, tuple(windows), repeat, days, Blackout(None, blocks))


# --- an independent reading of the rules, from the local wall clock -------------------------


def _calling(s: Schedule, d: date) -> bool:
    if s.repeat_by is RepeatBy.WEEK:
        return d.isoweekday() in s.repeat_days
    if s.repeat_by is RepeatBy.MONTH:
        return d.day in s.repeat_days
    return True


def _in_range(d: date, r: time, start: time, end: time | None, day_ok: object) -> bool:
    ok = day_ok  # callable: date -> bool
    if end is None or end > start:
        return bool(ok(d)) and start <= r and (end is None or r < end)  # type: ignore[operator]
    return (bool(ok(d)) and r >= start) or (bool(ok(d - timedelta(days=1))) and r < end)  # type: ignore[operator]


def allowed_by_reading(s: Schedule, t: datetime) -> bool:
    if (s.period_start and t < s.period_start) or (s.period_end and t >= s.period_end):
        return False
    local = t.astimezone(s.zone)
    d, r = local.date(), local.time().replace(tzinfo=None)
    if not any(_in_range(d, r, ws, we, lambda x: _calling(s, x)) for ws, we in s.windows):
        return False
    for block in s.blackout.weekly:
        if _in_range(d, r, block.start, block.end, lambda x, b=block: x.isoweekday() in b.days):
            return False
    return True


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(schedules(), instants)
def test_open_instants_read_inside_a_window_and_outside_blackouts(s: Schedule, t: datetime) -> None:
    if closed_reason(s, t) is None:
        assert allowed_by_reading(s, t), t.astimezone(s.zone)


@settings(max_examples=300, deadline=None)
@given(schedules(), instants)
def test_fixed_offset_zones_agree_exactly(s: Schedule, t: datetime) -> None:
    assume(str(s.zone) in FIXED)
    assert (closed_reason(s, t) is None) == allowed_by_reading(s, t)


@settings(max_examples=200, deadline=None)
@given(schedules(), instants, st.lists(st.floats(0, 1), min_size=5, max_size=20))
def test_next_open_is_the_first_open_instant(
    s: Schedule, t: datetime, fractions: list[float]
) -> None:
    n = next_open(s, t)
    if n is None:
        for f in fractions:
            probe = t + timedelta(days=30 * f)
            assert closed_reason(s, probe) is not None
        return
    assert n >= t and closed_reason(s, n) is None
    for f in fractions:
        probe = t + (n - t) * f
        if probe < n:
            assert closed_reason(s, probe) is not None, (probe, n)


@settings(max_examples=200, deadline=None)
@given(schedules(), instants)
def test_open_until_bounds_the_open_span(s: Schedule, t: datetime) -> None:
    end = open_until(s, t)
    if closed_reason(s, t) is not None:
        assert end is None
        return
    assert end is not None and end > t
    assert closed_reason(s, end - timedelta(microseconds=1)) is None or end - t < timedelta(
        seconds=1
    )


# --- examples -------------------------------------------------------------------------------


def _at(y: int, mo: int, d: int, h: int, mi: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=zone).astimezone(UTC)


def test_lunch_break_and_reasons() -> None:
    s = Schedule(
        SHANGHAI,
        windows=parse_windows(
            [{"start": "09:00", "end": "12:00"}, {"start": "13:30", "end": "18:00"}]
        ),
    )
    assert closed_reason(s, _at(2026, 11, 23, 12, 30)) is Closed.OUTSIDE_WINDOW
    assert next_open(s, _at(2026, 11, 23, 12, 30)) == _at(2026, 11, 23, 13, 30)
    assert next_open(s, _at(2026, 11, 23, 18, 0)) == _at(2026, 11, 24, 9, 0)
    assert open_until(s, _at(2026, 11, 23, 10)) == _at(2026, 11, 23, 12)


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    s = Schedule(
        SHANGHAI,
        windows=parse_windows([{"start": "22:00", "end": "02:00"}]),
        repeat_by=RepeatBy.WEEK,
        repeat_days=frozenset({5}),
    )  # Fridays
    friday_night, saturday_night = _at(2026, 11, 28, 1), _at(2026, 11, 29, 1)
    assert closed_reason(s, friday_night) is None  # Sat 01:00, Friday's window
    assert closed_reason(s, saturday_night) is not None
    assert next_open(s, _at(2026, 11, 23, 12)) == _at(2026, 11, 27, 22)


def test_blackouts_weekly_and_dated() -> None:
    blackout = parse_blackout(
        "Asia/Shanghai",
        [{"days": [1, 2, 3, 4, 5], "start": "12:00", "end": "13:00"}],
        [{"start": "2026-10-01T00:00:00", "end": "2026-10-08T00:00:00"}],
    )
    s = Schedule(ZoneInfo("UTC"), blackout=blackout)
    assert closed_reason(s, _at(2026, 11, 23, 12, 15)) is Closed.BLACKOUT
    assert closed_reason(s, _at(2026, 11, 22, 12, 15)) is None  # Sunday
    assert closed_reason(s, _at(2026, 10, 3, 15)) is Closed.BLACKOUT
    assert next_open(s, _at(2026, 10, 3, 15)) == _at(2026, 10, 8, 0)


def test_period_bounds() -> None:
    start, end = _at(2026, 12, 1, 0), _at(2026, 12, 3, 0)
    s = Schedule(SHANGHAI, start, end)
    assert closed_reason(s, _at(2026, 11, 30, 10)) is Closed.BEFORE_PERIOD
    assert next_open(s, _at(2026, 11, 30, 10)) == start
    assert closed_reason(s, end) is Closed.AFTER_PERIOD
    assert next_open(s, end) is None


def test_monthly_days_skip_short_months() -> None:
    s = Schedule(SHANGHAI, repeat_by=RepeatBy.MONTH, repeat_days=frozenset({31}))
    assert next_open(s, _at(2027, 2, 1, 0)) == _at(2027, 3, 31, 0)


def test_spring_forward_gap_and_fall_back() -> None:
    ny = ZoneInfo("America/New_York")
    s = Schedule(ny, windows=parse_windows([{"start": "02:30", "end": "05:00"}]))
    # 02:30 does not exist on 8 March 2026: the window opens when the clock jumps to 03:00.
    assert next_open(s, datetime(2026, 3, 8, 0, tzinfo=ny)) == datetime(2026, 3, 8, 3, tzinfo=ny)
    s = Schedule(ny, windows=parse_windows([{"start": "00:00", "end": "01:30"}]))
    second_0115 = datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=ny)
    assert closed_reason(s, second_0115) is not None  # the repeated hour is past the window end


def test_fixed_offset_is_found_only_where_the_zone_keeps_one() -> None:
    from outdial.domain.calendar import fixed_offset

    shanghai, new_york = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert fixed_offset(shanghai, start, start + timedelta(days=365)) == 8 * 3600
    assert fixed_offset(new_york, start, start + timedelta(days=30)) == -5 * 3600
    assert fixed_offset(new_york, start, start + timedelta(days=100)) is None  # DST in March
    assert fixed_offset(shanghai, start, start + timedelta(days=5000)) is None  # too long to look
