"""The adversarial suite: every attack really tries to recover a small cell (or a child's value)
from what the typed output calls released, and the suite asserts none succeeds.

"Disclosive" (docs/explanation/disclosure-control.md): a group of 1 to threshold - 1 children
pinned to a range narrower than the rounding base (exactly, when nothing is rounded); a child's
value estimated within 10% (p%); a category proven to hold everyone of a group (class
disclosure); an identifier or a pseudonym leaving in a file, a filename or an image.

Families (ids in brackets): one-way vs two-way differencing [oneway], true margins [margins],
n vs n-1 filters [filter], overlapping cohorts [overlap], reruns N -> N+1 and repeats [rerun],
means n vs n-1 [mean], dominance outliers [dominance], negatives [negative], class disclosure
[class], histogram edges [hist], Kaplan-Meier steps [km], single-child dummies [dummy],
saturated models [saturated], covariance / model differencing [covariance], identifiers in
logs, filenames and images [ident]. The ``control`` tests run a few attacks against the ACRO
profile (no differencing audit, no secondary suppression) and check they do succeed there, so the
attacks have teeth.
"""

from __future__ import annotations

import io

import duckdb
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from joinedup.errors import DisclosureBlocked
from joinedup.outputs import OutputResult, OutputSession
from joinedup.outputs.scan import png_text_chunks
from tests.outputs.attacker import (
    Cell,
    Mechanism,
    cells_from_release,
    disclosed,
    narrowest,
    real_size,
    small_groups,
)
from tests.outputs.conftest import SessionFactory, pupil_rows

PROFILES = ("joinedup", "opensafely")


def mechanism(s: OutputSession, out: OutputResult) -> Mechanism:
    p = s.profile
    return Mechanism(
        threshold=p.threshold,
        round_base=p.round_base,
        noise=p.perturb_max if out.perturbed else 0,
        secondary=p.secondary,
    )


def membership(
    con: duckdb.DuckDBPyConnection, sql: str, by: list[str]
) -> dict[tuple[str, ...], frozenset[str]]:
    cols = ", ".join(f"CAST({c} AS VARCHAR)" for c in by)
    out: dict[tuple[str, ...], set[str]] = {}
    attacker_sql = sql.replace("FROM pupils", "FROM pupils_attacker")
    for *labels, pid in con.execute(f"SELECT {cols}, person_id FROM ({attacker_sql})").fetchall():
        out.setdefault(tuple(labels), set()).add(pid)
    return {k: frozenset(v) for k, v in out.items()}


def release(
    s: OutputSession, name: str, sql: str, by: list[str], known: list[Cell]
) -> OutputResult:
    """Ask for a count table; whatever is released joins the attacker's knowledge."""
    out = s.table(name, s.con.sql(sql), by=by)
    if out.is_released:
        known += cells_from_release(out.files[0], membership(s.con, sql, by), mechanism(s, out))
    return out


def width(s: OutputSession) -> int:
    return max(s.profile.round_base, 1)


def assert_nothing_disclosed(
    s: OutputSession, known: list[Cell], extra: list[frozenset[str]] = ()
) -> None:  # type: ignore[assignment]
    targets = small_groups(known, s.profile.threshold) + list(extra)
    found = disclosed(known, targets, width(s))
    assert found == [], f"attacker pinned small groups: {found}"


# -------------------------------- [oneway] one-way vs two-way
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("oneway", ["sen", "la"])
@pytest.mark.parametrize("two_way_first", [True, False])
def test_oneway_vs_twoway(
    session_for: SessionFactory, profile: str, oneway: str, two_way_first: bool
) -> None:
    s = session_for(profile)
    known: list[Cell] = []
    steps = [("two", ["la", "sen"]), ("one", [oneway])]
    for name, by in steps if two_way_first else steps[::-1]:
        release(s, name, "SELECT * FROM pupils", by, known)
    la4 = membership(s.con, "SELECT * FROM pupils WHERE la = 'LA4'", ["sen"])
    assert_nothing_disclosed(s, known, list(la4.values()))


