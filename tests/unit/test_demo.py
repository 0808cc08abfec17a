"""The demo extract generator: determinism, contract conformance, references and injected truths.

Small size only (about 2 s per generation); four generations in total.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sop_pipeline.contract import EXTRACTS
from sop_pipeline.demo import SIZES, generate
from sop_pipeline.settings import DEMO_SIZES

END = date(2026, 11, 22)
SEED = int(os.environ.get("SOP_DEMO_TEST_SEED", "42"))  # the invariants below must hold for any seed
EXTRA_FRONT = {"decisions": ["decision_id"]}
TRUTH_FILES = ("pos_outliers", "optimistic_families", "hockey_sticks", "stockouts", "supplier_drift", "seasonal_items")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo_a")
    return out, generate(out, size="small", seed=SEED)


@pytest.fixture(scope="module")
def raw(demo):
    """Every extract as strings exactly as written (empty string = null)."""
    out, _ = demo
    return {name: pd.read_csv(out / f"{name}.csv", dtype=str, keep_default_na=False) for name in EXTRACTS}


def _to_types(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """An extract with contract types (empty -> NaN/NaT)."""
    df = df.replace("", np.nan)
    for col, typ in EXTRACTS[name].columns.items():
        if typ in ("float", "int"):
            df[col] = pd.to_numeric(df[col])
        elif typ in ("date", "timestamp"):
            df[col] = pd.to_datetime(df[col])
    return df


class _Typed(dict):
    """Typed extracts, converted on first use."""

    def __init__(self, raw: dict):
        super().__init__()
        self.raw = raw

    def __missing__(self, name: str) -> pd.DataFrame:
        self[name] = _to_types(self.raw[name], name)
        return self[name]


@pytest.fixture(scope="module")
def typed(raw) -> _Typed:
    return _Typed(raw)


def _truth(demo, name: str, dates=()) -> pd.DataFrame:
    return pd.read_csv(demo[0] / "_truth" / f"{name}.csv", parse_dates=list(dates))


def _monday(s: pd.Series) -> pd.Series:
    return s - pd.to_timedelta(s.dt.day_of_week, unit="D")


# --------------------------------------------------------------------------- API, determinism, formats


def test_sizes_are_described():
    assert list(SIZES) == ["small", "medium", "large", "xlarge"]
    assert SIZES["small"].series == 200 and SIZES["medium"].series == 2000 and SIZES["large"].series == 30000
    assert SIZES["xlarge"].series >= 100_000  # issue 15: the scale probe
    assert list(SIZES) == list(DEMO_SIZES)  # what `sop demo --size` and SOP_DEMO_SIZE accept


@pytest.mark.parametrize("size", list(SIZES))
def test_every_size_builds_its_catalog(size):
    """Each size's catalog (items, components, B2B customers) builds without generating the history:
    xlarge asked for 500 customers, more than the 200 distinct names, and `sop demo` stopped at once."""
    from sop_pipeline.demo.config import Calendar
    from sop_pipeline.demo.items import make_catalog

    sz = SIZES[size]
    cat = make_catalog(sz, Calendar(date(2026, 11, 22)), 42)
    assert len(cat.customers) == sz.customers and cat.customers.name.is_unique


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="size"):
        generate(tmp_path, size="huge")
    with pytest.raises(ValueError, match="Sunday"):
        generate(tmp_path, end_date=date(2026, 11, 20))
    with pytest.raises(ValueError, match="fmt"):
        generate(tmp_path, fmt="xlsx")


def test_same_seed_is_byte_identical_and_other_seed_differs(demo, tmp_path):
    out_a, rows = demo
    out_b = tmp_path / "b"
    assert generate(out_b, size="small", seed=SEED) == rows
    files = sorted(p.relative_to(out_a) for p in out_a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out_b) for p in out_b.rglob("*") if p.is_file())
    for f in files:
        assert (out_a / f).read_bytes() == (out_b / f).read_bytes(), f
    out_c = tmp_path / "c"
    generate(out_c, size="small", seed=SEED + 1)
    for name in ("items", "pos_sales", "sales_orders", "sales_forecast", "production_orders"):
        assert (out_a / f"{name}.csv").read_bytes() != (out_c / f"{name}.csv").read_bytes(), name


def test_every_extract_has_exactly_the_contract_columns(demo, raw):
    out, rows = demo
    assert set(rows) == set(EXTRACTS)
    for name, spec in EXTRACTS.items():
        header = (out / f"{name}.csv").read_text().split("\n", 1)[0].split(",")
        assert header == EXTRA_FRONT.get(name, []) + spec.column_names, name
        assert len(raw[name]) == rows[name], name
        assert rows[name] > 0, name


def test_value_formats(raw):
    for name, spec in EXTRACTS.items():
        df = raw[name]
        for col, typ in spec.columns.items():
            vals = df[col][df[col] != ""]
            if typ == "date":
                assert vals.str.match(DATE_RE).all(), (name, col)
            elif typ == "timestamp":
                assert vals.str.match(TS_RE).all(), (name, col)
            elif typ == "bool":
                assert set(vals) <= {"true", "false"}, (name, col)
            elif typ in ("float", "int"):
                assert np.isfinite(pd.to_numeric(vals)).all(), (name, col)
    assert raw["pos_sales"].units.str.fullmatch(r"\d+").all()  # integer units
    assert (raw["items"].unit_price.str.len() <= 6).all()  # no float noise such as 9.290000000000001


def test_parquet_matches_csv(demo, tmp_path):
    _, rows = demo
    out = tmp_path / "pq"
    assert generate(out, size="small", seed=SEED, fmt="parquet") == rows
    again = tmp_path / "pq2"
    generate(again, size="small", seed=SEED, fmt="parquet")
    for name, spec in EXTRACTS.items():
        table = pq.read_table(out / f"{name}.parquet")
        assert table.column_names == EXTRA_FRONT.get(name, []) + spec.column_names
        assert table.num_rows == rows[name]
        types = {f.name: str(f.type) for f in table.schema}
        for col, typ in spec.columns.items():
            expected = {
                "str": "string",
                "float": "double",
                "int": "int64",
                "date": "date32[day]",
                "timestamp": "timestamp[ms]",
                "bool": "bool",
            }[typ]  # Parquet has no seconds unit
            assert types[col] == expected, (name, col)
        assert (out / f"{name}.parquet").read_bytes() == (again / f"{name}.parquet").read_bytes(), name
    assert not list(out.glob("*.csv"))


# --------------------------------------------------------------------------- contract rules


def test_keys_unique_and_not_null(raw):
    for name, spec in EXTRACTS.items():
        df = raw[name]
        for col in spec.not_null:
            assert (df[col] != "").all(), (name, col)
        if spec.key:
            assert not df.duplicated(list(spec.key)).any(), name


def _keyed_wrong(demo, rule: str) -> dict[tuple[str, str], set[str]]:
    """The values the demo keyed wrongly on purpose (demo/keying.py), by (extract, column), for one rule."""
    truth = pd.read_csv(demo[0] / "_truth" / "keying_errors.csv", dtype=str)
    truth = truth[truth.rule == rule]
    return {(e, c): set(g.value) for (e, c), g in truth.groupby(["extract", "column_name"])}


def test_categories_and_ranges(demo, typed):
    # every value within the contract but the rows keyed wrongly on purpose, which are exactly those
    wrong = {"category": _keyed_wrong(demo, "category"), "range": _keyed_wrong(demo, "range")}
    assert sum(len(v) for v in wrong.values()) == 2
    for name, spec in EXTRACTS.items():
        df = typed[name]
        for col, allowed in spec.categories.items():
            bad = set(df[col].dropna()) - set(allowed)
            assert bad == wrong["category"].get((name, col), set()), (name, col)
        for col, (lo, hi) in spec.ranges.items():
            v = df[col].dropna()
            below = v < lo if lo is not None else pd.Series(False, index=v.index)
            bad = v[below | (v > hi if hi is not None else False)]
            assert {f"{x:g}" for x in bad} == wrong["range"].get((name, col), set()), (name, col)


def test_references_are_valid(demo, raw):
    wrong = _keyed_wrong(demo, "reference")
    assert sum(len(v) for v in wrong.values()) == 1
    for name, spec in EXTRACTS.items():
        for col, (target, tcol) in spec.references.items():
            vals = set(raw[name][col]) - {""}
            assert vals - set(raw[target][tcol]) == wrong.get((name, col), set()), (name, col)
    key = lambda df, cols: set(map(tuple, df[cols].to_numpy()))  # noqa: E731
    assert key(raw["shipments"], ["order_id", "line"]) <= key(raw["sales_orders"], ["order_id", "line"])
    assert key(raw["receipts"], ["po_id", "line"]) <= key(raw["purchase_orders"], ["po_id", "line"])
    assert set(raw["sales_orders"].customer_id) <= set(raw["customers"].customer_id)
    assert set(raw["opportunities"].customer_id) <= set(raw["customers"].customer_id)
    assert set(raw["ar_items"].party_id) <= set(raw["customers"].customer_id)
    assert set(raw["ap_items"].party_id) <= set(raw["suppliers"].supplier_id)
    items = raw["items"]
    assert set(raw["opportunities"].sku_or_family) <= set(items.sku) | set(items.family)
    stores = set(raw["locations"].location[raw["locations"].type == "store"])
    assert set(raw["pos_sales"].location) <= stores
    assert set(raw["promotions"].location_or_customer) <= stores | {"ALL"}
    make = set(items.sku[items.make_or_buy == "make"])
    assert set(raw["routings"].sku) == make
    assert set(raw["bom"].parent_sku) <= make
    # components are bought, except the made single inside the demo's multipack (a 3-level BOM, issue 17)
    made_components = set(raw["bom"].component_sku) & make
    assert len(made_components) == 1 and made_components <= set(raw["bom"].parent_sku)
    assert set(items.make_or_buy[items.sku.isin(set(raw["bom"].component_sku) - make)]) == {"buy"}
    assert set(raw["pos_sales"].sku).isdisjoint(set(items.sku[items.family == "Components"]))


def test_event_dates_not_after_end_date(typed):
    end = pd.Timestamp(END) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    for name, spec in EXTRACTS.items():
        if spec.event_date:
            assert typed[name][spec.event_date].max() <= end, name
    pos = typed["pos_sales"]
    assert pos.date.max() == pd.Timestamp(END)
    assert pos.date.min() == pd.Timestamp(END) - pd.Timedelta(days=7 * 156 - 1)


# --------------------------------------------------------------------------- realism


def test_demand_realism(raw, typed):
    pos = typed["pos_sales"]
    assert (pos.units > 0).all()
    by_dow = pos.groupby(pos.date.dt.day_of_week).units.sum()
    assert by_dow[5] == by_dow.max() and by_dow[5] > 1.3 * by_dow[:4].mean()  # weekend peak
    rev = pos.groupby("sku").revenue.sum().sort_values(ascending=False)
    assert rev.iloc[: len(rev) // 5].sum() / rev.sum() > 0.6  # a few SKUs carry most revenue
    days = pos.groupby(["sku", "location"]).size() / (7 * 156)
    assert days.min() < 0.3 and days.max() > 0.95  # intermittent C items next to daily sellers
    items = raw["items"]
    assert {"active", "new", "phase_out"} == set(items.lifecycle)
    assert 4 <= items.family[items.family != "Components"].nunique() <= 6
    fg = items[items.family != "Components"]
    assert 0.1 < (fg.make_or_buy == "buy").mean() < 0.4
    cost_share = fg.unit_cost.astype(float) / fg.unit_price.astype(float)
    assert cost_share.between(0.44, 0.76).all()


def test_lifecycle_launch_and_phase_out_in_pos(raw, typed):
    pos = typed["pos_sales"]
    items = raw["items"]
    first, last = pos.groupby("sku").date.min(), pos.groupby("sku").date.max()
    start = pd.Timestamp(END) - pd.Timedelta(days=7 * 156 - 1)
    for sku in items.sku[items.lifecycle == "new"]:
        assert first[sku] > start + pd.Timedelta(days=500), sku
    for sku in items.sku[items.lifecycle == "phase_out"]:
        assert last[sku] < pd.Timestamp(END) - pd.Timedelta(days=10), sku


def test_promotions_lift_units_and_some_are_upcoming(typed):
    pos = typed["pos_sales"]
    pr = typed["promotions"]
    assert pr.discount_pct.between(0.1, 0.3).all()
    assert (pr.start_date > pd.Timestamp(END)).any()
    assert (pr.start_date <= pd.Timestamp(END) + pd.Timedelta(weeks=13)).all()
    daily = pos.groupby(["sku", "date"]).units.sum()
    lifts = []
    past = pr[(pr.location_or_customer == "ALL") & (pr.end_date < pd.Timestamp(END) - pd.Timedelta(weeks=3))]
    for p in past.itertuples():
        s = daily.loc[p.sku]
        during = s.reindex(pd.date_range(p.start_date, p.end_date), fill_value=0).mean()
        before = s.reindex(
            pd.date_range(p.start_date - pd.Timedelta(days=28), p.start_date - pd.Timedelta(days=1)), fill_value=0
        ).mean()
        if before >= 2:
            lifts.append(during / before)
    assert len(lifts) >= 5 and 1.5 < np.median(lifts) < 3.2


def test_service_and_finance_levels(typed):
    so, sh = typed["sales_orders"], typed["shipments"]
    due = so[(so.promised_date <= pd.Timestamp(END)) & (so.status != "cancelled")]
    first = sh.groupby(["order_id", "line"]).agg(delivered=("delivered_date", "min"), shipped=("qty", "first"))
    m = due.join(first, on=["order_id", "line"])
    otif = ((m.delivered <= m.promised_date) & (m.shipped >= m.qty)).mean()
    assert 0.85 <= otif <= 0.95
    open_ = so[so.status == "open"]
    ahead = (open_.promised_date - pd.Timestamp(END)).dt.days
    assert (ahead > 0).sum() > 20 and ahead.max() <= 6 * 7
    assert set(so.status) == {"open", "shipped", "partially_shipped", "cancelled"}
    ar = typed["ar_items"]
    paid = ar.dropna(subset=["paid_date"])
    days_to_pay = ((paid.paid_date - paid.doc_date).dt.days * paid.amount).sum() / paid.amount.sum()
    assert 40 <= days_to_pay <= 65 and ar.paid_date.isna().any()
    ap = typed["ap_items"]
    assert ap.paid_date.isna().any() and 25 <= (ap.due_date - ap.doc_date).dt.days.mean() <= 60
    po, rc = typed["purchase_orders"], typed["receipts"]
    f = rc.groupby(["po_id", "line"]).agg(rd=("receipt_date", "min"), rq=("qty", "first"))
    pm = po.join(f, on=["po_id", "line"], how="inner")
    otif_sup = ((pm.rd <= pm.promised_date) & (pm.rq >= pm.qty)).groupby(pm.supplier_id).mean()
    assert otif_sup.max() - otif_sup.min() > 0.05  # suppliers differ


def test_plant_is_consistent(raw, typed):
    rt = typed["resource_time"]
    assert set(rt.resource_id) == {"M1", "M2"}
    assert (rt.run_hours <= rt.planned_hours + 1e-9).all() and (rt.good_units <= rt.total_units).all()
    assert (rt.total_units <= rt.ideal_units * 1.001 + 1).all()
    m1 = rt[rt.resource_id == "M1"]
    oee = (
        m1.run_hours.sum()
        / m1.planned_hours.sum()
        * m1.total_units.sum()
        / m1.ideal_units.sum()
        * m1.good_units.sum()
        / m1.total_units.sum()
    )
    assert 0.55 <= oee <= 0.85  # ~60-80% (0.73 with the default seed)
    res = raw["resources"].set_index("resource_id")
    assert res.loc["M1", "is_constraint"] == "true" and res.loc["M2", "is_constraint"] == "false"
    assert set(res.type) == {"machine", "labor", "tooling"}
    co = typed["changeovers"]
    for _, g in co.groupby("resource_id"):
        mat = g.pivot(index="from_key", columns="to_key", values="minutes")
        assert 4 <= len(mat) <= 6 and (np.diag(mat) == 0).all()
        assert (mat.to_numpy() != mat.to_numpy().T).any()  # asymmetric
    wo = typed["production_orders"]
    done = wo[wo.status == "completed"]
    assert done.actual_start.notna().all() and done.actual_end.notna().all()
    future = wo[wo.status.isin(["planned", "released"])]
    assert future.actual_start.isna().all() and (future.planned_start > pd.Timestamp(END)).any()
    assert future.planned_start.max() <= pd.Timestamp(END) + pd.Timedelta(weeks=5)
    scrap = wo.scrap_qty.sum() / (wo.good_qty.sum() + wo.scrap_qty.sum())
    assert 0.01 <= scrap <= 0.04
    dt = typed["downtime"]
    assert ((dt.planned == "true") & (dt.start > pd.Timestamp(END))).any()
    unplanned = dt[(dt.planned == "false") & (dt.resource_id == "M1")]
    hours = (unplanned.end - unplanned.start).dt.total_seconds() / 3600
    recent = unplanned.start > pd.Timestamp(END) - pd.Timedelta(weeks=12)
    early = unplanned.start < pd.Timestamp(END) - pd.Timedelta(weeks=52)
    assert hours[recent].sum() / 12 > 1.5 * hours[early].sum() / (156 - 52)  # breakdowns trending up
    assert (hours <= 16).all()  # events are split per working day
    sk = typed["skills"]
    assert set(sk.resource_id) == {"L1", "M1", "M2"} and sk.level.between(0, 3).all()
    assert (sk[sk.resource_id == "M1"].level >= 2).sum() < (sk[sk.resource_id == "M2"].level >= 2).sum()


def test_decisions_log(raw):
    d = raw["decisions"]
    assert d.decision_id.str.match(r"^D-\d{4}-\d{2}-\d{3}$").all() and d.decision_id.is_unique
    assert set(d.approved) <= {"yes", "no"}
    assert set(d.accountable) == {"Ops leader + Commercial leader"}
    assert set(d.responsible) <= {"Demand planner", "Master scheduler"}
    subs = d[d.kind == "substitution"].subject
    assert subs.str.match(r"^SKU\d{4}->SKU\d{4}$").all()


# --------------------------------------------------------------------------- injected truths


def test_truth_files_present(demo):
    truth = demo[0] / "_truth"
    for name in TRUTH_FILES:
        assert len(pd.read_csv(truth / f"{name}.csv")) > 0, name
    text = (truth / "README.md").read_text()
    assert all(name in text for name in TRUTH_FILES)


def test_pos_outliers_are_factor_times_the_surrounding_weeks(demo, raw, typed):
    out = _truth(demo, "pos_outliers", ["week_start"])
    n_fg = (raw["items"].family != "Components").sum()
    assert abs(len(out) - n_fg / 8) <= 1 and out.factor.between(3, 6).all()
    assert (out.week_start.dt.day_of_week == 0).all()
    pos = typed["pos_sales"]
    weekly = pos.groupby(["sku", _monday(pos.date)]).units.sum()
    stores = pos.location.nunique()
    ratios = []
    for o in out.itertuples():
        s = weekly.loc[o.sku]
        around = [s.get(o.week_start + pd.Timedelta(weeks=k), 0) for k in range(-6, 7) if k]
        assert np.median(around) >= 10, o.sku  # healthy volume only
        ratio = s.get(o.week_start, 0) / np.median(around)
        ratios.append(ratio / o.factor)
        assert 0.55 <= ratio / o.factor <= 1.6, (o.sku, ratio, o.factor)
        in_week = pos[(pos.sku == o.sku) & (_monday(pos.date) == o.week_start)]
        assert in_week.location.nunique() >= stores - 1  # every store spiked (a slow store may sell 0 x factor)
    assert 0.8 <= np.median(ratios) <= 1.25
    pr = typed["promotions"]
    for o in out.itertuples():  # never overlapping a promotion or its dip
        p = pr[pr.sku == o.sku]
        assert not (
            (p.start_date <= o.week_start + pd.Timedelta(days=6)) & (p.end_date + pd.Timedelta(days=14) >= o.week_start)
        ).any(), o.sku
    assert (out.week_start < pd.Timestamp(END) - pd.Timedelta(weeks=13)).all()


def _realised_weekly(typed) -> pd.Series:
    pos = typed["pos_sales"]
    so = typed["sales_orders"]
    so = so[so.status != "cancelled"]
    a = pos.groupby(["sku", _monday(pos.date).rename("week_start")]).units.sum()
    b = so.groupby(["sku", _monday(so.requested_date).rename("week_start")]).qty.sum()
    return a.add(b, fill_value=0).rename("actual")


def test_optimistic_families_overforecast_by_their_pct(demo, raw, typed):
    opt = _truth(demo, "optimistic_families")
    assert 1 <= len(opt) <= 2 and opt.optimism_pct.between(10, 50).all()
    hs = _truth(demo, "hockey_sticks", ["snapshot_date"])
    fc = typed["sales_forecast"]
    fc = fc[(fc.source == "sales") & (fc.week_start <= pd.Timestamp(END) - pd.Timedelta(days=6))]
    fc = fc.merge(hs[["snapshot_date", "sku"]], how="left", indicator=True)  # hockey sticks and
    fc = fc[fc._merge == "left_only"].drop(columns="_merge")
    out = _truth(demo, "pos_outliers", ["week_start"])[["sku", "week_start"]]
    fc = fc.merge(out, how="left", indicator=True)  # outlier weeks are other truths
    fc = fc[fc._merge == "left_only"]
    m = fc.join(_realised_weekly(typed), on=["sku", "week_start"]).fillna({"actual": 0})
    m = m.merge(raw["items"][["sku", "family"]], on="sku")
    ratio = m.groupby("family").units.sum() / m.groupby("family").actual.sum()
    pct = opt.set_index("family").optimism_pct
    for fam, r in ratio.items():
        expected = 1 + pct.get(fam, 0) / 100
        assert abs(r / expected - 1) < 0.08, (fam, r, expected)
    assert set(raw["sales_forecast"].source) == {"sales", "marketing"}
    snaps = pd.to_datetime(raw["sales_forecast"].snapshot_date.unique())
    assert len(snaps) == 52 and (snaps.day_of_week == 0).all()


def test_hockey_sticks_jump_in_weeks_8_to_13(demo, raw, typed):
    hs = _truth(demo, "hockey_sticks", ["snapshot_date", "first_week_start"])
    assert 3 <= len(hs) <= 6 and hs.factor.between(2.5, 4).all()
    assert hs.snapshot_date.max() == pd.Timestamp(END) - pd.Timedelta(days=6)  # one in the current cycle
    fc = typed["sales_forecast"]
    actual = _realised_weekly(typed)
    pr, opp = typed["promotions"], raw["opportunities"]
    for h in hs.itertuples():
        f = fc[(fc.source == "sales") & (fc.snapshot_date == h.snapshot_date) & (fc.sku == h.sku)]
        f = f.sort_values("week_start")
        assert len(f) == 13 and f.week_start.iloc[7] == h.first_week_start
        weeks = [h.snapshot_date - pd.Timedelta(weeks=k) for k in range(1, 9)]
        run_rate = np.mean([actual.get((h.sku, w), 0) for w in weeks])
        assert run_rate == pytest.approx(h.run_rate_units, rel=0.01)
        jump = f.units.iloc[7:].to_numpy() / run_rate
        assert np.all(np.abs(jump / h.factor - 1) < 0.08), (h.sku, jump)
        assert np.all(f.units.iloc[:7].to_numpy() / run_rate < 2.0)
        p = pr[pr.sku == h.sku]
        assert not (
            (p.start_date <= h.snapshot_date + pd.Timedelta(weeks=14)) & (p.end_date >= h.first_week_start)
        ).any()
        assert h.sku not in set(opp.sku_or_family)


def test_stockout_spells_have_no_pos_and_zero_stock(demo, typed):
    so = _truth(demo, "stockouts", ["date_from", "date_to"])
    assert len(so) >= 3 and (so.date_to >= so.date_from).all()
    pos = typed["pos_sales"]
    inv = typed["inventory_lots"]
    for s in so.itertuples():
        hit = pos[(pos.sku == s.sku) & (pos.location == s.location) & pos.date.between(s.date_from, s.date_to)]
        assert hit.empty, s
        around = pos[
            (pos.sku == s.sku)
            & (pos.location == s.location)
            & pos.date.between(s.date_from - pd.Timedelta(days=28), s.date_from - pd.Timedelta(days=1))
        ]
        assert len(around) >= 7, s  # a real seller, not a naturally zero series
        lots = inv[
            (inv.sku == s.sku) & (inv.location == s.location) & inv.snapshot_date.between(s.date_from, s.date_to)
        ]
        assert len(lots) >= 1 and (lots.qty == 0).all(), s
    zero = inv[inv.qty == 0]
    assert len(zero) == sum(  # zero stock only inside the spells
        ((inv.snapshot_date.between(s.date_from, s.date_to)) & (inv.sku == s.sku) & (inv.location == s.location)).sum()
        for s in so.itertuples()
    )


def test_seasonal_items_sell_only_in_their_season_which_opens_in_the_horizon(demo, raw, typed):
    """The demo's seasonal line: nothing in its last 13 weeks nor the same weeks of the two years before,
    sales in most weeks of each season, a season opening in horizon week 2, and no other injected event
    on it (promotion, stockout, outlier, hockey stick), which would blur what a test reads."""
    seasonal = _truth(demo, "seasonal_items", ["season_start", "season_end"])
    assert len(seasonal) >= 1
    end = pd.Timestamp(END)
    pos = typed["pos_sales"]
    items = raw["items"].set_index("sku")
    for s in seasonal.itertuples():
        assert s.season_start == end + pd.Timedelta(days=8) and (s.season_end - s.season_start).days == 83
        assert items.loc[s.sku, "lifecycle"] == "active" and items.loc[s.sku, "make_or_buy"] == "make"
        weekly = pos[pos.sku == s.sku].groupby(_monday(pos[pos.sku == s.sku].date)).units.sum()
        for years in range(3):  # this year's quiet spell and the same weeks one and two years earlier
            quiet_end = end - pd.Timedelta(weeks=52 * years)
            spell = weekly[(weekly.index > quiet_end - pd.Timedelta(weeks=13)) & (weekly.index <= quiet_end)]
            assert spell.sum() == 0, (s.sku, years)
        for years in (1, 2):  # and each past season sold in most of its 12 weeks
            start = s.season_start - pd.Timedelta(weeks=52 * years)
            season = weekly[
                (weekly.index >= start - pd.Timedelta(days=7)) & (weekly.index <= start + pd.Timedelta(weeks=12))
            ]
            assert (season > 0).sum() >= 9, (s.sku, years)
        assert weekly.sum() == weekly[_in_seasons(weekly.index, s.season_start)].sum(), s.sku
        assert s.sku not in set(typed["promotions"].sku)
        for name in ("stockouts", "pos_outliers", "hockey_sticks"):
            assert s.sku not in set(_truth(demo, name).sku), (s.sku, name)


def _in_seasons(weeks: pd.DatetimeIndex, season_start: pd.Timestamp) -> np.ndarray:
    """Weeks that overlap a 12-week season opening on ``season_start`` or on a whole year before it."""
    days = (season_start - weeks).days.to_numpy()  # > 0: the week starts before the season opens
    # the season opens every 365.25 days: its phase within the year, for a week's days
    phase = np.mod(-days[:, None] + np.arange(7)[None, :], 365.25)
    return (phase < 84).any(axis=1)


def test_inventory_ages_and_statuses(raw, typed):
    inv = typed["inventory_lots"]
    assert inv.snapshot_date.max() == pd.Timestamp(END)
    assert (inv.snapshot_date.dt.day_of_week == 6).all() and inv.snapshot_date.nunique() >= 26
    age = (inv.snapshot_date - inv.receipt_date).dt.days
    buckets = pd.cut(age, [-1, 30, 90, 180, 365, 10**6]).value_counts()
    assert (buckets > 0).all() and (age >= 0).all()
    assert (inv.expiry_date < inv.snapshot_date).any() and (inv.status == "hold").any()
    assert set(inv.location) == set(raw["locations"].location)  # stores, DCs and the plant
    # the plant holds the components, and only they: what their receipts left after the plant's use
    items = typed["items"].set_index("sku")
    at_plant = inv[inv.location == "P1"]
    assert set(at_plant.sku) == set(items.index[items.family == "Components"]) & set(at_plant.sku) != set()
    assert not inv[inv.location != "P1"].sku.isin(at_plant.sku).any()
    received = typed["receipts"].merge(typed["purchase_orders"][["po_id", "line", "sku"]], on=["po_id", "line"])
    by_day = received.groupby(["sku", "receipt_date"]).qty.sum()
    keys = set(by_day.index)
    for (snap, sku), lots in at_plant.groupby(["snapshot_date", "sku"]):
        received_lot = [(sku, d) in keys for d in lots.receipt_date]
        opening = lots[[not x for x in received_lot]]
        assert len(opening) <= 1 and (opening.receipt_date <= lots.receipt_date.min()).all(), (sku, snap)
        for r in lots[received_lot].itertuples():  # a receipt's lot holds at most what came that day
            assert r.receipt_date <= snap and r.qty <= by_day[(sku, r.receipt_date)] + 1e-9, (sku, snap)


def test_supplier_drift(demo, typed):
    tr = _truth(demo, "supplier_drift", ["drift_start", "disruption_date"]).iloc[0]
    end = pd.Timestamp(END)
    assert pd.Timedelta(weeks=6) <= end - tr.disruption_date <= pd.Timedelta(weeks=11)
    assert pd.Timedelta(weeks=10) <= tr.disruption_date - tr.drift_start <= pd.Timedelta(weeks=12)
    assert tr.lead_time_days_after > tr.lead_time_days_before + 5
    risk = typed["risk_events"]
    assert ((risk.kind == "supplier") & (risk.entity_id == tr.supplier_id) & (risk.date == tr.disruption_date)).any()
    assert set(risk.kind) == {"supplier", "route", "asset"}
    po, rc = typed["purchase_orders"], typed["receipts"]
    first = rc.groupby(["po_id", "line"]).receipt_date.min().rename("rd")
    m = po[po.supplier_id == tr.supplier_id].join(first, on=["po_id", "line"], how="inner")
    lead = (m.rd - m.order_date).dt.days
    before = lead[m.order_date < tr.drift_start]
    late_drift = lead[m.order_date.between(tr.disruption_date - pd.Timedelta(weeks=4), tr.disruption_date)]
    assert abs(before[m.order_date >= tr.drift_start - pd.Timedelta(weeks=26)].mean() - tr.lead_time_days_before) < 0.2
    assert late_drift.mean() > before.mean() + 0.5 * (tr.lead_time_days_after - tr.lead_time_days_before)
    late_vs_promise = (m.rd - m.promised_date).dt.days
    drifting = m.order_date >= tr.drift_start
    assert late_vs_promise[drifting].mean() > late_vs_promise[~drifting].mean() + 3
    others = po[po.supplier_id != tr.supplier_id].join(first, on=["po_id", "line"], how="inner")
    other_lead = (others.rd - others.order_date).dt.days.groupby(others.supplier_id)
    assert (other_lead.std() > 0).all()  # every supplier has some lead-time variability


# --------------------------------------------------------------------------- a demo with teeth: every decision path

HORIZON_END = pd.Timestamp(END) + pd.Timedelta(weeks=13)  # week 1 = the Monday after END


def test_a_deal_was_lost_and_one_won_since_the_last_weekly_cycle(typed):
    op = typed["opportunities"]
    recent = op[(op.expected_date > pd.Timestamp(END) - pd.Timedelta(days=7)) & (op.expected_date <= pd.Timestamp(END))]
    assert (recent.status == "lost").sum() >= 1 and (recent.status == "won").sum() >= 1
    assert (recent[recent.status == "lost"].probability == 0).all()
    assert (recent[recent.status == "won"].probability == 1).all()


def test_lots_expired_at_the_as_of_and_usable_lots_expire_in_the_horizon(typed):
    inv = typed["inventory_lots"]
    last = inv[(inv.snapshot_date == pd.Timestamp(END)) & (inv.qty > 0)]
    expired = last[last.expiry_date <= pd.Timestamp(END)]
    expiring = last[
        (last.status == "available") & (last.expiry_date > pd.Timestamp(END)) & (last.expiry_date <= HORIZON_END)
    ]
    assert len(expired) >= 3 and len(expiring) >= 1


def test_a_made_promoted_sku_sits_behind_the_full_plant(raw, typed):
    """An upcoming all-store promotion (horizon weeks 10-11) on a made C item that earns the least per
    machine hour among the made items with volume, with active same-family SKUs to substitute."""
    items = raw["items"].assign(
        unit_price=lambda d: d.unit_price.astype(float), unit_cost=lambda d: d.unit_cost.astype(float)
    )
    pr = typed["promotions"]
    start = pd.Timestamp(END) + pd.Timedelta(weeks=9, days=1)
    promo = pr[
        (pr.start_date == start) & (pr.location_or_customer == "ALL") & (pr.end_date == start + pd.Timedelta(days=13))
    ]
    assert len(promo) == 1
    sku = promo.sku.iloc[0]
    item = items.set_index("sku").loc[sku]
    assert item.make_or_buy == "make" and item.lifecycle == "active"
    siblings = items[(items.family == item.family) & (items.sku != sku) & (items.lifecycle == "active")]
    assert len(siblings) >= 1
    t1 = typed["routings"][typed["routings"].resource_id == "T1"].set_index("sku").units_per_hour
    margin_h = (items.set_index("sku").unit_price - items.set_index("sku").unit_cost) * t1
    pos = typed["pos_sales"]
    units = pos[pos.date > pd.Timestamp(END) - pd.Timedelta(weeks=13)].groupby("sku").units.sum() / 13
    revenue = pos.groupby("sku").revenue.sum().sort_values()
    low_revenue = set(revenue.index[: len(revenue) // 2])
    peers = margin_h[margin_h.index.isin(low_revenue) & margin_h.index.isin(units[units >= 10].index)]
    assert sku in low_revenue and margin_h[sku] <= peers.quantile(0.25)


def test_shift_b_is_short_of_qualified_line_operators(typed):
    """Shift B's qualified (level >= 2) L1 hours fall short of its half of the line-operator hours the
    latest Sales forecast needs (the generator keeps 80% of the expected need), and shift B has L1
    trainees (level 1) to cross-train."""
    sk = typed["skills"]
    fc = typed["sales_forecast"]
    fc = fc[(fc.source == "sales") & (fc.snapshot_date == fc.snapshot_date.max())]
    l1 = typed["routings"][typed["routings"].resource_id == "L1"].set_index("sku").units_per_hour
    need = fc[fc.sku.isin(l1.index)].assign(h=lambda d: d.units / d.sku.map(l1)).groupby("week_start").h.sum().mean()
    b = sk[(sk.resource_id == "L1") & (sk["shift"] == "B")]
    assert b[b.level >= 2].hours_per_week.sum() < 0.9 * need / 2
    assert (b.level == 1).sum() >= 1


def test_plan_history_is_last_weeks_plan_of_record(typed):
    """One cycle, a week before END: demand = the Sales forecast submitted the Monday before it, every
    week of that cycle's horizon; made supply fits each routed resource; revenue at list price."""
    ph = typed["plan_history"]
    cycle = pd.Timestamp(END) - pd.Timedelta(days=7)
    assert ph.cycle_id.max() == cycle
    ph = ph[ph.cycle_id == cycle]  # the earlier cycles: test_plan_history_has_past_consensus
    weeks = sorted(ph.week_start.unique())
    assert weeks == list(pd.date_range(cycle + pd.Timedelta(days=1), periods=13, freq="7D"))
    fc = typed["sales_forecast"]
    fc = fc[(fc.source == "sales") & (fc.snapshot_date == cycle - pd.Timedelta(days=6))]
    m = ph.merge(fc, on=["sku", "week_start"], how="left")
    assert m.units.notna().mean() > 0.95  # Sales submits no row for a week it expects nothing (between seasons)
    assert np.allclose(m.demand_units, m.units.fillna(0.0))
    items = typed["items"].set_index("sku")
    assert np.allclose(ph.revenue, (ph.demand_units * ph.sku.map(items.unit_price)).round(2))
    assert (ph.family == ph.sku.map(items.family)).all()
    made = ph[ph.sku.map(items.make_or_buy) == "make"]
    # lot-sized: never ahead of the demand in total, each lot at least the SKU's minimum run
    made = made.sort_values(["sku", "week_start"])
    ahead = made.groupby("sku").supply_units.cumsum() - made.groupby("sku").demand_units.cumsum()
    assert (ahead <= 1e-6).all() and made.supply_units.sum() > 0
    from sop_pipeline.analytics.mps import minimum_run_units

    runs = minimum_run_units(typed["routings"], typed["production_orders"])
    lots = made[made.supply_units > 0]
    assert (lots.supply_units >= lots.sku.map(runs) - 1e-6).all()
    bought = ph[ph.sku.map(items.make_or_buy) == "buy"]
    assert ((bought.supply_units == 0) | np.isclose(bought.supply_units, bought.demand_units)).all()
    load = made.merge(typed["routings"], on="sku").assign(h=lambda d: d.supply_units / d.units_per_hour)
    hours = load.pivot_table(index="week_start", columns="resource_id", values="h", aggfunc="sum")
    sk = typed["skills"]
    assert (hours["T1"] <= 80 + 1e-6).all() and (hours[["M1", "M2"]] <= 80 + 1e-6).all().all()
    assert (hours["L1"] <= sk[(sk.resource_id == "L1") & (sk.level >= 2)].hours_per_week.sum()).all()


