"""Conversions between pandas columns and numpy arrays that the simulator uses everywhere.

Invariant: missing values (NaN, NaT, pd.NA, None) always come back as ``None`` in object arrays,
and the input is never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd


def objects(values: pd.Series[Any] | pd.Index[Any]) -> npt.NDArray[np.object_]:
    """The values as an object array with ``None`` for every missing value (a copy)."""
    out: npt.NDArray[np.object_] = np.array(values.to_numpy(dtype=object), dtype=object, copy=True)
    out[pd.isna(out)] = None
    return out
