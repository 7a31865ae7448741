"""Keyed pseudonyms: the only way an identifier leaves the vault.

``pseudonym(key, kind, value)`` is the hex HMAC-SHA256 of ``f"{kind}:{value}"`` under the node's
secret key, cut to 32 hex characters (128 bits). The ``kind`` (a key namespace such as ``upn`` or
``record``) keeps equal values in different namespaces apart.

Invariants:
- the same key, kind and value always give the same pseudonym; a different key gives an
  unrelated one, so pseudonyms from two nodes cannot be joined without both keys;
- nothing here logs or raises with a value in the message;
- the vectorised forms (``pseudonymise_values`` and the DuckDB function registered by
  ``register_pseudonym_function``) give exactly what ``pseudonym`` gives, value by value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling, PythonUDFType
from duckdb.sqltypes import VARCHAR

PSEUDONYM_HEX_CHARS = 32
MINIMUM_KEY_BYTES = 32
SQL_FUNCTION_NAME = "pseudonym"


def _check_key(key: bytes) -> None:
    if len(key) < MINIMUM_KEY_BYTES:
        raise ValueError(f"a pseudonym key must be at least {MINIMUM_KEY_BYTES} bytes")


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """The pseudonym of one value in one namespace under one key."""
    _check_key(key)
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


def pseudonymise_values(key: bytes, kind: str, values: Sequence[str | None]) -> list[str | None]:
    """``pseudonym`` over many values of one kind; None stays None."""
    _check_key(key)
    base = hmac.new(key, digestmod=hashlib.sha256)
    prefix = f"{kind}:".encode()
    out: list[str | None] = []
    append = out.append
    for value in values:
        if value is None:
            append(None)
            continue
        mac = base.copy()
        mac.update(prefix + value.encode())
        append(mac.hexdigest()[:PSEUDONYM_HEX_CHARS])
    return out


def _pseudonymise_arrow(key: bytes) -> Callable[[pa.Array, pa.Array], pa.Array]:
    base = hmac.new(key, digestmod=hashlib.sha256)

    def one(kind: str | None, value: str | None) -> str | None:
        if kind is None or value is None:
            return None
        mac = base.copy()
        mac.update(f"{kind}:{value}".encode())
        return mac.hexdigest()[:PSEUDONYM_HEX_CHARS]

    def pseudonymise(kinds: pa.Array, values: pa.Array) -> pa.Array:
        distinct_kinds = pc.unique(kinds).to_pylist()
        if len(distinct_kinds) == 1:
            # one namespace per call (the usual case): hash each distinct value once
            encoded = pc.dictionary_encode(values)
            if isinstance(encoded, pa.ChunkedArray):
                encoded = encoded.combine_chunks()
            kind = distinct_kinds[0]
            digests = [one(kind, v) for v in encoded.dictionary.to_pylist()]
            return pc.take(pa.array(digests, type=pa.string()), encoded.indices)
        pairs = zip(kinds.to_pylist(), values.to_pylist(), strict=True)
        return pa.array([one(k, v) for k, v in pairs], type=pa.string())

    return pseudonymise


def register_pseudonym_function(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Register ``pseudonym(kind VARCHAR, value VARCHAR) -> VARCHAR`` on a DuckDB connection.

    The key is held by the Python closure only; it never enters the database. NULL in gives NULL.
    """
    _check_key(key)
    con.create_function(
        SQL_FUNCTION_NAME,
        _pseudonymise_arrow(key),
        [VARCHAR, VARCHAR],
        VARCHAR,
        type=PythonUDFType.ARROW,
        null_handling=FunctionNullHandling.SPECIAL,
        side_effects=False,
    )
