"""The cohort spec: strict validation naming the bad field, one canonical form and hash per
meaning, and SQL that selects exactly the children a pandas reading of the store selects, with
every applicant's value bound, never spliced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from joinedup.config import NodeSettings
from joinedup.govern.cohort import (
    WHOLE_POPULATION,
    CohortError,
    cohort_sql,
    load_cohort_file,
    parse_cohort,
    parse_cohort_text,
    rounded_size,
)
from joinedup.govern.database import open_govern
from joinedup.govern.projects import get_project
from joinedup.store.linked import event_date_columns

# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("spec", "where", "what"),
    [
        ({}, "cohort", "is empty"),
        (None, "cohort", "is empty"),
        ([], "cohort", "must be an object"),
        ({"whole_population": False}, "cohort.whole_population", "must be true"),
        ({"whole_population": True, "sex": ["F"]}, "cohort.sex", "unknown field"),
        ({"al": []}, "cohort.al", "unknown field"),
        ({"sex": ["F"], "born": {"from": "2015-01"}}, "cohort", "exactly one of"),
        ({"all": []}, "cohort.all", "non-empty list"),
        ({"any": {"sex": ["F"]}}, "cohort.any", "non-empty list"),
        ({"all": [{"sex": ["X"]}]}, "cohort.all[0].sex[0]", "one of F, M, U"),
        ({"sex": []}, "cohort.sex", "non-empty list"),
        ({"age": {"min": 4}}, "cohort.age.at", "is missing"),
        ({"age": {"at": "2025-02-30", "min": 4}}, "cohort.age.at", "not a real date"),
        ({"age": {"at": "31/08/2025", "min": 4}}, "cohort.age.at", "YYYY-MM-DD"),
        ({"age": {"at": "2025-08-31"}}, "cohort.age", "give min, max, or both"),
        ({"age": {"at": "2025-08-31", "min": 9, "max": 4}}, "cohort.age", "min is above max"),
        ({"age": {"at": "2025-08-31", "min": -1}}, "cohort.age.min", "whole number"),
        ({"age": {"at": "2025-08-31", "min": 4.5}}, "cohort.age.min", "whole number"),
        ({"age": {"at": "2025-08-31", "max": True}}, "cohort.age.max", "whole number"),
        ({"age": {"at": "2025-08-31", "min": 1, "years": 2}}, "cohort.age.years", "unknown"),
        ({"born": {}}, "cohort.born", "give from, to, or both"),
        ({"born": {"from": "2015-13"}}, "cohort.born.from", "YYYY-MM"),
        ({"born": {"from": "2016-01", "to": "2015-12"}}, "cohort.born", "from is after to"),
        ({"has_event": {"table": "store__nothing"}}, "cohort.has_event.table", "event tables"),
        ({"has_event": {"table": "person"}}, "cohort.has_event.table", "event tables"),
        ({"has_event": {}}, "cohort.has_event.table", "event tables"),
        (
            {"has_event": {"table": "admission", "column": "diag_4_01"}},
            "cohort.has_event.column",
            "dated column of admission: admidate",
        ),
        (
            {"has_event": {"table": "admission", "from": "2021-01-01", "to": "2020-01-01"}},
            "cohort.has_event",
            "from is after to",
        ),
        (
            {"any": [{"sex": ["F"]}, {"all": [{"has_event": {"table": "ks2", "to": "x"}}]}]},
            "cohort.any[1].all[0].has_event.to",
            "YYYY-MM-DD",
        ),
    ],
)
def test_a_bad_spec_names_the_field_at_fault(spec: object, where: str, what: str) -> None:
    with pytest.raises(CohortError) as exc:
        parse_cohort(spec)
    message = str(exc.value)
    assert message.startswith(f"cohort spec: {where}: ") or (
        where == "cohort" and "is empty" in message
    ), message
    assert what in message


def test_nesting_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"sex": ["F"]}
    for _ in range(7):
        deep = {"all": [deep]}
    with pytest.raises(CohortError, match="nest at most"):
        parse_cohort(deep)
    with pytest.raises(CohortError, match="at most 50 rules"):
        parse_cohort({"any": [{"born": {"from": f"{2000 + i % 20}-01"}} for i in range(60)]})


def test_text_and_files_parse_with_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CohortError, match=r"not valid JSON \(line 1, column 2"):
        parse_cohort_text("{sex: [F]}")
    with pytest.raises(CohortError, match="is empty"):
        parse_cohort_text("  ")
    with pytest.raises(CohortError, match="no cohort spec file"):
        load_cohort_file(tmp_path / "missing.json")
    yaml_file = tmp_path / "cohort.yaml"
    yaml_file.write_text(
        "all:\n  - age: {at: 2025-08-31, min: 4, max: 11}\n  - has_event: {table: admission}\n"
    )
    json_file = tmp_path / "cohort.json"
    json_file.write_text(
        json.dumps(
            {
                "all": [
                    {"has_event": {"table": "admission"}},
                    {"age": {"at": "2025-08-31", "min": 4, "max": 11}},
                ]
            }
        )
    )
    assert load_cohort_file(yaml_file) == load_cohort_file(json_file)
    assert load_cohort_file(json_file).sha256 == load_cohort_file(yaml_file).sha256


def test_every_event_table_of_the_store_may_be_named() -> None:
    for table, columns in event_date_columns().items():
        short = table.removeprefix("store__")
        for column in columns:
            spec = parse_cohort({"has_event": {"table": short, "column": column}})
            assert spec.as_dict() == {"has_event": {"table": short, "column": column}}
    # the store's own name is taken too
    assert parse_cohort({"has_event": {"table": "store__ks2"}}) == parse_cohort(
        {"has_event": {"table": "ks2"}}
    )


# ---------------------------------------------------------------- canonical form and hash


def test_the_hash_is_one_per_meaning() -> None:
    one = parse_cohort(
        {
            "all": [
                {"sex": ["M", "F", "F"]},
                {"age": {"max": 11, "min": 4, "at": "2025-08-31"}},
                {"has_event": {"table": "admission"}},
            ]
        }
    )
    same = parse_cohort(
        {
            "all": [
                {"has_event": {"table": "store__admission", "column": "admidate"}},
                {"age": {"at": "2025-08-31", "min": 4, "max": 11}},
                {"sex": ["F", "M"]},
                {"sex": ["F", "M"]},
            ]
        }
    )
    assert one == same
    assert one.canonical_json() == same.canonical_json()
    assert one.sha256 == same.sha256
    assert parse_cohort_text(one.canonical_json()) == one  # round trip
    other = parse_cohort({"any": [r for r in one.as_dict()["all"]]})
    assert other.sha256 != one.sha256


def test_the_hash_is_stable_across_releases() -> None:
    # pinned: a change here would unpin every approved project's cohort
    assert WHOLE_POPULATION.canonical_json() == '{"whole_population":true}'
    assert WHOLE_POPULATION.sha256 == (
        "61035813793fc31042a26e0c99c4ab8387172248aeca87f26019e04ceea726de"
    )
    girls = parse_cohort({"sex": ["F"]})
    assert girls.canonical_json() == '{"sex":["F"]}'


def test_the_cohort_reads_in_plain_words() -> None:
    assert WHOLE_POPULATION.describe().startswith("every child")
    spec = parse_cohort(
        {
            "all": [
                {"age": {"at": "2025-08-31", "min": 4, "max": 11}},
                {"sex": ["F"]},
                {"has_event": {"table": "admission", "from": "2020-01-01", "to": "2020-12-31"}},
            ]
        }
    )
    words = spec.describe()
    assert "aged 4 to 11 on 31 August 2025" in words
    assert "girls" in words
    assert "hospital admitted care episodes" in words
    assert "1 January 2020 to 31 December 2020" in words
    assert words.endswith("(less those whose families opted out)")


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "<10"), (1, "<10"), (9, "<10"), (10, "10"), (12, "10"), (13, "15")]
)
def test_the_size_is_rounded_and_small_ones_hidden(count: int, shown: str) -> None:
    assert rounded_size(count) == shown


# ---------------------------------------------------------------- SQL against pandas


@pytest.fixture(scope="module")
def store(district: NodeSettings) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(district.store_path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _months(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def _expected(rule: dict[str, Any], person: pd.DataFrame, con: duckdb.DuckDBPyConnection) -> set:
    """The cohort computed independently: pandas over the store's tables."""
    ids = set(person["person_id"])
    ((kind, body),) = rule.items()
    if kind == "all":
        out = ids
        for r in body:
            out = out & _expected(r, person, con)
        return out
    if kind == "any":
        found: set[str] = set()
        for r in body:
            found |= _expected(r, person, con)
        return found
    known = person[person["birth_month"].notna()]
    if kind == "sex":
        return set(person.loc[person["sex"].isin(body), "person_id"])
    if kind == "born":
        keep = pd.Series(True, index=known.index)
        if "from" in body:
            keep &= known["birth_month"] >= body["from"]
        if "to" in body:
            keep &= known["birth_month"] <= body["to"]
        return set(known.loc[keep, "person_id"])
    if kind == "age":
        on = date.fromisoformat(body["at"])
        born = known["birth_month"].map(_months)
        # completed years on `on`, born on the first of the month
        age = ((on.year * 12 + on.month - 1) - born) // 12
        keep = pd.Series(True, index=known.index)
        if "min" in body:
            keep &= age >= body["min"]
        if "max" in body:
            keep &= age <= body["max"]
        return set(known.loc[keep, "person_id"])
    table = "store__" + body["table"]
    column = body.get("column", event_date_columns()[table][0])
    events = con.execute(f'SELECT person_id, "{column}" AS d FROM "{table}"').df()
    keep = pd.Series(True, index=events.index)
    if "from" in body:
        keep &= events["d"] >= pd.Timestamp(body["from"])
    if "to" in body:
        keep &= events["d"] <= pd.Timestamp(body["to"])
    return set(events.loc[keep, "person_id"]) & ids


