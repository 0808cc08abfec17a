"""`sop run`'s ephemeral instance (sop_pipeline.run_instance): Dagster's in-memory instance with an event
log that keeps one connection. It must record a real run exactly as Dagster's own ephemeral instance does
(events, materializations by partition, check executions, blocking-check failures) and serve other threads."""

import threading

import dagster as dg

from sop_pipeline.run_instance import HeldConnectionEventLogStorage, ephemeral_instance

PARTS = dg.StaticPartitionsDefinition(["2026-11-16"])


@dg.asset(partitions_def=PARTS, check_specs=[dg.AssetCheckSpec("ok", asset="a", blocking=True)])
def a(context: dg.AssetExecutionContext):
    context.log.info("a ran")
    return dg.MaterializeResult(metadata={"n": 1}, check_results=[dg.AssetCheckResult(passed=True)])


@dg.asset(partitions_def=PARTS, deps=[a], check_specs=[dg.AssetCheckSpec("fails", asset="b", blocking=True)])
def b():
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=False, description="b broke")])


@dg.asset(partitions_def=PARTS, deps=[b])
def c():
    return dg.MaterializeResult()


def _record(instance: dg.DagsterInstance) -> dict:
    result = dg.materialize([a, b, c], instance=instance, partition_key="2026-11-16", raise_on_error=False)
    records = instance.get_records_for_run(result.run_id, limit=10_000).records
    types = sorted(r.event_log_entry.dagster_event_type.value for r in records if r.event_log_entry.is_dagster_event)
    checks = {
        (key.asset_key.to_user_string(), key.name): [
            r.status.value for r in instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
        ]
        for key in (dg.AssetCheckKey(dg.AssetKey("a"), "ok"), dg.AssetCheckKey(dg.AssetKey("b"), "fails"))
    }
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("a"), asset_partitions=["2026-11-16"]), limit=1
    ).records
    return {
        "success": result.success,
        "types": types,
        "checks": checks,
        "a_partition": [r.partition_key for r in latest],
        "materialized": sorted(e.asset_key.to_user_string() for e in result.get_asset_materialization_events()),
    }


def test_records_a_run_as_dagsters_ephemeral_instance_does():
    ours, stock = ephemeral_instance(), dg.DagsterInstance.ephemeral()
    assert isinstance(ours.event_log_storage, HeldConnectionEventLogStorage)
    got, want = _record(ours), _record(stock)
    assert got == want
    assert not got["success"] and got["materialized"] == ["a", "b"]  # the blocking check stopped c
    assert got["checks"] == {("a", "ok"): ["SUCCEEDED"], ("b", "fails"): ["FAILED"]}
    assert got["a_partition"] == ["2026-11-16"]


def test_other_threads_read_and_write_the_same_log():
    instance = ephemeral_instance()
    dg.materialize([a], instance=instance, partition_key="2026-11-16")
    seen, errors = [], []

    def other():
        try:
            seen.append(len(instance.fetch_materializations(dg.AssetKey("a"), limit=5).records))
            instance.report_runless_asset_event(dg.AssetMaterialization("a", partition="2026-11-16"))
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(repr(exc))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert not errors and seen == [1]
    assert len(instance.fetch_materializations(dg.AssetKey("a"), limit=5).records) == 2
