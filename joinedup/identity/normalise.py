"""Normalised forms of names and dates, as the vault stores them for matching.

Names: diacritics are folded (``Zoë`` → ``ZOE``; ``ß`` → ``SS``, ``Ø`` → ``O``, ``Ł`` → ``L``,
``Æ`` → ``AE`` and the like, which Unicode decomposition does not split), the result is upper
cased, and everything that is not a letter is dropped: spaces, apostrophes, full stops and
hyphens. So ``O'Brien`` → ``OBRIEN`` and ``Smith-Jones`` → ``SMITHJONES``; the parts of a
hyphenated or multi-part name are kept apart by ``name_parts`` (``["SMITH", "JONES"]``) for
matchers that compare parts. Letters of other scripts are kept as they are.

Invariants: every function is pure and total (bad input gives None, never an exception) and none
of them logs its argument.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling, PythonUDFType
from duckdb.sqltypes import VARCHAR

# Letters Unicode decomposition leaves whole; folded by hand (upper and lower case).
_FOLD = str.maketrans(
    {
        "ß": "SS",
        "ẞ": "SS",
        "Æ": "AE",
        "æ": "AE",
        "Œ": "OE",
        "œ": "OE",
        "Ø": "O",
        "ø": "O",
        "Ł": "L",
        "ł": "L",
        "Đ": "D",
        "đ": "D",
        "Ð": "D",
        "ð": "D",
        "Þ": "TH",
        "þ": "TH",
        "ı": "I",
    }
)
_PART_SEPARATORS = re.compile(r"[\s\-‐‑–—]+")
SQL_FUNCTION_NAME = "normalise_name"


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise_name(value: str | None) -> str | None:
    """Upper case, diacritics folded, letters only; None if nothing is left."""
    if value is None:
        return None
    folded = _fold(value).upper()
    letters = "".join(c for c in folded if unicodedata.category(c).startswith("L"))
    return letters or None


def name_parts(value: str | None) -> list[str]:
    """The normalised parts of a name split at spaces and hyphens (empty parts dropped)."""
    if value is None:
        return []
    parts = (normalise_name(p) for p in _PART_SEPARATORS.split(value))
    return [p for p in parts if p]


def parse_date(value: str | None, date_format: str = "%Y-%m-%d") -> date | None:
    """The date a string holds in ``date_format`` (surrounding spaces ignored), or None."""
    if value is None:
        return None
    try:
        return datetime.strptime(value.strip(), date_format).date()
    except ValueError:
        return None


def month_of_birth(value: date | None) -> str | None:
    """The coarsened form of a date of birth the store may keep: ``YYYY-MM``."""
    return None if value is None else f"{value.year:04d}-{value.month:02d}"


def _normalise_names_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # ASCII names (most of them) in Arrow's C++ kernels: upper case, keep A-Z. This is what
    # normalise_name gives for ASCII: nothing to fold, and the letters are A-Z.
    fast = pc.replace_substring_regex(pc.utf8_upper(values), "[^A-Z]", "")
    fast = pc.if_else(pc.equal(fast, ""), pa.scalar(None, pa.string()), fast)
    other = pc.fill_null(pc.invert(pc.string_is_ascii(values)), False)
    if not pc.any(other).as_py():
        return fast
    # the rest through Python, once per distinct value
    rest = pc.dictionary_encode(pc.filter(values, other))
    normalised = [normalise_name(v) for v in rest.dictionary.to_pylist()]
    replacements = pc.take(pa.array(normalised, type=pa.string()), rest.indices)
    return pc.replace_with_mask(fast, other, replacements)


def register_normalise_name_function(con: duckdb.DuckDBPyConnection) -> None:
    """Register ``normalise_name(VARCHAR) -> VARCHAR`` (same result as ``normalise_name``)."""
    con.create_function(
        SQL_FUNCTION_NAME,
        _normalise_names_arrow,
        [VARCHAR],
        VARCHAR,
        type=PythonUDFType.ARROW,
        null_handling=FunctionNullHandling.SPECIAL,  # a name of no letters becomes NULL
        side_effects=False,
    )
