"""Benchmark: the full weekly cycle (`sop run`, every asset) per demo size.

Per size: `sop demo --size SIZE --out DIR/SIZE/extracts` (seed 42; reused if already there), then
`sop run --extracts DIR/SIZE/extracts --data-dir DIR/SIZE/data` (fresh data dir) as a child
process. Measures
- wall time of the child and the time `sop run` reports,
- peak memory two ways: the largest single process (kernel rusage of the child and the processes
  it waited for, e.g. dbt), and the whole process tree (sum of RSS sampled from /proc every 0.5 s;
  `sop run` keeps its own memory while dbt runs next to it),
- CPU seconds (user + sys) of the whole process tree (the child and every process it waited
  for, e.g. dbt): less sensitive to the machine's load than the wall time,
- seconds per asset and per asset group, from the progress lines `[ n/133]  12.3s  group/asset`:
  `sop run` executes steps one at a time (in-process executor), so each asset gets the time since
  the previous line. A dbt step's events all reach Dagster after dbt has exited (its row counts
  and column schemas are read from DuckDB, which has one writer), so the interval from a step's
  `running dbt build ...` line to its first model is split with the step's own log
  (DATA/dbt/target/<step>/dbt.log, JSON, time-stamped) into phases: "dbt start-up" (adapter
  set-up in `sop run`, dbt process start and imports, up to dbt's first log line), "dbt parse"
  (project load or partial parse, manifest written), each model's own execution time (dbt's
  run result; attributed to the model's asset), "dbt tests" (their execution time), "dbt run,
  other" (the rest of dbt's build) and "dbt exit + metadata" (dbt's exit, row counts, column
  schemas, the events). The interval ending at a `running dbt build` line is the tail of the
  previous step and goes to the previous asset (or phase),
- a per-asset profile at each size and the cost per SKU x store series (seconds, CPU seconds and
  peak MB per series, and how each grows from one size to the next against the series).
Groups come from the Dagster definitions (`marts/<area>/x.sql` -> group `<area>`, shared with the
area's Python assets); "mart build" is the sum over the dbt assets with key `marts/...`.

    .venv/bin/python benchmarks/cycle.py --sizes small [medium large xlarge] [--work-dir DIR] [--keep] [--warm]

`--warm` runs each size a second time in the data dir its cold run left (the steady weekly cycle:
the same extracts, dbt parse state and warehouse already there), reported as "SIZE warm".

Prints markdown tables; copy them into benchmarks/README.md with the machine, date and load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOP = [sys.executable, "-m", "sop_pipeline.cli"]
PAGE = os.sysconf("SC_PAGE_SIZE")
DBT_STARTUP = "(dbt start-up)"  # step start -> dbt's first log line: adapter set-up, process start, imports
DBT_PARSE = "(dbt parse)"  # dbt's project load / partial parse, manifest written
DBT_TESTS = "(dbt tests)"  # dbt's execution seconds of its tests
DBT_RUN_OTHER = "(dbt run, other)"  # the rest of dbt's build (relation cache, scheduling, artifacts)
DBT_WRAP_UP = "(dbt exit + metadata)"  # dbt's exit -> the step's events: row counts, column schemas
DBT_PHASES = (DBT_STARTUP, DBT_PARSE, DBT_TESTS, DBT_RUN_OTHER, DBT_WRAP_UP)

PROGRESS = re.compile(r"^\[\s*\d+/\d+\]\s+(?P<s>[\d.]+)s\s+(?P<key>\S+)\s*$")
DBT_STEP = re.compile(r"^\s+(?P<s>[\d.]+)s\s+running dbt build")
DBT_NODE_OK = re.compile(r"OK created sql \w+ model (?P<schema>\w+)\.(?P<name>\w+) .*\[OK in (?P<s>[\d.]+)s\]")
DBT_TEST = re.compile(r"\d+ of \d+ (PASS|WARN|FAIL|ERROR) .*\[\w+ in (?P<s>[\d.]+)s\]")
DBT_FINISHED = re.compile(r"Finished running .*\((?P<s>[\d.]+)s\)\.")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

GROUPS_SCRIPT = """
import json, sys
from sop_pipeline.definitions import defs
from sop_pipeline.assets.dbt import DBT_KEYS
graph = defs.resolve_asset_graph()
dbt = set(DBT_KEYS)
print("GROUPS", json.dumps({k.to_user_string(): [graph.get(k).group_name, k in dbt]
                            for k in graph.materializable_asset_keys}))
