"""`sop scenario`: what-if scenarios of a cycle, run beside the base and compared with it.

    sop scenario run NAME --from DATA_DIR --change FILE.yaml [--extracts DIR]
    sop scenario list --from DATA_DIR
    sop scenario compare NAME --from DATA_DIR

`run` runs the cycle of DATA_DIR again (same extracts, recorded in its meta.ingest_log, same as-of)
with the declared changes (run config of the `scenario` resource of the same `sop_cycle` job) into
DATA_DIR/scenarios/NAME/ (its own warehouse, serving file with `scenario_compare`, and meeting
pack). The base data dir is only read: its plan of record and serving file are untouched (the
command checks their hash before and after). `list` shows the scenarios of a data dir, `compare`
prints one scenario's comparison.

Exit codes: 0 success, 1 the scenario run failed (message says why), 2 bad input (change file,
names, data dir).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SPEC_FILE = "scenario.json"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "scenario",
        help="what-if scenarios: run the cycle with declared changes beside the base, compare",
        description=__doc__.split("\n\n")[2].replace("\n", " "),
        epilog="Exit codes: 0 success, 1 the run failed, 2 bad input.",
    )
    sub = p.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    run_p = sub.add_parser("run", help="run a scenario of a base data dir's cycle into DATA_DIR/scenarios/NAME/")
    run_p.add_argument("name", metavar="NAME", help="scenario name (letters, digits, _ . -)")
    run_p.add_argument("--from", dest="base", metavar="DATA_DIR", required=True, help="the base cycle's data dir")
    run_p.add_argument("--change", metavar="FILE.yaml", required=True, help="the change file (README: Scenarios)")
    run_p.add_argument(
        "--extracts", metavar="DIR", help="extracts folder (default: the one the base cycle was run from)"
    )
    list_p = sub.add_parser("list", help="the scenarios of a data dir, with their headline deltas")
    list_p.add_argument("--from", dest="base", metavar="DATA_DIR", required=True)
    cmp_p = sub.add_parser("compare", help="print a scenario's comparison with its base")
    cmp_p.add_argument("name", metavar="NAME")
    cmp_p.add_argument("--from", dest="base", metavar="DATA_DIR", required=True)
    return p


def run(args) -> int:
    if args.scenario_command == "run":
        return cmd_run(args)
    if args.scenario_command == "list":
        return cmd_list(args)
    return cmd_compare(args)


def _fail(message: str, code: int = 2) -> int:
    print(f"sop scenario: {message}", file=sys.stderr)
    return code


def base_cycle(base: Path) -> dict:
    """The base data dir's cycle: as-of and the extracts folder its run loaded (meta.ingest_log),
    and the names a change may use (from its serving file). ValueError with one line when the base
    cannot be read."""
    import duckdb

    warehouse, serving = base / "warehouse.duckdb", base / "serving" / "sop.duckdb"
    for path, what in ((warehouse, "warehouse"), (serving, "serving file")):
        if not path.exists():
            raise ValueError(f"--from {base}: no {what} ({path}); run the base cycle first: sop run --data-dir {base}")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise ValueError(f"--from {base}: warehouse cannot be read ({str(exc).splitlines()[0]})") from None
    try:
        as_of = con.execute("select as_of from meta.cycle").fetchone()[0]
        files = [r[0] for r in con.execute("select file from meta.ingest_log where status <> 'absent'").fetchall()]
    finally:
        con.close()
    folders = {str(Path(f).parent) for f in files if f}
    con = duckdb.connect(str(serving), read_only=True)
    try:
        served = str(con.execute("select cycle from _publish_info").fetchone()[0])
        plan = con.execute("select distinct family, sku from plan_of_record").df()
        resources = [r[0] for r in con.execute("select distinct resource_id from datapack_capacity").fetchall()]
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        suppliers = (
            [r[0] for r in con.execute("select distinct supplier_id from datapack_supplier_performance").fetchall()]
            if "datapack_supplier_performance" in tables
            else None
        )
    finally:
        con.close()
    return {
        "as_of": as_of,
        "served": served,
        "extracts": folders.pop() if len(folders) == 1 else None,
        "extract_folders": sorted(folders),
        "families": set(plan.family.dropna()),
        "skus": set(plan.sku.dropna()),
        "resources": set(resources),
        "suppliers": set(suppliers) if suppliers is not None else None,
    }


def base_fingerprint(base: Path) -> str:
    """SHA-256 of what a scenario must never change in its base: the serving file (plan of record
    and every mart), the served Parquet and history files and the warehouse's plan tables."""
    digest = hashlib.sha256()
    serving = base / "serving"
    files = [serving / "sop.duckdb", *sorted(p for p in (serving / "history").rglob("*") if p.is_file())]
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    import duckdb

    con = duckdb.connect(str(base / "warehouse.duckdb"), read_only=True)
    try:
        for table in ("analytics.plan_of_record", "history.plan_of_record"):
            try:
                rows = con.execute(f"select * from {table} order by all").fetchall()
            except duckdb.CatalogException:  # not there: nothing to change
                rows = None
            digest.update(f"{table}={rows!r}".encode())
    finally:
        con.close()
    return digest.hexdigest()


