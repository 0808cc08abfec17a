"""Assemble the meeting pack: one self-contained HTML file following the 60-minute agenda."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from plotly.offline import get_plotlyjs

from sop_pipeline.report import decisions, demand, last_month, reconciliation, scenario, supply
from sop_pipeline.report.context import PANEL_ERRORS, PackContext
from sop_pipeline.report.header import footer, header
from sop_pipeline.report.marts import ReportError, open_marts, publish_info
from sop_pipeline.report.style import CSS
from sop_pipeline.report.templating import render, trusted


@dataclass(frozen=True)
class AgendaItem:
    section_id: str
    title: str
    minutes: int
    intro: str
    build: Callable[[PackContext], list]  # rendered panels; a tuple of panels is shown side by side
    shown: Callable[[PackContext], bool] | None = None  # None: always in the pack


AGENDA = [
    AgendaItem(
        "last-month",
        "Last month in a meme",
        10,
        "Service, OTIF, revenue vs plan, inventory turns, expedite $, scrap %.",
        last_month.build,
    ),
    AgendaItem(
        "demand-review",
        "Demand review",
        15,
        "Top movers, promotions, lost deals, new wins; AI flags forecast bias and outliers.",
        demand.build,
    ),
    AgendaItem(
        "supply-review",
        "Supply review",
        15,
        "Capacity by constraint, changeover windows, supplier risk; the service-vs-inventory point.",
        supply.build,
    ),
    AgendaItem(
        "reconciliation",
        "Reconciliation",
        10,
        "Price-volume-mix bridge, plan of record vs finance plan, margin, cash impact (working capital).",
        reconciliation.build,
    ),
    AgendaItem(
        "decision-log",
        "Decision log",
        10,
        "Freeze window, SKU substitutions, make-vs-buy, expedites: yes/no, with owners.",
        decisions.build,
    ),
]
# Only in a scenario's pack (`sop scenario run`: the serving file holds scenario_compare rows).
SCENARIO_ITEM = AgendaItem(
    "scenario",
    "Scenario vs base",
    10,
    "What-if: the scenario's service, revenue, margin, inventory, cash and capacity beside the base plan.",
    scenario.build,
    shown=scenario.shown,
)


def agenda(ctx: PackContext) -> list[AgendaItem]:
    """The agenda items of this pack (an item with `shown` only when its data is there)."""
    return [a for a in [*AGENDA, SCENARIO_ITEM] if a.shown is None or a.shown(ctx)]


@dataclass
class MeetingPack:
    """What was written: the file, and which sections, charts and "no data" panels it holds."""

    path: Path
    cycle: str
    sections: list[str]
    charts: list[str]
    no_data: list[str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def build_meeting_pack(serving_db: Path, out_dir: Path, cycle: str | None = None) -> Path:
    """Write `out_dir/sop_pack_<cycle>.html` from the published serving file and return its path.

    `cycle` defaults to the published cycle (`_publish_info`); naming another cycle is an error
    because the serving file holds only the published one.
    """
    return write_meeting_pack(serving_db, out_dir, cycle).path


def write_meeting_pack(serving_db: Path, out_dir: Path, cycle: str | None = None) -> MeetingPack:
    """Like `build_meeting_pack`, returning what was rendered (for asset metadata and tests)."""
    with open_marts(Path(serving_db)) as marts:
        info = publish_info(marts)
        ctx = PackContext(marts=marts, cycle=resolve_cycle(info, cycle, serving_db))
        sections, errors = render_sections(ctx)
        page = render_page(ctx, info, sections, str(serving_db))
        section_ids = [a.section_id for a in agenda(ctx)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"sop_pack_{re.sub(r'[^0-9A-Za-z_.-]', '_', ctx.cycle)}.html"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return MeetingPack(path, ctx.cycle, section_ids, ctx.charts, ctx.no_data, {**errors, **ctx.errors})


def resolve_cycle(info: dict, cycle: str | None, serving_db) -> str:
    published = str(info["cycle"]) if info.get("cycle") is not None else None
    if cycle is None:
        if published is None:
            raise ReportError(f"{serving_db} has no _publish_info table, so its cycle is unknown: pass the cycle")
        return published
    if published is not None and str(cycle) != published:
        raise ReportError(f"{serving_db} holds the published cycle {published}, not {cycle}")
    return str(cycle)


def render_sections(ctx: PackContext) -> tuple[list[dict], dict[str, str]]:
    """Each agenda item's panels (a <section> of the page); a section whose data has an unexpected
    shape shows the error instead of stopping the whole pack."""
    sections, errors = [], {}
    for number, item in enumerate(agenda(ctx), start=1):
        blocks, error = [], None
        try:
            blocks = item.build(ctx)
        except PANEL_ERRORS as exc:
            error = errors[item.section_id] = f"{type(exc).__name__}: {exc}"
        sections.append(
            {
                "section_id": item.section_id,
                "number": number,
                "title": item.title,
                "minutes": item.minutes,
                "intro": item.intro,
                "error": error,
                "blocks": blocks,
            }
        )
    return sections, errors


def render_page(ctx: PackContext, info: dict, sections: list[dict], serving_db: str) -> str:
    """The whole page (templates/pack.html.j2); the stylesheet and plotly.js are inlined as is."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return render(
        "pack.html.j2",
        cycle=ctx.cycle,
        css=trusted(CSS),
        plotly_js=trusted(get_plotlyjs()),
        header=header(ctx, info, [(a.section_id, a.title, a.minutes) for a in agenda(ctx)]),
        sections=sections,
        footer=footer(ctx, serving_db, generated),
    )


__all__ = ["AGENDA", "MeetingPack", "ReportError", "build_meeting_pack", "write_meeting_pack"]
