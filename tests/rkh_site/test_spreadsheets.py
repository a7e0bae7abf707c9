"""CSV cells that a spreadsheet would run as formulas are quoted; plain numbers are not."""

import pytest

from utilities.spreadsheets import safe_cell, safe_dict, safe_row


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1.5", "-1.5"),
        ("+7", "+7"),
        ("a=b", "a=b"),
        ("", ""),
        (-3, -3),
        (None, None),
    ],
)
def test_safe_cell(value, written):
    assert safe_cell(value) == written


def test_rows_and_dicts():
    assert safe_row(["=x", "ok", 1]) == ["'=x", "ok", 1]
    assert safe_dict({"a": "@x", "b": "y"}) == {"a": "'@x", "b": "y"}
