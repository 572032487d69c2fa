"""The one CSV reader: UTF-8 with or without BOM, GB18030 as Chinese Excel writes it, garbage refused by line."""

from __future__ import annotations

import pytest

from callcenter import csv_reader
from callcenter.csv_reader import UndecodableCsv

TEXT = "name,department\n王小明,呼吸科\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(TEXT.encode("utf-8"), TEXT, id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + TEXT.encode("utf-8"), TEXT, id="utf-8 with BOM (Excel)"),
        pytest.param(TEXT.encode("gb18030"), TEXT, id="gb18030 (Chinese Excel)"),
        pytest.param("\ufeff" + TEXT, TEXT, id="text with BOM"),
        pytest.param(TEXT, TEXT, id="text"),
        pytest.param(b"", "", id="empty"),
        pytest.param(b"a,b\r\n1,2\r\n", "a,b\r\n1,2\r\n", id="ascii, CRLF kept for the csv module"),
    ],
)
def test_decode(data: bytes | str, expected: str) -> None:
    assert csv_reader.decode(data) == expected


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        pytest.param(b"\xff\x80\x00binary", 1, "byte 0xff", id="binary on line 1"),
        pytest.param(b"a,b\n1,2\n3,\xff\n", 3, "byte 0xff", id="a bad byte on line 3"),
        # valid GB18030 up to line 2, then a byte neither encoding has
        pytest.param("a,b\n王,1\n".encode("gb18030") + b"\xff\n", 3, "byte 0xff", id="gb18030 then garbage"),
    ],
)
def test_undecodable_names_the_file_and_line(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(UndecodableCsv) as caught:
        csv_reader.decode(data, "the list")
    assert (caught.value.line, caught.value.reason) == (line, reason)
    assert str(caught.value) == f"the list is not text (UTF-8 or GB18030): {reason} on line {line}"
    assert isinstance(caught.value, ValueError)


def test_rows_keep_newlines_in_quoted_cells() -> None:
    reader = csv_reader.dict_rows(csv_reader.decode('q,a\r\n"one","two\r\nlines"\r\nx,y\r\n'.encode("gb18030")))
    assert [(reader.line_num, row) for row in reader] == [(3, {"q": "one", "a": "two\r\nlines"}), (4, {"q": "x", "a": "y"})]
    assert list(csv_reader.rows("a,b\n1,2\n")) == [["a", "b"], ["1", "2"]]
