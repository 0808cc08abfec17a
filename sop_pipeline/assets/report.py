"""The meeting pack: one self-contained HTML file per cycle (reports/sop_pack_<cycle>.html), built
from the published serving file along the 60-minute S&OP agenda. Thin wrapper around
`sop_pipeline.report`."""

import dagster as dg

from sop_pipeline.assets.common import OWNERS
from sop_pipeline.publish import newest_published_cycle
from sop_pipeline.report import ReportError, write_meeting_pack
from sop_pipeline.resources import SopSettings


@dg.asset(
    key=["reports", "meeting_pack"],
    group_name="plan",
    kinds={"html", "plotly"},
    owners=OWNERS["plan"],
    deps=[dg.AssetKey(["serving", "sop"])],
    description="The S&OP meeting pack (reports/sop_pack_<cycle>.html): last month in a meme (10 min), demand "
    "review (15), supply review (15), reconciliation (10), decision log (10). Reads only the "
    'published serving/sop.duckdb; panels whose mart is not published say "no data yet". Opens '
    "offline (plotly.js inlined once). A cycle partition older than the published cycle (a backfill's "
    "replay) builds no pack: serving/ still holds the newer cycle.",
)
def meeting_pack(context: dg.AssetExecutionContext, settings: SopSettings) -> dg.MaterializeResult:
    s = settings.settings
    served = newest_published_cycle(s.serving_dir)
    if context.has_partition_key and served is not None:
        end = context.partition_time_window.end.date()  # the Monday after the partition's week
        if served >= end.isoformat():  # publish kept this older cycle's history only: no pack to build
            note = (
                f"cycle partition {context.partition_key} is older than the published cycle {served}: "
                f"its meeting pack is not built (serving/ holds {served}; its pack stays as it is)"
            )
            context.log.warning(note)
            return dg.MaterializeResult(metadata={"cycle": "", "served_cycle": served, "built": False, "note": note})
    try:
        pack = write_meeting_pack(s.serving_dir / "sop.duckdb", s.reports_dir)
    except ReportError as exc:
        raise dg.Failure(description=f"Meeting pack not built: {exc}") from None
    for section, error in pack.errors.items():
        context.log.warning(f"meeting pack section {section} could not be rendered: {error}")
    rendered = [sid for sid in pack.sections if sid not in pack.errors]
    return dg.MaterializeResult(
        metadata={
            "cycle": pack.cycle,
            "path": dg.MetadataValue.path(str(pack.path)),
            "link": dg.MetadataValue.url(pack.path.resolve().as_uri()),
            "sections_rendered": dg.MetadataValue.json(rendered),
            "sections_failed": dg.MetadataValue.json(pack.errors),
            "charts": len(pack.charts),
            "no_data_panels": dg.MetadataValue.json(pack.no_data),
            "size_kb": round(pack.size_bytes / 1024, 1),
        }
    )


ASSETS = [meeting_pack]
