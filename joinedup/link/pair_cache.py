"""The pair cache: scored Splink pairs kept in the linked store so a refresh re-scores only what
changed (incremental linkage).

A refresh collapses records to **profiles** (``joinedup.link.probabilistic``, step 2) and scores
pairs of profiles. A pair's score depends only on the two profiles' comparison features, on the
trained model and on the term frequencies of the names it compares. With the term frequencies
frozen in the model artefact at the last full scoring, a pair of two profiles that did not change
keeps its score; so a refresh need only score pairs with at least one new or changed profile and
may reuse the rest.

Tables (all ``link__``, written by ``save_cache`` in one transaction):

- ``link__pair_cache_state``: one row, the **model fingerprint** the pairs were scored with
  (``model_fingerprint``), the lowest match probability kept (``floor``) and when;
- ``link__pair_cache_profiles``: ``profile_hash``, a keyed HMAC of a profile's comparison
  features and of the features of every profile in its component (so a component that gains,
  loses or splits profiles re-scores them: pairs inside one component are never scored, and
  that changes when a component splits);
- ``link__pair_cache_pairs``: ``profile_hash_l``, ``profile_hash_r``, ``match_weight`` and
  ``match_probability`` of every pair at or above the floor.

Profiles are known by their hash, not by a record key, because a record's key includes its
ingest batch: a new snapshot of an extract gives every record of it a new key, while the
identities it records mostly stay as they were. Two profiles of one refresh with the same hash
(two components recording exactly the same identities) are never cached: they are scored each
time.

Invariants:
- the cache holds record keys (pseudonymous, as in ``link__record_person``), HMACs made with the
  node's secret key, and scores; never a name, a date of birth or any other identifier value:
  the profile's features are digested in Splink's private in-memory connection and keyed with
  ``jp_pseudonym`` in the refresh connection before anything is written;
- the cache is used only when its fingerprint equals the current model's and its floor is at
  most the floor asked for; otherwise the stage scores everything and says why
  (``plan_reuse`` returns the reason);
- a pair is reused only when both its profiles are present now, each with a hash no other
  profile of this refresh has.
"""

# SQL here is assembled from this module's own constants (table and column names), never from
# row values, which are always bound or registered; hence S608 is off for the file.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

STATE_TABLE = "link__pair_cache_state"
PROFILES_TABLE = "link__pair_cache_profiles"
PAIRS_TABLE = "link__pair_cache_pairs"
CACHE_TABLES = (STATE_TABLE, PROFILES_TABLE, PAIRS_TABLE)
PROFILE_HASH_KIND = "pair-cache-profile"