# -------------------------------- [margins] attacker knows true margins
def _random_table_rows(seed: int) -> list[tuple[object, ...]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[object, ...]] = []
    pid = 0
    for r in range(int(rng.integers(2, 6))):
        for c in range(int(rng.integers(2, 6))):
            k = int(rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 35, 60]))
            for _ in range(k):
                rows.append((f"M{seed}-{pid}", f"R{r}", f"C{c}", "N", 1.0, 7, 1, True, 1.0))
                pid += 1
    return rows


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("profile", PROFILES)
def test_true_margins_do_not_reveal_suppressed_cells(
    session_for: SessionFactory, seed: int, profile: str
) -> None:
    data = _random_table_rows(seed)
    s = session_for(profile, data=data)
    known: list[Cell] = []
    out = release(s, "t", "SELECT la AS r, sen AS c, person_id FROM pupils", ["r", "c"], known)
    assert out.is_released
    # the attacker also knows every true row and column total and the grand total exactly
    for col in ("la", "sen"):
        for members in membership(s.con, "SELECT * FROM pupils", [col]).values():
            known.append(Cell(members=members, lo=len(members), hi=len(members)))
    everyone = frozenset(
        str(p) for (p,) in s.con.execute("SELECT person_id FROM pupils_attacker").fetchall()
    )
    known.append(Cell(members=everyone, lo=len(data), hi=len(data)))
    cells = membership(s.con, "SELECT la AS r, sen AS c, person_id FROM pupils", ["r", "c"])
    small = [m for m in cells.values() if 1 <= real_size(m) < s.profile.threshold]
    found = disclosed(known, small, width(s))
    assert found == [], f"suppressed cells recovered from margins: {found}"


# -------------------------------- [filter] n vs n-1
@pytest.mark.parametrize("child", [0, 3, 45, 150, 230, 310, 420, 520, 560, 600])
def test_filter_n_vs_n_minus_1(
    session_for: SessionFactory, rows: list[tuple[object, ...]], child: int
) -> None:
    s = session_for()
    known: list[Cell] = []
    victim = rows[child][0]
    release(s, "all", "SELECT * FROM pupils", ["la"], known)
    release(s, "but_one", f"SELECT * FROM pupils WHERE person_id <> '{victim}'", ["la"], known)
    assert_nothing_disclosed(s, known, [frozenset({victim})])


@pytest.mark.parametrize("child", [10, 100, 250, 480, 590])
def test_filter_n_vs_n_minus_1_two_way(
    session_for: SessionFactory, rows: list[tuple[object, ...]], child: int
) -> None:
    s = session_for()
    known: list[Cell] = []
    victim = rows[child][0]
    release(s, "all", "SELECT * FROM pupils", ["la", "fsm"], known)
    release(
        s, "but_one", f"SELECT * FROM pupils WHERE person_id <> '{victim}'", ["la", "fsm"], known
    )
    assert_nothing_disclosed(s, known, [frozenset({victim})])


# -------------------------------- [overlap] overlapping cohorts
@pytest.mark.parametrize(
    "cohorts",
    [
        [("LA1", "LA4"), ("LA1",)],
        [("LA1", "LA4"), ("LA2", "LA4"), ("LA1", "LA2")],
        [("LA2", "LA3", "LA4"), ("LA2", "LA3")],
        [("LA1", "LA2", "LA3", "LA4", "LA5"), ("LA1", "LA2", "LA3", "LA5")],
        [("LA3", "LA4"), ("LA3",), ("LA4", "LA5"), ("LA5",)],
    ],
)
def test_overlapping_cohorts(session_for: SessionFactory, cohorts: list[tuple[str, ...]]) -> None:
    s = session_for()
    known: list[Cell] = []
    for k, las in enumerate(cohorts):
        in_list = ", ".join(f"'{x}'" for x in las)
        release(s, f"cohort{k}", f"SELECT * FROM pupils WHERE la IN ({in_list})", ["sen"], known)
    la4 = membership(s.con, "SELECT * FROM pupils WHERE la = 'LA4'", ["sen"])
    assert_nothing_disclosed(s, known, list(la4.values()))


# -------------------------------- [rerun] N -> N+1 and repeats
@pytest.mark.parametrize("start", [200, 300, 400, 500, 550, 600])
def test_rerun_adding_one_child_a_month(session_for: SessionFactory, start: int) -> None:
    s = session_for()
    known: list[Cell] = []
    for month in range(3):
        release(
            s,
            f"month{month}",
            f"SELECT * FROM pupils WHERE TRY_CAST(substr(person_id, 2) AS INT) < {start + month}",
            ["sen"],
            known,
        )
    newcomers = [frozenset({f"P{start + m:05d}"}) for m in range(2)]
    assert_nothing_disclosed(s, known, newcomers)


