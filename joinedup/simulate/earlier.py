"""An earlier snapshot of a simulated district's extracts, for testing refreshes as records arrive.

``write_earlier_extracts(later, out)`` copies the extract folder ``later`` (as written by
``simulate_district``) to ``out``, leaving out every ``withhold_every``-th data row of each CSV
agency extract. Ingesting ``out`` and refreshing, then ingesting ``later`` and refreshing again,
is a node receiving new records (about 1 in ``withhold_every``): some for children it knew,
some for children it had not seen. Reference tables, the truth folder and XML returns are copied
whole.

Invariant: every row of ``out`` is a row of ``later``; the truth folder describes ``later``.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

WHOLE = ("reference", "truth")


def write_earlier_extracts(later: Path, out: Path, *, withhold_every: int = 20) -> int:
    """Write the earlier snapshot of ``later`` to ``out``; returns the rows withheld."""
    if withhold_every < 2:
        raise ValueError("withhold_every must be 2 or more")
    shutil.copytree(later, out)
    withheld = 0
    for path in sorted(out.rglob("*.csv")):
        if set(path.relative_to(out).parts) & set(WHOLE):
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2:
            continue
        body = rows[1:]
        keep = [r for i, r in enumerate(body) if i % withhold_every != withhold_every - 1]
        withheld += len(body) - len(keep)
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([rows[0], *keep])
    return withheld
