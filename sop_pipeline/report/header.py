"""What the pack's header and footer show: cycle, publish time, data-quality summary, the agenda
with time boxes (markup in templates/pack.html.j2)."""

from __future__ import annotations

import pandas as pd

from sop_pipeline.report.context import PackContext
from sop_pipeline.report.format import num

DQ_COLS = ("extract", "status", "rows_loaded", "rows_quarantined")


def header(ctx: PackContext, info: dict, agenda: list[tuple[str, str, int]]) -> dict:
    """`agenda`: (section id, title, minutes) in meeting order."""
    published = info.get("published_at")
    meta = [
        f"Cycle (as of) {ctx.cycle}",
        f"published {pd.Timestamp(published):%Y-%m-%d %H:%M %Z}".strip()
        if published is not None
        else "publish time unknown",
    ]
    if info.get("checksum"):
        meta.append(f"checksum {str(info['checksum'])[:12]}")
    return {
        "cycle": ctx.cycle,
        "meta": " \u00b7 ".join(meta),
        "data_quality": data_quality(ctx),
        "agenda": [{"section_id": sid, "title": t, "minutes": m} for sid, t, m in agenda],
        "agenda_minutes": sum(m for _, _, m in agenda),
    }


def data_quality(ctx: PackContext) -> dict:
    """Extracts loaded/absent and rows quarantined (data_quality_extracts): badges [{label, tone}] and
    detail lines, or the reason there is no data."""
    df = ctx.marts.read("data_quality_extracts", DQ_COLS, optional=("rows_after_as_of",))
    if df.empty:
        ctx.no_data.append("data-quality")
        return {"no_data": ctx.marts.why_empty("data_quality_extracts", DQ_COLS), "badges": [], "details": []}
    loaded = df[df.status == "loaded"]
    absent = sorted(df.loc[df.status != "loaded", "extract"].astype(str))
    quarantined = int(df.rows_quarantined.fillna(0).sum())
    bad = df[df.rows_quarantined.fillna(0) > 0].sort_values("rows_quarantined", ascending=False)
    badges = [
        (f"{len(loaded)} extracts loaded", "good"),
        (f"{len(absent)} absent", "warn" if absent else "good"),
        (f"{num(quarantined)} rows quarantined", "bad" if quarantined else "good"),
    ]
    if "rows_after_as_of" in df and df.rows_after_as_of.fillna(0).sum():
        badges.append((f"{num(df.rows_after_as_of.fillna(0).sum())} rows after the as-of date excluded", "neutral"))
    details = []
    if absent:
        details.append("Absent (their sections say \u201cno data\u201d): " + ", ".join(absent) + ".")
    if len(bad):
        rules = quarantine_rules(ctx)
        details.append(
            "Quarantined: "
            + ", ".join(
                f"{r.extract} {num(r.rows_quarantined)}" + (f" ({rules[r.extract]})" if r.extract in rules else "")
                for r in bad.itertuples()
            )
            + " (see data_quality_issues)."
        )
    return {"no_data": None, "badges": [{"label": label, "tone": tone} for label, tone in badges], "details": details}


RULE_WORDS = {
    "duplicate_key": "duplicated key",
    "master_quarantined": "its item/master quarantined",
    "reference": "unknown key",
    "type": "wrong type",
    "range": "out of range",
    "category": "unknown value",
    "not_null": "missing value",
    "csv_reject": "unreadable line",
    "truncated": "truncated line",
    "encoding": "bad text encoding",
    "bom_cycle": "BOM cycle",
}


def quarantine_rules(ctx: PackContext, top: int = 3) -> dict[str, str]:
    """Per extract, its biggest quarantine rules in words with row counts (data_quality_issues)."""
    issues = ctx.marts.read("data_quality_issues", ("extract", "rule", "rows_affected"))
    if issues.empty:
        return {}
    issues = issues[issues.rule.astype(str) != "after_as_of"]
    by_rule = issues.groupby(["extract", "rule"], as_index=False).rows_affected.sum()
    out = {}
    for extract, rows in by_rule.groupby("extract"):
        rows = rows.sort_values(["rows_affected", "rule"], ascending=[False, True]).head(top)
        out[str(extract)] = "; ".join(
            f"{RULE_WORDS.get(r.rule, r.rule)} {num(r.rows_affected)}" for r in rows.itertuples()
        )
    return out


def footer(ctx: PackContext, serving_db: str, generated_at: str) -> str:
    used = ", ".join(sorted(ctx.marts.used)) or "none"
    return (
        f"Built {generated_at} from {serving_db}. Marts read: {used}. "
        f"Charts: {len(ctx.charts)}. Panels waiting for data: {len(ctx.no_data)}."
    )