@pytest.mark.parametrize("repeats", [2, 5, 10])
def test_rerun_same_query_cannot_be_averaged(
    session_for: SessionFactory, rows: list[tuple[object, ...]], repeats: int
) -> None:
    s = session_for()
    known: list[Cell] = []
    victim = rows[17][0]
    release(s, "all", "SELECT * FROM pupils", ["la"], known)
    values = []
    for k in range(repeats):
        out = release(
            s, f"again{k}", f"SELECT * FROM pupils WHERE person_id <> '{victim}'", ["la"], known
        )
        if out.is_released:
            values.append(tuple(out.table.values))  # type: ignore[union-attr]
    assert len(set(values)) <= 1, (
        "a repeated query must give the same numbers (no fresh noise to average)"
    )
    assert_nothing_disclosed(s, known, [frozenset({victim})])


# -------------------------------- [mean] n vs n-1 on magnitudes
def _released_means(out: OutputResult) -> dict[tuple[str, ...], float]:
    if not out.is_released:
        return {}
    return {k: v for k, v in out.released["cells"].items() if v is not None}


@pytest.mark.parametrize("child", [0, 60, 130, 222, 333, 444, 505, 560, 590, 620])
@pytest.mark.parametrize("statistic", ["mean", "sum"])
def test_mean_n_vs_n_minus_1(
    session_for: SessionFactory, rows: list[tuple[object, ...]], child: int, statistic: str
) -> None:
    s = session_for()
    victim = rows[child]
    a = s.summary(
        "a", s.con.sql("SELECT * FROM pupils"), by=["la"], value="absence", statistic=statistic
    )
    b = s.summary(
        "b",
        s.con.sql(f"SELECT * FROM pupils WHERE person_id <> '{victim[0]}'"),
        by=["la"],
        value="absence",
        statistic=statistic,
    )
    cell = (str(victim[1]),)
    ma, mb = _released_means(a), _released_means(b)
    if cell in ma and cell in mb:
        # the worst-case attacker knows both cell sizes exactly
        n = sum(1 for r in rows if r[1] == victim[1])
        estimate = ma[cell] * n - mb[cell] * (n - 1) if statistic == "mean" else ma[cell] - mb[cell]
        assert abs(estimate - float(victim[4])) > 0.1 * max(abs(float(victim[4])), 1.0), (
            "child's absence recovered"
        )


# -------------------------------- [dominance] outliers
@pytest.mark.parametrize("outlier", [60, 100, 200, 400, 1000, 2000, 5000, 20000, 100000, 1e6])
def test_dominance_outlier(
    session_for: SessionFactory, rows: list[tuple[object, ...]], outlier: float
) -> None:
    data = [list(r) for r in rows]
    target = next(i for i, r in enumerate(data) if r[1] == "LA5")
    data[target][4] = float(outlier)
    s = session_for(data=[tuple(r) for r in data])
    out = s.summary(
        "absence", s.con.sql("SELECT * FROM pupils"), by=["la"], value="absence", statistic="sum"
    )
    total = _released_means(out).get(("LA5",))
    if total is not None:
        # the second-largest contributor subtracts its own value and guesses the rest as zero
        others = sorted((float(r[4]) for r in data if r[1] == "LA5"), reverse=True)
        estimate = total - others[1]
        assert abs(estimate - outlier) > 0.1 * outlier, "outlier recovered within p%"


# -------------------------------- [negative] masking by negatives
@pytest.mark.parametrize(
    "shape", [(500.0, -480.0), (1000.0, -990.0), (300.0, -250.0), (80.0, -75.0), (5000.0, -4999.0)]
)
def test_negative_values_mask_dominance(
    session_for: SessionFactory, rows: list[tuple[object, ...]], shape: tuple[float, float]
) -> None:
    data = [list(r) for r in rows]
    la5 = [i for i, r in enumerate(data) if r[1] == "LA5"]
    for i in la5:
        data[i][8] = 0.5
    data[la5[0]][8], data[la5[1]][8] = shape
    s = session_for(data=[tuple(r) for r in data])
    out = s.summary(
        "score", s.con.sql("SELECT * FROM pupils"), by=["la"], value="score", statistic="sum"
    )
    total = _released_means(out).get(("LA5",))
    if total is not None:
        estimate = total - shape[1]  # the negative contributor knows its own value
        assert abs(estimate - shape[0]) > 0.1 * shape[0], "positive contributor recovered"