RULES: list[dict[str, Any]] = [
    {"sex": ["F"]},
    {"sex": ["M", "U"]},
    {"born": {"from": "2016-09", "to": "2017-08"}},
    {"born": {"to": "2012-03"}},
    {"age": {"at": "2025-08-31", "min": 4, "max": 4}},
    {"age": {"at": "2024-01-15", "min": 7}},
    {"age": {"at": "2026-08-31", "max": 2}},
    {"has_event": {"table": "admission"}},
    {"has_event": {"table": "admission", "from": "2020-01-01", "to": "2022-12-31"}},
    {"has_event": {"table": "housing", "column": "ta_start", "from": "2019-06-01"}},
    {"has_event": {"table": "social_care_episode", "to": "2025-03-31"}},
    {
        "all": [
            {"sex": ["F"]},
            {"age": {"at": "2025-08-31", "min": 5, "max": 11}},
            {"any": [{"has_event": {"table": "gp_event"}}, {"has_event": {"table": "ks2"}}]},
        ]
    },
    {"any": [{"born": {"from": "2021-01"}}, {"has_event": {"table": "exclusion"}}]},
]


@pytest.mark.parametrize("rule", RULES, ids=[json.dumps(r)[:60] for r in RULES])
def test_the_sql_selects_what_pandas_selects(
    rule: dict[str, Any], store: duckdb.DuckDBPyConnection
) -> None:
    person = store.execute("SELECT person_id, birth_month, sex FROM store__person").df()
    spec = parse_cohort(rule)
    sql, params = cohort_sql(spec)
    got = {str(r[0]) for r in store.execute(sql, params).fetchall()}
    expected = _expected(spec.as_dict(), person, store)
    assert got == expected
    assert 0 < len(got) < len(person) or rule == {"sex": ["M", "U"]}  # a real selection


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    day = st.dates(min_value=date(2012, 1, 1), max_value=date(2026, 8, 31)).map(date.isoformat)
    month = st.integers(min_value=2005 * 12, max_value=2026 * 12 + 7).map(
        lambda m: f"{m // 12:04d}-{m % 12 + 1:02d}"
    )
    years = st.none() | st.integers(min_value=0, max_value=18)
    tables = sorted(event_date_columns())

    def age(at: str, low: int | None, high: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"at": at}
        if low is None and high is None:
            low = 0
        if low is not None:
            body["min"] = low
        if high is not None:
            body["max"] = max(high, low or 0)
        return {"age": body}

    def born(a: str | None, b: str | None) -> dict[str, Any]:
        ends = sorted(x for x in (a, b) if x is not None) or ["2015-01"]
        return {"born": {"from": ends[0], "to": ends[-1]}}

    def event(table: str, a: str | None, b: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"table": table.removeprefix("store__")}
        ends = sorted(x for x in (a, b) if x is not None)
        if ends:
            body["from"] = ends[0]
        if len(ends) == 2:
            body["to"] = ends[1]
        return {"has_event": body}

    return st.one_of(
        st.builds(age, day, years, years),
        st.builds(born, st.none() | month, st.none() | month),
        st.lists(st.sampled_from(["F", "M", "U"]), min_size=1, max_size=3).map(
            lambda s: {"sex": s}
        ),
        st.builds(event, st.sampled_from(tables), st.none() | day, st.none() | day),
    )


