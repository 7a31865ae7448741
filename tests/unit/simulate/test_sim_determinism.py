"""Same spec, same bytes; a different seed gives a different district."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from joinedup.simulate import SimulationSpec, simulate_district


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files_different_seed_different(tmp_path: Path) -> None:
    a = _digests(simulate_district(SimulationSpec(people=1_500, seed=3), tmp_path / "a").out)
    b = _digests(simulate_district(SimulationSpec(people=1_500, seed=3), tmp_path / "b").out)
    c = _digests(simulate_district(SimulationSpec(people=1_500, seed=4), tmp_path / "c").out)
    assert a == b
    assert a.keys() == c.keys()
    differing = [k for k in a if a[k] != c[k]]
    assert len(differing) >= len(a) - 2  # every person-level file changes


def test_people_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        simulate_district(SimulationSpec(people=10, seed=1), tmp_path)