def cmd_run(args) -> int:
    from sop_pipeline.analytics import scenario as scenario_lib
    from sop_pipeline.cli import CycleRunner
    from sop_pipeline.resources import ScenarioConfig
    from sop_pipeline.settings import Settings

    if not NAME_RE.match(args.name):
        return _fail(f"scenario name {args.name!r}: use letters, digits, _ . - (at most 64), starting with one")
    base = Path(args.base).expanduser().resolve()
    try:
        spec = scenario_lib.parse_change_file(args.change, name=args.name)
        spec["name"] = args.name
        info = base_cycle(base)
        scenario_lib.check_names(
            spec, info["families"], info["skus"], info["resources"], info["suppliers"], f"change file {args.change}"
        )
    except (scenario_lib.ScenarioError, ValueError) as exc:
        return _fail(str(exc))
    extracts = Path(args.extracts).expanduser().resolve() if args.extracts else info["extracts"]
    if extracts is None:
        return _fail(
            f"--from {base}: its cycle loaded extracts from several folders ({', '.join(info['extract_folders'])}); "
            "name one with --extracts"
        )
    out = base / "scenarios" / args.name
    settings = Settings.from_env(extracts_dir=str(extracts), data_dir=str(out), as_of=str(info["as_of"])[:10])
    settings.check_writable()
    if not settings.extracts_dir.is_dir():
        return _fail(f"extracts folder {settings.extracts_dir} (of the base cycle) does not exist; use --extracts")
    before = base_fingerprint(base)
    (out / "change.yaml").write_text(Path(args.change).read_text())
    base_serving = str(base / "serving" / "sop.duckdb")
    record = {
        "name": args.name,
        "base_data_dir": str(base),
        "base_cycle": info["served"],
        "extracts": str(settings.extracts_dir),
        "as_of": str(info["as_of"])[:10],
        "change_file": str(Path(args.change).resolve()),
        "changes": {k: v for k, v in spec.items() if k != "name" and v},
        "run_config": {"resources": {"scenario": {"config": ScenarioConfig.run_config(spec, base_serving)}}},
    }
    (out / SPEC_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"sop scenario {args.name}: base {base} (cycle {info['served']}), changes {_summary(spec)}", flush=True)
    runner = CycleRunner.create(replace(settings), None)
    if runner is None:
        return 2
    runner.run_config = record["run_config"]
    code = runner.run([(settings.as_of, f"scenario {args.name}: the base cycle's as-of")], label="sop scenario")
    after = base_fingerprint(base)
    if after != before:
        return _fail(f"the base {base} changed during the scenario run (hash {before[:12]} -> {after[:12]})", 1)
    print(f"sop scenario {args.name}: base untouched (sha256 {before[:16]})")
    if code:
        return code
    print_compare(out / "serving" / "sop.duckdb")
    return 0


