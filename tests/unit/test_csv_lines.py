"""CSV lines made outside ``csv.writer`` are exactly its bytes: ``plain_lines`` accepts only
lines it would write unchanged, and ``CrlfLines`` turns PostgreSQL's CSV (LF line ends) into
``csv.writer``'s (CRLF) however the stream is cut."""

from __future__ import annotations

import csv
import io
import itertools

from hypothesis import given
from hypothesis import strategies as st

from outdial.io.writers import CrlfLines, csv_lines, plain_lines

VALUES = st.text(alphabet=st.sampled_from(list('a,"\r\n 张;')), max_size=6)
ROWS = st.lists(st.lists(VALUES, min_size=2, max_size=4), min_size=1, max_size=6)


def written(rows: list[list[str]]) -> bytes:
    text = io.StringIO(newline="")
    csv.writer(text).writerows(rows)
    return text.getvalue().encode()


def postgresql_csv(rows: list[list[str]]) -> bytes:
    """COPY … (FORMAT csv) of the rows, each value sent as NULLIF(value, '')."""

    def value(v: str) -> str:
        if any(c in v for c in ',"\r\n'):
            return '"' + v.replace('"', '""') + '"'
        return v

    return "".join(",".join(value(v) for v in row) + "\n" for row in rows).encode()


@given(ROWS)
def test_plain_lines_accepts_exactly_what_csv_writer_leaves_unquoted(
    rows: list[list[str]],
) -> None:
    width = len(rows[0])
    rows = [(row * width)[:width] for row in rows]
    joined = "".join(",".join(row) + "\r\n" for row in rows).encode()
    assert plain_lines(joined, len(rows), width) == (joined == written(rows))
    assert csv_lines(rows) == written(rows)


@given(ROWS, st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_crlf_lines_makes_postgresqls_csv_that_of_csv_writer(
    rows: list[list[str]], cuts: list[int]
) -> None:
    data = postgresql_csv(rows)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    crlf = CrlfLines()
    made = [crlf(data[a:b]) for a, b in itertools.pairwise(bounds)]
    assert b"".join(m for m, _ in made) == written(rows)
    assert sum(n for _, n in made) == len(rows)