# -------------------------------- [class] everyone in one category
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("also_oneway", [False, True])
@pytest.mark.parametrize("la", ["LA5", "LA4"])
def test_class_disclosure(
    session_for: SessionFactory, profile: str, also_oneway: bool, la: str
) -> None:
    data = pupil_rows()
    data = [tuple((*r[:3], "Y", *r[4:])) if r[1] == "LA4" else r for r in data]
    s = session_for(profile, data=data)
    known: list[Cell] = []
    release(s, "la_fsm", "SELECT * FROM pupils", ["la", "fsm"], known)
    if also_oneway:
        release(s, "la", "SELECT * FROM pupils", ["la"], known)
    group = membership(s.con, f"SELECT * FROM pupils WHERE la = '{la}'", ["fsm"])
    if not known:
        return
    # class disclosure: the attacker proves nobody in the LA is off free school meals
    no = frozenset(
        p
        for lab, m in membership(s.con, "SELECT * FROM pupils", ["la", "fsm"]).items()
        if lab == (la, "N")
        for p in m
    )
    everyone_in = frozenset().union(*group.values())
    _lo, hi = narrowest(known, no if no else frozenset({"nobody"}))
    lo_all, _ = narrowest(known, everyone_in)
    assert not (hi == 0 and lo_all > 0), f"everyone in {la} shown to share one category"


# -------------------------------- [hist] histogram edges
@pytest.mark.parametrize(
    "edges_a,edges_b",
    [
        ([0, 10, 20, 30], [0, 10, 20, 30, 90]),
        ([0, 10, 20, 30], [0, 10, 20, 31]),
        ([0, 10, 20, 30], [1, 10, 20, 30]),
        ([0, 5, 10, 15, 20, 25, 30], [0, 5, 10, 15, 20, 25, 29]),
        ([0, 15, 30], [0, 15, 30, 50]),
        ([0, 15, 30, 60], [0, 15, 30, 61]),
        ([0, 30], [0, 30, 95]),
        ([0, 10, 20], [0, 10, 20, 21]),
    ],
)
def test_histogram_edges(
    session_for: SessionFactory,
    rows: list[tuple[object, ...]],
    edges_a: list[float],
    edges_b: list[float],
) -> None:
    data = [list(r) for r in rows]
    data[5][4] = 95.0  # one child far out
    s = session_for(data=[tuple(r) for r in data])
    known: list[Cell] = []
    for name, edges in (("a", edges_a), ("b", edges_b)):
        out = s.histogram(name, s.con.sql("SELECT * FROM pupils"), value="absence", edges=edges)
        if out.is_released:
            labels = out.table.keys[0]  # type: ignore[union-attr]
            bins = np.digitize([float(r[4]) for r in data], edges)
            members = {
                (str(labels[b]),): frozenset(
                    r[0] for r, bb in zip(data, bins, strict=True) if bb == b
                )
                for b in range(len(labels))
            }
            known += cells_from_release(
                next(f for f in out.files if f.suffix == ".csv"), members, mechanism(s, out)
            )
            png = next(f for f in out.files if f.suffix == ".png").read_bytes()
            assert not {b"tEXt", b"iTXt", b"zTXt", b"eXIf"} & set(png_text_chunks(png))
    assert_nothing_disclosed(s, known, [frozenset({str(data[5][0])})])


# -------------------------------- [km] Kaplan-Meier steps
@pytest.mark.parametrize("cohort", ["LA4", "LA5", "LA3", "LA1", "LA2"])
def test_km_steps_hold_enough_events(
    session_for: SessionFactory, rows: list[tuple[object, ...]], cohort: str
) -> None:
    s = session_for()
    out = s.survival(
        "km", s.con.sql(f"SELECT * FROM pupils WHERE la = '{cohort}'"), time="time", event="event"
    )
    if not out.is_released:
        return
    times = sorted(int(r[6]) for r in rows if r[1] == cohort)
    previous = -np.inf
    for step_end, *_ in out.released["steps"]:
        exits = sum(1 for t in times if previous < t <= step_end)
        assert exits >= s.profile.km_step, "a step an attacker can read one child's exit time from"
        previous = step_end


