"""What the section builders share: the marts, chart embedding and the record of what rendered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import duckdb
import plotly.graph_objects as go
from markupsafe import Markup

from sop_pipeline.report.components import chart, error_panel, no_data_panel, nothing_panel
from sop_pipeline.report.marts import Marts
from sop_pipeline.report.templating import trusted

# A mart with an unexpected shape (type, missing value) breaks one panel, not the pack.
PANEL_ERRORS = (KeyError, ValueError, TypeError, AttributeError, IndexError, ZeroDivisionError, duckdb.Error)

GOOD, BAD, NEUTRAL, ACCENT = "#1a7f37", "#cf222e", "#8c959f", "#0969da"
COLORWAY = ["#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e", "#1b7c83", "#953800", "#6e7781"]

# A small template (the default one adds ~10 KB of JSON to every chart).
TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif", size=12, color="#24292f"),
        colorway=COLORWAY,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=60, r=20, t=40, b=40),
        hovermode="closest",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        xaxis=dict(gridcolor="#eaeef2", linecolor="#d0d7de", zerolinecolor="#d0d7de", automargin=True),
        yaxis=dict(gridcolor="#eaeef2", linecolor="#d0d7de", zerolinecolor="#d0d7de", automargin=True),
    )
)
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
}


@dataclass
class PackContext:
    """Section builders read marts through it and register every chart and "no data" panel."""

    marts: Marts
    cycle: str
    charts: list[str] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def render(self, builder: Callable[["PackContext"], Markup]) -> Markup:
        """Run one panel builder; if the data breaks it, show the error in its place and record it."""
        try:
            return builder(self)
        except PANEL_ERRORS as exc:
            name = f"{builder.__module__.rsplit('.', 1)[-1]}.{builder.__name__}"
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            return error_panel(name, self.errors[name])

    def chart(self, name: str, fig: go.Figure, height: int = 360) -> Markup:
        """Embed a Plotly figure (plotly.js is inlined once by the page) with a stable id and data-chart."""
        if name in self.charts:
            raise ValueError(f"chart name {name!r} used twice")
        self.charts.append(name)
        fig.update_layout(template=TEMPLATE, height=height, autosize=True)
        body = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"plot-{name}",
            config=PLOT_CONFIG,
            default_height=f"{height}px",
        )
        return chart(name, trusted(body))  # plotly's own div and script: the one fragment not escaped

    def missing(
        self, title: str, panel_id: str, table: str, columns=(), wide: bool = False, reason: str | None = None
    ) -> Markup:
        """A "no data yet" panel for a mart that is absent, lacks columns or has no rows."""
        self.no_data.append(panel_id)
        return no_data_panel(title, reason or self.marts.why_empty(table, columns), panel_id, wide=wide)

    def nothing(self, title: str, panel_id: str, message: str, wide: bool = False) -> Markup:
        """A published mart without rows where that is the news ("nothing to decide"), not missing data."""
        return nothing_panel(title, message, panel_id, wide=wide)
