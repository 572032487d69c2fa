"""Issue 12, hole 4: CSV cells that spreadsheets would run as formulas are quoted, and read back as written."""

from __future__ import annotations

import csv
import io

import pytest

from callcenter.csv_cells import SafeWriter, neutralise, restore

FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", '=HYPERLINK("http://evil.example")',
            "=cmd|' /C calc'!A0", "'=already quoted", "''=twice"]
PLAIN = ["", "发烧怎么办", "1+1", "a=b", "'just a quote", "'", "o'clock", "12:30", "１+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_cells_are_quoted_and_read_back(text: str) -> None:
    written = neutralise(text)
    assert written == "'" + text
    assert restore(written) == text


@pytest.mark.parametrize("text", PLAIN)
def test_other_cells_are_left_alone(text: str) -> None:
    assert neutralise(text) == text and restore(text) == text


def test_numbers_stay_numbers_and_the_writer_quotes_every_cell() -> None:
    assert neutralise(-5) == -5 and neutralise(2.5) == 2.5 and neutralise(None) is None
    out = io.StringIO()
    SafeWriter(out).writerow([1, "=A1", "-x", "ok"])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["1", "'=A1", "'-x", "ok"]
