"""Leak-free replay: facts that became known after the as-of change nothing in a cycle run at that
as-of. The session's extracts get later facts appended to every dated extract (new POS days, new
orders, shipments, receipts and payments of existing documents after the as-of, later completions
of released production orders, later downtime, deals won/lost after the as-of, later decisions and
snapshots ...), then `sop run --as-of <the session cycle's as-of>` must publish every serving table
identical to the session's cycle, except the data-quality marts, which must differ by exactly the
appended rows (read, and excluded as after the as-of).

Rows of the session's files keep their line numbers (edits are made line by line, appended rows go
at the end), so staging tables are compared too, source rows included.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cycle
from tests.integration.test_reproducible import table_fingerprints

pytestmark = pytest.mark.integration

DQ_MARTS = {"data_quality_extracts", "data_quality_issues"}


# --------------------------------------------------------------------------- editing extracts


class Csv:
    """A CSV extract edited line by line: untouched lines stay byte for byte."""

    def __init__(self, path: Path):
        self.path = path
        lines = path.read_text().splitlines(keepends=True)
        self.header = next(csv.reader([lines[0]]))
        self.lines = lines[1:]
        self.rows = [next(csv.reader([line])) for line in self.lines]
        self.added = 0
        self.new_columns: list[str] = []

    def col(self, name: str) -> int:
        return self.header.index(name)

    def records(self) -> list[dict]:
        return [dict(zip(self.header, row)) for row in self.rows]

    def add_column(self, name: str) -> None:
        """Add an (optional) contract column the file does not have yet, empty on every row."""
        if name in self.header:
            return
        self.header.append(name)
        self.new_columns.append(name)
        for row in self.rows:
            row.append("")

    def set(self, index: int, **values) -> None:
        for key, value in values.items():
            self.rows[index][self.col(key)] = str(value)
        self.lines[index] = _line(self.rows[index])

    def append(self, record: dict) -> None:
        row = [str(record.get(h, "")) for h in self.header]
        self.rows.append(row)
        self.lines.append(_line(row))
        self.added += 1

    def save(self) -> None:
        lines = self.lines
        if self.new_columns:  # every line gets the new (empty) fields; edited lines already have them
            lines = [
                line
                if len(next(csv.reader([line]))) == len(self.header)
                else line.rstrip("\r\n") + "," * len(self.new_columns) + "\n"
                for line in lines
            ]
        self.path.write_text(_line(self.header) + "".join(lines))


def _line(row: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    return buf.getvalue()


def _d(day: date, days: int) -> str:
    return (day + timedelta(days=days)).isoformat()


def _ts(day: date, days: int, hour: int = 6) -> str:
    return datetime.combine(day + timedelta(days=days), datetime.min.time()).replace(hour=hour).isoformat(sep=" ")


def append_later_facts(folder: Path, as_of: date) -> dict[str, int]:
    """Add facts known only after `as_of` to the extracts in `folder`; rows appended per extract."""
    f = {p.stem: Csv(p) for p in folder.glob("*.csv")}

    # demand: later POS days, later order lines
    pos = f["pos_sales"]
    last_day = [r for r in pos.records() if r["date"] == as_of.isoformat()][:40]
    assert last_day, "the session's POS has rows on its as-of"
    for k in (1, 2, 3):
        for r in last_day:
            pos.append({**r, "date": _d(as_of, k)})
    so = f["sales_orders"]
    orders = so.records()
    for i, r in enumerate(orders[:15]):
        so.append(
            {
                **r,
                "order_id": f"LATER-SO{i}",
                "order_date": _d(as_of, 1),
                "requested_date": _d(as_of, 9),
                "promised_date": _d(as_of, 10),
                "status": "open",
            }
        )
    # open and partially shipped lines ship after the as-of: the later file says shipped
    sh = f["shipments"]
    for status in ("open", "partially_shipped"):
        picked = [i for i, r in enumerate(orders) if r["status"] == status][:10]
        assert picked, status
        for i in picked:
            so.set(i, status="shipped")
            sh.append(
                {
                    "order_id": orders[i]["order_id"],
                    "line": orders[i]["line"],
                    "ship_date": _d(as_of, 2),
                    "delivered_date": _d(as_of, 4),
                    "qty": orders[i]["qty"],
                }
            )
    in_transit = [i for i, r in enumerate(sh.records()[: len(sh.rows) - sh.added]) if not r["delivered_date"]]
    assert in_transit, "the session has shipments in transit at the as-of"
    for i in in_transit:
        sh.set(i, delivered_date=_d(as_of, 3))

    # finance: later payments of open invoices, later invoices
    for name in ("ar_items", "ap_items"):
        x = f[name]
        recs = x.records()
        unpaid = [i for i, r in enumerate(recs) if not r["paid_date"]]
        assert unpaid, name
        for i in unpaid[:30]:
            x.set(i, paid_date=_d(as_of, 5))
        for i, r in enumerate(recs[:10]):
            x.append(
                {
                    **r,
                    "doc_id": f"LATER-{name}-{i}",
                    "doc_date": _d(as_of, 1),
                    "due_date": _d(as_of, 45),
                    "paid_date": "",
                }
            )

    # purchasing: later receipts of existing PO lines, later PO lines
    po, rc = f["purchase_orders"], f["receipts"]
    for i, r in enumerate(po.records()[-10:]):
        rc.append({"po_id": r["po_id"], "line": r["line"], "receipt_date": _d(as_of, 2), "qty": r["qty"]})
        po.append({**r, "po_id": f"LATER-PO{i}", "order_date": _d(as_of, 1), "promised_date": _d(as_of, 20)})

    # production: released orders start and complete after the as-of; orders created after it
    wo = f["production_orders"]
    wo.add_column("created_at")
    recs = wo.records()
    released = [i for i, r in enumerate(recs) if r["status"] == "released"]
    assert released, "the session has released production orders"
    for n, i in enumerate(released):
        wo.set(
            i,
            actual_start=_ts(as_of, 1 + n % 3),
            actual_end=_ts(as_of, 1 + n % 3, 18),
            good_qty=recs[i]["planned_qty"],
            scrap_qty=2,
            status="completed",
        )
    for n, r in enumerate(recs[-5:]):
        wo.append(
            {
                **r,
                "order_id": f"LATER-WO{n}",
                "planned_start": _ts(as_of, 8),
                "planned_end": _ts(as_of, 8, 14),
                "actual_start": "",
                "actual_end": "",
                "good_qty": "0",
                "scrap_qty": "0",
                "status": "planned",
                "created_at": _ts(as_of, 2, 9),
            }
        )
    sc = f["schedule_changes"]
    for r in sc.records()[-5:]:
        sc.append({**r, "changed_at": _ts(as_of, 1, 10)})

    # downtime: unplanned after the as-of, planned downtime recorded after it
    dt = f["downtime"]
    dt.add_column("recorded_at")
    for r in dt.records()[:5]:
        dt.append(
            {
                **r,
                "start": _ts(as_of, 2, 7),
                "end": _ts(as_of, 2, 9),
                "planned": "false",
                "reason": "Jam",
                "recorded_at": _ts(as_of, 2, 9),
            }
        )
    for r in dt.records()[:3]:
        dt.append(
            {
                **r,
                "start": _ts(as_of, 30),
                "end": _ts(as_of, 30, 12),
                "planned": "true",
                "reason": "Audit",
                "recorded_at": _ts(as_of, 2, 9),
            }
        )
    rt = f["resource_time"]
    last = max(r["date"] for r in rt.records())
    for r in [r for r in rt.records() if r["date"] == last]:
        for k in (1, 2):
            rt.append({**r, "date": _d(as_of, k)})

    # CRM: open deals won or lost after the as-of, deals created after it
    op = f["opportunities"]
    op.add_column("status_date")
    op.add_column("created_date")
    recs = op.records()
    open_deals = [i for i, r in enumerate(recs) if r["status"] == "open"][:4]
    assert len(open_deals) == 4
    for n, i in enumerate(open_deals):
        op.set(i, status="won" if n % 2 else "lost", status_date=_d(as_of, 3))
    for n, r in enumerate(recs[:3]):
        op.append(
            {
                **r,
                "opportunity_id": f"LATER-OP{n}",
                "status": "open",
                "expected_date": _d(as_of, 40),
                "status_date": "",
                "created_date": _d(as_of, 2),
            }
        )
    sf = f["sales_forecast"]
    latest = max(r["snapshot_date"] for r in sf.records())
    for r in [r for r in sf.records() if r["snapshot_date"] == latest]:
        sf.append({**r, "snapshot_date": _d(as_of, 1)})

    # S&OP and inventory: later decisions, snapshot, expedites, risk events, plan of record
    de = f["decisions"]
    for n, r in enumerate(de.records()[-3:]):
        de.append(
            {
                **r,
                **({"decision_id": f"LATER-D{n}"} if "decision_id" in de.header else {}),
                "cycle": _d(as_of, 7),
                "decided_at": _ts(as_of, 9, 11),
            }
        )
    lots = f["inventory_lots"]
    for r in [r for r in lots.records() if r["snapshot_date"] == as_of.isoformat()]:
        lots.append({**r, "snapshot_date": _d(as_of, 7)})
    ex = f["expedites"]
    for n, r in enumerate(ex.records()[-3:]):
        ex.append({**r, "expedite_id": f"LATER-EX{n}", "date": _d(as_of, 1)})
    ri = f["risk_events"]
    for n, r in enumerate(ri.records()[-2:]):
        ri.append({**r, "event_id": f"LATER-RE{n}", "date": _d(as_of, 2)})
    ph = f["plan_history"]
    cycles = sorted({r["cycle_id"] for r in ph.records()})
    for r in [r for r in ph.records() if r["cycle_id"] == cycles[-1]]:
        ph.append({**r, "cycle_id": _d(as_of, 7)})

    # exception workflow: a later status change (reopens the acknowledged risk) changes nothing
    eu = f["exception_updates"]
    for r in eu.records()[:1]:
        eu.append({**r, "status": "open", "note": "later", "updated_at": _ts(as_of, 1, 9)})

    for x in f.values():
        x.save()
    return {name: x.added for name, x in f.items() if x.added}


# --------------------------------------------------------------------------- comparing


def _staging_fingerprints(warehouse: Path) -> dict[str, tuple[int, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'staging' order by 1"
            ).fetchall()
        ]
        return {
            n: con.execute(
                f"select count(*), md5(coalesce(string_agg(x, chr(10) order by x), '')) from "
                f"(select cast(t as varchar) as x from staging.{n} t)"
            ).fetchone()
            for n in names
        }


def _read(serving: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_later_facts_change_no_mart_of_a_cycle_replayed_at_its_as_of(small_cycle, tmp_path):
    with duckdb.connect(str(small_cycle.warehouse), read_only=True) as con:
        as_of = con.execute("select as_of from meta.cycle").fetchall()[0][0]
    extracts = tmp_path / "extracts"
    shutil.copytree(small_cycle.extracts, extracts)
    appended = append_later_facts(extracts, as_of)
    assert len(appended) >= 18, appended

    replay = run_cycle(extracts, tmp_path / "data", "--as-of", as_of.isoformat())
    assert replay.returncode == 0, f"{replay.stdout[-3000:]}\n{replay.stderr[-3000:]}"
    # the later facts on known rows did reach raw: only the staging models' as-of masks keep them out
    with duckdb.connect(str(replay.warehouse), read_only=True) as con:
        later = con.execute("""select
            (select count(*) from raw.production_orders p where p.actual_start >= c.as_of + 1),
            (select count(*) from raw.opportunities o where o.status_date > c.as_of),
            (select count(*) from raw.shipments h where h.delivered_date > c.as_of),
            (select count(*) from raw.ar_items a where a.paid_date > c.as_of),
            (select count(*) from raw.ap_items a where a.paid_date > c.as_of),
            (select count(*) from raw.sales_orders s where s.status = 'shipped' and not exists (
                 select 1 from raw.shipments h where h.order_id = s.order_id and h.line = s.line))
            from meta.cycle c""").fetchall()[0]
    assert all(later), later
    assert_same_cycle(small_cycle, replay, appended)
    assert_staging_masks(replay.warehouse, tmp_path / "masks.duckdb")


def assert_staging_masks(warehouse: Path, scratch: Path) -> None:
    """The staging masks on cases the demo does not have (a copy of the built warehouse, rows added to
    raw, read through the staging views): an unplanned event spanning the as-of, an order started
    before the as-of and ended after it, a deal with no status_date, a short-shipped line."""
    shutil.copy(warehouse, scratch)
    with duckdb.connect(str(scratch)) as con:
        as_of = con.execute("select as_of from meta.cycle").fetchall()[0][0]

        def at(days: int, hour: int) -> str:
            return _ts(as_of, days, hour)

        con.execute(f"""insert into raw.downtime (resource_id, start, "end", planned, reason, _source_row) values
            ('M1', '{at(0, 20)}', '{at(1, 4)}', false, 'span-unplanned', -1),
            ('M1', '{at(0, 20)}', '{at(1, 4)}', true, 'span-planned', -2)""")
        assert con.execute(
            "select reason, end_at, downtime_hours from staging.stg_mes__downtime where source_row < 0 order by 1"
        ).fetchall() == [
            ("span-planned", datetime.fromisoformat(at(1, 4)), 8.0),
            ("span-unplanned", datetime.fromisoformat(at(1, 0)), 4.0),
        ]
        con.execute(f"""insert into raw.production_orders (order_id, sku, resource_id, planned_start, planned_qty,
            actual_start, actual_end, good_qty, scrap_qty, status, _source_row) values
            ('T-ENDS-LATER', 'X', 'M1', '{at(0, 6)}', 100, '{at(0, 6)}', '{at(1, 10)}', 100, 3, 'completed', -1),
            ('T-ENDS-ON-AS-OF', 'X', 'M1', '{at(0, 6)}', 100, '{at(0, 6)}', '{at(0, 23)}', 98, 2, 'completed', -2),
            ('T-RUNNING', 'X', 'M1', '{at(0, 6)}', 100, '{at(0, 6)}', null, 40, 1, 'in_progress', -3),
            ('T-STARTS-LATER', 'X', 'M1', '{at(2, 6)}', 100, '{at(2, 6)}', null, 40, 1, 'in_progress', -4)""")
        rows = con.execute(
            "select order_id, status, actual_end is null, good_qty, scrap_qty "
            "from staging.stg_mes__production_orders where source_row < 0 order by 1"
        ).fetchall()
        assert rows == [
            ("T-ENDS-LATER", "in_progress", True, None, None),
            ("T-ENDS-ON-AS-OF", "completed", False, 98.0, 2.0),
            ("T-RUNNING", "in_progress", True, 40.0, 1.0),
            ("T-STARTS-LATER", "released", True, 0.0, 0.0),
        ]
        con.execute(f"""insert into raw.opportunities (opportunity_id, expected_date, status, status_date, _source_row)
            values ('T-EXPECTED-LATER', '{_d(as_of, 5)}', 'won', null, -1),
                   ('T-SET-BEFORE', '{_d(as_of, 5)}', 'lost', '{_d(as_of, 0)}', -2)""")
        assert con.execute(
            "select opportunity_id, status from staging.stg_crm__opportunities where source_row < 0 order by 1"
        ).fetchall() == [("T-EXPECTED-LATER", "open"), ("T-SET-BEFORE", "lost")]
        con.execute(f"""insert into raw.sales_orders (order_id, line, sku, order_date, qty, status, _source_row) values
            ('T-SO', 1, 'X', '{_d(as_of, -9)}', 10, 'shipped', -1), ('T-SO', 2, 'X', '{_d(as_of, -9)}', 10, 'shipped', -2)""")
        con.execute(f"""insert into raw.shipments (order_id, line, ship_date, qty, _source_row) values
            ('T-SO', 1, '{_d(as_of, -2)}', 4, -1), ('T-SO', 2, '{_d(as_of, -2)}', 10, -2)""")
        assert con.execute(
            "select line, status from staging.stg_erp__sales_orders where source_row < 0 order by 1"
        ).fetchall() == [(1, "partially_shipped"), (2, "shipped")]


def assert_same_cycle(small_cycle, replay, appended: dict[str, int]) -> None:
    """`replay` (the extracts with later facts, at the same as-of) published what `small_cycle` did."""
    # staging: identical, row for row (the later facts are cut in ingest or masked as of the cycle)
    base_stg, replay_stg = _staging_fingerprints(small_cycle.warehouse), _staging_fingerprints(replay.warehouse)
    assert set(base_stg) == set(replay_stg)
    assert sorted(t for t in base_stg if base_stg[t] != replay_stg[t]) == []

    # every serving table but the data-quality marts (and the checksum over them) is identical
    first, second = table_fingerprints(small_cycle.serving), table_fingerprints(replay.serving)
    assert set(first) == set(second)
    different = {t for t in first if first[t] != second[t]}
    assert different - DQ_MARTS - {"_publish_info"} == set(), f"marts that see later facts: {sorted(different)}"
    info = "select * exclude (published_at, release_id, checksum) from _publish_info"
    assert _read(small_cycle.serving, info) == _read(replay.serving, info)

    # data_quality_extracts: rows read and rows after the as-of grow by exactly the appended rows
    cols = "extract, status, rows_read, rows_loaded, rows_quarantined, rows_after_as_of, failures_by_rule"
    base = {r[0]: r for r in _read(small_cycle.serving, f"select {cols} from data_quality_extracts")}
    again = {r[0]: r for r in _read(replay.serving, f"select {cols} from data_quality_extracts")}
    assert set(base) == set(again)
    for name, b in base.items():
        n, a = appended.get(name, 0), again[name]
        assert a[1:2] + a[3:5] == b[1:2] + b[3:5], name  # status, rows loaded, rows quarantined
        assert (a[2] - b[2], a[5] - b[5]) == (n, n), name
        rules_b, rules_a = json.loads(b[6]), json.loads(a[6])
        assert rules_a.get("after_as_of", 0) - rules_b.get("after_as_of", 0) == n, name
        assert {k: v for k, v in rules_a.items() if k != "after_as_of"} == {
            k: v for k, v in rules_b.items() if k != "after_as_of"
        }, name

    # data_quality_issues: the same issues, plus the appended rows under rule after_as_of
    issues = "select extract, rule, column_name, rows_affected from data_quality_issues"
    base_issues = {r[:3]: r[3] for r in _read(small_cycle.serving, issues)}
    replay_issues = {r[:3]: r[3] for r in _read(replay.serving, issues)}
    grown = {
        k: replay_issues[k] - base_issues.get(k, 0) for k in replay_issues if replay_issues[k] != base_issues.get(k, 0)
    }
    assert all(k in replay_issues for k in base_issues)
    assert all(k[1] == "after_as_of" for k in grown), grown
    by_extract: dict[str, int] = {}
    for (name, _, _), n in grown.items():
        by_extract[name] = by_extract.get(name, 0) + n
    assert by_extract == appended