RANDOM_RULES = st.recursive(
    _leaf(),
    lambda inner: st.builds(
        lambda kind, rules: {kind: rules},
        st.sampled_from(["all", "any"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RANDOM_RULES)
def test_random_cohorts_agree_with_pandas(
    rule: dict[str, Any], store: duckdb.DuckDBPyConnection, person_frame: pd.DataFrame
) -> None:
    try:
        spec = parse_cohort(rule)
    except CohortError as exc:  # only a chain of one-rule lists nested too deep is refused
        assert "nest at most" in str(exc)
        assume(False)
        raise
    sql, params = cohort_sql(spec)
    got = {str(r[0]) for r in store.execute(sql, params).fetchall()}
    assert got == _expected(spec.as_dict(), person_frame, store)


@pytest.fixture(scope="module")
def person_frame(store: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return store.execute("SELECT person_id, birth_month, sex FROM store__person").df()


def test_the_whole_population_is_everyone(store: duckdb.DuckDBPyConnection) -> None:
    sql, params = cohort_sql(WHOLE_POPULATION)
    assert params == []
    got = store.execute(sql, params).fetchall()
    row = store.execute("SELECT count(*) FROM store__person").fetchone()
    assert row is not None and len(got) == row[0]


# ---------------------------------------------------------------- no injection


@pytest.mark.parametrize(
    "spec",
    [
        {"sex": ["F') OR TRUE --"]},
        {"born": {"from": "2015-01' OR '1'='1"}},
        {"age": {"at": "2025-08-31'); DROP TABLE store__person; --", "min": 1}},
        {"has_event": {"table": 'admission" e, store__person x --'}},
        {"has_event": {"table": "admission", "column": 'admidate" OR TRUE --'}},
        {"has_event": {"table": "admission", "from": "2020-01-01' OR TRUE --"}},
    ],
)
def test_a_value_cannot_reach_the_sql(spec: dict[str, Any]) -> None:
    with pytest.raises(CohortError):
        parse_cohort(spec)


def test_every_value_is_bound() -> None:
    spec = parse_cohort(
        {
            "all": [
                {"sex": ["U"]},
                {"born": {"from": "2013-04", "to": "2019-11"}},
                {"age": {"at": "2025-08-31", "min": 3}},
                {"has_event": {"table": "ncmp", "from": "2021-02-03", "to": "2024-05-06"}},
            ]
        }
    )
    sql, params = cohort_sql(spec)
    for value in ("'U'", "2013-04", "2019-11", "2022-08", "2021-02-03", "2024-05-06"):
        assert value not in sql
    assert sql.count("?") == len(params) == 6


# ---------------------------------------------------------------- migration of old projects


OLD_PROJECTS_DDL = (
    "CREATE TABLE govern__projects ("
    "project_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, purpose VARCHAR NOT NULL, "
    "applicant_id VARCHAR NOT NULL, members VARCHAR NOT NULL, lay_summary VARCHAR NOT NULL, "
    "public_benefit VARCHAR NOT NULL, legal_basis VARCHAR NOT NULL, "
    "ethics_reference VARCHAR, datasets VARCHAR NOT NULL, variables VARCHAR NOT NULL, "
    "cohort VARCHAR NOT NULL, setting VARCHAR NOT NULL, outputs VARCHAR NOT NULL, "
    "applied_on DATE NOT NULL, expires_on DATE NOT NULL)"
)


def test_a_governance_database_from_before_cohorts_is_migrated(tmp_path: Path) -> None:
    from joinedup.ingest import init_node

    settings = init_node(tmp_path / "old", name="old node")
    con = duckdb.connect(str(settings.root / "govern.duckdb"))
    con.execute(OLD_PROJECTS_DDL)
    con.execute(
        "INSERT INTO govern__projects VALUES ('P0ld', 't', 'research', 'res-1', '[\"res-1\"]', "
        "'s', 'b', '6(1)(e)+9(2)(j)+s251', NULL, '[]', '[]', 'every child', 'jobs', 'o', "
        "DATE '2025-01-01', DATE '2027-01-01')"
    )
    con.close()
    with open_govern(settings) as gov:
        project = get_project(gov, "P0ld")
        columns = {r[0] for r in gov.execute("DESCRIBE govern__projects").fetchall()}
    assert {"cohort_spec", "cohort_sha256"} <= columns
    assert project is not None
    assert project.spec.cohort_spec is None  # never read as the whole population
    assert project.spec.cohort == "every child"


def test_a_tampered_stored_cohort_is_not_read(tmp_path: Path) -> None:
    from joinedup.ingest import init_node

    settings = init_node(tmp_path / "tampered", name="tampered node")
    with open_govern(settings) as gov:
        gov.execute(
            "INSERT INTO govern__projects VALUES ('Ptam', 't', 'research', 'res-1', "
            "'[\"res-1\"]', 's', 'b', '6(1)(e)+9(2)(j)+s251', NULL, '[]', '[]', 'girls', 'jobs', "
            "'o', DATE '2025-01-01', DATE '2027-01-01', ?, ?)",
            ['{"sex":["F","M"]}', parse_cohort({"sex": ["F"]}).sha256],
        )
        with pytest.raises(CohortError.__mro__[1], match="no longer matches its approved"):
            get_project(gov, "Ptam")