def test_plan_history_has_past_consensus(typed):
    """25 earlier weekly cycles (forecast value added's consensus step): each 13 weeks from the Monday after
    it; demand = the Sales forecast of the Monday before it for optimistic families, else the geometric
    mean of that and the expected demand (so it differs from the Sales forecast)."""
    from sop_pipeline.demo.plan_history import PAST_CYCLES

    ph = typed["plan_history"]
    last = pd.Timestamp(END) - pd.Timedelta(days=7)
    past = ph[ph.cycle_id < last]
    cycles = sorted(past.cycle_id.unique())
    assert cycles == list(pd.date_range(end=last - pd.Timedelta(days=7), periods=PAST_CYCLES, freq="7D"))
    first = past.groupby("cycle_id").week_start.min()
    assert ((first - first.index) == pd.Timedelta(days=1)).all()
    assert (past.groupby("cycle_id").week_start.nunique() == 13).all()
    fc = typed["sales_forecast"]
    fc = fc[fc.source == "sales"].assign(cycle_id=lambda d: d.snapshot_date + pd.Timedelta(days=6))
    m = past.merge(fc, on=["cycle_id", "sku", "week_start"], how="left")
    assert m.units.notna().all()
    same = np.isclose(m.demand_units, m.units.round(1), atol=0.051)
    assert 0.05 < same.mean() < 0.95  # optimistic families at face value, the others met halfway
    assert np.allclose(past.supply_units, past.demand_units)
