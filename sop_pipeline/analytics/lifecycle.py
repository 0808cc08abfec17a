"""Item lifecycle values (the items extract's ``lifecycle``) that the analytics read the same way.

An item being run down - phase-out, discontinued, obsolete - gets no safety stock
(``safety_stock``: run-out) and is never taken for a seasonal item between its seasons
(``forecasting.between_seasons``): its quiet weeks mean it is ending, not that its season is over.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RUN_OUT_LIFECYCLES = ("phase_out", "discontinued", "obsolete")


def running_out(lifecycle) -> np.ndarray:
    """Per value, whether it is a run-out lifecycle (case and surrounding spaces ignored; empty: no)."""
    return pd.Series(lifecycle, dtype=object).astype(str).str.strip().str.lower().isin(RUN_OUT_LIFECYCLES).to_numpy()
