"""CSV cells a spreadsheet reads as text, never as a formula (CSV injection).

Captions, file names, keywords and preset names come from people and from the AI; a cell that
starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return before one of them) is run
as a formula by Excel, LibreOffice and Google Sheets when the exported file is opened, which
can leak other cells or start programs. Such a cell gets a leading ``'`` (OWASP's advice):
shown as the text it was, the quote hidden by the spreadsheet. A plain number (``-1.5``) is
left as it is: it runs nothing, and a quote would make it text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, with a leading ``'`` if it is a string a spreadsheet would run."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def safe_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: safe_cell(value) for key, value in row.items()}
