"""Extract ingest: structural checks, typed loading and Great Expectations validation.

Pure library code (DuckDB + GX, no Dagster): `sop_pipeline.assets.ingest` wraps it.
"""

from sop_pipeline.ingest.loader import (
    MAX_QUARANTINE_SHARE,
    IngestReport,
    QuarantineShareError,
    StructuralError,
    demand_date_range,
    detect_as_of,
    ensure_schemas,
    find_extract_file,
    ingest_extract,
)
from sop_pipeline.ingest.suites import build_suite, load_suite, write_suites

__all__ = [
    "MAX_QUARANTINE_SHARE",
    "IngestReport",
    "QuarantineShareError",
    "StructuralError",
    "build_suite",
    "demand_date_range",
    "detect_as_of",
    "ensure_schemas",
    "find_extract_file",
    "ingest_extract",
    "load_suite",
    "write_suites",
]
