"""`sop backfill`: replay past weekly cycles, oldest first, in this process.

    sop backfill --from 2026-10-05 --to 2026-11-22 [--extracts DIR] [--data-dir DIR] [--groups G]

Every weekly cycle partition (ISO week, Monday..Sunday) from the one holding --from to the one
holding --to is materialized in order, one after another (DuckDB has one writer), each as of its
Sunday; the last one is cut at --to when --to is not a Sunday, and no cycle goes past the last
demand date in the extracts (cut there). Each cycle sees only what was known on its as-of date
(leak-free replay), reads the plan of the cycle before it (freeze window, plan changes) and keeps
its own copy in the history tables. A cycle older than the published one writes its history
only: serving/sop.duckdb keeps the newer cycle.

Exit codes: 0 every cycle ran, 1 a cycle failed (later cycles not run; the message says why),
2 bad command-line input.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

DESCRIPTION = __doc__.split("\n\n")[2].replace("\n", " ")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `backfill` sub-command to an argparse subparsers object."""
    from sop_pipeline.cli import _add_settings_args

    p = subparsers.add_parser(
        "backfill",
        help="replay the weekly cycles of a date range, oldest first (history for every week)",
        description=DESCRIPTION,
        epilog="Exit codes: 0 every cycle ran, 1 a cycle failed (later ones not run), 2 bad input.",
    )
    p.add_argument("--from", dest="first", metavar="YYYY-MM-DD", required=True, help="a day of the first week")
    p.add_argument("--to", dest="last", metavar="YYYY-MM-DD", required=True, help="a day of the last week")
    _add_settings_args(p, as_of=False)
    p.add_argument("--groups", metavar="G1,G2", help="only these asset groups (default: the whole cycle)")
    return p


def plan_cycles(first: date, last: date, last_demand: date | None) -> list[tuple[date, str]]:
    """(as_of, as_of_source) of every cycle to replay, oldest first: each partition's Sunday, the
    last one cut at ``last`` (or at the last demand date, whichever is earlier)."""
    from sop_pipeline.partitions import CycleError, partition_end, partitions_between

    if last < first:
        raise CycleError(f"--from {first} is after --to {last}")
    end = min(last, last_demand) if last_demand else last
    if end < first:
        raise CycleError(f"nothing to replay: --from {first} is after the last demand date in the extracts ({end})")
    cycles = []
    for key in partitions_between(first, end):
        sunday = partition_end(key)
        if sunday <= end:
            cycles.append((sunday, "backfill: partition end (Sunday)"))
        else:
            why = "--to" if end == last else "last demand date in extracts"
            cycles.append((end, f"backfill: cut at {why}"))
    return cycles


def run(args) -> int:
    from sop_pipeline.cli import CycleRunner, as_of_problem
    from sop_pipeline.ingest import StructuralError, detect_as_of
    from sop_pipeline.partitions import CycleError
    from sop_pipeline.settings import Settings, SettingsError, parse_as_of

    try:
        first, last = parse_as_of(args.first), parse_as_of(args.last)
    except SettingsError as exc:
        print(f"sop: {str(exc).replace('SOP_AS_OF / --as-of', '--from / --to')}", file=sys.stderr)
        return 2
    settings = Settings.from_env(
        extracts_dir=args.extracts, data_dir=args.data_dir, as_of=None, warehouse=args.warehouse
    )
    settings.check_writable()
    if not settings.extracts_dir.is_dir():
        print(f"sop: extracts folder {settings.extracts_dir} does not exist", file=sys.stderr)
        return 2
    try:
        cycles = plan_cycles(first, last, detect_as_of(settings.extracts_dir))
    except StructuralError as exc:
        print(f"sop backfill: FAILED at meta__cycle:\n  {exc}", file=sys.stderr)
        return 1
    except CycleError as exc:
        print(f"sop: {exc}", file=sys.stderr)
        return 2
    from dataclasses import replace

    problem = as_of_problem(replace(settings, as_of=cycles[0][0]))
    if problem:
        print(f"sop: {problem}", file=sys.stderr)
        return 2
    print(
        f"sop backfill: {len(cycles)} cycle(s), as of {', '.join(str(a) for a, _ in cycles)}, one after another",
        flush=True,
    )
    runner = CycleRunner.create(settings, args.groups)
    if runner is None:
        return 2
    if not runner.runs_cycle:
        print("sop: a backfill dates each cycle in meta/cycle: add the ingest group to --groups", file=sys.stderr)
        return 2
    return runner.run(cycles, label="sop backfill")
