"""Ingest: the cycle date, then one `raw/<extract>` asset per extract of the contract, all of them in
one Dagster step (`raw`, a subsettable multi-asset: one raw asset can be materialized alone).

Each raw asset validates its file with the Great Expectations suite in `expectations/`,
loads good rows to `raw.<extract>` and bad rows to `quarantine.<extract>` (with rule, column
and source row): read -> validate -> write in `sop_pipeline.ingest.warehouse`, which holds no
warehouse connection while the file is validated. It checks row accounting (blocking: rows lost
between the file and the warehouse stop everything downstream). Structural problems fail the step with a message naming
the file and column. `SENSORS`: the extracts-folder sensor (`sop_pipeline.ingest.arrival`).
"""

import time
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from sop_pipeline.analytics.calendar import Cycle
from sop_pipeline.analytics.checks import RowCounts, describe_row_accounting, ingest_log_breaks, row_accounting_breaks
from sop_pipeline.assets.common import OWNERS, markdown_table
from sop_pipeline.contract import EXTRACTS
from sop_pipeline.ingest import StructuralError, arrival, detect_as_of, load_suite
from sop_pipeline.ingest.warehouse import ingest_summary as read_ingest_summary, load_extract, write_cycle
from sop_pipeline.partitions import (
    CYCLE_PARTITIONS,
    SOURCE_AS_OF,
    SOURCE_DETECTED,
    CycleError,
    cycle_request,
    partition_end,
    resolve_cycle,
)
from sop_pipeline.resources import WAREHOUSE_POOL, SopSettings, Warehouse

CYCLE_KEY = dg.AssetKey(["meta", "cycle"])


def extract_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["extracts", name])


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


extract_specs = [
    dg.AssetSpec(
        extract_key(name),
        group_name="extracts",
        kinds={"csv", "parquet"},
        description=f"{e.description} Source file `<SOP_EXTRACTS_DIR>/{name}.csv` or `.parquet` "
        f"({'required' if e.required else 'optional'}; grain: {e.grain}).",
        owners=OWNERS["ingest"],
    )
    for name, e in EXTRACTS.items()
]


class CycleConfig(dg.Config):
    """Run config of meta/cycle: the mid-week cut of a cycle partition."""

    as_of: str | None = Field(
        default=None,
        description="The cycle's as-of date, YYYY-MM-DD, inside the partition's week (Monday..Sunday). "
        "Empty: the partition's Sunday. `sop run --as-of D` and the extracts sensor set it.",
    )
    as_of_source: str | None = Field(default=None, description="Where the as-of came from (shown in meta.cycle).")


