"""`sop`: the command line of sop-pipeline.

    sop demo --size small --seed 42 --out data/extracts   write seeded demo extracts
    sop run [--extracts DIR] [--data-dir DIR] [--as-of D]  materialize the cycle's weekly partition in-process
    sop backfill --from D1 --to D2 [...]                   replay the weekly cycles D1..D2 in order
    sop expectations --write                               (re)write the default GX suites
    sop parse                                              build the dbt manifest
    sop safety-stock ...                                   safety stock / reorder point what-if
    sop sequence --changeovers MATRIX.csv                  best changeover sequence

Exit codes: 0 success, 1 the run failed (message says why), 2 bad command-line input.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from sop_pipeline.settings import DBT_PROJECT_DIR, DEMO_SIZES, REPO_ROOT, Settings, SettingsError, dbt_executable


def _add_settings_args(p: argparse.ArgumentParser, as_of: bool = True) -> None:
    p.add_argument(
        "--extracts", metavar="DIR", help="folder of extract files (overrides SOP_EXTRACTS_DIR; default data/extracts)"
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where warehouse.duckdb, serving/ and reports/ go (overrides SOP_DATA_DIR; default data)",
    )
    p.add_argument(
        "--warehouse",
        metavar="URL",
        help="the warehouse: duckdb (the embedded file <data dir>/warehouse.duckdb, the default) or "
        "postgresql://user@host:port/database (password from SOP_PG_PASSWORD or ~/.pgpass); overrides SOP_WAREHOUSE",
    )
    if not as_of:
        return
    p.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="cycle date: plan as if today were this date; later rows are excluded; runs the weekly cycle "
        "partition holding it, cut at it (overrides SOP_AS_OF; default: last demand date in the extracts)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sop",
        description="sop-pipeline: extracts in, one published S&OP plan of record out (Dagster + dbt + DuckDB).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="write seeded, realistic demo extracts (and injected truths in _truth/)",
        description="Write every extract of the contract as synthetic, seeded demo data. "
        "The same size and seed give byte-identical files.",
    )
    demo.add_argument(
        "--size",
        choices=DEMO_SIZES,
        default=os.environ.get("SOP_DEMO_SIZE") or "small",
        help="small ~200 SKU-store series (default; a full run in minutes), medium ~2,000, "
        "large ~30,000 (tens of millions of POS rows)",
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument(
        "--out", metavar="DIR", default=None, help="output folder (default: SOP_EXTRACTS_DIR or data/extracts)"
    )
    demo.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")

    run = sub.add_parser(
        "run",
        help="materialize the whole asset graph (the weekly cycle) in-process",
        description="Run the sop_cycle job in this process for one cycle: ingest, dbt, analytics, publish. "
        "The cycle is the weekly partition (ISO week, Monday..Sunday) holding the as-of date (--as-of, "
        "SOP_AS_OF, or the last demand date in the extracts), cut at that date. "
        "Shows each asset as it completes; exits 1 with the reason on failure.",
    )
    _add_settings_args(run)
    run.add_argument(
        "--groups",
        metavar="G1,G2",
        help="only these asset groups (e.g. ingest to validate a new extract folder); default: the whole cycle",
    )
    run.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="run the cycle's steps on up to N processes (Dagster's multiprocess executor): the fan-out parts "
        "of the heavy analytics (per resource / family) in parallel. Needs a PostgreSQL warehouse "
        "(--warehouse); default 1: in this process, one step at a time",
    )

    exp = sub.add_parser("expectations", help="write the default Great Expectations suites from the contract")
    exp.add_argument("--write", action="store_true", help="overwrite expectations/<extract>.json with defaults")
    exp.add_argument(
        "--dir",
        metavar="DIR",
        default=str(REPO_ROOT / "expectations"),
        help="suite folder (default: the repository's expectations/)",
    )

    sub.add_parser("parse", help="build the dbt manifest (dbt parse); `run` does this when needed")
    for module in _command_modules():
        module.add_parser(sub).set_defaults(handler=module.run)
    return parser


def _command_modules():
    """Sub-commands that live in `sop_pipeline.commands` (each: add_parser(subparsers), run(args))."""
    import importlib

    names = ("backfill", "safety_stock", "sequence", "report", "scenario")
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(f"sop_pipeline.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"sop_pipeline.commands.{name}":
                raise
    return modules


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "expectations":
            return cmd_expectations(args)
        if args.command == "parse":
            ensure_dbt_manifest(force=True)
            return 0
        if getattr(args, "handler", None):
            return args.handler(args)
    except SettingsError as exc:
        print(f"sop: {exc}", file=sys.stderr)
        return 2
    return 2


def cmd_demo(args) -> int:
    from sop_pipeline.demo import generate

    out = Path(args.out) if args.out else Settings.from_env().extracts_dir
    started = time.perf_counter()
    rows = generate(out, size=args.size, seed=args.seed, fmt=args.format)
    print(
        f"wrote {len(rows)} extracts ({sum(rows.values()):,} rows) to {out} "
        f"in {time.perf_counter() - started:.1f} s (size={args.size}, seed={args.seed})"
    )
    return 0


def cmd_expectations(args) -> int:
    from sop_pipeline.ingest import write_suites

    if not args.write:
        print("nothing done: pass --write to overwrite the suites with the contract defaults", file=sys.stderr)
        return 2
    paths = write_suites(Path(args.dir))
    print(f"wrote {len(paths)} suites to {args.dir}")
    return 0


# --------------------------------------------------------------------------- dbt manifest


def _parse_inputs() -> list[Path]:
    return [
        p
        for p in DBT_PROJECT_DIR.rglob("*")
        if p.suffix in (".sql", ".yml", ".yaml")
        and "target" not in p.parts
        and "dbt_packages" not in p.parts
        and "logs" not in p.parts
    ]


def ensure_dbt_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when dbt_project/target/manifest.json (what Dagster loads when the
    definitions are imported) is missing or older than a project file.

    The manifest does not depend on the data dir: the warehouse path reaches dbt as a var at run
    time, and each data dir keeps its own dbt target dir (partial parse state, run results). Two
    processes may parse at once: each parses into its own temporary target dir, under a lock, and
    the manifest is replaced atomically, so a reader never sees half a file.
    """
    import fcntl
    import shutil
    import tempfile

    target = DBT_PROJECT_DIR / "target"
    manifest = target / "manifest.json"

    def fresh() -> bool:
        return manifest.exists() and all(p.stat().st_mtime <= manifest.stat().st_mtime for p in _parse_inputs())

    if not force and fresh():
        return manifest
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".sop-parse.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and fresh():  # another process parsed while we waited
            return manifest
        tmp = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
        try:
            proc = subprocess.run(
                [
                    dbt_executable(),
                    "parse",
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--quiet",
                ],
                cwd=DBT_PROJECT_DIR,
                capture_output=True,
                text=True,
                env={**os.environ, "DBT_TARGET_PATH": str(tmp), "DBT_LOG_PATH": str(tmp)},
            )
            if proc.returncode != 0:
                raise SystemExit(f"sop: dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
            for name in ("partial_parse.msgpack", "manifest.json"):  # the manifest last
                if (tmp / name).exists():
                    os.replace(tmp / name, target / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


# --------------------------------------------------------------------------- run


class _Progress(logging.Handler):
    """Prints one line per asset materialized / step failed, from Dagster's event log records."""

    def __init__(self, total: int, out=None):
        super().__init__()
        self.total, self.done, self.started = total, 0, time.perf_counter()
        self.out = out or sys.stdout

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is not None:
            self.event(event)

    def event(self, event) -> None:
        """One Dagster event: a line for a materialization, a dbt step's start and a failed check."""
        elapsed = time.perf_counter() - self.started
        if event.event_type_value == "ASSET_MATERIALIZATION":
            self.done += 1
            key = event.asset_key.to_user_string()
            self.say(f"[{self.done:>3}/{self.total}] {elapsed:6.1f}s  {key}")
        elif event.event_type_value == "STEP_START" and "dbt" in event.step_key:
            self.say(f"          {elapsed:6.1f}s  running dbt build ...")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                blocking = " (blocking: downstream assets and publish skipped)" if data.blocking else ""
                detail = f"\n            {data.description}" if data.description else ""
                self.say(
                    f"          check FAILED: {data.asset_key.to_user_string()} {data.check_name}{blocking}{detail}"
                )


MIN_HISTORY_DAYS = 7  # a cycle needs at least one week of demand history before its as-of


def as_of_problem(settings: Settings) -> str | None:
    """One line when --as-of / SOP_AS_OF leaves no demand history to plan from (checked before
    the run starts, instead of failing minutes into it). File problems are left to the run,
    which names the file, row and column."""
    if settings.as_of is None:
        return None
    from datetime import timedelta

    from sop_pipeline.ingest import StructuralError, demand_date_range

    try:
        first, last = demand_date_range(settings.extracts_dir)
    except StructuralError:
        return None
    if settings.as_of < first + timedelta(days=MIN_HISTORY_DAYS):
        return (
            f"as-of {settings.as_of} leaves no demand history to plan from: the demand extracts start on "
            f"{first} (last date {last}); choose an as-of on or after {first + timedelta(days=MIN_HISTORY_DAYS)}"
        )
    return None


def cmd_run(args) -> int:
    settings = Settings.from_env(
        extracts_dir=args.extracts, data_dir=args.data_dir, as_of=args.as_of, warehouse=args.warehouse
    )
    settings.check_writable()
    if not settings.extracts_dir.is_dir():
        print(
            f"sop: extracts folder {settings.extracts_dir} does not exist "
            f"(create demo data with `sop demo --out {settings.extracts_dir}`)",
            file=sys.stderr,
        )
        return 2
    problem = as_of_problem(settings)
    if problem:
        print(f"sop: {problem}", file=sys.stderr)
        return 2
    from sop_pipeline.ingest import StructuralError, detect_as_of
    from sop_pipeline.partitions import SOURCE_AS_OF, SOURCE_DETECTED, CycleError, partition_key_for

    processes = getattr(args, "processes", 1)
    if processes < 1:
        print(f"sop: --processes must be 1 or more, got {processes}", file=sys.stderr)
        return 2
    if processes > 1 and not settings.warehouse:
        print(
            f"sop: --processes {processes} needs a PostgreSQL warehouse (--warehouse postgresql://... or "
            "SOP_WAREHOUSE): the embedded DuckDB file has one writer, so its cycle runs in one process",
            file=sys.stderr,
        )
        return 2
    runner = CycleRunner.create(settings, args.groups)
    if runner is None:
        return 2
    runner.processes = processes
    kept = None if settings.as_of or runner.runs_cycle else _warehouse_as_of(settings)
    try:
        as_of = settings.as_of or kept or detect_as_of(settings.extracts_dir)
        partition_key_for(as_of)
    except StructuralError as exc:  # the demand extracts cannot be dated: named file, column and format
        print(f"sop run: FAILED at meta__cycle:\n  {exc}", file=sys.stderr)
        return 1
    except CycleError as exc:
        print(f"sop: {exc}", file=sys.stderr)
        return 2
    source = SOURCE_AS_OF if settings.as_of else "meta.cycle of the warehouse" if kept else SOURCE_DETECTED
    return runner.run([(as_of, source)])


def _warehouse_as_of(settings: Settings):
    """The as-of of the warehouse's meta.cycle (None without one): the cycle a run that leaves meta/cycle
    out of --groups continues."""
    if not settings.warehouse and not settings.warehouse_path.exists():
        return None
    import duckdb

    from sop_pipeline.resources import Warehouse
    from sop_pipeline.warehouse_engines.postgres import PostgresWarehouseError

    warehouse = Warehouse(path=str(settings.warehouse_path), dsn=settings.warehouse_dsn)
    try:
        with warehouse.tables(read_only=True) as tables:
            if not tables.exists("meta", "cycle"):
                return None
            rows = tables.read("meta", "cycle")
    except (duckdb.Error, PostgresWarehouseError, RuntimeError):  # unreadable: the run says why
        return None
    return rows["as_of"].iloc[0].date() if len(rows) == 1 else None


class CycleRunner:
    """Runs cycles of the sop_cycle job in this process, one partition after another (DuckDB has one
    writer): `sop run` runs one, `sop backfill` several, oldest first."""

    def __init__(self, settings: Settings, defs, selection):
        self.settings, self.defs, self.selection = settings, defs, selection
        graph = defs.resolve_asset_graph()
        self.total = len(selection) if selection is not None else len(graph.materializable_asset_keys)
        from sop_pipeline.assets.ingest import CYCLE_KEY

        self.runs_cycle = selection is None or CYCLE_KEY in selection  # the run (re)writes meta.cycle
        self.run_config: dict = {}  # more run config (`sop scenario run`: the scenario resource's)
        self.processes = 1  # > 1: the multiprocess executor (a PostgreSQL warehouse), `sop run --processes`

    @classmethod
    def create(cls, settings: Settings, groups: str | None) -> "CycleRunner | None":
        """The runner for ``settings`` (None, after one line on stderr, for an unknown group)."""
        ensure_dbt_manifest()
        import dagster as dg

        from sop_pipeline.definitions import build_defs

        defs = build_defs(settings)
        graph = defs.resolve_asset_graph()
        selection = None
        if groups:
            wanted = [g.strip() for g in groups.split(",") if g.strip()]
            known = {graph.get(k).group_name for k in graph.materializable_asset_keys}
            unknown = sorted(set(wanted) - known)
            if unknown:
                print(
                    f"sop: unknown asset group(s) {', '.join(unknown)}; groups: {', '.join(sorted(known))}",
                    file=sys.stderr,
                )
                return None
            selection = sorted(dg.AssetSelection.groups(*wanted).resolve(graph) & graph.materializable_asset_keys)
        return cls(settings, defs, selection)

    def run(self, cycles: list[tuple], label: str = "sop run") -> int:
        """Materialize each (as_of, as_of_source) cycle's partition, in order; stop at the first failure."""
        from sop_pipeline.partitions import cycle_request

        settings = self.settings
        for n, (as_of, source) in enumerate(cycles, 1):
            key, cycle_config = cycle_request(as_of, source)
            if not self.runs_cycle:
                cycle_config = {}  # meta.cycle stays the one the last run of meta/cycle wrote
            where = f" {n}/{len(cycles)}" if len(cycles) > 1 else ""
            print(
                f"{label}{where}: extracts {settings.extracts_dir} -> {settings.data_dir} "
                f"(cycle partition {key}, as-of {as_of}: {source}), {self.total} assets",
                flush=True,
            )
            code = self._run_one(key, cycle_config, label)
            if code:
                if len(cycles) > 1:
                    print(
                        f"{label}: stopped at cycle {n} of {len(cycles)} (partition {key}); "
                        f"cycles before it are done, later ones not run",
                        file=sys.stderr,
                    )
                return code
        return 0

    def _run_one(self, partition_key: str, cycle_config: dict, label: str) -> int:
        import dagster as dg

        from sop_pipeline.partitions import loading_time
        from sop_pipeline.run_instance import outputs_not_kept
        from sop_pipeline.warehouse_engines import duckdb_hold

        settings = self.settings
        progress = _Progress(self.total, out=sys.stdout)

        @dg.logger
        def progress_logger(_init_context):
            log = logging.getLogger("sop.progress")
            log.setLevel(logging.DEBUG)
            log.handlers = [progress]
            log.propagate = False
            return log

        if self.processes > 1:
            return self._run_multiprocess(partition_key, cycle_config, label, progress)
        job = self.defs.resolve_job_def("sop_cycle").with_logger_defs({"progress": progress_logger})
        # Step output (dbt's log lines) goes to a log file; the terminal gets one line per asset.
        log_path = settings.data_dir / "logs" / "last_run.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # the running week's partition exists for Dagster only once the week is over (the schedule's
        # rule): a mid-week cut of this week is launched as of the end of its week
        with (
            open(log_path, "w") as log_file,
            contextlib.redirect_stdout(log_file),
            dg.partition_loading_context(effective_dt=loading_time(partition_key)),
            _instance() as instance,
            # the in-process executor runs one step at a time: the warehouse file stays open between
            # steps (released around dbt steps and publish), not reopened ~320 times a cycle
            duckdb_hold.hold(settings.warehouse_path),
            outputs_not_kept(),  # each asset's DataFrame is freed after its step, not at the run's end
        ):
            try:
                result = job.execute_in_process(
                    raise_on_error=False,
                    run_config={"loggers": {"progress": {}}, **cycle_config, **self.run_config},
                    asset_selection=self.selection,
                    partition_key=partition_key,
                    instance=instance,
                )
                _remove_fanout_files(instance, result)
            except Exception as exc:  # the instance's storage (SQLite or PostgreSQL through SQLAlchemy)
                if type(exc).__module__.split(".")[0] != "sqlalchemy":
                    raise
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                home = os.environ.get("DAGSTER_HOME")
                print(
                    f"{label}: FAILED: the Dagster instance's storage (DAGSTER_HOME={home}) failed: {first}",
                    file=sys.stderr,
                )
                return 1
        return self._report(result, label, progress, log_path)

    def _report(self, result, label: str, progress: "_Progress", log_path: Path) -> int:
        import dagster as dg

        settings = self.settings
        for line in _quarantine_lines(result.get_asset_materialization_events()):
            print(
                f"{label}: {line}" if not line.startswith(" ") else line,
                file=sys.stdout if result.success else sys.stderr,
            )
        if result.success:
            for event in result.get_asset_materialization_events():  # an older cycle: history only
                meta = event.materialization.metadata
                if event.asset_key == dg.AssetKey(["serving", "sop"]) and meta.get("served") is not None:
                    if not meta["served"].value:
                        print(f"{label}: {meta['note'].value}")
            where = f"warehouse {settings.warehouse_location}; " if settings.warehouse else ""
            print(
                f"{label}: done in {time.perf_counter() - progress.started:.1f} s; "
                f"{where}BI file {settings.serving_dir / 'sop.duckdb'} (step log: {log_path})"
            )
            return 0
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                err = event.step_failure_data.error
                user = event.step_failure_data.user_failure_data
                message = (user.description if user and user.description else None) or _root_message(err)
                print(f"{label}: FAILED at {event.step_key}:\n  {message}", file=sys.stderr)
        print(f"{label}: step log in {log_path}", file=sys.stderr)
        return 1

    def _run_multiprocess(self, partition_key: str, cycle_config: dict, label: str, progress: "_Progress") -> int:
        """The cycle on `self.processes` processes: Dagster's multiprocess executor runs each step in a
        child process (forked from a server that preloaded the code location), up to N at once, so the
        fan-out parts of the heavy analytics run in parallel. The children load the job from
        `definitions.cycle_job` with this run's settings. Their output (dbt's log, Dagster's console
        log) goes to the step log file; the terminal gets one line per asset, read from the instance's
        event log while the run goes on. Without DAGSTER_HOME the run records into a temporary local
        instance (the multiprocess executor needs one that outlives a process)."""
        import tempfile
        import threading
        import uuid

        import dagster as dg

        from sop_pipeline.commands import forkserver
        from sop_pipeline.definitions import multiprocess_run_config
        from sop_pipeline.partitions import loading_time

        settings = self.settings
        job = dg.build_reconstructable_job(
            "sop_pipeline.definitions", "cycle_job", reconstructable_kwargs={"env": settings.to_env()}
        )
        launch = uuid.uuid4().hex
        tags = {"dagster/partition": partition_key, "sop/launch": launch}
        run_config = {**cycle_config, **self.run_config, **multiprocess_run_config(self.processes)}
        log_path = settings.data_dir / "logs" / "last_run.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        terminal = os.fdopen(os.dup(1), "w", buffering=1)
        progress.out = terminal
        done = threading.Event()
        with contextlib.ExitStack() as stack:
            # the launching process validates the partition; the step processes only see the run's tag
            stack.enter_context(dg.partition_loading_context(effective_dt=loading_time(partition_key)))
            temp = None if os.environ.get("DAGSTER_HOME") else stack.enter_context(tempfile.TemporaryDirectory())
            instance = stack.enter_context(dg.DagsterInstance.local_temp(temp) if temp else _instance())
            watcher = threading.Thread(target=_follow_run, args=(instance, launch, progress, done), daemon=True)
            sys.stdout.flush(), sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            log_file = stack.enter_context(open(log_path, "w"))
            os.dup2(log_file.fileno(), 1)  # the children inherit it: dbt and Dagster's console log go there
            os.dup2(log_file.fileno(), 2)
            try:
                watcher.start()
                with (
                    contextlib.redirect_stdout(log_file),
                    contextlib.redirect_stderr(log_file),
                    forkserver.warm_for(settings.to_env(), instance, self.selection),  # the steps find the job built
                ):
                    result = dg.execute_job(
                        job, instance=instance, run_config=run_config, tags=tags, asset_selection=self.selection
                    )
                    _remove_fanout_files(instance, result)
            finally:
                done.set()
                watcher.join(timeout=10)
                sys.stdout.flush(), sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0]), os.close(saved[1])
        code = self._report(result, label, progress, log_path)
        progress.out = sys.stdout
        terminal.close()
        return code