@pytest.mark.parametrize("child", [3, 150, 400])
def test_km_n_vs_n_minus_1(
    session_for: SessionFactory, rows: list[tuple[object, ...]], child: int
) -> None:
    s = session_for()
    a = s.survival("a", s.con.sql("SELECT * FROM pupils"), time="time", event="event")
    b = s.survival(
        "b",
        s.con.sql(f"SELECT * FROM pupils WHERE person_id <> '{rows[child][0]}'"),
        time="time",
        event="event",
    )
    assert a.is_released
    assert not b.is_released, "two curves one child apart give away that child's exit"


# -------------------------------- [dummy] [saturated] [covariance] models
@pytest.mark.parametrize("family", ["ols", "logit"])
@pytest.mark.parametrize("as_numeric", [False, True])
def test_single_child_dummy(
    session_for: SessionFactory, rows: list[tuple[object, ...]], family: str, as_numeric: bool
) -> None:
    s = session_for()
    victim = rows[77][0]
    rel = s.con.sql(
        f"SELECT *, CASE WHEN person_id = '{victim}' THEN 1 ELSE 0 END AS is_victim, "
        "CASE WHEN fsm = 'Y' THEN 1 ELSE 0 END AS fsm01 FROM pupils"
    )
    outcome = "absence" if family == "ols" else "fsm01"
    out = s.model(
        "m",
        rel,
        outcome=outcome,
        covariates=["age", *(["is_victim"] if as_numeric else [])],
        categorical=[] if as_numeric else ["is_victim"],
        family=family,
    )
    assert not out.is_released, "a coefficient on one child's dummy is that child's outcome"


@pytest.mark.parametrize("n", [5, 12, 25])
def test_saturated_model(session_for: SessionFactory, n: int) -> None:
    s = session_for()
    rel = s.con.sql(f"SELECT * FROM pupils WHERE TRY_CAST(substr(person_id, 2) AS INT) < {n}")
    out = s.model("sat", rel, outcome="absence", covariates=[], categorical=["person_id"])
    assert not out.is_released, "a saturated model returns every child's value"


@pytest.mark.parametrize("child", [8, 99, 321, 600])
def test_covariance_reconstruction_by_model_differencing(
    session_for: SessionFactory, rows: list[tuple[object, ...]], child: int
) -> None:
    s = session_for()
    victim = rows[child]
    a = s.model(
        "a", s.con.sql("SELECT * FROM pupils"), outcome="score", covariates=["age", "absence"]
    )
    b = s.model(
        "b",
        s.con.sql(f"SELECT * FROM pupils WHERE person_id <> '{victim[0]}'"),
        outcome="score",
        covariates=["age", "absence"],
    )
    assert a.is_released
    if b.is_released:
        # with n known, X'X and X'y of both fits differ by exactly the child's row
        pytest.fail("the second model lets the child's (age, absence, score) be solved for")


# -------------------------------- [ident] identifiers leaving as text
NHS = "9434765919"  # valid modulus 11


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("log.txt", f"processing child {NHS} done", "nhs_number"),
        ("log.txt", f"processing child {NHS[:3]} {NHS[3:6]} {NHS[6:]} done", "nhs_number"),
        ("notes.md", "child born 2016-03-04 in LA4", "date"),
        ("notes.md", "child born 04/03/2016", "date"),
        ("notes.txt", "lives at BD1 4AB", "postcode"),
        ("notes.txt", "pseudonym 9f86d081884c7d659a2feaa0c55ad015", "hex_token"),
        ("table.csv", "person_id,absence\nP1,3\nP2,4\n", "id_column"),
        ("table.csv", "pupil,absence\n" + "".join(f"kid{k},{k}\n" for k in range(12)), "row_dump"),
        ("table.csv", "la,n\n" + "".join(f"L{k},12\n" for k in range(5001)), "too_many_rows"),
        ("log.txt", "row dump: 12345678 12 3", "digit_run"),
    ],
)
def test_identifiers_in_text(
    session_for: SessionFactory, name: str, content: str, expected: str
) -> None:
    s = session_for()
    out = s.text(name, content)
    assert not out.is_released and out.status == "refused"
    assert any(expected in r for r in out.reasons)
    assert all(NHS not in r and "BD1 4AB" not in r for r in out.reasons), (
        "a reason repeated the value"
    )


