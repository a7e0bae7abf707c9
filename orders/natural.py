"""Natural order of file names: IMG_2 before IMG_10, photo.jpg before Photo 2.jpg, any case.

``natural_key(name)`` is a plain ASCII string whose *byte* order is the natural order of the
names, so the database can sort and page by it (``Image.name_key``, keyset pagination of the
order's grid) and the browser can place a newly arrived image with a plain ``<`` between two
keys, all three agreeing. Why an ASCII key of digits and lower-case letters only: PostgreSQL
sorts text by the database's collation, which ignores punctuation and folds case in most
locales; on strings of ``[0-9a-z]`` every collation, SQLite's and JavaScript's agree.

Encoding, token by token (the name is NFKD-normalised and case-folded first, accents dropped):

- a run of digits → ``0`` + its length in base 36 (one character, at most 35 digits; longer
  runs are cut) + the digits without leading zeros: numbers compare by value, "2" < "10";
- a letter a-y → itself, ``z`` → ``z0``;
- any other letter (Greek, Cyrillic, CJK, …) → ``z1`` + its code point in four base-36
  digits: after the Latin letters;
- anything else (space, ``_``, ``.``, ``-``, symbols) → ``00`` + its code point in four
  base-36 digits: before numbers and letters; distinct characters stay distinct;
- the last dot before the extension → ``000000`` (code point 0), the smallest token: a name
  comes before its longer variants ("photo.jpg" < "photo 2.jpg" < "photo-b.jpg").

So "IMG_2.jpg" < "IMG_10.jpg" < "img_10a.jpg" < "IMGa.jpg". Names that differ only in leading
zeros or case get the same key; the image id breaks the tie.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest key stored (``Image.name_key``): a 255-character name of symbols needs 1,530.
MAX_KEY = 1536
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TOKEN = re.compile(r"[0-9]+|[a-z]|.", re.S)


def _base36(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, rest = divmod(n, 36)
        out = _DIGITS[rest] + out
    return out


def natural_key(name: str) -> str:
    """The sort key of a file name (see the module docstring)."""
    stem, dot, extension = str(name or "").rpartition(".")
    if not (dot and stem):
        return _key(str(name or ""))[:MAX_KEY]
    return (_key(stem) + "000000" + _key(extension))[:MAX_KEY]


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).casefold()
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    parts = []
    for token in _TOKEN.findall(folded):
        if token.isascii() and token.isdigit():
            digits = token.lstrip("0")[:35] or "0"
            parts.append("0" + _DIGITS[len(digits)] + digits)
        elif token == "z":
            parts.append("z0")
        elif "a" <= token <= "y":
            parts.append(token)
        elif token.isalpha():
            parts.append("z1" + _base36(ord(token), 4))
        else:
            parts.append("00" + _base36(ord(token), 4))
    return "".join(parts)
