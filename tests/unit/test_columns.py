"""The shared column check of the analytics modules (sop_pipeline.analytics.columns)."""

from __future__ import annotations

import pandas as pd
import pytest

from sop_pipeline.analytics.columns import missing_columns, require_columns


class _OwnError(ValueError):
    pass


def test_passes_when_every_column_is_there():
    frame = pd.DataFrame(columns=["sku", "week_start", "units", "extra"])
    assert require_columns(frame, ["sku", "units"], "weekly demand") is None
    assert missing_columns(frame, ("units", "sku")) == []


def test_names_the_frame_the_missing_the_expected_and_the_present_columns():
    frame = pd.DataFrame(columns=["sku", "qty"])
    with pytest.raises(ValueError) as info:
        require_columns(frame, ["sku", "week_start", "units"], "weekly demand")
    assert str(info.value) == (
        "weekly demand is missing column(s) week_start, units; expected at least: sku, week_start, units; has: sku, qty"
    )


def test_missing_columns_keep_the_order_given_without_repeats():
    frame = pd.DataFrame(columns=["b"])
    assert missing_columns(frame, ["c", "a", "b", "c"]) == ["c", "a"]


def test_raises_the_callers_error_class_and_mentions_optional_columns():
    frame = pd.DataFrame(columns=["job_id"])
    with pytest.raises(
        _OwnError,
        match=r"missing column\(s\) run_hours; expected at least: job_id, run_hours "
        r"\(\+ optional setup_key\); has: job_id",
    ):
        require_columns(frame, ["job_id", "run_hours"], "jobs", error=_OwnError, optional=["setup_key"])


def test_empty_and_wide_frames_read_well():
    with pytest.raises(ValueError, match=r"has: \(none\)$"):
        require_columns(pd.DataFrame(), ["sku"], "items")
    wide = pd.DataFrame(columns=[f"c{i}" for i in range(100)])
    with pytest.raises(ValueError, match=r"has: c0, c1, .*, c39 and 60 more$"):
        require_columns(wide, ["sku"], "plan")


def test_non_string_column_labels_do_not_break_the_message():
    frame = pd.DataFrame({0: [1], 1: [2]})
    with pytest.raises(ValueError, match=r"missing column\(s\) sku; .*has: 0, 1"):
        require_columns(frame, ["sku"], "raw extract")
