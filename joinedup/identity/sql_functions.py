"""The identifier checks of ``checks.py`` as DuckDB functions, for checking millions of rows.

``register_identity_functions(con)`` registers, on one connection:

- ``nhs_number_digits(v)``: digits with spaces and dashes dropped, NULL unless ten digits;
- ``is_valid_nhs_number(v)``: ten digits with a right modulus-11 check digit;
- ``normalise_upn(v)``: trimmed upper case; ``is_valid_upn(v)``: 13 characters whose first is
  the mod-23 check letter of the other 12 (permanent or temporary UPN);
- ``normalise_postcode(v)``: ``"BD7 1AB"`` form, NULL unless a UK postcode shape;
- ``is_valid_uprn(v)``: 1 to 12 digits, not all zero.

Each runs on whole Arrow batches: ASCII values through Arrow's C++ kernels (a re-statement of the
Python rule, with the same white space and digits as Python's ``str`` methods have for ASCII),
anything else through the Python function of ``checks.py`` itself, once per distinct value. A
property test holds the two paths to the same answers.

NULL in gives NULL for the normalisers and false for the ``is_`` checks. No function logs or
raises with a value.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling, PythonUDFType
from duckdb.sqltypes import BOOLEAN, VARCHAR, DuckDBPyType

from joinedup.identity import checks

# What Python's str.isspace() and re's \s match among ASCII characters.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_SPACE_CLASS = "[ \\t\\n\\r\\x0b\\x0c\\x1c-\\x1f]"
_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_UPN_SHAPE = "^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"
_POSTCODE_SHAPE = "^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"
_LETTERS = pa.array(list(checks.UPN_CHECK_LETTERS))

ArrowFunction = Callable[[pa.Array], pa.Array]


def _null_string() -> pa.Scalar:
    return pa.scalar(None, pa.string())


def _char(values: pa.Array, index: int) -> pa.Array:
    return pc.utf8_slice_codeunits(values, index, index + 1)


def _digit(values: pa.Array, index: int) -> pa.Array:
    return pc.cast(_char(values, index), pa.int64())


def _nhs_digits(values: pa.Array) -> pa.Array:
    digits = pc.replace_substring_regex(values, f"({_SPACE_CLASS}|-)", "")
    ok = pc.match_substring_regex(digits, "^[0-9]{10}$")
    return pc.if_else(pc.fill_null(ok, False), digits, _null_string())


def _is_valid_nhs(values: pa.Array) -> pa.Array:
    digits = _nhs_digits(values)
    shaped = pc.is_valid(digits)
    safe = pc.fill_null(digits, "0000000000")
    total = _digit(safe, 0) * 0
    for index, weight in enumerate(_NHS_WEIGHTS):
        total = pc.add(total, pc.multiply(_digit(safe, index), weight))
    check = pc.subtract(11, pc.remainder(total, 11))
    check = pc.if_else(pc.equal(check, 11), 0, check)
    right = pc.and_(pc.not_equal(check, 10), pc.equal(check, _digit(safe, 9)))
    return pc.and_(shaped, right)


def _normalise_upn(values: pa.Array) -> pa.Array:
    return pc.utf8_upper(pc.utf8_trim(values, characters=_ASCII_SPACE))


def _is_valid_upn(values: pa.Array) -> pa.Array:
    upn = _normalise_upn(values)
    shaped = pc.fill_null(pc.match_substring_regex(upn, _UPN_SHAPE), False)
    safe = pc.if_else(shaped, upn, "A000000000000")
    total = _digit(safe, 1) * 0
    for index in range(1, 12):  # body characters 0..10: digits, weights 2..12
        total = pc.add(total, pc.multiply(_digit(safe, index), index + 1))
    last = _char(safe, 12)
    last_value = pc.if_else(
        pc.utf8_is_digit(last),
        pc.cast(pc.if_else(pc.utf8_is_digit(last), last, "0"), pa.int64()),
        pc.cast(pc.index_in(last, value_set=_LETTERS), pa.int64()),
    )
    total = pc.add(total, pc.multiply(last_value, 13))
    expected = pc.take(_LETTERS, pc.remainder(total, 23))
    return pc.and_(shaped, pc.equal(expected, _char(safe, 0)))


def _normalise_postcode(values: pa.Array) -> pa.Array:
    compact = pc.utf8_upper(pc.replace_substring_regex(values, f"{_SPACE_CLASS}+", ""))
    length = pc.utf8_length(compact)
    head = pc.utf8_slice_codeunits(compact, 0, -3)
    candidate = pc.binary_join_element_wise(head, pc.utf8_slice_codeunits(compact, -3), " ")
    ok = pc.and_(
        pc.and_(pc.greater_equal(length, 5), pc.less_equal(length, 7)),
        pc.match_substring_regex(candidate, _POSTCODE_SHAPE),
    )
    return pc.if_else(pc.fill_null(ok, False), candidate, _null_string())


def _is_valid_uprn(values: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim(values, characters=_ASCII_SPACE)
    shaped = pc.fill_null(pc.match_substring_regex(trimmed, "^[0-9]{1,12}$"), False)
    nonzero = pc.match_substring_regex(trimmed, "[1-9]")
    return pc.and_(shaped, pc.fill_null(nonzero, False))


def _python_normalise_upn(value: str | None) -> str | None:
    return None if value is None else value.strip().upper()


_FUNCTIONS: tuple[
    tuple[str, ArrowFunction, Callable[[str | None], object], pa.DataType, DuckDBPyType], ...
] = (
    ("nhs_number_digits", _nhs_digits, checks.normalise_nhs_number, pa.string(), VARCHAR),
    ("is_valid_nhs_number", _is_valid_nhs, checks.is_valid_nhs_number, pa.bool_(), BOOLEAN),
    ("normalise_upn", _normalise_upn, _python_normalise_upn, pa.string(), VARCHAR),
    ("is_valid_upn", _is_valid_upn, checks.is_valid_upn, pa.bool_(), BOOLEAN),
    ("normalise_postcode", _normalise_postcode, checks.normalise_postcode, pa.string(), VARCHAR),
    ("is_valid_uprn", _is_valid_uprn, checks.is_valid_uprn, pa.bool_(), BOOLEAN),
)


def vectorise(
    fast: ArrowFunction, function: Callable[[str | None], object], result_type: pa.DataType
) -> Callable[[pa.Array | pa.ChunkedArray], pa.Array]:
    """``fast`` for ASCII values, ``function`` (once per distinct value) for the rest."""

    def apply(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        result = fast(values)
        if pa.types.is_boolean(result_type):
            result = pc.fill_null(result, False)
        other = pc.fill_null(pc.invert(pc.string_is_ascii(values)), False)
        if not pc.any(other).as_py():
            return result
        rest = pc.dictionary_encode(pc.filter(values, other))
        answers = [function(v) for v in rest.dictionary.to_pylist()]
        return pc.replace_with_mask(
            result, other, pc.take(pa.array(answers, type=result_type), rest.indices)
        )

    return apply


def register_identity_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register the identifier functions on ``con``."""
    for name, fast, function, arrow_type, sql_type in _FUNCTIONS:
        con.create_function(
            name,
            vectorise(fast, function, arrow_type),
            [VARCHAR],
            sql_type,
            type=PythonUDFType.ARROW,
            null_handling=FunctionNullHandling.SPECIAL,
            side_effects=False,
        )
