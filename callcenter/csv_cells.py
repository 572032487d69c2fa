"""CSV cells a spreadsheet will not run: formula injection neutralised as OWASP recommends.

Excel, LibreOffice and Google Sheets read a cell starting with ``=``, ``+``, ``-`` or ``@`` (or a
tab, CR or LF before one) as a formula, which can run commands (DDE) or send data away
(``=HYPERLINK(...)``).  ``neutralise`` puts a single quote before such a cell, which spreadsheets show
as text; ``restore`` takes exactly that quote off again on import, so exported files round-trip
(a text that really starts with quotes and then one of those characters gets one quote more on export).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _needs_quote(text: str) -> bool:
    return text.lstrip("'").startswith(TRIGGERS)


def neutralise(cell: object) -> object:
    """The cell as written to CSV: text a spreadsheet would take for a formula gets a leading quote."""
    if isinstance(cell, str) and _needs_quote(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """A cell read from CSV with the quote ``neutralise`` added taken off again."""
    if cell.startswith("'") and _needs_quote(cell):
        return cell[1:]
    return cell


class SafeWriter:
    """``csv.writer`` whose rows are neutralised cell by cell."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row, formula-like text quoted."""
        self._writer.writerow([neutralise(cell) for cell in row])
