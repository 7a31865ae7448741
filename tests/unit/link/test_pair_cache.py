"""The pair cache (``joinedup.link.pair_cache``): profile hashing, reuse, invalidation."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from joinedup.link.index import install_pseudonym_macro
from joinedup.link.pair_cache import (
    PAIRS_TABLE,
    PROFILE_HASH_KIND,
    PROFILES_TABLE,
    STATE_TABLE,
    drop_cache,
    has_pseudonym_macro,
    key_digests,
    model_fingerprint,
    plan_reuse,
    profile_digest_sql,
    save_cache,
)

SECRET = bytes(range(32))
FEATURES = ("given", "dob", "list_sort(pcs)")
FLOOR = 0.9

# unique_id  component  given    dob           pcs
PROFILES = [
    ("r1", 1, "AMIRA", "2015-03-02", ["BD71AA", "BD12XY"]),
    ("r2", 2, "AMIRA", "2015-03-02", ["BD71AA"]),
    ("r3", 3, "JOHN", "2016-01-01", None),
    ("r4", 3, "JON", "2016-01-01", None),
    ("r5", 5, "ZOE", "2014-07-09", ["LS11AB"]),
]
# unique_id_l  unique_id_r  match_weight  match_probability
PAIRS = [("r1", "r2", 12.5, 0.9998), ("r2", "r5", 4.0, 0.94), ("r3", "r5", 3.5, 0.918)]


def _profiles(rows: list[tuple[object, ...]]) -> pa.Table:
    return pa.table(
        {
            "unique_id": [r[0] for r in rows],
            "component": [r[1] for r in rows],
            "given": [r[2] for r in rows],
            "dob": [r[3] for r in rows],
            "pcs": pa.array([r[4] for r in rows], pa.list_(pa.string())),
        }
    )


def _pairs(rows: list[tuple[str, str, float, float]]) -> pa.Table:
    return pa.table(
        {
            "unique_id_l": [r[0] for r in rows],
            "unique_id_r": [r[1] for r in rows],
            "match_weight": [r[2] for r in rows],
            "match_probability": [r[3] for r in rows],
        }
    )


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(":memory:")
    install_pseudonym_macro(c, SECRET)
    yield c
    c.close()


def _hashes(con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> pa.Table:
    con.register("profiles_arrow", _profiles(rows))
    con.execute("CREATE OR REPLACE TABLE profiles AS SELECT * FROM profiles_arrow")
    con.unregister("profiles_arrow")
    digests = con.execute(profile_digest_sql("profiles", FEATURES)).to_arrow_table()
    return key_digests(con, digests, PROFILE_HASH_KIND).sort_by("unique_id")


def _by_id(table: pa.Table) -> dict[str, str]:
    return dict(
        zip(
            table.column("unique_id").to_pylist(),
            table.column("profile_hash").to_pylist(),
            strict=True,
        )
    )


def test_a_profile_hash_covers_its_features_and_its_component(
    con: duckdb.DuckDBPyConnection,
) -> None:
    base = _by_id(_hashes(con, PROFILES))
    assert len(set(base.values())) == len(PROFILES)
    assert has_pseudonym_macro(con)

    # the order of a list feature does not matter (comparisons read lists as sets)
    reordered = [("r1", 1, "AMIRA", "2015-03-02", ["BD12XY", "BD71AA"])]
    assert _by_id(_hashes(con, [*reordered, *PROFILES[1:]]))["r1"] == base["r1"]

    # a changed feature changes that profile's hash only
    changed = _by_id(_hashes(con, [*PROFILES[:4], ("r5", 5, "ZOE", "2014-07-10", ["LS11AB"])]))
    assert changed["r5"] != base["r5"]
    assert {k: v for k, v in changed.items() if k != "r5"} == {
        k: v for k, v in base.items() if k != "r5"
    }

    # a component that gains a profile re-hashes all its profiles, and no other
    grown = _by_id(_hashes(con, [*PROFILES, ("r6", 3, "JONNY", "2016-01-01", None)]))
    assert grown["r3"] != base["r3"] and grown["r4"] != base["r4"]
    assert grown["r1"] == base["r1"] and grown["r5"] == base["r5"]

    # the hash is keyed: another node's key gives other hashes
    other = duckdb.connect(":memory:")
    install_pseudonym_macro(other, bytes(32))
    assert not set(_by_id(_hashes(other, PROFILES)).values()) & set(base.values())
    other.close()


def test_an_unchanged_refresh_reuses_every_pair(con: duckdb.DuckDBPyConnection) -> None:
    hashes = _hashes(con, PROFILES)
    first = plan_reuse(con, hashes, fingerprint="m1", floor=FLOOR)
    assert first.reason == "no pair cache yet"
    assert first.profiles_new_or_changed == len(PROFILES)

    save_cache(con, fingerprint="m1", floor=FLOOR, profiles=hashes, pairs=_pairs(PAIRS))
    plan = plan_reuse(con, hashes, fingerprint="m1", floor=FLOOR)
    assert plan.is_incremental
    assert plan.changed_ids.to_pylist() == []
    assert plan.profiles_unchanged == len(PROFILES)
    kept = {(r["unique_id_l"], r["unique_id_r"]) for r in plan.kept.to_pylist()}
    assert kept == {(p[0], p[1]) for p in PAIRS}
    weights = {r["match_weight"] for r in plan.kept.to_pylist()}
    assert weights == {p[2] for p in PAIRS}


def test_changed_and_removed_profiles_lose_their_pairs(con: duckdb.DuckDBPyConnection) -> None:
    save_cache(
        con, fingerprint="m1", floor=FLOOR, profiles=_hashes(con, PROFILES), pairs=_pairs(PAIRS)
    )
    # r5's date of birth changed; r2 is gone; r7 is new; r1 took a new record key (a new batch)
    now = [
        ("k1", 1, "AMIRA", "2015-03-02", ["BD71AA", "BD12XY"]),
        PROFILES[2],
        PROFILES[3],
        ("r5", 5, "ZOE", "2014-07-10", ["LS11AB"]),
        ("r7", 7, "MIA", "2017-05-05", None),
    ]
    plan = plan_reuse(con, _hashes(con, now), fingerprint="m1", floor=FLOOR)
    assert plan.is_incremental
    assert sorted(plan.changed_ids.to_pylist()) == ["r5", "r7"]
    assert plan.profiles_unchanged == 3  # k1 (r1 under a new key), r3, r4
    assert plan.profiles_removed == 2  # r2, and r5 as it was
    # (r1, r2) lost r2, (r2, r5) and (r3, r5) lost r5 as it was
    assert plan.kept.num_rows == 0


def test_a_pair_of_unchanged_profiles_is_kept_under_their_new_keys(
    con: duckdb.DuckDBPyConnection,
) -> None:
    save_cache(
        con, fingerprint="m1", floor=FLOOR, profiles=_hashes(con, PROFILES), pairs=_pairs(PAIRS)
    )
    now = [("n" + str(r[0])[1:], *r[1:]) for r in PROFILES]
    plan = plan_reuse(con, _hashes(con, now), fingerprint="m1", floor=FLOOR)
    kept = {(r["unique_id_l"], r["unique_id_r"]) for r in plan.kept.to_pylist()}
    assert kept == {("n1", "n2"), ("n2", "n5"), ("n3", "n5")}


def test_a_model_change_or_a_lower_floor_scores_everything(
    con: duckdb.DuckDBPyConnection,
) -> None:
    hashes = _hashes(con, PROFILES)
    save_cache(con, fingerprint="m1", floor=FLOOR, profiles=hashes, pairs=_pairs(PAIRS))
    changed = plan_reuse(con, hashes, fingerprint="m2", floor=FLOOR)
    assert not changed.is_incremental
    assert changed.reason is not None and "model" in changed.reason
    assert changed.kept.num_rows == 0
    assert changed.profiles_new_or_changed == len(PROFILES)
    lower = plan_reuse(con, hashes, fingerprint="m1", floor=0.5)
    assert lower.reason is not None and "floor" in lower.reason
    assert plan_reuse(con, hashes, fingerprint="m1", floor=0.95).is_incremental
    drop_cache(con)
    assert plan_reuse(con, hashes, fingerprint="m1", floor=FLOOR).reason == "no pair cache yet"


def test_the_fingerprint_covers_the_model_and_the_term_frequencies() -> None:
    model = {"comparisons": [{"m": 0.9}]}
    tf = {"given_norm": {"ab12": 0.01}}
    base = model_fingerprint(model, tf)
    assert model_fingerprint({"comparisons": [{"m": 0.8}]}, tf) != base
    assert model_fingerprint(model, {"given_norm": {"ab12": 0.02}}) != base
    assert model_fingerprint(dict(model), dict(tf)) == base


def test_profiles_sharing_a_hash_are_never_cached(con: duckdb.DuckDBPyConnection) -> None:
    # two components recording exactly the same identity
    twins = [
        ("t1", 1, "LEO", "2015-01-01", None),
        ("t2", 2, "LEO", "2015-01-01", None),
        PROFILES[4],
    ]
    hashes = _hashes(con, twins)
    save_cache(
        con,
        fingerprint="m1",
        floor=FLOOR,
        profiles=hashes,
        pairs=_pairs([("t1", "t2", 15.0, 0.9999), ("t1", "r5", 3.4, 0.91)]),
    )
    assert con.execute(f"SELECT count(*) FROM {PROFILES_TABLE}").fetchone() == (1,)
    assert con.execute(f"SELECT count(*) FROM {PAIRS_TABLE}").fetchone() == (0,)
    plan = plan_reuse(con, hashes, fingerprint="m1", floor=FLOOR)
    assert sorted(plan.changed_ids.to_pylist()) == ["t1", "t2"]


def test_the_cache_holds_hashes_and_scores_only(con: duckdb.DuckDBPyConnection) -> None:
    save_cache(
        con, fingerprint="m1", floor=FLOOR, profiles=_hashes(con, PROFILES), pairs=_pairs(PAIRS)
    )
    for table in (STATE_TABLE, PROFILES_TABLE, PAIRS_TABLE):
        for row in con.execute(f"SELECT * FROM {table}").fetchall():
            for cell in row:
                text = str(cell)
                assert not any(v in text for v in ("AMIRA", "JOHN", "ZOE", "2015-03-02", "BD71"))
                assert not text.startswith("r")  # no record key of the profiles
    columns = {r[0] for r in con.execute(f"DESCRIBE {PAIRS_TABLE}").fetchall()}
    assert columns == {"profile_hash_l", "profile_hash_r", "match_weight", "match_probability"}