"""


# --------------------------------------------------------------------------- measuring a child


def _tree_rss(root: int) -> int:
    """Bytes of RSS of `root` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry.name}/statm") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        pid = int(entry.name)
        children[ppid].append(pid)
        rss[pid] = pages * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


def run_measured(cmd: list[str], stdout_path: Path, env: dict | None = None) -> dict:
    """Run cmd; its stdout goes to stdout_path (each line time-stamped as it arrives).

    Returns wall s, exit code, stderr, CPU seconds (user + sys of the child and every process it
    waited for, e.g. dbt), the largest single-process peak RSS (bytes, kernel rusage of the child
    incl. the processes it waited for) and the sampled process-tree RSS series.
    """
    start_epoch = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    lines: list[tuple[float, str]] = []
    samples: list[tuple[float, int]] = []
    stderr: list[str] = []
    done = threading.Event()

    def read_stdout():
        with open(stdout_path, "w") as out:
            for line in proc.stdout:
                lines.append((time.perf_counter() - start, line.rstrip("\n")))
                out.write(line)
                out.flush()

    def read_stderr():
        stderr.extend(proc.stderr)

    def sample():
        while not done.is_set():
            samples.append((time.perf_counter() - start, _tree_rss(proc.pid)))
            done.wait(0.5)

    threads = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr, sample)]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    for t in threads:
        t.join(timeout=10)
    return {
        "wall_s": wall,
        "start_epoch": start_epoch,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "returncode": proc.returncode,
        "stderr": "".join(stderr),
        "lines": lines,
        "samples": samples,
        "max_rss_bytes": usage.ru_maxrss * 1024,
    }


# --------------------------------------------------------------------------- parsing


def dbt_log_times(log: Path) -> dict:
    """dbt's own timings from the step log: seconds per model, total test seconds, invocations."""
    models: dict[str, float] = defaultdict(float)
    schema: dict[str, str] = {}
    tests = finished = 0.0
    invocations = 0
    if log.exists():
        for raw in log.read_text(errors="replace").splitlines():
            line = ANSI.sub("", raw)
            if m := DBT_NODE_OK.search(line):
                models[m["name"]] += float(m["s"])
                schema[m["name"]] = m["schema"]
            elif m := DBT_TEST.search(line):
                tests += float(m["s"])
            elif m := DBT_FINISHED.search(line):
                finished += float(m["s"])
            elif "Running with dbt=" in line:
                invocations += 1
    return {
        "models": dict(models),
        "schema": schema,
        "tests_s": tests,
        "finished_s": finished,
        "invocations": invocations,
    }


