"""The fan-out plumbing (sop_pipeline/assets/fanout.py) and `sop run --processes` on the DuckDB default."""

from __future__ import annotations

import pandas as pd

from sop_pipeline.assets.fanout import concat_parts, mapping_keys
from sop_pipeline.cli import main


def test_mapping_keys_are_safe_unique_and_in_first_seen_order():
    keys = mapping_keys(["M1", "Snacks & Co", "M1", "Snacks_ Co", "", None])
    assert [k for k, _ in keys] == ["M1", "Snacks___Co", "Snacks__Co", "_", "None"]
    assert [v for _, v in keys] == ["M1", "Snacks & Co", "Snacks_ Co", "", None]
    # two values that would share a key keep one each
    assert [k for k, _ in mapping_keys(["a b", "a_b"])] == ["a_b", "a_b_1"]


def test_concat_parts_keeps_order_and_gives_an_empty_table_without_parts():
    a, b = pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [3]})
    assert concat_parts([a, pd.DataFrame({"x": []}), b], ["x"]).x.tolist() == [1, 2, 3]
    empty = concat_parts([None], ["x", "y"])
    assert empty.empty and list(empty.columns) == ["x", "y"]


def test_processes_need_a_server_warehouse(tmp_path, capsys):
    extracts = tmp_path / "extracts"
    extracts.mkdir()
    code = main(["run", "--extracts", str(extracts), "--data-dir", str(tmp_path / "data"), "--processes", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "--processes 2 needs a PostgreSQL warehouse" in err[0]


def test_the_cluster_deploy_examples_compile_and_name_their_executor():
    # examples only (no cluster here): they must at least be valid Python naming the executor they use
    from sop_pipeline.settings import REPO_ROOT

    for name, executor in (("definitions_k8s.py", "k8s_job_executor"), ("definitions_celery.py", "celery_executor")):
        source = (REPO_ROOT / "deploy" / name).read_text()
        compile(source, name, "exec")
        assert f"build_defs(settings, executor={executor})" in source
