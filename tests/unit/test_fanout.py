"""The fan-out plumbing (sop_pipeline/assets/fanout.py) and `sop run --processes` on the DuckDB default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_the_fork_server_warm_up_leaves_the_steps_the_run_job_built(tmp_path, monkeypatch, capsys):
    # commands/forkserver.py: imported in the fork server with the run's settings, it builds the job
    # the steps reconstruct; a step (a fork of it) gets that very job instead of building it again
    import os
    import pickle

    import dagster as dg

    from sop_pipeline.commands import forkserver
    from sop_pipeline.definitions import cycle_job
    from sop_pipeline.settings import Settings

    env = Settings.from_env({}, data_dir=tmp_path / "data", warehouse="postgresql://u@h:5432/db").to_env()
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "home")) as instance, forkserver.warm_for(env, instance):
        assert forkserver.spec_path(os.getpid()).exists()
        forkserver.warm(os.getpid())  # as the fork server, whose parent is this process, does
    assert not forkserver.spec_path(os.getpid()).exists()  # only while the launch runs
    assert "SOP_FORKSERVER_RUN" not in os.environ
    job = cycle_job(env)
    assert cycle_job(dict(env)) is job  # kept per settings
    step = dg.build_reconstructable_job("sop_pipeline.definitions", "cycle_job", reconstructable_kwargs={"env": env})
    step = pickle.loads(pickle.dumps(step))  # as the step's process receives it
    assert step.get_definition().graph is job.graph  # no second build
    assert job._run_config_schema is not None  # the run config schema was built in the warm-up
    assert "sop: dagster" not in capsys.readouterr().err


def test_a_failed_fork_server_warm_up_is_one_line_and_not_fatal(capsys):
    import os

    from sop_pipeline.commands import forkserver

    path = forkserver.spec_path(os.getpid())
    path.write_text("{not json")
    try:
        forkserver.warm(os.getpid())  # the fork server would die on anything but ImportError
    finally:
        path.unlink()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sop: fork server warm-up skipped (JSONDecodeError"), err


def test_the_backtest_fans_out_per_family_only_when_steps_run_in_processes_of_their_own():
    # fanout.parts_per_family reads the executor of the running job: `sop run` on DuckDB runs the job
    # with execute_in_process (its executor swapped), a PostgreSQL UI run with multi_or_in_process's
    # in_process config; both run the parts one after another, so they get one part for every family
    import dagster as dg

    from sop_pipeline.assets.fanout import parts_per_family

    @dg.op
    def probe(context) -> bool:
        return parts_per_family(context)

    for executor in (dg.in_process_executor, dg.multi_or_in_process_executor, dg.multiprocess_executor):

        @dg.job(executor_def=executor, name=f"probe_{executor.name}")
        def job():
            probe()

        assert job.execute_in_process().output_for_node("probe") is False, executor.name
    # a run on the multiprocess executor (`sop run --processes 2` on PostgreSQL) gets one part per
    # family: tests/integration/test_postgres_run.py checks the five family steps of that run


def test_the_in_process_handoff_frees_each_value_once_its_step_has_loaded_it():
    # the DuckDB default's `fanout_io`: a part's input (at large the backtest's dense history) must not
    # stay in memory until the run ends, as Dagster's in-memory IO manager would keep it
    import gc
    import weakref

    import dagster as dg

    from sop_pipeline.assets.fanout import FANOUT_IO, HandoffIOManager
    from sop_pipeline.run_instance import outputs_not_kept

    class Blob:
        pass

    made: list[weakref.ref] = []
    manager = HandoffIOManager()

    @dg.op(out=dg.DynamicOut(io_manager_key=FANOUT_IO))
    def split():
        for key in ("a", "b", "c"):
            blob = Blob()
            made.append(weakref.ref(blob))
            yield dg.DynamicOutput(blob, mapping_key=key)

    @dg.op(out=dg.Out(io_manager_key=FANOUT_IO))
    def part(blob) -> int:
        return 1

    seen: list = []

    @dg.op
    def combine(ones: list) -> None:
        gc.collect()
        seen.append([sum(ones), *(ref() is None for ref in made)])

    @dg.job(resource_defs={FANOUT_IO: dg.IOManagerDefinition.hardcoded_io_manager(manager)})
    def job():
        combine(split().map(part).collect())

    # as `sop run` runs it: execute_in_process without its capture of every output (run_instance.py)
    with outputs_not_kept():
        assert job.execute_in_process().success
    assert seen == [[3, True, True, True]]  # the parts' inputs were gone before the combine step ran
    assert manager._values == {}  # every value was handed over exactly once
    # Dagster's own capture would have kept them to the end of the run (why sop run turns it off)
    made.clear(), seen.clear()
    assert job.execute_in_process().success and seen == [[3, False, False, False]]
    with pytest.raises(dg.Failure, match="already handed over"):
        manager.load_input(dg.build_input_context(upstream_output=dg.build_output_context(step_key="x", name="y")))


def test_let_go_frees_the_inputs_dagster_holds_while_the_op_runs():
    # Dagster keeps an op's input values in its own dict until the op returns: rebinding the
    # parameter frees nothing. The combine ops empty the fan-in list (and the split ops their input
    # table) with `let_go`, so the parts' values go as soon as the op holds no other reference
    import gc
    import weakref

    import dagster as dg

    from sop_pipeline.assets.fanout import FANOUT_IO, HandoffIOManager, let_go
    from sop_pipeline.run_instance import outputs_not_kept

    class Blob:
        pass

    made: list[weakref.ref] = []

    @dg.op(out=dg.DynamicOut(io_manager_key=FANOUT_IO))
    def split():
        for key in ("a", "b"):
            blob = Blob()
            made.append(weakref.ref(blob))
            yield dg.DynamicOutput(blob, mapping_key=key)

    @dg.op(out=dg.Out(io_manager_key=FANOUT_IO))
    def part(blob):
        return blob

    seen: list = []

    def combine_with(release: bool):
        @dg.op(name=f"combine_{release}")
        def combine(blobs: list) -> None:
            n = len(blobs)
            if release:
                let_go(blobs)
            blobs = None  # what the ops did before: frees nothing while Dagster holds the list
            gc.collect()
            seen.append([n, *(ref() is None for ref in made)])

        return combine

    for release in (False, True):
        made.clear(), seen.clear()

        @dg.job(resource_defs={FANOUT_IO: dg.IOManagerDefinition.hardcoded_io_manager(HandoffIOManager())})
        def job():
            combine_with(release)(split().map(part).collect())

        with outputs_not_kept():
            assert job.execute_in_process().success
        assert seen == [[2, release, release]], release

    # a table: its columns go, in place (the caller's other references see an empty frame)
    import tracemalloc

    tracemalloc.start()
    try:
        frame = pd.DataFrame({"a": np.arange(1_000_000, dtype=float), "b": np.ones(1_000_000)})
        held = tracemalloc.get_traced_memory()[0]
        let_go(frame)
        gc.collect()
        freed = held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert frame.shape[1] == 0 and freed > 15_000_000  # both 8 MB columns
    parts = {"x": 1}
    let_go(parts, None)
    assert parts == {}
    with pytest.raises(TypeError, match="cannot empty a tuple"):
        let_go((1, 2))


def test_fanout_files_are_kept_per_run_and_deleted_once_the_run_succeeds(tmp_path):
    # on a PostgreSQL warehouse the fan-out's values are pickles in the instance's storage (~1 GB a
    # run at large): one folder per run, deleted by `sop run` and the sensor when the run succeeds
    import dagster as dg

    from sop_pipeline.assets.fanout import (
        FANOUT_IO,
        fanout_files_cleanup,
        fanout_files_dir,
        fanout_files_io_manager,
        remove_run_files,
    )

    @dg.op(out=dg.DynamicOut(io_manager_key=FANOUT_IO))
    def split():
        for key in ("a", "b"):
            yield dg.DynamicOutput(pd.DataFrame({"x": [1.0, 2.0]}), mapping_key=key)

    @dg.op(out=dg.Out(io_manager_key=FANOUT_IO))
    def part(frame):
        return float(frame.x.sum())

    @dg.op
    def combine(sums: list) -> float:
        return sum(sums)

    @dg.job(resource_defs={FANOUT_IO: fanout_files_io_manager})
    def job():
        combine(split().map(part).collect())

    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        first, second = (job.execute_in_process(instance=instance) for _ in range(2))
        assert first.success and second.success and first.output_for_node("combine") == 6.0
        base = fanout_files_dir(instance)
        assert base == tmp_path / "storage" / "fanout"
        assert {p.name for p in base.iterdir()} == {first.run_id, second.run_id}
        assert len([p for p in (base / first.run_id).rglob("*") if p.is_file()]) == 4  # 2 parts in, 2 out
        assert remove_run_files(instance, instance.get_run_by_id(first.run_id)) == [first.run_id]
        assert {p.name for p in base.iterdir()} == {second.run_id}  # another run's values are left alone
        # the sensor, as the daemon calls it for a run the UI launched
        ctx = dg.build_run_status_sensor_context(
            sensor_name=fanout_files_cleanup.name,
            dagster_event=dg.DagsterEvent(
                event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name="job", event_specific_data=None
            ),
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(second.run_id),
        )
        assert fanout_files_cleanup(ctx) is None and not any(base.iterdir())
        assert isinstance(fanout_files_cleanup(ctx), dg.SkipReason)  # nothing left: it says so


def test_sop_run_falls_back_to_dagsters_own_behaviour_when_its_internals_move(monkeypatch, capsys):
    # `sop run` leans on two Dagster internals (run_instance.py); on a Dagster that moved them it must
    # still run - on Dagster's own ephemeral instance, keeping outputs - and say so, not fail
    import dagster as dg
    from dagster._core.execution import execute_in_process as module
    from dagster._core.storage.event_log import InMemoryEventLogStorage

    from sop_pipeline import run_instance

    @dg.op
    def one() -> int:
        return 1

    @dg.job
    def job():
        one()

    original = module.core_execute_in_process
    # the installed Dagster fits: the capture is turned off and the held-connection event log is used
    with run_instance.outputs_not_kept():
        assert module.core_execute_in_process is not original
        assert job.execute_in_process().success
    assert module.core_execute_in_process is original
    instance = run_instance.ephemeral_instance()
    assert type(instance.event_log_storage) is run_instance.HeldConnectionEventLogStorage
    assert "sop: dagster" not in capsys.readouterr().err

    def moved(run_config, job, instance, raise_on_error, **kwargs):  # a signature without the flag
        kwargs.pop("output_capturing_enabled", None)
        return original(
            run_config, job, instance, output_capturing_enabled=True, raise_on_error=raise_on_error, **kwargs
        )

    monkeypatch.setattr(module, "core_execute_in_process", moved)
    with run_instance.outputs_not_kept():
        assert module.core_execute_in_process is moved  # left as it is
        assert job.execute_in_process().success
    assert "every step's output stays in memory" in capsys.readouterr().err

    def broken(*args, **kwargs):
        raise TypeError("unexpected keyword argument 'preload'")

    monkeypatch.setattr(run_instance.HeldConnectionEventLogStorage, "__init__", broken)
    instance = run_instance.ephemeral_instance()
    assert type(instance.event_log_storage) is InMemoryEventLogStorage
    assert job.execute_in_process(instance=instance).success
    err = capsys.readouterr().err
    assert "own in-memory instance" in err and "preload" in err
