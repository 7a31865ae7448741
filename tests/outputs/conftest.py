"""Small simulated pupil frames and an output session over them (in memory, a few ms each).

``pupils`` plants the small cells the attacks go after: LA4 holds 1 / 0 / 9 pupils by SEN status
(ACRO's own differencing example), LA5's pupils are all on free school meals (class disclosure),
one pupil has an extreme absence (dominance, histogram edges).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from joinedup.outputs import OutputSession, get_profile

LA_SEN = {
    "LA1": (40, 60, 100),
    "LA2": (30, 20, 150),
    "LA3": (50, 21, 100),
    "LA4": (1, 0, 9),
    "LA5": (12, 14, 30),
}
SEN = ("E", "K", "N")


def pupil_rows(seed: int = 7) -> list[tuple[object, ...]]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[object, ...]] = []
    pid = 0
    for la, sizes in LA_SEN.items():
        for sen, k in zip(SEN, sizes, strict=True):
            for _ in range(k):
                fsm = "Y" if la == "LA5" else ("Y" if rng.random() < 0.3 else "N")
                absence = float(rng.integers(0, 31))
                age = int(rng.integers(5, 12))
                time = int(rng.integers(1, 61))
                event = bool(rng.random() < 0.6)
                score = float(rng.normal(100, 15))
                rows.append((f"P{pid:05d}", la, sen, fsm, absence, age, time, event, score))
                pid += 1
    return rows


COLUMNS = (
    "person_id VARCHAR, la VARCHAR, sen VARCHAR, fsm VARCHAR, absence DOUBLE, age INTEGER, "
    "time INTEGER, event BOOLEAN, score DOUBLE"
)


def new_connection(rows: list[tuple[object, ...]]) -> duckdb.DuckDBPyConnection:
    """The node's data (``pupils``) and, for the attacker only, ``pupils_attacker``: the same rows
    plus one phantom (id starting ``~``) for every combination of the categorical columns. The
    attacker knows query definitions, not which combinations are empty; the phantoms stop its
    arithmetic treating an unseen combination as known to be zero."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE pupils ({COLUMNS})")
    names = [c.split()[0] for c in COLUMNS.split(", ")]
    frame = pa.table({n: [r[k] for r in rows] for k, n in enumerate(names)})
    con.register("_rows", frame)
    con.execute("INSERT INTO pupils SELECT * FROM _rows")
    con.unregister("_rows")
    con.execute(
        "CREATE TABLE pupils_attacker AS SELECT * FROM pupils UNION ALL "
        "SELECT '~' || l.la || '|' || s.sen || '|' || f.fsm, l.la, s.sen, f.fsm, 15.0, 8, 30, "
        "TRUE, 100.0 FROM (SELECT DISTINCT la FROM pupils) l, (SELECT DISTINCT sen FROM pupils) s, "
        "(SELECT DISTINCT fsm FROM pupils) f"
    )
    return con


@pytest.fixture(scope="module")
def rows() -> list[tuple[object, ...]]:
    return pupil_rows()


SessionFactory = Callable[..., OutputSession]


@pytest.fixture
def session_for(tmp_path: Path, rows: list[tuple[object, ...]]) -> SessionFactory:
    """A fresh node connection and ledger per call: ``session_for("joinedup", rows=...)``."""
    counter = iter(range(1000))

    def make(
        profile: str = "joinedup",
        data: list[tuple[object, ...]] | None = None,
        actor: str = "researcher-1",
    ) -> OutputSession:
        k = next(counter)
        con = new_connection(rows if data is None else data)
        return OutputSession(
            con,
            project_id="P-ATTACK",
            release_dir=tmp_path / f"release{k}",
            staging_dir=tmp_path / f"staging{k}",
            profile=get_profile(profile),
            actor=actor,
        )

    return make