def test_upn_with_check_letter_in_text(session_for: SessionFactory) -> None:
    from joinedup.identity.checks import upn_check_letter

    body = "123456789012"
    upn = (upn_check_letter(body) or "A") + body
    s = session_for()
    out = s.text("log.txt", f"pupil {upn} moved")
    assert not out.is_released and any("upn" in r for r in out.reasons)


@pytest.mark.parametrize("name", [f"child_{NHS}.csv", "BD1 4AB.txt", "born_2016-03-04.md"])
def test_identifiers_in_filenames(session_for: SessionFactory, name: str) -> None:
    s = session_for()
    out = s.text(name, "la,n\nLA1,20\n")
    assert not out.is_released and any("filename" in r for r in out.reasons)


@pytest.mark.parametrize(
    "name", ["figure.svg", "figure.svgz", "data.parquet", "dump.duckdb", "x.xlsx"]
)
def test_blocked_file_types(session_for: SessionFactory, name: str) -> None:
    s = session_for()
    with pytest.raises(DisclosureBlocked):
        s.text(name, "<svg><text>9434765919</text></svg>")


def test_png_metadata_is_stripped_and_svg_refused(session_for: SessionFactory) -> None:
    img = Image.new("RGB", (8, 8), "white")
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"NHS {NHS}")
    buf = io.BytesIO()
    img.save(buf, format="PNG", pnginfo=info)
    s = session_for()
    out = s.text("figure.png", buf.getvalue())
    staged = (s.staging_dir / out.release_id / "figure.png").read_bytes()
    assert NHS.encode() not in staged and b"tEXt" not in set(png_text_chunks(staged))
    with pytest.raises(DisclosureBlocked):
        s.histogram(
            "h", s.con.sql("SELECT * FROM pupils"), value="absence", edges=[0, 10, 20], image="svg"
        )


def test_free_text_needs_two_independent_checkers(session_for: SessionFactory) -> None:
    from joinedup.errors import AccessDenied

    s = session_for(actor="researcher-1")
    out = s.text("summary.md", "Attendance rose after the programme began.")
    assert out.status == "pending_review"
    assert not (s.release_dir / "summary.md").exists()
    with pytest.raises(AccessDenied):
        s.vote(out.release_id, checker="researcher-1", approve=True)  # no self-review
    s.vote(out.release_id, checker="checker-a", approve=True)
    assert not (s.release_dir / "summary.md").exists()
    with pytest.raises(AccessDenied):
        s.vote(out.release_id, checker="checker-a", approve=True)  # not independent
    item = s.vote(out.release_id, checker="checker-b", approve=True)
    assert item.state.value == "released" and (s.release_dir / "summary.md").exists()


# ---------------------------------------------------------------- controls: the attacks have teeth
def test_control_oneway_vs_twoway_succeeds_without_audit(session_for: SessionFactory) -> None:
    s = session_for("acro")
    known: list[Cell] = []
    release(s, "two", "SELECT * FROM pupils", ["la", "sen"], known)
    release(s, "one", "SELECT * FROM pupils", ["sen"], known)
    la4 = membership(s.con, "SELECT * FROM pupils WHERE la = 'LA4'", ["sen"])
    found = disclosed(known, list(la4.values()), 1)
    assert found, (
        "the ACRO profile releases both tables and LA4 is recovered exactly (its documented gap)"
    )


def test_control_filter_succeeds_without_audit(
    session_for: SessionFactory, rows: list[tuple[object, ...]]
) -> None:
    s = session_for("acro")
    known: list[Cell] = []
    victim = rows[45][0]
    release(s, "all", "SELECT * FROM pupils", ["la"], known)
    release(s, "but_one", f"SELECT * FROM pupils WHERE person_id <> '{victim}'", ["la"], known)
    assert disclosed(known, [frozenset({victim})], 1)
