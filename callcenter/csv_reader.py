"""The one way an uploaded CSV becomes text and rows: UTF-8 (with or without BOM), else GB18030.

Files come from Excel (UTF-8 with a BOM, or GB18030 on a Chinese Windows), from LibreOffice and
from other hospital systems (UTF-8 without BOM).  Every import (knowledge base, 12345 orders,
outbound lists) reads its bytes here, so a file one of them takes the others take too.  Bytes that
are neither encoding raise ``UndecodableCsv`` naming the file and the line of the first bad byte.
"""

from __future__ import annotations

import csv
import io

ENCODINGS = "UTF-8 or GB18030"


class UndecodableCsv(ValueError):
    """The bytes are not text in either encoding; ``line`` is where the first bad byte is."""

    def __init__(self, what: str, line: int, reason: str) -> None:
        self.what, self.line, self.reason = what, line, reason
        super().__init__(f"{what} is not text ({ENCODINGS}): {reason} on line {line}")


def decode(data: bytes | str, what: str = "the CSV") -> str:
    """The file's text: UTF-8 (a leading BOM dropped), else GB18030; ``UndecodableCsv`` otherwise."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as gb:
            # the encoding that read further is the one the file was meant to be in
            err = max(utf8, gb, key=lambda e: e.start)
            line = data.count(b"\n", 0, err.start) + 1
            raise UndecodableCsv(what, line, f"byte 0x{data[err.start]:02x}") from None


def rows(text: str) -> csv.reader:  # type: ignore[valid-type]
    """A ``csv.reader`` over decoded text (newlines inside quoted cells kept, as the csv module wants)."""
    return csv.reader(io.StringIO(text, newline=""))


def dict_rows(text: str) -> csv.DictReader[str]:
    """A ``csv.DictReader`` over decoded text with a header row (``line_num`` gives each row's line)."""
    return csv.DictReader(io.StringIO(text, newline=""))
