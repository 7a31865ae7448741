"""Property tests share the ingest tests' extract builder."""

from __future__ import annotations

import sys
from pathlib import Path

_BUILDER = Path(__file__).resolve().parents[1] / "unit" / "ingest"
if str(_BUILDER) not in sys.path:
    sys.path.insert(0, str(_BUILDER))