@dg.asset(
    key=CYCLE_KEY,
    group_name="ingest",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    owners=OWNERS["ingest"],
    deps=[extract_key(n) for n in ("pos_sales", "sales_orders")],
    description="The cycle's as-of date and its 13-week horizon; every later asset computes as of this date. "
    "The cycle is the weekly partition (Monday..Sunday): the as-of is the partition's Sunday, or the run "
    "config's `as_of` (a mid-week cut inside the partition's week). Without a partition: SOP_AS_OF, or the "
    "last demand date in the extracts.",
)
def cycle(
    context: dg.AssetExecutionContext, config: CycleConfig, settings: SopSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    s = settings.settings
    from sop_pipeline.assets.dbt import start_dbt_for_run  # here: importing assets.dbt needs dbt's manifest

    if start_dbt_for_run(context, s):  # on the other core while ingest runs; the dbt steps wait for its parse
        context.log.info(f"warm dbt server for {s.data_dir} started (dbt imports and parse in the background)")
    key = context.partition_key if context.has_partition_key else None
    try:
        resolved = resolve_cycle(key, config.as_of, config.as_of_source, s.as_of, lambda: detect_as_of(s.extracts_dir))
    except (StructuralError, CycleError) as exc:
        raise dg.Failure(description=str(exc)) from None
    as_of = resolved.as_of
    c = Cycle(as_of)
    write_cycle(
        warehouse,
        as_of,
        c.week0_start,
        c.week1_start,
        c.horizon_end,
        c.horizon_weeks,
        resolved.source,
        partition_key=key,
    )
    context.log.info(
        f"Cycle as of {as_of} (partition {key or 'none'}, {resolved.source}): horizon {c.week1_start} .. {c.horizon_end}"
    )
    return dg.MaterializeResult(
        metadata={
            "as_of": str(as_of),
            "partition": key or "none",
            "week1_start": str(c.week1_start),
            "horizon_end": str(c.horizon_end),
            "as_of_source": resolved.source,
        }
    )


class IngestConfig(dg.Config):
    """Run config of each raw/<extract> asset."""

    gx_cross_check_max_rows: int | None = Field(
        default=None,
        description="Also validate the expectations that the DuckDB SQL rules evaluated with Great Expectations, "
        "on extracts up to this many rows. When the two disagree, the rows of both are quarantined and a note "
        "says so. Empty (the default): Great Expectations validates only the expectations that have no SQL "
        "translation (the default suites have none), so a cycle does not import it. The test suite checks that "
        "SQL and Great Expectations agree (tests/unit/test_ingest.py, tests/reliability/test_fuzz_ingest.py). "
        "1000000 was the default until 2026-11-30: the cross-check cost ~9 s of a small cycle's CPU.",
    )


def _references(name: str) -> list[str]:
    """The other extracts whose raw tables the extract's reference checks read (its raw asset's deps)."""
    return sorted({r for r, _ in EXTRACTS[name].references.values() if r != name})


def _load_order() -> list[str]:
    """The extracts in contract order, each after the extracts it references."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in order:
            for ref in _references(name):
                visit(ref)
            order.append(name)

    for name in EXTRACTS:
        visit(name)
    return order


LOAD_ORDER = _load_order()


def _row_accounting_spec(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "row_accounting",
        asset=raw_key(name),
        blocking=True,
        description=(
            f"Blocking. Every row read from the {name} file is in the warehouse exactly once: rows read = rows "
            f"in raw.{name} + rows in quarantine.{name} (quarantined, or after the as-of), no source row in "
            "both, and the loader's report agrees with the tables. A failure names the extract, its file and "
            "the count that does not add up: rows went missing between the file and the warehouse, so "
            "nothing downstream runs and the previous cycle stays published."
        ),
    )


def _raw_spec(name: str) -> dg.AssetSpec:
    extract = EXTRACTS[name]
    return dg.AssetSpec(
        raw_key(name),
        group_name="ingest",
        kinds={"duckdb", "great_expectations"},
        owners=OWNERS["ingest"],
        deps=[CYCLE_KEY, extract_key(name), *[raw_key(r) for r in _references(name)]],
        description=f"raw.{name}: rows of the {name} extract that passed validation "
        f"(suite expectations/{name}.json); failures in quarantine.{name}.",
        metadata={"contract_columns": ", ".join(extract.column_names), "key": ", ".join(extract.key) or "(none)"},
        skippable=True,  # not materialized when an extract it references failed (below)
    )


def _load_one(context, name: str, config: IngestConfig, s, warehouse: Warehouse, checked: bool) -> dg.MaterializeResult:
    """Read -> validate -> write one extract; its materialization and (when selected) its row accounting
    check. Raises dg.Failure naming the file (and column, row) for a structural problem."""
    extract = EXTRACTS[name]
    suite = load_suite(s.expectations_dir, name)
    try:  # read -> validate -> write: no warehouse connection is held while the file is validated
        loaded = load_extract(
            warehouse,
            name,
            s.extracts_dir,
            suite,
            max_quarantine_share=s.max_quarantine_share,
            gx_check_max_rows=config.gx_cross_check_max_rows,
        )
    except StructuralError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"file": exc.file, "column": exc.column or "", "row": exc.row or 0, "what to do": exc.hint},
        ) from None
    report, sample = loaded.report, loaded.sample
    for note in report.notes:
        if note in report.warnings:
            context.log.warning(f"{name}: {note}")
        else:
            context.log.info(f"{name}: {note}")
    if report.rows_quarantined:
        context.log.warning(
            f"{name}: {report.rows_quarantined} of {report.rows_read} rows quarantined "
            f"({report.failures_by_rule}); see quarantine.{name}"
        )
    if extract.required and report.rows_loaded == 0:
        raise dg.Failure(
            description=(
                f"{report.file}: no valid rows ({report.rows_quarantined} quarantined, first reasons in "
                f"quarantine.{name}). The pipeline cannot plan without {name}."
            )
        )
    counts = RowCounts(
        extract=name,
        file=report.file,
        rows_read=report.rows_read,
        rows_loaded=report.rows_loaded,
        rows_quarantined=report.rows_quarantined,
        rows_after_as_of=report.rows_after_as_of,
        raw_rows=loaded.raw_rows,
        quarantine_rows=loaded.quarantine_rows,
        distinct_source_rows=loaded.distinct_source_rows,
    )
    breaks = row_accounting_breaks(counts)
    check = dg.AssetCheckResult(
        asset_key=raw_key(name),
        check_name="row_accounting",
        passed=not breaks,
        description=describe_row_accounting(counts, breaks),
        metadata={
            "extract": name,
            "file": report.file or "absent",
            "rows_read": report.rows_read,
            "raw_rows": counts.raw_rows,
            "quarantine_rows": counts.quarantine_rows,
            "distinct_source_rows": counts.distinct_source_rows,
            "breaks": dg.MetadataValue.md("\n".join(f"- {b}" for b in breaks) or "_none_"),
            "report": dg.MetadataValue.json(asdict(report)),
        },
    )
    return dg.MaterializeResult(
        asset_key=raw_key(name),
        metadata={
            "status": report.status,
            "file": report.file or "absent",
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "rows_after_as_of": report.rows_after_as_of,
            "dagster/row_count": report.rows_loaded,
            "failures_by_rule": dg.MetadataValue.json(report.failures_by_rule),
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in report.notes) or "_none_"),
            "quarantine_sample": dg.MetadataValue.md(markdown_table(sample)),
            "seconds": round(report.seconds, 2),
            "gx_expectations": report.gx_expectations,
        },
        check_results=[check] if checked else [],
    )


@dg.multi_asset(
    name="raw",
    specs=[_raw_spec(name) for name in LOAD_ORDER],
    check_specs=[_row_accounting_spec(name) for name in LOAD_ORDER],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def raw(context: dg.AssetExecutionContext, config: IngestConfig, settings: SopSettings, warehouse: Warehouse):
    """Every selected `raw/<extract>` asset in one step (one asset and one blocking check per extract, as
    in the lineage; a Dagster step per extract cost ~0.1-0.2 s of bookkeeping each). The extracts load in
    `LOAD_ORDER`, each after the extracts its reference checks read. An extract whose referenced extract
    failed (a structural problem, or its row accounting) is not loaded, as when each was its own step;
    the others are. The step then fails: with the structural problems, one line each, or (Dagster) with
    the failed blocking checks, and nothing downstream runs."""
    s = settings.settings
    selected = context.selected_asset_keys
    checks = context.selected_asset_check_keys
    failed: dict[str, str] = {}  # extract -> why what references it is not loaded
    problems: list[dg.Failure] = []
    for name in LOAD_ORDER:
        key = raw_key(name)
        if key not in selected:
            continue
        broken = [r for r in _references(name) if r in failed]
        if broken:
            failed[name] = f"not loaded: {', '.join(broken)} failed"
            context.log.error(f"{name}: not loaded, it references {', '.join(f'{r} ({failed[r]})' for r in broken)}")
            continue
        try:
            result = _load_one(context, name, config, s, warehouse, dg.AssetCheckKey(key, "row_accounting") in checks)
        except dg.Failure as failure:
            failed[name] = failure.description or "failed"
            problems.append(failure)
            context.log.error(f"{name}: {failure.description}")
            continue
        if any(not c.passed for c in result.check_results):
            failed[name] = "its row accounting check failed"
        yield result
    if problems:
        if len(problems) == 1:
            raise problems[0]
        raise dg.Failure(
            description="\n  ".join(p.description or "" for p in problems),
            metadata={"extracts failed": len(problems)},
        )


raw_assets = [raw]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["meta", "ingest_log"]),
            group_name="ingest",
            kinds={"duckdb"},
            owners=OWNERS["ingest"],
            deps=[raw_key(n) for n in EXTRACTS],
            description="One row per extract: status (loaded/absent), rows read, loaded, "
            "quarantined and after as-of, failures by rule.",
        ),
        dg.AssetSpec(
            dg.AssetKey(["quarantine", "issues"]),
            group_name="ingest",
            kinds={"duckdb"},
            owners=OWNERS["ingest"],
            deps=[raw_key(n) for n in EXTRACTS],
            description="Every quarantined row x failed rule: extract, file, source row, rule, "
            "column, value and the reason in words.",
        ),
    ],
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "every_extract_accounted",
            asset=dg.AssetKey(["meta", "ingest_log"]),
            blocking=True,
            description="Blocking. Every extract of the contract has exactly one row in "
            "the ingest log and its counts add up (read = loaded + "
            "quarantined + after the as-of). A failure names the extract.",
        )
    ],
)
def ingest_summary(warehouse: Warehouse):
    """The cycle's data-quality summary, read back from the warehouse."""
    log, issues = read_ingest_summary(warehouse)
    missing = sorted(set(EXTRACTS) - set(log["extract"]))
    unbalanced = log[log.rows_read != log.rows_loaded + log.rows_quarantined + log.rows_after_as_of]
    log_breaks = ingest_log_breaks(log, list(EXTRACTS))
    absent = log.loc[log.status == "absent", "extract"].tolist()
    yield dg.MaterializeResult(
        asset_key=["meta", "ingest_log"],
        metadata={
            "dagster/row_count": len(log),
            "extracts_loaded": int((log.status == "loaded").sum()),
            "extracts_absent": dg.MetadataValue.text(", ".join(absent) or "none"),
            "rows_read": int(log.rows_read.sum()),
            "rows_loaded": int(log.rows_loaded.sum()),
            "rows_quarantined": int(log.rows_quarantined.sum()),
            "rows_after_as_of": int(log.rows_after_as_of.sum()),
            "summary": dg.MetadataValue.md(
                markdown_table(
                    log[["extract", "status", "rows_read", "rows_loaded", "rows_quarantined", "rows_after_as_of"]],
                    max_rows=40,
                )
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["quarantine", "issues"],
        metadata={
            "dagster/row_count": int(issues["rows"].sum()) if len(issues) else 0,
            "by_rule": dg.MetadataValue.md(markdown_table(issues, max_rows=20)),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=["meta", "ingest_log"],
        check_name="every_extract_accounted",
        passed=not log_breaks,
        description=("ingest log: " + "; ".join(log_breaks))
        if log_breaks
        else f"ingest log: all {len(EXTRACTS)} extracts accounted for",
        metadata={"missing": ", ".join(missing) or "none", "unbalanced": ", ".join(unbalanced.extract) or "none"},
    )


ASSETS = [*extract_specs, cycle, *raw_assets, ingest_summary]


@dg.sensor(
    name="extracts_sensor",
    job_name="sop_cycle",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Stopped by default: turn it on in the UI to run the weekly cycle as soon as a complete new set of "
        "extracts lands in the extracts folder (SOP_EXTRACTS_DIR, the `settings` resource's extracts_dir). "
        "It launches sop_cycle when the required extracts are there (items, and pos_sales or sales_orders; "
        "one file each), nothing in the folder has been modified for "
        f"{arrival.SETTLE_SECONDS} s and the folder looks the same as on the previous tick (names, sizes, "
        "modification times), and the content hash of the extract files was not launched before (it is the "
        "run key, so the same files never launch twice). The run is the cycle partition (ISO week) holding "
        "the last demand date of the extracts (or SOP_AS_OF), cut at that date. Otherwise the tick says why it "
        "skipped: folder missing, which required extracts are missing, which files are still being written, "
        "already processed, or the week of the last demand date has not ended yet (its partition opens on the "
        "Monday after). See sop_pipeline/ingest/arrival.py."
    ),
)
def extracts_sensor(context: dg.SensorEvaluationContext, settings: SopSettings) -> dg.SensorResult:
    folder = Path(settings.settings.extracts_dir)
    previous = arrival.Cursor.from_json(context.cursor)
    decision = arrival.decide(
        folder,
        arrival.snapshot(folder),
        previous,
        time.time_ns(),
        lambda names: arrival.content_hash(folder, names),
    )
    cursor = decision.cursor.to_json()
    if decision.run_key is None:
        return dg.SensorResult(skip_reason=dg.SkipReason(decision.skip_reason), cursor=cursor)
    try:  # the cycle of this set: the partition holding SOP_AS_OF or the last demand date, cut there
        as_of = settings.settings.as_of or detect_as_of(folder)
        source = SOURCE_AS_OF if settings.settings.as_of else SOURCE_DETECTED
        partition_key, run_config = cycle_request(as_of, source)
    except (StructuralError, CycleError) as exc:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"cannot date the cycle: {exc}"), cursor=cursor)
    if not CYCLE_PARTITIONS.has_partition_key(partition_key):
        # not recorded in the cursor as launched: the first tick after the week has ended launches it
        waiting = replace(decision.cursor, launched=previous.launched)
        return dg.SensorResult(
            cursor=waiting.to_json(),
            skip_reason=dg.SkipReason(
                f"the extracts run to {as_of}, in the week {partition_key} that has not ended yet: its cycle "
                f"partition opens on {partition_end(partition_key) + timedelta(days=1)} "
                f"(or run it now with `sop run --as-of {as_of}`)"
            ),
        )
    context.log.info(
        f"launching sop_cycle partition {partition_key} (as of {as_of}) for {len(decision.files)} extract files "
        f"in {folder} (content hash {decision.run_key[:12]})"
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=decision.run_key,
                partition_key=partition_key,
                run_config=run_config,
                tags={
                    "sop/extracts_dir": str(folder),
                    "sop/extracts_hash": decision.run_key,
                    "sop/extract_files": str(len(decision.files)),
                    "sop/as_of": as_of.isoformat(),
                },
            )
        ],
        cursor=cursor,
    )


SENSORS = [extracts_sensor]
