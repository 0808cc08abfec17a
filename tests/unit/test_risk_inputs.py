"""Risk inputs built from the staged extracts."""

import pandas as pd
import pytest

from sop_pipeline.analytics import risk


def test_resource_hours_per_week_is_hours_per_day_times_days():
    resources = pd.DataFrame({"resource_id": ["M1", "L1"], "hours_per_day": [16.0, 8.0], "days_per_week": [5.0, None]})
    hours = risk.resource_hours_per_week(resources)
    assert list(hours.columns) == ["resource_id", "hours_per_week"]
    assert hours.hours_per_week.iloc[0] == 80.0 and pd.isna(hours.hours_per_week.iloc[1])
    with pytest.raises(ValueError, match="days_per_week"):
        risk.resource_hours_per_week(resources.drop(columns="days_per_week"))
