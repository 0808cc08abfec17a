"""Global LightGBM forecast: panel, promotions, guards, horizon rule, roll-up (synthetic data)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from sop_pipeline.analytics import forecasting as F
from sop_pipeline.analytics.calendar import Cycle

AS_OF = date(2026, 11, 22)  # a Sunday
FAST = F.ForecastConfig(
    num_boost_round=40, quantile_boost_round=20, learning_rate=0.2, max_train_rows=15_000, min_data_in_leaf=20
)


def make_history(
    n_skus: int = 12,
    weeks: int = 156,
    as_of: date = AS_OF,
    seed: int = 1,
    promo_every: int = 9,
    families=("Snacks", "Drinks"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """int_demand_weekly-like rows (2 stores per SKU) with yearly season, promotions (x2) and
    gamma-Poisson noise, plus the matching promotion rows (whole weeks, all stores)."""
    rng = np.random.default_rng(seed)
    last = F.last_complete_week(as_of)
    mondays = [last - timedelta(weeks=weeks - 1 - k) for k in range(weeks + 20)]
    rows, promos = [], []
    for s in range(n_skus):
        sku, fam = f"SKU{s:03d}", families[s % len(families)]
        level = float(rng.uniform(5, 60))
        promo_weeks = set(range(int(rng.integers(0, promo_every)), weeks + 20, promo_every))
        for k in sorted(promo_weeks):
            promos.append(
                {
                    "promo_id": f"P{s}-{k}",
                    "sku": sku,
                    "location_or_customer": "ALL",
                    "start_date": mondays[k],
                    "end_date": mondays[k] + timedelta(days=6),
                    "discount_pct": 0.2,
                    "expected_units": 0.0,
                }
            )
        for loc, share in (("S01", 0.6), ("S02", 0.4)):
            for k in range(weeks):
                season = 1 + 0.3 * np.cos(2 * np.pi * (k % 52) / 52 + s)
                lam = level * share * season * (2.0 if k in promo_weeks else 1.0)
                units = float(rng.poisson(lam * rng.gamma(5, 1 / 5)))
                rows.append(
                    {
                        "sku": sku,
                        "location": loc,
                        "channel": "store",
                        "family": fam,
                        "category": "Food",
                        "lifecycle": "active",
                        "week_start": mondays[k],
                        "units": units,
                        "revenue": units * 2.0 * (0.8 if k in promo_weeks else 1.0),
                        "list_price": 2.0,
                        "is_promo": k in promo_weeks,
                        "is_stockout": False,
                    }
                )
    history = pd.DataFrame(rows)
    history["units_clean"] = history["units"]
    return history, pd.DataFrame(promos)


@pytest.fixture(scope="module")
def fitted():
    history, promos = make_history()
    return history, promos, F.forecast(history, AS_OF, promos, FAST)


def test_same_inputs_give_bit_identical_forecasts(fitted):
    """Reproducible cycles: LightGBM is pinned to one histogram layout (force_col_wise) and
    deterministic mode, so a second fit on the same data gives the very same numbers."""
    history, promos, first = fitted
    again = F.forecast(history, AS_OF, promos, FAST)
    for col in ("units_p10", "units_p50", "units_p90", "revenue"):
        np.testing.assert_array_equal(first.location[col].to_numpy(), again.location[col].to_numpy())


def test_complete_weeks_and_week_of_year():
    assert F.last_complete_week(date(2026, 11, 22)) == date(2026, 11, 16)  # Sunday: its own week
    assert F.last_complete_week(date(2026, 11, 18)) == date(2026, 11, 9)  # Wednesday: the week before
    woy = F.week_of_year(np.array(["2026-01-05", "2026-12-28"], dtype="datetime64[D]"))
    assert woy.tolist() == [1, 52]


def test_panel_fills_missing_weeks_with_zero_and_keeps_censored_weeks_missing():
    history, _ = make_history(n_skus=1, weeks=20)
    history = history[history.location == "S01"].reset_index(drop=True)
    dropped = history.week_start.iloc[5]
    history = history[history.week_start != dropped].copy()
    history.loc[history.index[10], "units_clean"] = np.nan  # a censored stock-out week
    panel = F.build_panel(history, AS_OF, future_weeks=14)
    assert panel.units.shape == (1, 20)
    assert panel.raw_units[0, 5] == 0 and panel.units[0, 5] == 0  # filled
    assert np.isnan(panel.units[0, 11]) and not np.isnan(panel.raw_units[0, 11])  # censored stays missing
    assert panel.promo.shape[1] == 34


def test_promotion_targets_store_all_and_customer():
    keys = pd.DataFrame(
        {"sku": ["A", "A", "A"], "location": ["S01", "S02", "B2B"], "channel": ["store", "store", "b2b"]}
    )
    weeks = np.array(["2026-01-05", "2026-01-12"], dtype="datetime64[D]")
    promos = pd.DataFrame(
        {
            "promo_id": ["p1", "p2", "p3"],
            "sku": ["A", "A", "A"],
            "location_or_customer": ["S02", "ALL", "C001"],
            "start_date": pd.to_datetime(["2026-01-05", "2026-01-15", "2026-01-05"]),
            "end_date": pd.to_datetime(["2026-01-11", "2026-01-18", "2026-01-06"]),
            "discount_pct": [0.1, 0.3, 0.2],
        }
    )
    share, disc = F.promo_calendar(promos, keys, weeks)
    assert share[:, 0].tolist() == pytest.approx([0, 1, 2 / 7])  # S02 whole week; customer promo -> B2B
    assert share[:, 1].tolist() == pytest.approx([4 / 7] * 3)  # ALL: Thu-Sun of week 2 everywhere
    assert disc[2, 0] == pytest.approx(0.2) and disc[0, 1] == pytest.approx(0.3)


def test_forecast_has_thirteen_ordered_non_negative_weeks(fitted):
    _, _, result = fitted
    sku = result.sku
    assert (
        sku.groupby("sku").horizon_week.apply(sorted) == pd.Series([list(range(1, 14))] * 12, index=sku.sku.unique())
    ).all()
    assert set(sku.week_start.dt.date) == set(Cycle(AS_OF).horizon())
    for df in (result.location, result.sku, result.family):
        values = df[["units_p10", "units_p50", "units_p90", "revenue"]].to_numpy()
        assert np.isfinite(values).all() and (values >= 0).all()
        assert (df.units_p10 <= df.units_p50 + 1e-9).all() and (df.units_p50 <= df.units_p90 + 1e-9).all()
    assert set(result.location.model) == {F.MODEL_LIGHTGBM}


def test_forecast_learns_promotions_and_beats_seasonal_naive():
    history, promos = make_history(n_skus=12, seed=3)
    cut = AS_OF - timedelta(weeks=13)
    result = F.forecast(history, cut, promos, FAST)
    actual = history.groupby(["sku", "week_start"]).units.sum().rename("actual").reset_index()
    actual["week_start"] = pd.to_datetime(actual.week_start)
    f = result.sku.merge(actual, on=["sku", "week_start"])
    ly = actual.set_index(["sku", "week_start"]).actual
    f["naive"] = ly.reindex(pd.MultiIndex.from_arrays([f.sku, f.week_start - pd.Timedelta(weeks=52)])).to_numpy()
    wape = lambda c: (f[c] - f.actual).abs().sum() / f.actual.sum()  # noqa: E731
    assert wape("units_p50") < 0.9 * wape("naive")
    loc = result.location
    ratio = loc[loc.is_promo].units_p50.mean() / loc[~loc.is_promo].units_p50.mean()
    assert ratio > 1.4  # the x2 promo uplift is learnt from the promotions feature
    inside = ((f.actual >= f.units_p10) & (f.actual <= f.units_p90)).mean()
    assert 0.5 < inside <= 1.0


def test_promo_weeks_carry_discounted_revenue(fitted):
    _, _, result = fitted
    loc = result.location
    assert np.allclose(loc.revenue, loc.units_p50 * loc.price)
    assert loc.loc[loc.is_promo, "price"].max() < loc.loc[~loc.is_promo, "price"].min() + 1e-9


def test_censored_weeks_are_not_learnt_as_zero_demand():
    history, promos = make_history(n_skus=6, seed=5, promo_every=1000)
    last_weeks = sorted(history.week_start.unique())[-6:]
    target = (history.sku == "SKU000") & history.week_start.isin(last_weeks[:5])
    history.loc[target, "units"] = 0.0  # stock-out: nothing sold
    censored = history.copy()
    censored.loc[target, "units_clean"] = np.nan
    as_zero = history.copy()
    as_zero.loc[target, "units_clean"] = 0.0
    f_censored = F.forecast(censored, AS_OF, promos, FAST).sku
    f_zero = F.forecast(as_zero, AS_OF, promos, FAST).sku
    c = f_censored[f_censored.sku == "SKU000"].units_p50.mean()
    z = f_zero[f_zero.sku == "SKU000"].units_p50.mean()
    normal = history[(history.sku == "SKU000") & ~target].groupby("week_start").units.sum().tail(30).mean()
    assert c > 1.3 * z and c > 0.5 * normal


def _extra_series(rows: list[dict]) -> pd.DataFrame:
    """History rows of hand-made series (sku, week_start, units, optional location and lifecycle) with
    the other history columns: one Snacks store series each, no promotion, no stock-out."""
    extra = pd.DataFrame(rows)
    defaults = {"location": "S01", "lifecycle": "active"}
    extra = extra.assign(**{c: extra[c].fillna(v) if c in extra else v for c, v in defaults.items()})
    extra = extra.assign(
        channel="store", family="Snacks", category="Food", revenue=extra.units * 2, list_price=2.0, is_promo=False
    )
    return extra.assign(is_stockout=False, units_clean=extra.units)


def test_a_seasonal_item_between_its_seasons_is_not_inactive():
    # an item that sells only from early December to February each year, quiet since March: at a
    # late-November origin it has sold nothing for 13 weeks, as a dead item has - but it was just as
    # quiet a year ago and sold in the weeks a year before the horizon. It keeps its forecast; the item
    # that stopped selling 30 weeks ago (it sold all through last year), the same seasonal item
    # flagged phase_out or discontinued (run down, as safety stock reads it), and sparse items whose
    # quiet spell and sales look seasonal by chance stay at 0
    history, promos = make_history(n_skus=6, seed=3)
    mondays = sorted(history.week_start.unique())
    season = [pd.Timestamp(w).month in (12, 1, 2) for w in mondays]
    extra = []
    for sku, lifecycle in (("WINTER", "active"), ("WINTER_END", "phase_out"), ("WINTER_GONE", " Discontinued")):
        for w, on in zip(mondays, season):
            extra.append({"sku": sku, "lifecycle": lifecycle, "week_start": w, "units": 40.0 if on else 0.0})
    for k, w in enumerate(mondays):
        extra.append(
            {"sku": "GONE", "lifecycle": "active", "week_start": w, "units": 10.0 if k < len(mondays) - 30 else 0}
        )
    # chance, not a season: the same quiet spell followed by sales in one year only (ONCE), or by a
    # single sale week in each year (SINGLE): both stay inactive
    first_dec = [k for k, w in enumerate(mondays) if pd.Timestamp(w).month == 12 and pd.Timestamp(w).day <= 7]
    for sku, weeks in (("ONCE", {first_dec[-1], first_dec[-1] + 1}), ("SINGLE", set(first_dec[-2:]))):
        for k, w in enumerate(mondays):
            extra.append({"sku": sku, "lifecycle": "active", "week_start": w, "units": 5.0 if k in weeks else 0.0})
    extra = _extra_series(extra)
    assert extra[extra.sku == "WINTER"].tail(13).units.sum() == 0  # quiet for the last 13 weeks
    result = F.forecast(pd.concat([history, extra], ignore_index=True), AS_OF, promos, FAST)
    by = result.location.set_index("sku")
    winter = by.loc["WINTER"].sort_values("week_start")
    assert (winter.model == F.MODEL_SEASONAL).all()  # the global model's forecast, not the selected method's
    in_season = pd.to_datetime(winter.week_start).dt.month.isin([12, 1, 2]).to_numpy()
    assert winter.units_p50[in_season].mean() > 10  # its season is forecast (40 a week last year)
    assert winter.units_p90[in_season].mean() > winter.units_p50[in_season].mean()
    for sku in ("WINTER_END", "WINTER_GONE", "GONE", "ONCE", "SINGLE"):
        assert (by.loc[sku].model == F.MODEL_INACTIVE).all() and (by.loc[sku].units_p50 == 0).all(), sku


def test_intermittent_new_and_inactive_series_get_sane_numbers():
    history, promos = make_history(n_skus=8, seed=7)
    rng = np.random.default_rng(0)
    mondays = sorted(history.week_start.unique())
    extra = []
    for k, w in enumerate(mondays):  # intermittent C/Z item: mostly 0, sometimes 1-3
        extra.append(
            {
                "sku": "SPARSE",
                "location": "S01",
                "week_start": w,
                "units": float(rng.integers(1, 4)) if rng.random() < 0.15 else 0.0,
            }
        )
    for w in mondays[-3:]:  # launched three weeks ago
        extra.append({"sku": "NEW", "location": "S01", "week_start": w, "units": 20.0})
    for w in mondays[:-30]:  # stopped selling 30 weeks ago
        extra.append({"sku": "GONE", "location": "S01", "week_start": w, "units": 10.0})
    for w in mondays[-30:]:
        extra.append({"sku": "GONE", "location": "S01", "week_start": w, "units": 0.0})
    extra = _extra_series(extra)
    result = F.forecast(pd.concat([history, extra], ignore_index=True), AS_OF, promos, FAST)
    by = result.location.set_index("sku")
    sparse = by.loc["SPARSE"]
    assert (sparse.units_p90 <= 3 * 3 * 1.5 + 1e-9).all() and (sparse.units_p50 <= 9 + 1e-9).all()
    assert (sparse.units_p50 >= 0).all()
    new = by.loc["NEW"]
    assert (new.model == F.MODEL_FAMILY).all() and new.units_p50.between(10, 35).all()
    gone = by.loc["GONE"]
    assert (gone.model == F.MODEL_INACTIVE).all() and (gone.units_p50 == 0).all()


def test_mid_week_as_of_forecasts_week0_and_thirteen_full_weeks(fitted):
    history, promos, result = fitted
    wednesday = date(2026, 11, 18)
    model = F.fit(F.build_panel(history, wednesday, promos, future_weeks=15), FAST, max_h=14)
    mid = F.forecast(history, wednesday, promos, FAST, model=model).location
    assert sorted(mid.horizon_week.unique()) == list(range(0, 14))
    week = mid.groupby("horizon_week").week_start.first().dt.date
    assert week[0] == date(2026, 11, 16) and week[1] == date(2026, 11, 23) == Cycle(wednesday).week1_start


def test_rollup_combines_spreads_with_the_assumed_correlation():
    frame = pd.DataFrame(
        {
            "sku": ["A", "A"],
            "family": ["F", "F"],
            "week_start": [1, 1],
            "horizon_week": [1, 1],
            "units_p10": [7.0, 16.0],
            "units_p50": [10.0, 20.0],
            "units_p90": [14.0, 23.0],
            "revenue": [1.0, 2.0],
            "model": ["lightgbm", "family_profile"],
        }
    )
    independent = F.rollup(frame, ["sku", "week_start"], correlation=0.0).iloc[0]
    assert independent.units_p50 == 30 and independent.revenue == 3
    assert independent.units_p10 == pytest.approx(30 - 5) and independent.units_p90 == pytest.approx(30 + 5)
    assert independent.model == "lightgbm"
    correlated = F.rollup(frame, ["sku", "week_start"], correlation=1.0).iloc[0]
    assert correlated.units_p10 == pytest.approx(30 - 7) and correlated.units_p90 == pytest.approx(30 + 7)
    half = F.rollup(frame, ["sku", "week_start"]).iloc[0]
    assert half.units_p90 == pytest.approx(30 + np.sqrt(0.75 * 25 + 0.25 * 49))


def test_seasonal_naive_uses_last_year_or_last_week():
    units = np.tile(np.arange(60, dtype=float), (2, 1))
    units[1, :10] = np.nan  # second series launched in week 10
    fc = F.seasonal_naive(units, origin=59, horizons=np.array([1, 2]))
    assert fc[0].tolist() == [8.0, 9.0]  # weeks 60, 61 -> weeks 8, 9
    assert fc[1].tolist() == [59.0, 59.0]  # no last-year value: last observed week


def test_the_forecast_made_per_family_is_the_one_call_forecast():
    """Issue 15 item 4: the cycle's forecast fanned out per product family (the global model fitted
    once on every series, each family's series forecast with it, method selection and calibrated
    bands applied, the rows put back in panel order) equals the one-call forecast to the bit, SKU and
    family roll-ups included. The history has what a family's forecast could get wrong: young series
    (the family profile and the family's median band widths), an inactive one, and several methods."""
    from sop_pipeline.analytics import backtest as BT
    from sop_pipeline.analytics import methods

    history, promos = make_history(n_skus=12, seed=5)
    week = pd.to_datetime(history.week_start)
    last = pd.Timestamp(F.last_complete_week(AS_OF))
    history = history[week <= last]
    week = pd.to_datetime(history.week_start)
    young = history.sku.isin(["SKU004", "SKU007"]) & (week < last - pd.Timedelta(weeks=5))
    gone = (history.sku == "SKU009") & (week > last - pd.Timedelta(weeks=20))
    history = history[~young & ~gone]
    cfg = BT.BacktestConfig(origins=6, retrain_every=3, forecast=replace(FAST, with_quantiles=False), sensing=False)
    bt = BT.backtest(history.drop(columns="units_clean"), AS_OF, promos, config=cfg)
    selection = bt.selection[["sku", "location", "method"]].copy()
    selection.loc[selection.index[::3], "method"] = "seasonal_naive"  # more than one method in use
    calibration = bt.calibration
    assert len(calibration.table) and selection.method.nunique() >= 2

    one = F.forecast(history, AS_OF, promos, FAST, selection=selection, calibration=calibration)
    panel, model = F.prepare(history, AS_OF, promos, FAST)
    families = F.family_rows(panel)
    parts = [
        (rows, F.series_forecast(model, panel.subset(rows), AS_OF, FAST, selection, calibration))
        for _, rows in reversed(families)  # the parts may finish in any order
    ]
    parted = F.finish(F.in_panel_order(parts), model)
    assert len(families) == 2
    assert {"lightgbm", "family_profile", "inactive"} <= set(one.location.model)
    pd.testing.assert_frame_equal(parted.location, one.location, check_exact=True)
    pd.testing.assert_frame_equal(parted.sku, one.sku, check_exact=True)
    pd.testing.assert_frame_equal(parted.family, one.family, check_exact=True)
    assert set(one.location.method) & set(methods.STAT_CANDIDATES)
