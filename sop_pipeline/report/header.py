"""The pack's header: cycle, publish time, data-quality summary, the agenda with time boxes."""

from __future__ import annotations

import pandas as pd

from sop_pipeline.report.context import PackContext
from sop_pipeline.report.html import Safe, badge, esc, join, num, tag

DQ_COLS = ("extract", "status", "rows_loaded", "rows_quarantined")


def header(ctx: PackContext, info: dict, agenda: list[tuple[str, str, int]]) -> Safe:
    """`agenda`: (section id, title, minutes) in meeting order."""
    published = info.get("published_at")
    meta = [f"Cycle (as of) {ctx.cycle}",
            f"published {pd.Timestamp(published):%Y-%m-%d %H:%M %Z}".strip() if published is not None else
            "publish time unknown"]
    if info.get("checksum"):
        meta.append(f"checksum {str(info['checksum'])[:12]}")
    title = tag("h1", Safe(esc("S&OP meeting pack") + tag("span", f" \u00b7 cycle {ctx.cycle}", cls="cycle")))
    items = join(tag("li", Safe(tag("a", t, href=f"#{sid}") + " " + tag("span", f"{m} min", cls="timebox")))
                 for sid, t, m in agenda)
    total = sum(m for _, _, m in agenda)
    nav = tag("nav", Safe(tag("strong", f"Agenda ({total} min)") + tag("ol", items)), cls="agenda")
    return tag("header", Safe(title + tag("p", " \u00b7 ".join(meta), cls="meta") + data_quality(ctx) + nav),
               id="pack-header")


def data_quality(ctx: PackContext) -> Safe:
    """Extracts loaded/absent and rows quarantined (data_quality_extracts)."""
    df = ctx.marts.read("data_quality_extracts", DQ_COLS, optional=("rows_after_as_of",))
    if df.empty:
        ctx.no_data.append("data-quality")
        return tag("div", Safe(tag("strong", "Data quality: no data yet") + " " + esc(
            f"({ctx.marts.why_empty('data_quality_extracts', DQ_COLS)}).")), cls="dq no-data", id="data-quality",
            data_no_data="true")
    loaded = df[df.status == "loaded"]
    absent = sorted(df.loc[df.status != "loaded", "extract"].astype(str))
    quarantined = int(df.rows_quarantined.fillna(0).sum())
    bad = df[df.rows_quarantined.fillna(0) > 0].sort_values("rows_quarantined", ascending=False)
    parts = [badge(f"{len(loaded)} extracts loaded", "good"),
             badge(f"{len(absent)} absent", "warn" if absent else "good"),
             badge(f"{num(quarantined)} rows quarantined", "bad" if quarantined else "good")]
    if "rows_after_as_of" in df and df.rows_after_as_of.fillna(0).sum():
        parts.append(badge(f"{num(df.rows_after_as_of.fillna(0).sum())} rows after the as-of date excluded", "neutral"))
    details = []
    if absent:
        details.append("Absent (their sections say \u201cno data\u201d): " + ", ".join(absent) + ".")
    if len(bad):
        rules = quarantine_rules(ctx)
        details.append("Quarantined: " + ", ".join(
            f"{r.extract} {num(r.rows_quarantined)}" + (f" ({rules[r.extract]})" if r.extract in rules else "")
            for r in bad.itertuples()) + " (see data_quality_issues).")
    body = tag("strong", "Data quality") + " " + join(parts) + join(tag("p", d, cls="note") for d in details)
    return tag("div", Safe(body), cls="dq", id="data-quality")


RULE_WORDS = {"duplicate_key": "duplicated key", "master_quarantined": "its item/master quarantined",
              "reference": "unknown key", "type": "wrong type", "range": "out of range", "category": "unknown value",
              "not_null": "missing value", "csv_reject": "unreadable line", "truncated": "truncated line",
              "encoding": "bad text encoding"}


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
        out[str(extract)] = "; ".join(f"{RULE_WORDS.get(r.rule, r.rule)} {num(r.rows_affected)}"
                                      for r in rows.itertuples())
    return out


def footer(ctx: PackContext, serving_db: str, generated_at: str) -> Safe:
    used = ", ".join(sorted(ctx.marts.used)) or "none"
    text = (f"Built {generated_at} from {serving_db}. Marts read: {used}. "
            f"Charts: {len(ctx.charts)}. Panels waiting for data: {len(ctx.no_data)}.")
    return tag("footer", text)

