"""A code location for a Kubernetes deployment: the same `sop_cycle` job, each step in a Kubernetes Job.

Example only (not run in the tests: this project has no cluster). Needs `pip install dagster-k8s
dagster-aws` in the image, the warehouse on PostgreSQL (SOP_WAREHOUSE=postgresql://...) and the
Dagster instance on PostgreSQL (deploy/dagster.postgres.yaml), so that no step needs another's disk:

- the fan-out parts (sop_pipeline/assets/fanout.py, one step per resource or product family) hand
  their results to the combine step through the IO manager `fanout_io`; across pods that must be an
  object store, hence `S3PickleIOManager` below (or dagster-gcp's / dagster-azure's equivalent);
- `<data dir>` (serving file, reports, dbt target dirs) must be a volume every pod mounts.

Point the Dagster Helm chart's user deployment at this module (`dagster api grpc -m
deploy.definitions_k8s`), and give runs the executor's config, e.g.:

    execution:
      config:
        job_namespace: sop
        max_concurrent: 4          # pods at once, per run
        env_config_maps: [sop-settings]   # SOP_WAREHOUSE, SOP_DATA_DIR, ...
        env_secrets: [sop-pg-password]    # SOP_PG_PASSWORD
"""

import dagster as dg
from dagster_aws.s3 import S3PickleIOManager, S3Resource
from dagster_k8s import k8s_job_executor

from sop_pipeline.assets.fanout import FANOUT_IO
from sop_pipeline.definitions import build_defs, settings

_defs = build_defs(settings, executor=k8s_job_executor)
defs = dg.Definitions.merge(
    _defs,
    dg.Definitions(
        resources={
            FANOUT_IO: S3PickleIOManager(
                s3_resource=S3Resource(), s3_bucket=dg.EnvVar("SOP_STEP_BUCKET"), s3_prefix="sop-steps"
            )
        }
    ),
)