def _summary(spec: dict) -> str:
    parts = []
    for c in spec.get("demand") or []:
        who = f"SKU {c['sku']}" if c["sku"] else ("all SKUs" if c["family"] == "*" else f"family {c['family']}")
        parts.append(
            f"demand {who} {c['change_pct']:+g}%" + (f" weeks {c['weeks'][0]}-{c['weeks'][1]}" if c["weeks"] else "")
        )
    for c in spec.get("resources") or []:
        parts.append(
            f"{c['resource_id']} {c['hours_per_week_delta']:+g} h/week"
            + (f" weeks {c['weeks'][0]}-{c['weeks'][1]}" if c["weeks"] else "")
        )
    for c in spec.get("suppliers") or []:
        what = (
            f"lead time {c['lead_time_days']:g} days"
            if c["lead_time_days"] is not None
            else f"lead time {c['lead_time_delta_days']:+g} days"
        )
        parts.append(f"supplier {c['supplier_id']} {what}")
    for c in spec.get("service_targets") or []:
        who = c["sku"] or c["family"] or (f"class {c['class']}" if c["class"] else "every item")
        parts.append(f"service target {c['target_pct']:g}% for {who}")
    for c in spec.get("make_vs_buy") or []:
        parts.append(f"{c['choice']} {c['sku']}")
    return "; ".join(parts)


def read_compare(serving_file: Path):
    import duckdb

    con = duckdb.connect(str(serving_file), read_only=True)
    try:
        return con.execute("select * from scenario_compare").df()
    finally:
        con.close()


def _fmt(value, unit: str) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "%":
        return f"{value:,.1f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def print_compare(serving_file: Path, out=None) -> None:
    out = out or sys.stdout
    df = read_compare(serving_file)
    if df.empty:
        print(f"{serving_file}: scenario_compare is empty (a base cycle)", file=out)
        return
    print(f"scenario {df.scenario.iloc[0]} vs base, cycle {str(df.cycle_id.iloc[0])[:10]}:", file=out)
    header = f"  {'scope':<8} {'key':<14} {'metric':<26} {'base':>14} {'scenario':>14} {'delta':>12} {'delta %':>8}"
    print(header, file=out)
    for r in df.itertuples():
        print(
            f"  {r.scope:<8} {str(r.key)[:14]:<14} {r.metric:<26} {_fmt(r.base_value, r.unit):>14} "
            f"{_fmt(r.scenario_value, r.unit):>14} {_fmt(r.delta, r.unit):>12} {_fmt(r.delta_pct, '%'):>8}",
            file=out,
        )


def cmd_list(args) -> int:
    base = Path(args.base).expanduser().resolve()
    folder = base / "scenarios"
    records = sorted(folder.glob(f"*/{SPEC_FILE}")) if folder.is_dir() else []
    if not records:
        print(f"no scenarios in {folder}")
        return 0
    print(f"{'scenario':<24} {'cycle':<11} {'revenue Δ%':>10} {'fill rate Δpp':>13} {'stockouts Δ':>11}  changes")
    for path in records:
        record = json.loads(path.read_text())
        serving = path.parent / "serving" / "sop.duckdb"
        cells = ["not run", "", ""]
        if serving.exists():
            try:
                df = read_compare(serving)
                total = df[df.scope == "total"].set_index("metric")
                cells = [
                    _fmt(total.delta_pct.get("revenue"), "%"),
                    _fmt(total.delta.get("projected_fill_rate_pct"), "%"),
                    _fmt(total.delta.get("stockout_sku_weeks"), ""),
                ]
            except Exception as exc:  # noqa: BLE001  (a scenario whose run failed: say so, list the rest)
                cells = [f"unreadable: {type(exc).__name__}", "", ""]
        spec = {"name": record["name"], **{k: [] for k in ("demand", "resources", "suppliers")}}
        spec.update(record.get("changes", {}))
        print(
            f"{record['name']:<24} {record.get('as_of', ''):<11} {cells[0]:>10} {cells[1]:>13} {cells[2]:>11}  "
            f"{_summary(spec)}"
        )
    return 0


def cmd_compare(args) -> int:
    base = Path(args.base).expanduser().resolve()
    serving = base / "scenarios" / args.name / "serving" / "sop.duckdb"
    if not serving.exists():
        return _fail(f"no scenario {args.name} in {base / 'scenarios'} (sop scenario list --from {base})")
    print_compare(serving)
    return 0