PAIR_SCHEMA = pa.schema(
    [
        ("unique_id_l", pa.string()),
        ("unique_id_r", pa.string()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
    ]
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReusePlan:
    """What a refresh may take from the cache.

    ``reason`` is None when the cache is usable (incremental scoring), else why everything is
    scored; ``changed_ids`` are the profiles to score (new or changed); ``kept`` the cached
    pairs of two unchanged profiles; the counts are for the run report."""

    reason: str | None
    changed_ids: pa.Array
    kept: pa.Table
    profiles_unchanged: int
    profiles_new_or_changed: int
    profiles_removed: int

    @property
    def is_incremental(self) -> bool:
        return self.reason is None


def model_fingerprint(model: Mapping[str, Any], term_frequencies: Mapping[str, Any]) -> str:
    """sha256 of the trained model and its frozen term frequencies: cached scores are valid for
    exactly this pair."""
    text = json.dumps(
        {"model": model, "tf": term_frequencies}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def profile_digest_sql(table: str, feature_columns: tuple[str, ...]) -> str:
    """SQL (for Splink's private connection) giving ``unique_id, digest`` per profile of
    ``table``: sha256 of the profile's features (lists sorted, as comparisons read them as sets)
    and of its component's profiles' features. Unkeyed, so it stays in memory: ``key_digests``
    keys it before it is stored."""
    parts = [f"'{column}': {column}" for column in feature_columns]
    features = "to_json({" + ", ".join(parts) + "})::VARCHAR"
    return (
        f"WITH f AS (SELECT unique_id, component, sha256({features}) AS feat FROM {table}), "
        "comp AS (SELECT component, sha256(string_agg(feat, ',' ORDER BY feat)) AS members "
        "FROM f GROUP BY component) "
        "SELECT f.unique_id, sha256(f.feat || '|' || comp.members) AS digest "
        "FROM f JOIN comp USING (component)"
    )


def has_pseudonym_macro(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``jp_pseudonym`` (the node key's HMAC) is installed on ``con``."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'jp_pseudonym'"
    ).fetchone()
    return row is not None and int(row[0]) > 0


def key_digests(con: duckdb.DuckDBPyConnection, digests: pa.Table, kind: str) -> pa.Table:
    """``unique_id, profile_hash``: each digest keyed with the node's HMAC (``jp_pseudonym``)."""
    con.register("jd_cache_digests", digests)
    try:
        return con.execute(
            "SELECT unique_id, jp_pseudonym(?, digest) AS profile_hash FROM jd_cache_digests",
            [kind],
        ).to_arrow_table()
    finally:
        con.unregister("jd_cache_digests")


def key_values(con: duckdb.DuckDBPyConnection, values: pa.Table, kind: str) -> pa.Table:
    """``value, value_hash``: each value keyed with the node's HMAC (``jp_pseudonym``)."""
    con.register("jd_cache_values", values)
    try:
        return con.execute(
            "SELECT value, jp_pseudonym(?, value) AS value_hash FROM jd_cache_values", [kind]
        ).to_arrow_table()
    finally:
        con.unregister("jd_cache_values")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        str(t)
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main'"
        ).fetchall()
    }


def plan_reuse(
    con: duckdb.DuckDBPyConnection,
    profiles: pa.Table,
    *,
    fingerprint: str,
    floor: float,
) -> ReusePlan:
    """Compare the current profiles (``unique_id, profile_hash``) with the cache in ``con``."""
    everything = profiles.column("unique_id").combine_chunks()
    empty = PAIR_SCHEMA.empty_table()

    def full(reason: str) -> ReusePlan:
        return ReusePlan(
            reason=reason,
            changed_ids=everything,
            kept=empty,
            profiles_unchanged=0,
            profiles_new_or_changed=len(everything),
            profiles_removed=0,
        )

    if not set(CACHE_TABLES) <= _tables(con):
        return full("no pair cache yet")
    state = con.execute(f"SELECT model_fingerprint, floor FROM {STATE_TABLE}").fetchall()
    if len(state) != 1:
        return full("the pair cache has no state")
    cached_fingerprint, cached_floor = state[0]
    if cached_fingerprint != fingerprint:
        return full("the model or its term frequencies changed since the cached pairs were scored")
    if float(cached_floor) > floor:
        return full("the cached pairs stop above the review floor asked for")
    with _compared(con, profiles) as (changed, removed):
        kept = con.execute(
            "SELECT a.unique_id AS unique_id_l, b.unique_id AS unique_id_r, p.match_weight, "
            f"p.match_probability FROM {PAIRS_TABLE} p "
            "JOIN jd_cache_unchanged a ON a.profile_hash = p.profile_hash_l "
            "JOIN jd_cache_unchanged b ON b.profile_hash = p.profile_hash_r"
        ).to_arrow_table()
    return ReusePlan(
        reason=None,
        changed_ids=changed,
        kept=kept.cast(PAIR_SCHEMA),
        profiles_unchanged=len(everything) - len(changed),
        profiles_new_or_changed=len(changed),
        profiles_removed=removed,
    )


def profile_changes(con: duckdb.DuckDBPyConnection, profiles: pa.Table) -> dict[str, int] | None:
    """How the current profiles differ from the cached ones (None without a cache).

    For the report of a full scoring: what changed since the cache was written, although
    every pair is scored again.
    """
    if not set(CACHE_TABLES) <= _tables(con):
        return None
    with _compared(con, profiles) as (changed, removed):
        pass
    return {
        "profiles_unchanged": profiles.num_rows - len(changed),
        "profiles_new_or_changed": len(changed),
        "profiles_removed": removed,
    }


@contextlib.contextmanager
def _compared(con: duckdb.DuckDBPyConnection, profiles: pa.Table) -> Iterator[tuple[pa.Array, int]]:
    """Within the block, ``jd_cache_unchanged`` holds the profiles whose hash is cached (and
    unique now); yields the ids of the others and how many cached profiles are gone."""
    con.register("jd_cache_now", profiles)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE jd_cache_unchanged AS SELECT n.unique_id, "
            "n.profile_hash FROM jd_cache_now n "
            f"SEMI JOIN {PROFILES_TABLE} c ON c.profile_hash = n.profile_hash "
            "WHERE n.profile_hash IN (SELECT profile_hash FROM jd_cache_now GROUP BY 1 "
            "HAVING count(*) = 1)"
        )
        changed = (
            con.execute(
                "SELECT unique_id FROM jd_cache_now "
                "WHERE unique_id NOT IN (SELECT unique_id FROM jd_cache_unchanged) "
                "ORDER BY unique_id"
            )
            .to_arrow_table()
            .column("unique_id")
            .combine_chunks()
        )
        removed = con.execute(
            f"SELECT count(*) FROM {PROFILES_TABLE} "
            "WHERE profile_hash NOT IN (SELECT profile_hash FROM jd_cache_now)"
        ).fetchone()
        yield changed, 0 if removed is None else int(removed[0])
    finally:
        con.unregister("jd_cache_now")
        con.execute("DROP TABLE IF EXISTS jd_cache_unchanged")


def save_cache(
    con: duckdb.DuckDBPyConnection,
    *,
    fingerprint: str,
    floor: float,
    profiles: pa.Table,
    pairs: pa.Table,
) -> None:
    """Replace the cache with ``profiles`` (``unique_id, profile_hash``) and ``pairs``
    (``PAIR_SCHEMA``, by this refresh's profile ids), in one transaction. Profiles whose hash
    another profile shares are left out, and so are their pairs."""
    con.register("jd_cache_profiles_in", profiles.select(["unique_id", "profile_hash"]))
    con.register("jd_cache_pairs_in", pairs.select(PAIR_SCHEMA.names).cast(PAIR_SCHEMA))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {STATE_TABLE} (model_fingerprint VARCHAR NOT NULL, "
            "floor DOUBLE NOT NULL, saved_at TIMESTAMP NOT NULL)"
        )
        con.execute(
            f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?)",
            [fingerprint, floor, datetime.now(UTC).replace(tzinfo=None)],
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE jd_cache_single AS SELECT unique_id, profile_hash "
            "FROM jd_cache_profiles_in WHERE profile_hash IN (SELECT profile_hash FROM "
            "jd_cache_profiles_in GROUP BY 1 HAVING count(*) = 1)"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {PROFILES_TABLE} AS SELECT profile_hash::VARCHAR AS "
            "profile_hash FROM jd_cache_single ORDER BY 1"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {PAIRS_TABLE} AS SELECT "
            "a.profile_hash::VARCHAR AS profile_hash_l, b.profile_hash::VARCHAR AS profile_hash_r, "
            "p.match_weight, p.match_probability FROM jd_cache_pairs_in p "
            "JOIN jd_cache_single a ON a.unique_id = p.unique_id_l "
            "JOIN jd_cache_single b ON b.unique_id = p.unique_id_r ORDER BY 1, 2"
        )
        con.execute("DROP TABLE jd_cache_single")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("jd_cache_profiles_in")
        con.unregister("jd_cache_pairs_in")


def drop_cache(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the cache (the next refresh scores everything)."""
    for name in CACHE_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")
