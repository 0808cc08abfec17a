"""The S&OP meeting pack: one self-contained HTML file per cycle, built from the published
serving file (`serving/sop.duckdb`) and following the seed article's 60-minute agenda:
last month in a meme, demand review, supply review, reconciliation, decision log.

Pure Python (pandas, plotly, duckdb, Jinja2); no Dagster import. The section modules shape the
data (which rows, which numbers, formatted as text); the markup is in Jinja2 templates
(`templates/*.html.j2`, autoescaped, see templating.py). Every panel whose mart is not published
yet, lacks a column or has no rows shows a "no data yet" box instead of failing.
"""

from sop_pipeline.report.marts import ReportError
from sop_pipeline.report.pack import AGENDA, MeetingPack, build_meeting_pack, write_meeting_pack

__all__ = ["AGENDA", "MeetingPack", "ReportError", "build_meeting_pack", "write_meeting_pack"]
