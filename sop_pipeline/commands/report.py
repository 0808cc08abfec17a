"""`sop report`: build the S&OP meeting pack (one self-contained HTML file) from the published cycle.

    sop report [--cycle DATE] [--data-dir DIR] [--out DIR]

Reads <data-dir>/serving/sop.duckdb, writes <out>/sop_pack_<cycle>.html (default out:
<data-dir>/reports/) and prints its path. Exit codes: 0 written, 2 no published cycle or a
cycle that is not the published one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

from sop_pipeline.report import ReportError, write_meeting_pack

DESCRIPTION = (
    "Build the S&OP meeting pack for the published cycle: one HTML file that opens offline in any "
    "browser (charts included), following the 60-minute agenda: last month in a meme (10 min), demand "
    "review (15), supply review (15), reconciliation (10), decision log (10). Sections whose data is "
    'not published yet say "no data yet".'
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `report` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "report",
        help="build the meeting pack (self-contained HTML) from the published cycle",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 pack written (its path is printed), 2 no published serving file, or --cycle "
        "names a cycle that is not the published one.",
    )
    p.add_argument(
        "--cycle",
        metavar="YYYY-MM-DD",
        default=None,
        help="cycle date of the pack (default: the published cycle in serving/sop.duckdb); only "
        "the published cycle can be built until earlier cycles are kept in serving/history/",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="the pipeline's data folder holding serving/sop.duckdb (overrides SOP_DATA_DIR; default data)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="folder to write sop_pack_<cycle>.html into (default: <data-dir>/reports/)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run `sop report`; returns the exit code (0 written, 2 nothing to build from)."""
    data_dir = Path(args.data_dir or os.environ.get("SOP_DATA_DIR") or "data").expanduser().resolve()
    serving = data_dir / "serving" / "sop.duckdb"
    out_dir = Path(args.out).expanduser().resolve() if args.out else data_dir / "reports"
    if not serving.is_file():
        print(
            f"sop report: no published cycle: {serving} not found. Run `sop run --data-dir {data_dir}` "
            f"first (or point --data-dir / SOP_DATA_DIR at the data folder of a finished run).",
            file=sys.stderr,
        )
        return 2
    try:
        pack = write_meeting_pack(serving, out_dir, cycle=args.cycle)
    except ReportError as exc:
        hint = (
            " Earlier cycles cannot be rebuilt yet: the serving file holds only the published one."
            if args.cycle
            else ""
        )
        print(f"sop report: {exc}.{hint}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"sop report: cannot read {serving}: {exc}", file=sys.stderr)
        return 2
    if pack.no_data:
        print(f'sop report: {len(pack.no_data)} panel(s) say "no data yet": {", ".join(pack.no_data)}', file=sys.stderr)
    print(pack.path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sop")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
