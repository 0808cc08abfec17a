"""Benchmark: the full weekly cycle (`sop run`, every asset) per demo size.

Per size: `sop demo --size SIZE --out DIR/SIZE/extracts` (seed 42; reused if already there), then
`sop run --extracts DIR/SIZE/extracts --data-dir DIR/SIZE/data` (fresh data dir) as a child
process. Measures
- wall time of the child and the time `sop run` reports,
- peak memory two ways: the largest single process (kernel rusage of the child and the processes
  it waited for, e.g. dbt), and the whole process tree (sum of RSS sampled from /proc every 0.5 s;
  `sop run` keeps its own memory while dbt runs next to it),
- seconds per asset and per asset group, from the progress lines `[ n/133]  12.3s  group/asset`:
  `sop run` executes steps one at a time (in-process executor), so each asset gets the time since
  the previous line. The interval from a `running dbt build ...` line to the first model of that
  step is split into the model's own time (dbt's `[OK in Xs]` from DATA/logs/last_run.log) and
  "dbt start-up" (process start, parse, compile); the interval ending at a `running dbt build`
  line is the tail of the previous step (e.g. dbt tests after its last model) and goes to the
  previous asset. dbt models interleave with their tests, so a model's time includes its tests.
Groups come from the Dagster definitions (`marts/<area>/x.sql` -> group `<area>`, shared with the
area's Python assets); "mart build" is the sum over the dbt assets with key `marts/...`.

    .venv/bin/python benchmarks/cycle.py --sizes small [medium large] [--work-dir DIR] [--keep]

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOP = [sys.executable, "-m", "sop_pipeline.cli"]
PAGE = os.sysconf("SC_PAGE_SIZE")
DBT_STARTUP = "(dbt start-up)"

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

    Returns wall s, exit code, stderr, the largest single-process peak RSS (bytes, kernel rusage of
    the child incl. the processes it waited for) and the sampled process-tree RSS series.
    """
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


def asset_times(lines: list[tuple[float, str]], groups: dict, dbt_models: dict[str, float]) -> list[dict]:
    """Per asset: seconds since the previous progress line (see the module docstring)."""
    rows: list[dict] = []
    prev_s, prev_kind, prev_t = 0.0, "start", 0.0
    for t, line in lines:
        if m := DBT_STEP.match(line):
            s = float(m["s"])
            if rows:  # tail of the previous step
                rows[-1]["s"] += s - prev_s
                rows[-1]["t_end"] = t
            prev_s, prev_kind, prev_t = s, "dbt", t
        elif m := PROGRESS.match(line):
            s, key = float(m["s"]), m["key"]
            group, is_dbt = groups.get(key, ("?", key.split("/")[0] in ("staging", "intermediate", "marts")))
            interval = s - prev_s
            if prev_kind == "dbt" and is_dbt:  # first model of a dbt step: split off dbt's start-up
                own = min(dbt_models.get(key.split("/")[-1], 0.0), interval)
                rows.append(
                    {
                        "key": DBT_STARTUP,
                        "group": DBT_STARTUP,
                        "dbt": True,
                        "s": interval - own,
                        "t_start": prev_t,
                        "t_end": t,
                    }
                )
                interval = own
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


def bench(size: str, workdir: Path, keep: bool) -> dict:
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
    shutil.rmtree(data, ignore_errors=True)
    out_path = root / "sop_run_stdout.txt"
    print(f"[{size}] sop run started {time.strftime('%H:%M:%S')}; progress: tail -f {out_path}", file=sys.stderr)
    res = run_measured([*SOP, "run", "--extracts", str(extracts), "--data-dir", str(data)], out_path, env=env)
    log = data / "logs" / "last_run.log"
    if log.exists():
        shutil.copy(log, root / "last_run.log")
    dbt = dbt_log_times(log)
    groups = load_groups(extracts, data)
    assets = asset_times(res["lines"], groups, dbt["models"])
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
        "size": size,
        "series": SIZES[size].series,
        "skus": SIZES[size].skus,
        "stores": SIZES[size].stores,
        "rows": rows,
        "wall_s": res["wall_s"],
        "reported_s": reported,
        "returncode": res["returncode"],
        "failure": failure,
        "max_rss_gb": res["max_rss_bytes"] / 1e9,
        "peak_tree_gb": peak_tree / 1e9,
        "peak_asset": peak_asset,
        "assets": assets,
        "dbt": dbt,
        "n_assets": sum(a["key"] != DBT_STARTUP for a in assets),
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
        g["n"] += a["key"] != DBT_STARTUP
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
        "dbt_startup_s": per_group.get(DBT_STARTUP, {"dbt": 0.0})["dbt"],
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
        "| peak RSS, largest process (GB) | peak RSS, process tree (GB) | peak during | mart build: marts/* assets "
        "(s) | of which dbt SQL (s) | supply group: Python + dbt (s) | dbt invocations, start-up (s) | status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s = sums[r["size"]]
        status = "ok" if r["returncode"] == 0 else f"FAILED (exit {r['returncode']})"
        reported = f"{r['reported_s']:.1f}" if r["reported_s"] is not None else "-"
        print(
            f"| {r['size']} | {r['series']:,} ({r['skus']:,} x {r['stores']}) | {r['rows']:,} | {r['n_assets']} | "
            f"{r['wall_s']:.1f} | {reported} | {r['max_rss_gb']:.2f} | {r['peak_tree_gb']:.2f} | "
            f"{r['peak_asset']} | {s['marts_s']:.1f} ({s['marts_n']} models) | {s['mart_sql_s']:.1f} | "
            f"{s['supply_s']:.1f} ({s['supply_python_s']:.1f} + {s['supply_dbt_s']:.1f}) | "
            f"{r['dbt']['invocations']}, {s['dbt_startup_s']:.1f} | {status} |"
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
        DBT_STARTUP,
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
        startups = [a for a in r["assets"] if a["key"] == DBT_STARTUP]
        ranked = [a for a in r["assets"] if a["key"] != DBT_STARTUP]
        if startups:  # one row for all dbt start-ups
            ranked.append(
                {
                    "key": f"{DBT_STARTUP} x {len(startups)} dbt steps",
                    "group": DBT_STARTUP,
                    "dbt": True,
                    "s": sum(a["s"] for a in startups),
                    "peak_tree_bytes": max(a["peak_tree_bytes"] for a in startups),
                }
            )
        for a in sorted(ranked, key=lambda a: -a["s"])[:10]:
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


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["small"], choices=["small", "medium", "large"])
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
    ap.add_argument("--json", metavar="PATH", help="also write the raw results (per asset) as JSON")
    args = ap.parse_args()
    workdir = Path(args.work_dir or tempfile.mkdtemp(prefix="sop_cycle_bench_")).resolve()
    print(f"work dir {workdir}; uptime: {_uptime()}", file=sys.stderr)
    results = []
    for size in args.sizes:
        results.append(bench(size, workdir, args.keep))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print_report(results)
    if any(r["returncode"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