def _epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def dbt_step_logs(data: Path) -> list[dict]:
    """Per dbt step, in the order they ran, from its JSON log DATA/dbt/target/<step>/dbt.log (the
    last invocation in it and the rotated logs before it): epoch times of dbt's start (`Running with dbt`, after its imports), the
    end of its parse (the `Concurrency:` line), the end of the build (`Finished running`) and its
    exit (`Command ... succeeded`), each model's execution seconds and the tests' total."""
    from sop_pipeline.dbt_server import PARSE_DIR

    steps = []
    for log in sorted((data / "dbt" / "target").glob("*/dbt.log")):
        if log.parent.name == PARSE_DIR:  # the warm dbt server's own parse (during ingest), not a step
            continue
        marks: dict[str, float | None] = {}
        models: dict[str, float] = {}
        tests = 0.0
        # dbt rotates its log at 10 MB (dbt.log.1 is older than dbt.log): a data dir's second run
        # often starts in dbt.log.1
        rotated = [p for p in log.parent.glob("dbt.log.*") if p.suffix[1:].isdigit()]
        files = sorted(rotated, key=lambda p: -int(p.suffix[1:])) + [log]
        for raw in (line for f in files for line in f.read_text(errors="replace").splitlines()):
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            info = event.get("info", {})
            name, ts = info.get("name"), _epoch(info.get("ts"))
            if name == "MainReportVersion":
                marks, models, tests = {"start": ts}, {}, 0.0
            elif name == "ConcurrencyLine":
                marks["parsed"] = ts
            elif name == "FinishedRunningStats":
                marks["built"] = ts
            elif name == "CommandCompleted":
                marks["exit"] = ts
            elif name == "NodeFinished":
                node = event.get("data", {}).get("node_info", {})
                secs = float(event.get("data", {}).get("run_result", {}).get("execution_time") or 0.0)
                if node.get("resource_type") == "model":
                    models[node.get("node_name", "")] = secs
                elif node.get("resource_type") == "test":
                    tests += secs
        if marks.get("start"):
            steps.append({"step": log.parent.name, **marks, "models": models, "tests_s": tests})
    return sorted(steps, key=lambda x: x["start"])


def _dbt_phase_rows(step: dict | None, first_s: float, step_s: float, offset: float, start_epoch: float) -> list[dict]:
    """The interval from a dbt step's start to its first model's progress line, in phases (see the
    module docstring); without the step's dbt log, all of it is "dbt start-up"."""

    def job(epoch: float) -> float:  # dbt's wall clock -> `sop run`'s clock
        return epoch - start_epoch - offset

    def row(key: str, s: float, t0: float, t1: float) -> dict:
        return {"key": key, "group": key, "dbt": True, "s": max(s, 0.0), "t_start": t0 + offset, "t_end": t1 + offset}

    if not step or not all(step.get(k) for k in ("start", "parsed", "built")):
        return [row(DBT_STARTUP, first_s - step_s, step_s, first_s)]
    start, parsed, built = job(step["start"]), job(step["parsed"]), job(step["built"])
    build = built - parsed
    models = sum(step["models"].values())
    return [
        row(DBT_STARTUP, start - step_s, step_s, start),
        row(DBT_PARSE, parsed - start, start, parsed),
        row(DBT_TESTS, step["tests_s"], parsed, built),
        row(DBT_RUN_OTHER, build - models - step["tests_s"], parsed, built),
        row(DBT_WRAP_UP, first_s - built, built, first_s),
    ]


def asset_times(
    lines: list[tuple[float, str]], groups: dict, dbt_steps: list[dict] | None = None, start_epoch: float = 0.0
) -> list[dict]:
    """Per asset: seconds since the previous progress line; a dbt step's models get their own
    execution time from dbt's log and the rest of the step goes to the dbt phases (see the module
    docstring)."""
    dbt_steps = dbt_steps or []
    rows: list[dict] = []
    prev_s, prev_kind, prev_t = 0.0, "start", 0.0
    step, step_s, offset, n_steps = None, 0.0, 0.0, 0
    wrap_up: dict | None = None
    for t, line in lines:
        if m := DBT_STEP.match(line):
            s = float(m["s"])
            tail = wrap_up if prev_kind == "dbt_model" and wrap_up is not None else (rows[-1] if rows else None)
            if tail is not None:  # tail of the previous step
                tail["s"] += s - prev_s
                tail["t_end"] = t
            step = dbt_steps[n_steps] if n_steps < len(dbt_steps) else None
            n_steps += 1
            step_s, offset, wrap_up = s, t - s, None
            prev_s, prev_kind, prev_t = s, "dbt", t
        elif m := PROGRESS.match(line):
            s, key = float(m["s"]), m["key"]
            group, is_dbt = groups.get(key, ("?", key.split("/")[0] in ("staging", "intermediate", "marts")))
            interval = s - prev_s
            if is_dbt and prev_kind in ("dbt", "dbt_model"):
                if prev_kind == "dbt":  # first model of the step: the step's phases up to here
                    phases = _dbt_phase_rows(step, s, step_s, offset, start_epoch)
                    rows.extend(phases)
                    wrap_up = phases[-1]
                elif wrap_up is not None:  # dbt's events are replayed one after another after it exits
                    wrap_up["s"] += interval
                    wrap_up["t_end"] = t
                own = (step or {}).get("models", {}).get(key.split("/")[-1], 0.0)
                rows.append({"key": key, "group": group, "dbt": True, "s": own, "t_start": prev_t, "t_end": t})
                prev_s, prev_kind, prev_t = s, "dbt_model", t
                continue
            rows.append({"key": key, "group": group, "dbt": is_dbt, "s": interval, "t_start": prev_t, "t_end": t})
            prev_s, prev_kind, prev_t = s, "asset", t
    return rows