def _quarantine_lines(events) -> list[str]:
    """What ingest set aside, from the raw assets' materializations: a heading and one line per extract
    with quarantined rows (file, rows of rows read, failures by rule); nothing when every row loaded.
    The rows themselves, with their source row, column, value and reason, are in the warehouse."""
    per = []
    for event in events:
        key, meta = event.asset_key.path, event.materialization.metadata
        if len(key) != 2 or key[0] != "raw" or not (n := int(getattr(meta.get("rows_quarantined"), "value", 0) or 0)):
            continue
        rules = getattr(meta.get("failures_by_rule"), "value", None) or {}
        why = ", ".join(f"{rule} {count:,}" for rule, count in sorted(rules.items()))
        file = Path(str(getattr(meta.get("file"), "value", key[1]))).name
        read = int(getattr(meta.get("rows_read"), "value", n) or n)
        per.append((key[1], n, f"  {file}: {n:,} of {read:,} rows" + (f" ({why})" if why else "")))
    if not per:
        return []
    total = sum(n for _, n, _ in per)
    head = (
        f"{total:,} source row{'s' if total != 1 else ''} quarantined, not loaded: each with its file, row, column, "
        "value and reason in quarantine.issues (the rows in quarantine.<extract>)"
    )
    return [head] + [line for *_, line in sorted(per)]


