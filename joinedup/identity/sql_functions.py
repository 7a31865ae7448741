"""The identifier checks of ``checks.py`` as DuckDB functions, for checking millions of rows.

``register_identity_functions(con)`` registers, on one connection:

- ``nhs_number_digits(v)``: digits with spaces and dashes dropped, NULL unless ten digits;
- ``is_valid_nhs_number(v)``: ten digits with a right modulus-11 check digit;
- ``normalise_upn(v)``: trimmed upper case; ``is_valid_upn(v)``: 13 characters whose first is
  the mod-23 check letter of the other 12 (permanent or temporary UPN);
- ``normalise_postcode(v)``: ``"BD7 1AB"`` form, NULL unless a UK postcode shape;
- ``is_valid_uprn(v)``: 1 to 12 digits, not all zero.

Each is the Python function of ``checks.py`` itself, applied to an Arrow batch once per distinct
value (identifiers repeat: a pupil has a row per term and attendance code), so SQL and Python
can never disagree. NULL in gives NULL for the normalisers and false for the ``is_`` checks.

Invariant: no function logs or raises with a value.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling, PythonUDFType
from duckdb.sqltypes import BOOLEAN, VARCHAR, DuckDBPyType

from joinedup.identity import checks


def _normalise_upn(value: str | None) -> str | None:
    return None if value is None else value.strip().upper()


_FUNCTIONS: tuple[tuple[str, Callable[[str | None], object], pa.DataType, DuckDBPyType], ...] = (
    ("nhs_number_digits", checks.normalise_nhs_number, pa.string(), VARCHAR),
    ("is_valid_nhs_number", checks.is_valid_nhs_number, pa.bool_(), BOOLEAN),
    ("normalise_upn", _normalise_upn, pa.string(), VARCHAR),
    ("is_valid_upn", checks.is_valid_upn, pa.bool_(), BOOLEAN),
    ("normalise_postcode", checks.normalise_postcode, pa.string(), VARCHAR),
    ("is_valid_uprn", checks.is_valid_uprn, pa.bool_(), BOOLEAN),
)


def vectorise(
    function: Callable[[str | None], object], result_type: pa.DataType
) -> Callable[[pa.Array | pa.ChunkedArray], pa.Array]:
    """Apply ``function`` to an Arrow string array, once per distinct value."""

    def apply(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        encoded = pc.dictionary_encode(values)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        results = [function(v) for v in encoded.dictionary.to_pylist()]
        taken = pc.take(pa.array(results, type=result_type), encoded.indices)
        if pa.types.is_boolean(result_type) and taken.null_count:
            null_answer = function(None)
            taken = pc.fill_null(taken, pa.scalar(null_answer, type=result_type))
        return taken

    return apply


def register_identity_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register the identifier functions on ``con``."""
    for name, function, arrow_type, sql_type in _FUNCTIONS:
        con.create_function(
            name,
            vectorise(function, arrow_type),
            [VARCHAR],
            sql_type,
            type=PythonUDFType.ARROW,
            null_handling=FunctionNullHandling.SPECIAL,
            side_effects=False,
        )