def load_groups(extracts: Path, data: Path) -> dict:
    env = {**os.environ, "SOP_EXTRACTS_DIR": str(extracts), "SOP_DATA_DIR": str(data)}
    env.pop("SOP_AS_OF", None)
    proc = subprocess.run([sys.executable, "-c", GROUPS_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode:
        print(f"warning: could not read asset groups:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return {}
    return {k: tuple(v) for k, v in json.loads(proc.stdout.split("GROUPS", 1)[1]).items()}


# --------------------------------------------------------------------------- one size


def bench(size: str, workdir: Path, keep: bool, warm: bool = False) -> dict:
    """One `sop run` of SIZE: cold (a fresh data dir) or, with `warm`, the next weekly run in the data
    dir the cold run left (same extracts: dbt's parse state, the warehouse and serving files exist)."""
    from sop_pipeline.demo.config import SIZES

    root = workdir / size
    extracts, data = root / "extracts", root / "data"
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SOP_AS_OF", "SOP_EXTRACTS_DIR", "SOP_DATA_DIR")}
    created = False
    if not (extracts / "items.csv").exists() and not (extracts / "items.parquet").exists():
        gen = subprocess.run(
            [*SOP, "demo", "--size", size, "--seed", "42", "--out", str(extracts)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        if gen.returncode:
            raise SystemExit(f"sop demo failed:\n{gen.stdout[-3000:]}\n{gen.stderr[-3000:]}")
        created = True
        print(gen.stdout.strip(), file=sys.stderr)
    rows = _count_rows(extracts)
    if not warm:
        shutil.rmtree(data, ignore_errors=True)
    label = f"{size} warm" if warm else size
    out_path = root / ("sop_run_stdout_warm.txt" if warm else "sop_run_stdout.txt")
    load_start = os.getloadavg()[0]
    print(f"[{label}] sop run started {time.strftime('%H:%M:%S')}; progress: tail -f {out_path}", file=sys.stderr)
    res = run_measured([*SOP, "run", "--extracts", str(extracts), "--data-dir", str(data)], out_path, env=env)
    load_end = os.getloadavg()[0]
    log = data / "logs" / "last_run.log"
    if log.exists():
        shutil.copy(log, root / ("last_run_warm.log" if warm else "last_run.log"))
    dbt = dbt_log_times(log)
    groups = load_groups(extracts, data)
    assets = asset_times(res["lines"], groups, dbt_step_logs(data), res["start_epoch"])
    for a in assets:
        a["peak_tree_bytes"] = max((b for t, b in res["samples"] if a["t_start"] <= t <= a["t_end"]), default=0)
    reported = next((float(m[1]) for _, line in res["lines"] if (m := re.search(r"done in ([\d.]+) s", line))), None)
    failure = res["stderr"].strip() if res["returncode"] else ""
    peak_t, peak_tree = max(res["samples"], key=lambda x: x[1], default=(0.0, 0))
    last = assets[-1]["key"] if assets else "start"
    peak_asset = next(
        (a["key"] for a in assets if a["t_start"] <= peak_t <= a["t_end"]),
        f"the step after {last} (unfinished)" if res["returncode"] else "exit",
    )
    if not keep:
        shutil.rmtree(data, ignore_errors=True)
        if created:
            shutil.rmtree(extracts, ignore_errors=True)
    return {
        "size": label,
        "warm": warm,
        "load_1min": (load_start, load_end),
        "series": SIZES[size].series,
        "skus": SIZES[size].skus,
        "stores": SIZES[size].stores,
        "rows": rows,
        "wall_s": res["wall_s"],
        "cpu_s": res["cpu_s"],
        "reported_s": reported,
        "returncode": res["returncode"],
        "failure": failure,
        "max_rss_gb": res["max_rss_bytes"] / 1e9,
        "peak_tree_gb": peak_tree / 1e9,
        "peak_asset": peak_asset,
        "assets": assets,
        "dbt": dbt,
        "n_assets": sum(a["key"] not in DBT_PHASES for a in assets),
        "stdout_file": str(out_path),
    }


def _count_rows(extracts: Path) -> int:
    import duckdb

    total = 0
    for p in sorted(extracts.glob("*.csv")) + sorted(extracts.glob("*.parquet")):
        reader = "read_parquet" if p.suffix == ".parquet" else "read_csv"
        total += duckdb.sql(f"select count(*) from {reader}('{p}')").fetchall()[0][0]
    return total


# --------------------------------------------------------------------------- report


def summarize(r: dict) -> dict:
    per_group: dict[str, dict[str, float]] = defaultdict(lambda: {"python": 0.0, "dbt": 0.0, "n": 0})
    for a in r["assets"]:
        g = per_group[a["group"]]
        g["dbt" if a["dbt"] else "python"] += a["s"]
        g["n"] += a["key"] not in DBT_PHASES
    marts = [a for a in r["assets"] if a["key"].startswith("marts/")]
    mart_sql = sum(s for name, s in r["dbt"]["models"].items() if r["dbt"]["schema"].get(name) == "marts")
    supply = per_group.get("supply", {"python": 0.0, "dbt": 0.0})
    return {
        "groups": per_group,
        "marts_s": sum(a["s"] for a in marts),
        "marts_n": len(marts),
        "mart_sql_s": mart_sql,
        "supply_s": supply["python"] + supply["dbt"],
        "supply_python_s": supply["python"],
        "supply_dbt_s": supply["dbt"],
        "dbt_startup_s": sum(per_group[p]["dbt"] for p in (DBT_STARTUP, DBT_PARSE, DBT_WRAP_UP) if p in per_group),
    }


def print_report(results: list[dict]) -> None:
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M %Z')}; "
        f"uptime: {_uptime()}"
    )
    sums = {r["size"]: summarize(r) for r in results}
    print(
        "\n| size | SKU x store series | rows (all extracts) | assets done | `sop run` wall (s) | reported by sop (s) "
        "| CPU user+sys, process tree (s) | peak RSS, largest process (GB) | peak RSS, process tree (GB) | peak during "
        "| mart build: marts/* assets (s) | of which dbt SQL (s) | supply group: Python + dbt (s) "
        "| dbt invocations, start-up + parse + exit/metadata (s) | load (1 min, start -> end) | status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s = sums[r["size"]]
        status = "ok" if r["returncode"] == 0 else f"FAILED (exit {r['returncode']})"
        reported = f"{r['reported_s']:.1f}" if r["reported_s"] is not None else "-"
        print(
            f"| {r['size']} | {r['series']:,} ({r['skus']:,} x {r['stores']}) | {r['rows']:,} | {r['n_assets']} | "
            f"{r['wall_s']:.1f} | {reported} | {r['cpu_s']:.1f} | {r['max_rss_gb']:.2f} | {r['peak_tree_gb']:.2f} | "
            f"{r['peak_asset']} | {s['marts_s']:.1f} ({s['marts_n']} models) | {s['mart_sql_s']:.1f} | "
            f"{s['supply_s']:.1f} ({s['supply_python_s']:.1f} + {s['supply_dbt_s']:.1f}) | "
            f"{r['dbt']['invocations']}, {s['dbt_startup_s']:.1f} | "
            f"{r['load_1min'][0]:.2f} -> {r['load_1min'][1]:.2f} | {status} |"
        )

    order = [
        "extracts",
        "ingest",
        "staging",
        "intermediate",
        "demand",
        "demand_review",
        "inventory",
        "supply",
        "finance",
        "risk",
        "data_quality",
        "kpi",
        "plan",
        "publish",
        *DBT_PHASES,
    ]
    all_groups = sorted(
        {g for s in sums.values() for g in s["groups"]}, key=lambda g: (order.index(g) if g in order else len(order), g)
    )
    sizes = [r["size"] for r in results]
    print(
        "\nSeconds per asset group (Python assets + dbt models incl. their tests; a group's dbt models are "
        "its `marts/<group>/` models):\n"
    )
    print("| group | " + " | ".join(f"{z}: Python | {z}: dbt | {z}: total" for z in sizes) + " |")
    print("|---|" + "---:|---:|---:|" * len(sizes))
    for g in all_groups:
        cells = []
        for z in sizes:
            v = sums[z]["groups"].get(g)
            cells += (
                [f"{v['python']:.1f}", f"{v['dbt']:.1f}", f"**{v['python'] + v['dbt']:.1f}**"] if v else ["", "", ""]
            )
        print(f"| {g} | " + " | ".join(cells) + " |")
    tot = [f"**{sum(a['s'] for a in r['assets']):.1f}**" for r in results]
    print("| all assets | " + " | ".join(f" | | {t}" for t in tot) + " |")

    for r in results:
        print(f"\n10 slowest assets ({r['size']}):\n")
        print("| asset | group | kind | s | share | peak tree RSS while running (GB) |")
        print("|---|---|---|---:|---:|---:|")
        total = sum(a["s"] for a in r["assets"]) or 1.0
        for a in sorted(_merged_phases(r["assets"]), key=lambda a: -a["s"])[:10]:
            print(
                f"| {a['key']} | {a['group']} | {'dbt' if a['dbt'] else 'Python'} | {a['s']:.1f} | "
                f"{100 * a['s'] / total:.0f}% | {a['peak_tree_bytes'] / 1e9:.2f} |"
            )
        d = r["dbt"]
        print(
            f"\ndbt's own timings ({r['size']}): {d['invocations']} invocations, models "
            f"{sum(d['models'].values()):.1f} s (marts {sums[r['size']]['mart_sql_s']:.1f} s), tests "
            f"{d['tests_s']:.1f} s, `Finished running` total {d['finished_s']:.1f} s. "
            f"Progress log: {r['stdout_file']}"
        )
        if r["failure"]:
            print(f"\n**{r['size']} FAILED** (exit {r['returncode']}):\n```\n{r['failure'][-3000:]}\n```")

    print_asset_profile(results)
    cold = [r for r in results if not r.get("warm")]
    if len(cold) > 1 or len(cold) == len(results):
        print_cost_per_series(cold)


def _merged_phases(assets: list[dict]) -> list[dict]:
    """The assets, with each dbt phase summed over the dbt steps into one row."""
    out = [a for a in assets if a["key"] not in DBT_PHASES]
    for phase in DBT_PHASES:
        rows = [a for a in assets if a["key"] == phase]
        if rows:
            out.append(
                {
                    "key": f"{phase} x {len(rows)} dbt steps",
                    "group": phase,
                    "dbt": True,
                    "s": sum(a["s"] for a in rows),
                    "peak_tree_bytes": max(a.get("peak_tree_bytes", 0) for a in rows),
                }
            )
    return out


def print_asset_profile(results: list[dict]) -> None:
    """Seconds of every asset (and dbt phase) at each size, slowest (at the largest size) first."""
    sizes = [r["size"] for r in results]
    per = {r["size"]: {a["key"].split(" x ")[0]: a for a in _merged_phases(r["assets"])} for r in results}
    keys = sorted(
        {k for v in per.values() for k in v}, key=lambda k: -max(per[z].get(k, {"s": 0.0})["s"] for z in sizes)
    )
    last = sizes[-1]
    print("\nPer-asset profile (s; dbt models: dbt's own execution time; dbt phases summed over both steps):\n")
    head = " | ".join(f"{z} (s)" for z in sizes)
    ratio = f" | {sizes[0]} -> {last} |" if len(sizes) > 1 else " |"
    print(f"| asset | group | {head}{ratio} peak tree RSS while running, {last} (GB) |")
    print("|---|---|" + "---:|" * len(sizes) + ("---:|" if len(sizes) > 1 else "") + "---:|")
    for k in keys:
        cells = [f"{per[z][k]['s']:.2f}" if k in per[z] else "" for z in sizes]
        group = next(per[z][k]["group"] for z in sizes if k in per[z])
        if len(sizes) > 1:
            a, b = per[sizes[0]].get(k, {"s": 0.0})["s"], per[last].get(k, {"s": 0.0})["s"]
            cells.append(f"{b / a:.1f}x" if a > 0.005 else "")
        peak = per[last].get(k, {}).get("peak_tree_bytes", 0) / 1e9
        print(f"| {k} | {group} | " + " | ".join(cells) + f" | {peak:.2f} |")


def print_cost_per_series(results: list[dict]) -> None:
    """Seconds, CPU seconds and peak MB per SKU x store series at each size, how each grows from one
    size to the next against the number of series (1.0 = linear in the series), and the marginal
    cost of a series (the difference between two sizes over the series added: the small cycle is
    mostly fixed costs)."""
    print("\nCost per SKU x store series:\n")
    print(
        "| size | series | job (s) | ms per series | CPU user+sys (s) | CPU ms per series | peak tree RSS (MB) "
        "| MB per series | series vs previous size | job time vs previous | CPU vs previous | peak RSS vs previous "
        "| time growth / series growth | marginal job ms per added series | marginal CPU ms per added series |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    prev = None
    for r in results:
        job = r["reported_s"] if r["reported_s"] is not None else r["wall_s"]
        mb = r["peak_tree_gb"] * 1000
        n = r["series"]
        cells = [r["size"], f"{n:,}", f"{job:.1f}", f"{1000 * job / n:.1f}", f"{r['cpu_s']:.1f}"]
        cells += [f"{1000 * r['cpu_s'] / n:.1f}", f"{mb:,.0f}", f"{mb / n:.2f}"]
        if prev:
            pjob = prev["reported_s"] if prev["reported_s"] is not None else prev["wall_s"]
            grow_n, grow_t = n / prev["series"], job / pjob
            cells += [
                f"{grow_n:.1f}x",
                f"{grow_t:.2f}x",
                f"{r['cpu_s'] / prev['cpu_s']:.2f}x",
                f"{mb / (prev['peak_tree_gb'] * 1000):.2f}x",
                f"{grow_t / grow_n:.2f}",
                f"{1000 * (job - pjob) / (n - prev['series']):.1f}",
                f"{1000 * (r['cpu_s'] - prev['cpu_s']) / (n - prev['series']):.1f}",
            ]
        else:
            cells += ["", "", "", "", "", "", ""]
        print("| " + " | ".join(cells) + " |")
        prev = r


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["small"], choices=["small", "medium", "large", "xlarge"])
    ap.add_argument(
        "--work-dir",
        default=None,
        help="where extracts and data go, one folder per size (default: a temp dir); "
        "existing extracts in WORK_DIR/SIZE/extracts are reused",
    )
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep extracts and the data dir (warehouse, serving, reports) after each size",
    )
    ap.add_argument(
        "--warm",
        action="store_true",
        help="after each size's cold run (fresh data dir), run it again in the same data dir: the steady "
        "weekly cycle (reported as 'SIZE warm'; implies keeping the data dir until then)",
    )
    ap.add_argument("--json", metavar="PATH", help="also write the raw results (per asset) as JSON")
    args = ap.parse_args()
    workdir = Path(args.work_dir or tempfile.mkdtemp(prefix="sop_cycle_bench_")).resolve()
    print(f"work dir {workdir}; uptime: {_uptime()}", file=sys.stderr)
    results = []
    for size in args.sizes:
        results.append(bench(size, workdir, args.keep or args.warm))
        if args.warm:
            results.append(bench(size, workdir, args.keep, warm=True))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print_report(results)
    if any(r["returncode"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