def _remove_fanout_files(instance, result) -> None:
    """A successful run's fan-out values (pickles in the instance's storage on a PostgreSQL warehouse)
    are deleted at once, as the `fanout_files_cleanup` sensor does for runs the UI or the daemon launch."""
    from sop_pipeline.assets.fanout import remove_run_files

    if result.success and (run := instance.get_run_by_id(result.run_id)) is not None:
        remove_run_files(instance, run)


def _follow_run(instance, launch: str, progress: "_Progress", done) -> None:
    """Feeds the events of the run tagged `sop/launch=launch` to ``progress`` until ``done`` is set
    (the run's own process only orchestrates; its steps log in child processes)."""
    import dagster as dg

    run_id, cursor = None, None
    while True:
        finished = done.wait(0.5)
        if run_id is None:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"sop/launch": launch}), limit=1)
            run_id = runs[0].run_id if runs else None
        while run_id is not None:
            page = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
            for record in page.records:
                if record.event_log_entry.dagster_event is not None:
                    progress.event(record.event_log_entry.dagster_event)
            cursor = page.cursor
            if not page.has_more:
                break
        if finished:
            return


def _instance():
    """The Dagster instance a run records into: the one in ``$DAGSTER_HOME`` when that is set (as the
    `dagster` CLI does), so `sop run` / `sop backfill` runs, materializations and check results show
    in the UI and its asset history, on whatever storage that instance's dagster.yaml names (SQLite
    files, or PostgreSQL with `deploy/dagster.postgres.yaml`); else an ephemeral in-memory one
    (`sop_pipeline.run_instance`: Dagster's, with an event log that keeps one SQLite connection)."""
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        from sop_pipeline.run_instance import ephemeral_instance

        return ephemeral_instance()
    if not Path(home).is_dir():
        raise SettingsError(f"DAGSTER_HOME={home} is not a folder (create it, with a dagster.yaml, or unset it)")
    try:
        return dg.DagsterInstance.get()
    except Exception as exc:  # a bad dagster.yaml, an unreachable storage server: one line, no traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SettingsError(f"the Dagster instance in DAGSTER_HOME={home} cannot be opened: {first}") from None


def _root_message(err) -> str:
    while err is not None and err.cause is not None:
        err = err.cause
    return err.message.strip() if err else "unknown error"


if __name__ == "__main__":
    sys.exit(main())
