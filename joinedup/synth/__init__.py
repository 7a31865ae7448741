"""The synthetic twin of a node's linked store (lock 1) and its quality report.

``make_synthetic_twin(store, out, TwinSettings(seed=...))`` reads the store's secondary views,
synthesises a store-shaped DuckDB file (sequential CART, ``twin.py``) and writes its quality
report (``quality.py``, ``report.py``); ``rebuild_report`` recomputes the report of a twin.
"""

from joinedup.synth.make import (
    SynthResult,
    TwinSettings,
    make_synthetic_twin,
    read_provenance,
    rebuild_report,
)
from joinedup.synth.twin import TWIN_FILE

__all__ = [
    "TWIN_FILE",
    "SynthResult",
    "TwinSettings",
    "make_synthetic_twin",
    "read_provenance",
    "rebuild_report",
]
